"""The agent's configuration model: the top level that assembles every section's model.

Every collector owns its own config model (collectors/*.py); this module only assembles the top
level, dispatches `checks` by `type` through the collector registry and runs the cross-field
checks that need the whole file (unique names, dependencies, no cycles).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import (
    Field,
    SerializeAsAny,
    ValidationError,
    field_validator,
    model_validator,
)

from agent.alerting import AlertsConfig
from agent.alerting.state import cycle_error, find_cycle
from agent.config.auto_paths import AUTO_PATH_TYPES, PathsConfig, auto_path_checks
from agent.probe import ProbeModule
from agent.probe.blackbox import BlackboxConfigError, load_blackbox_file
from agent.reports import ReportsConfig
from agent.status.config import StatusPageConfig
from collectors import CHECK_TYPES, REGISTRY
from collectors.base import JobSpec
from collectors.common.hostport import split_host_port
from collectors.config import CheckConfig, StrictModel
from collectors.host import HostConfig
from collectors.snmp import SnmpSection
from collectors.ssh import SshSection, SshSectionField
from exporters.remote_write import RemoteWriteConfig

DEFAULT_LISTEN = "0.0.0.0:9877"
DEFAULT_STATE_DIR = Path("/var/lib/pantau")


def parse_listen(value: str) -> tuple[str, int]:
    """HOST:PORT, [V6]:PORT or :PORT (all addresses); ValueError with the reason."""
    return split_host_port(value, what="listen address", empty_host="0.0.0.0",
                           allow_port_zero=True)


class AgentConfig(StrictModel):
    """Top level of pantau.yml."""

    site: str = Field(
        min_length=1, max_length=128,
        description="The office, e.g. dpmptsp-kab-sleman; label `site` on every series.",
    )
    listen: str = Field(DEFAULT_LISTEN, description="HOST:PORT or [IPv6]:PORT of /metrics.")
    state_dir: Path = Field(
        DEFAULT_STATE_DIR, description="Outage history, outbox, queues and known_hosts live here."
    )
    host: HostConfig = Field(
        default_factory=HostConfig, description="The host collector (this server)."
    )
    checks: list[SerializeAsAny[CheckConfig]] = Field(
        default_factory=list, description="Probes of the path to the services; see below by type."
    )
    max_concurrency: int = Field(
        default=64, ge=1, le=10000, description="Most collector runs in flight at once."
    )
    snmp: SnmpSection = Field(
        default_factory=SnmpSection, description="Network gear polled over SNMP."
    )
    ssh: SshSectionField = Field(default_factory=SshSection)
    alerts: AlertsConfig = Field(
        default_factory=AlertsConfig, description="Check states, root cause and notifications."
    )
    remote_write: RemoteWriteConfig | None = None
    probe_modules: dict[str, ProbeModule] = Field(
        default_factory=dict, description="Modules for the blackbox-style /probe endpoint."
    )
    probe_modules_file: Path | None = Field(
        None, description="A blackbox_exporter blackbox.yml, read as it is: its modules join "
        "probe_modules and /probe answers them with blackbox's metric names.")
    probe_modules_file_targets: list[str] = Field(
        default_factory=list, description="Allowed targets for every module of "
        "probe_modules_file: exact, CIDR or *.suffix, as a probe module's `targets`.")
    probe_modules_file_module_targets: dict[str, list[str]] = Field(
        default_factory=dict, description="Allowed targets per module of probe_modules_file "
        "(instead of probe_modules_file_targets for that module).")
    reports: ReportsConfig = Field(
        default_factory=ReportsConfig, description="Availability (SLA) reports."
    )
    web_config_file: Path | None = Field(
        None, description="TLS and basic auth for /metrics, exporter-toolkit format."
    )
    status_page: StatusPageConfig = Field(
        default_factory=StatusPageConfig,
        description="The live status page at / and the opt-in public page for citizens.",
    )
    paths: PathsConfig = Field(
        default_factory=PathsConfig,
        description="Path checks made for http, dns and tcp checks (`path: true`, or all).",
    )

    @field_validator("listen")
    @classmethod
    def _listen_valid(cls, v: str) -> str:
        parse_listen(v)
        return v

    @field_validator("checks", mode="before")
    @classmethod
    def _dispatch_checks(cls, v: Any) -> Any:
        """Validate each check with the model of its own type, so errors name the right fields."""
        if not isinstance(v, list):
            return v
        out: list[Any] = []
        errors: list[Any] = []
        for i, item in enumerate(v):
            if isinstance(item, CheckConfig):
                out.append(item)
                continue
            if not isinstance(item, dict):
                errors.append(
                    {"type": "value_error", "loc": (i,), "msg": "a check must be a mapping",
                     "input": item, "ctx": {"error": ValueError("a check must be a mapping")}}
                )
                continue
            type_ = item.get("type")
            if type_ not in CHECK_TYPES:
                known = ", ".join(sorted(CHECK_TYPES)) or "none"
                msg = f"unknown check type {type_!r} (known: {known})"
                errors.append(
                    {"type": "value_error", "loc": (i, "type"), "msg": msg, "input": type_,
                     "ctx": {"error": ValueError(msg)}}
                )
                continue
            model = REGISTRY[type_].Config
            try:
                out.append(model.model_validate(item))
            except ValidationError as e:
                for err in e.errors():
                    errors.append({**err, "loc": (i, *err["loc"])})
        if errors:
            raise ValidationError.from_exception_data("checks", errors)
        return out

    @model_validator(mode="after")
    def _made_paths(self) -> AgentConfig:
        """Add the path checks asked for by `path: true` or `paths.auto`."""
        for i, c in enumerate(self.checks):
            if c.path is not None and c.type not in AUTO_PATH_TYPES:
                raise _located(f"path: only http, dns and tcp checks trace their path, "
                               f"not {c.type} checks", ("checks", i, "path"))
        if "path" not in REGISTRY:
            return self
        for item in auto_path_checks(list(self.checks), self.paths):
            model = REGISTRY["path"].Config  # imported only when a path check is made
            try:
                self.checks.append(model.model_validate(item))  # type: ignore[arg-type]
            except ValidationError as e:
                msg = "; ".join(err["msg"].removeprefix("Value error, ")
                                for err in e.errors())
                raise _located(f"the path check made for {item['name'][:-5]!r}: {msg}",
                               ("paths",)) from None
        return self

    @model_validator(mode="after")
    def _blackbox_modules(self) -> AgentConfig:
        if self.probe_modules_file is None:
            if self.probe_modules_file_targets or self.probe_modules_file_module_targets:
                raise _located("probe_modules_file_targets needs probe_modules_file",
                               ("probe_modules_file_targets",))
            return self
        try:
            modules = load_blackbox_file(self.probe_modules_file)
        except BlackboxConfigError as e:
            raise _located(str(e), ("probe_modules_file",)) from None
        names = {m.name for m in modules}
        for name in self.probe_modules_file_module_targets:
            if name not in names:
                raise _located(f"module {name!r} is not in {self.probe_modules_file}",
                               ("probe_modules_file_module_targets", name))
        for m in modules:
            if m.name in self.probe_modules:
                raise _located(f"module {m.name!r} of {self.probe_modules_file} is also in "
                               "probe_modules", ("probe_modules", m.name))
            targets = (self.probe_modules_file_module_targets.get(m.name)
                       or self.probe_modules_file_targets)
            if not targets:
                # /probe must never probe what the config does not allow
                raise _located(f"module {m.name!r} of {self.probe_modules_file} has no allowed "
                               "targets: set probe_modules_file_targets or "
                               "probe_modules_file_module_targets", ("probe_modules_file",))
            try:
                module = ProbeModule(type=m.type, timeout=m.timeout, targets=targets,
                                     options=m.options, names="blackbox")
            except ValidationError as e:
                msg = "; ".join(err["msg"].removeprefix("Value error, ") for err in e.errors())
                raise _located(f"{self.probe_modules_file}: module {m.name!r}: {msg}",
                               ("probe_modules_file",)) from None
            module._judge = m.judge
            self.probe_modules[m.name] = module
        return self

    @model_validator(mode="after")
    def _cross_checks(self) -> AgentConfig:
        names = [c.name for c in self.checks]
        seen: set[str] = set()
        for i, n in enumerate(names):
            if n in seen:
                raise _located(f"duplicate check name {n!r}", ("checks", i, "name"))
            seen.add(n)
        for i, c in enumerate(self.checks):
            if c.timeout >= c.interval:
                raise _located(
                    f"timeout ({c.timeout:g}s) must be shorter than interval ({c.interval:g}s)",
                    ("checks", i, "timeout"),
                )
            for j, dep in enumerate(c.depends_on):
                if dep not in seen:
                    raise _located(
                        f"check {c.name!r} depends on unknown check {dep!r}",
                        ("checks", i, "depends_on", j),
                    )
                if dep == c.name:
                    raise _located(
                        f"check {c.name!r} depends on itself", ("checks", i, "depends_on", j)
                    )
        for i, c in enumerate(self.checks):
            for j, dep in enumerate(getattr(c, "depends_on_any", [])):
                if dep not in seen or dep == c.name:
                    raise _located(
                        f"check {c.name!r}: depends_on_any names unknown check {dep!r}",
                        ("checks", i, "depends_on_any", j),
                    )
        cycle = find_cycle({c.name: [*c.depends_on, *getattr(c, "depends_on_any", [])]
                            for c in self.checks})
        if cycle:
            i = names.index(cycle[0])
            raise _located(cycle_error(cycle), ("checks", i, "depends_on"))
        if self.host.timeout >= self.host.interval:
            raise _located("timeout must be shorter than interval", ("host", "timeout"))
        for key in self.status_page.groups:
            if key not in seen and not key.startswith("snmp:"):
                raise _located(f"status_page.groups names unknown check {key!r}",
                               ("status_page", "groups", key))
        for i, svc in enumerate(self.status_page.services):
            if svc.check not in seen:
                raise _located(f"status_page.services names unknown check {svc.check!r}",
                               ("status_page", "services", i, "check"))
        mail_to = self.reports.monthly_email
        if mail_to is not None:
            emails = [r.name for r in self.alerts.receivers if r.type == "email"]
            if mail_to not in emails:
                raise _located(
                    f"no e-mail receiver named {mail_to!r} under alerts.receivers "
                    f"(e-mail receivers: {', '.join(emails) or 'none'})",
                    ("reports", "monthly_email"),
                )
            if not self.reports.monthly:
                raise _located("monthly_email needs monthly: true",
                               ("reports", "monthly_email"))
        return self

    def jobs(self) -> list[JobSpec]:
        """Everything the scheduler runs: host, each check, and each section's devices."""
        jobs: list[JobSpec] = []
        if self.host.enabled:
            host_cfg = self.host
            jobs.append(
                JobSpec("host", "host", "host", host_cfg.interval, host_cfg.timeout,
                        lambda: REGISTRY["host"](host_cfg),  # type: ignore[call-arg]
                        per_check=False, identity=host_cfg)
            )
        for c in self.checks:
            jobs.append(
                JobSpec(f"check:{c.name}", c.name, c.type, c.interval, c.timeout,
                        _factory(c), per_check=True, labels=dict(c.labels), identity=c)
            )
        for section in (self.snmp, self.ssh):
            section_jobs = getattr(section, "jobs", None)
            if callable(section_jobs):
                jobs.extend(section_jobs(self.site))
        return jobs


def _factory(check: CheckConfig) -> Any:
    cls = REGISTRY[check.type]
    return lambda: cls(check)  # type: ignore[call-arg]


class _LocatedError(ValueError):
    """A cross-field error that knows which field it belongs to."""

    def __init__(self, msg: str, loc: tuple[str | int, ...]) -> None:
        super().__init__(msg)
        self.loc = loc


def _located(msg: str, loc: tuple[str | int, ...]) -> _LocatedError:
    return _LocatedError(msg, loc)


def default_site() -> str:
    return os.uname().nodename or "office"
