"""The config vocabulary every collector, exporter and engine model is built from: durations,
regular expressions checked at load time, secrets (${ENV} or *_file, never printed), the strict
base model (unknown keys are errors) and the fields every configured check has.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    SecretStr,
    field_validator,
)

from collectors.base import LABEL_NAME_RE, RESERVED_LABELS

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration(value: Any) -> float:
    """Accept 15s, 1m, 500ms, 1.5h or a bare number of seconds; always return seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like 15s, 1m or 500ms")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        m = _DURATION_RE.match(value)
        if not m:
            raise ValueError(f"invalid duration {value!r}: use a number with ms, s, m, h or d")
        seconds = float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
    else:
        raise ValueError("expected a duration like 15s, 1m or 500ms")
    if seconds <= 0:
        raise ValueError("a duration must be greater than zero")
    return seconds


def format_duration(seconds: float) -> str:
    """Render seconds back in the form a user would write, for --print-config."""
    for unit, size in (("h", 3600.0), ("m", 60.0), ("s", 1.0)):
        if seconds >= size and (seconds / size).is_integer():
            return f"{int(seconds / size)}{unit}"
    return f"{round(seconds * 1000)}ms"


def _valid_regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as e:
        raise ValueError(f"invalid regex {value!r}: {e}") from None
    return value


# A regular expression, checked when the config is loaded rather than at the first run.
Regex = Annotated[str, AfterValidator(_valid_regex)]

Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
]

_ENV_RE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


def _expand_secret(value: Any) -> Any:
    """`${NAME}` reads the environment variable NAME; anything else is taken literally."""
    if isinstance(value, SecretStr):
        return value
    if isinstance(value, str):
        m = _ENV_RE.match(value.strip())
        if m:
            env = os.environ.get(m.group(1))
            if env is None:
                raise ValueError(f"environment variable {m.group(1)} is not set")
            return env
    return value


# A secret: given literally or as ${ENV}; never printed (SecretStr) and never in labels.
Secret = Annotated[SecretStr, BeforeValidator(_expand_secret)]


def read_secret_file(path: Path) -> SecretStr:
    """Read a *_file secret, stripping one trailing newline as editors add it."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ValueError(f"cannot read secret file {path}: {e.strerror}") from None
    return SecretStr(text.rstrip("\n"))


def resolve_secret(value: SecretStr | None, file: Path | None, what: str) -> SecretStr | None:
    """Combine a `x` / `x_file` pair into one secret, refusing both at once."""
    if value is not None and file is not None:
        raise ValueError(f"set either {what} or {what}_file, not both")
    if file is not None:
        return read_secret_file(file)
    return value


class StrictModel(BaseModel):
    """Base of every config model: unknown keys are errors, not silently ignored typos."""

    model_config = ConfigDict(extra="forbid", frozen=False, validate_default=True)


class CheckConfig(StrictModel):
    """Fields every configured check has; each check collector's Config extends this."""

    name: str = Field(
        min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$",
        description="Unique name; the `check` label.",
    )
    type: str = Field(description="The check type (icmp, tcp, dns, http, ssh).")
    target: str = Field(min_length=1, description="What to probe; its form depends on the type.")
    interval: Duration = Field(30.0, description="How often the check runs.")
    timeout: Duration = Field(10.0, description="Hard deadline of one run; below interval.")
    depends_on: list[str] = Field(
        default_factory=list, description="Checks this one needs (for root-cause alerts)."
    )
    depends_on_any: list[str] = Field(
        default_factory=list,
        description="Redundant paths: this check needs at least ONE of these (e.g. two uplinks).",
    )
    labels: dict[str, str] = Field(
        default_factory=dict, description="Extra labels on every series of this check."
    )
    # The alert engine reads these; here so that every check type accepts them.
    severity: Literal["critical", "warning", "info"] = Field(
        "critical", description="Alert severity when this check is down."
    )
    playbook: str | None = Field(
        None, description="Allowed playbook to run when this check goes down."
    )
    # The config assembly reads this (agent/config/auto_paths.py); only http, dns and tcp.
    path: bool | None = Field(
        None, description="http, dns and tcp checks: also trace the path to the target (a "
        "path check named <name>-path); unset: as `paths.auto` says."
    )

    @field_validator("labels")
    @classmethod
    def _labels_valid(cls, v: dict[str, str]) -> dict[str, str]:
        for key in v:
            if not LABEL_NAME_RE.match(key):
                raise ValueError(f"invalid label name {key!r}")
            if key in RESERVED_LABELS:
                raise ValueError(f"label {key!r} is set by pantau and cannot be configured")
        return v
