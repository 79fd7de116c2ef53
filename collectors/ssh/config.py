"""The `ssh:` config section: credentials, pantau's known_hosts, host inventory, playbooks.

Checks of `type: ssh` live in `checks:` and name a credential from here; `bind_checks` (called
by the agent config once both are parsed) verifies every name and hands each check what it
needs to connect, so a typo in a credential name is a config error, not a 3 a.m. alert.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from collectors.base import JobSpec
from collectors.config import CheckConfig, Duration, Secret, StrictModel, resolve_secret
from collectors.ssh.session import Auth, Timeouts, parse_target

_NAME_RE = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
_USER_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@-]*$")
AUDIT_LOG_NAME = "playbook-audit.jsonl"


class CheckCredentialError(ValueError):
    """A check names a credential the ssh section lacks; `index` is its place in `checks`."""

    def __init__(self, message: str, index: int) -> None:
        super().__init__(message)
        self.index = index
        self.loc: tuple[str | int, ...] = ("checks", index, "credential")  # for error lines


class SshCredential(StrictModel):
    """A login: user plus a key file and/or a password (literal, ${ENV} or *_file)."""

    user: str = Field(min_length=1, max_length=64, description="Login name.")
    key_file: Path | None = Field(None, description="Private key file (ed25519, ecdsa, rsa).")
    passphrase: Secret | None = Field(None, description="Key passphrase, literal or ${ENV}.")
    passphrase_file: Path | None = Field(None, description="File holding the passphrase.")
    password: Secret | None = Field(None, description="Password, literal or ${ENV}.")
    password_file: Path | None = Field(None, description="File holding the password.")

    @field_validator("user")
    @classmethod
    def _user_valid(cls, v: str) -> str:
        if not _USER_RE.match(v):
            raise ValueError(f"invalid user name {v!r}")
        return v

    @model_validator(mode="after")
    def _resolve(self) -> SshCredential:
        self.password = resolve_secret(self.password, self.password_file, "password")
        self.password_file = None
        self.passphrase = resolve_secret(self.passphrase, self.passphrase_file, "passphrase")
        self.passphrase_file = None
        if self.key_file is None and self.password is None:
            raise ValueError("set key_file or password (or password_file)")
        if self.key_file is not None and not self.key_file.is_file():
            raise ValueError(f"key_file {self.key_file} does not exist or is not a file")
        return self

    def auth(self) -> Auth:
        return Auth(
            user=self.user,
            key_file=self.key_file,
            password=self.password.get_secret_value() if self.password else None,
            passphrase=self.passphrase.get_secret_value() if self.passphrase else None,
        )


class SshHost(StrictModel):
    """A machine playbooks may target by name (`pantau playbook run X --host NAME`)."""

    address: str = Field(min_length=1, description="host[:port] or [IPv6]:port.")
    credential: str = Field(description="A name from ssh.credentials.")
    kind: Literal["linux", "routeros"] = Field(
        "linux", description="Which playbooks fit (their `targets`).")
    groups: list[str] = Field(default_factory=list,
                              description="For `pantau playbook run --group`.")

    @field_validator("address")
    @classmethod
    def _address_valid(cls, v: str) -> str:
        parse_target(v)
        return v


class SshSection(StrictModel):
    known_hosts: Path | None = Field(
        None, description="pantau's own known_hosts (default <state_dir>/known_hosts); "
        "enrol keys with `pantau ssh trust`.")
    credentials: dict[str, SshCredential] = Field(
        default_factory=dict, description="Logins by name, used by checks and hosts.")
    hosts: dict[str, SshHost] = Field(
        default_factory=dict, description="Machines playbooks may target by name.")
    connect_timeout: Duration = Field(5.0, description="TCP connect timeout.")
    banner_timeout: Duration = Field(5.0, description="Wait for the server's SSH banner.")
    auth_timeout: Duration = Field(10.0, description="Authentication timeout.")
    command_timeout: Duration = Field(30.0, description="Default per-command timeout.")
    max_output_bytes: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024,
                                  description="A command printing more is killed.")
    playbook_dirs: list[Path] = Field(
        default_factory=list, description="Extra playbook directories (override shipped).")
    # Playbooks an alert may start on its own; the CLI (a person) may run any playbook.
    allowed_playbooks: list[str] = Field(
        default_factory=list, description="Playbooks an alert may start (CLI: any).")
    playbook_min_interval: Duration = Field(
        900.0, description="Least time between alert-triggered runs per playbook and host.")
    audit_log: Path | None = Field(
        None, description="Playbook audit log (default <state_dir>/playbook-audit.jsonl).")

    _state_dir: Path | None = PrivateAttr(default=None)

    @field_validator("credentials", "hosts")
    @classmethod
    def _names_valid(cls, v: dict[str, Any]) -> dict[str, Any]:
        for name in v:
            if not re.match(_NAME_RE, name):
                raise ValueError(f"invalid name {name!r}: use letters, digits, _ . -")
        return v

    @model_validator(mode="after")
    def _hosts_have_credentials(self) -> SshSection:
        for name, host in self.hosts.items():
            if host.credential not in self.credentials:
                raise ValueError(f"host {name!r}: unknown credential {host.credential!r}"
                                 f"{self._known_names()}")
        return self

    def _known_names(self) -> str:
        names = ", ".join(sorted(self.credentials)) or "none defined under ssh.credentials"
        return f" (known: {names})"

    # -- what the rest of pantau asks -------------------------------------------------------
    def timeouts(self) -> Timeouts:
        return Timeouts(self.connect_timeout, self.banner_timeout, self.auth_timeout,
                        self.command_timeout)

    def known_hosts_path(self, state_dir: Path | None = None) -> Path:
        if self.known_hosts is not None:
            return self.known_hosts
        base = state_dir or self._state_dir or Path("/var/lib/pantau")
        return base / "known_hosts"

    def audit_log_path(self, state_dir: Path | None = None) -> Path:
        if self.audit_log is not None:
            return self.audit_log
        base = state_dir or self._state_dir or Path("/var/lib/pantau")
        return base / AUDIT_LOG_NAME

    def credential(self, name: str) -> SshCredential:
        try:
            return self.credentials[name]
        except KeyError:
            raise ValueError(f"unknown ssh credential {name!r}{self._known_names()}") from None

    def bind_checks(self, checks: Iterable[CheckConfig], state_dir: Path) -> None:
        """Check every `type: ssh` check's credential and give it what it needs to connect.

        Raises ValueError naming the check and the credential. The agent config calls this
        after parsing `checks` and `ssh`; until it is called, ssh checks report "not bound".
        """
        self._state_dir = state_dir
        for i, check in enumerate(checks):
            if check.type != "ssh":
                continue
            cred_name = getattr(check, "credential", "")
            if cred_name not in self.credentials:
                raise CheckCredentialError(
                    f"check {check.name!r}: unknown ssh credential {cred_name!r}"
                    f"{self._known_names()}", i)
            bind = getattr(check, "bind", None)
            if callable(bind):
                bind(self)

    def jobs(self, site: str) -> list[JobSpec]:
        """The playbook-run counter: read from the audit log, so CLI runs count too."""
        from collectors.ssh.playbook_runs import PlaybookRunsCollector

        if not self.model_fields_set:
            return []  # section not used: no job, no noise
        path = self.audit_log_path()
        return [JobSpec("ssh:playbook-runs", "playbook-runs", "playbook_runs", 15.0, 5.0,
                        lambda: PlaybookRunsCollector(path), per_check=False,
                        identity=path)]


def _bind_from_config(section: SshSection, info: ValidationInfo) -> SshSection:
    """As a field of the top-level config, `ssh` is validated after `checks` and
    `state_dir`, so it can cross-check and bind them itself (info.data holds them)."""
    checks = info.data.get("checks")
    state_dir = info.data.get("state_dir")
    if isinstance(checks, list) and isinstance(state_dir, Path):
        section.bind_checks(checks, state_dir)
    return section


# The type of AgentConfig.ssh: the section, bound to the checks of the same file.
SshSectionField = Annotated[SshSection, AfterValidator(_bind_from_config)]
