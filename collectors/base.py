"""The one interface every collector implements, and the plain data it returns.

Collectors hand back plain `Sample`s inside an `Observation`, never prometheus_client
objects: the exposition, the alert state machine, the outage history, remote write and the
reports all read the same results, and a collector can be tested without an HTTP server.
"""

from __future__ import annotations

import asyncio
import builtins
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Protocol, TypeVar, runtime_checkable

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

MetricKind = Literal["gauge", "counter", "info"]
T = TypeVar("T")

# Labels the agent adds itself: a collector never sets them, and a user can't override them.
RESERVED_LABELS = frozenset({"site", "check", "instance", "job"})
_METRIC_NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


@dataclass(frozen=True)
class MetricSpec:
    """One metric family a collector promises to emit: the contract checked by tests and docs.

    `labels` lists the collector's own labels; the agent adds `site` to every series and
    `check` to every series of a configured check (see `Collector.per_check`).
    """

    name: str
    kind: MetricKind
    help: str
    labels: tuple[str, ...] = ()
    unit: str = ""

    def __post_init__(self) -> None:
        if not _METRIC_NAME_RE.match(self.name):
            raise ValueError(f"invalid metric name {self.name!r}")
        if self.kind == "counter" and not self.name.endswith("_total"):
            raise ValueError(f"counter {self.name!r} must end in _total")
        for label in self.labels:
            if not _LABEL_NAME_RE.match(label) or label in RESERVED_LABELS:
                raise ValueError(f"metric {self.name!r}: invalid or reserved label {label!r}")


@dataclass(frozen=True, slots=True)
class Sample:
    """One series value. `labels` is a tuple of (name, value) pairs in a stable order."""

    name: str
    value: float
    labels: tuple[tuple[str, str], ...] = ()

    @staticmethod
    def of(name: str, value: float, **labels: str) -> Sample:
        return Sample(name, float(value), tuple(labels.items()))


@dataclass(slots=True)
class Observation:
    """What one collector run found. `reason` says why in a line when `success` is False."""

    success: bool
    samples: list[Sample] = field(default_factory=list)
    reason: str = ""
    duration: float = 0.0
    timestamp: float = field(default_factory=time.time)
    # Free-form, non-metric facts for the CLI table and the history (never secrets).
    details: dict[str, Any] = field(default_factory=dict)


class Deadline:
    """An absolute monotonic deadline passed down from the scheduler, blackbox-style.

    Every network call inside a collector takes its timeout from `remaining()`, so a run can
    never overrun what the scheduler allowed, however many steps it has.
    """

    __slots__ = ("at",)

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())

    def expired(self) -> bool:
        return time.monotonic() >= self.at


_BLOCKING_POOL = ThreadPoolExecutor(max_workers=32, thread_name_prefix="pantau-blocking")


class ThreadTracker:
    """Counts threads a job started that are still running.

    asyncio can stop *waiting* for a thread but cannot stop the thread. The scheduler asks the
    tracker whether the previous run's thread is still busy and skips the tick if so, instead
    of starting thread after thread against a hung NFS mount or SSH peer.
    """

    def __init__(self) -> None:
        self._busy = 0
        self._lock = threading.Lock()

    @property
    def busy(self) -> int:
        return self._busy

    def _done(self, _: Future[Any]) -> None:
        with self._lock:
            self._busy -= 1

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        with self._lock:
            self._busy += 1
        cf = _BLOCKING_POOL.submit(fn, *args)
        cf.add_done_callback(self._done)
        return await asyncio.wrap_future(cf)


@dataclass(slots=True)
class Context:
    """What the scheduler hands a collector for one run."""

    deadline: Deadline
    site: str
    name: str  # the check or device name ("host" for the host collector)
    threads: ThreadTracker = field(default_factory=ThreadTracker)

    async def run_blocking(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking call (psutil, paramiko) in a thread, bounded by the deadline.

        Use this instead of asyncio.to_thread: a thread still running after the deadline keeps
        the job marked busy, so the scheduler skips (and counts) ticks rather than piling up.
        """
        return await asyncio.wait_for(self.threads.run(fn, *args), self.deadline.remaining())


@runtime_checkable
class Collector(Protocol):
    """The one collector interface.

    `type` is the module name and the config `type`; `Config` is its pydantic model; `METRICS`
    is the contract of what it emits. Instances are built from a validated config and reused for
    every run, so they may keep state (sockets, SNMP engines, previous counters).
    """

    type: ClassVar[str]
    Config: ClassVar[builtins.type[BaseModel]]
    METRICS: ClassVar[tuple[MetricSpec, ...]]
    # True for configured checks (series get a `check` label); False for host/device collectors
    # whose series carry their own identifying labels.
    per_check: ClassVar[bool]

    async def collect(self, ctx: Context) -> Observation: ...

    async def aclose(self) -> None: ...


# --------------------------------------------------------------------------------------------
# Config building blocks shared by all collectors (collectors never import agent/).

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
    # Alerting (issue 6) reads these; kept here so every check type accepts them.
    severity: Literal["critical", "warning", "info"] = Field(
        "critical", description="Alert severity when this check is down."
    )
    playbook: str | None = Field(
        None, description="Allowed playbook to run when this check goes down."
    )

    @field_validator("labels")
    @classmethod
    def _labels_valid(cls, v: dict[str, str]) -> dict[str, str]:
        for key in v:
            if not _LABEL_NAME_RE.match(key):
                raise ValueError(f"invalid label name {key!r}")
            if key in RESERVED_LABELS:
                raise ValueError(f"label {key!r} is set by pantau and cannot be configured")
        return v


def label_pairs(
    labels: Mapping[str, str] | Iterable[tuple[str, str]],
) -> tuple[tuple[str, str], ...]:
    """Normalise labels to the tuple form Sample uses."""
    items = labels.items() if isinstance(labels, Mapping) else labels
    return tuple((str(k), str(v)) for k, v in items)


@dataclass
class JobSpec:
    """One scheduled unit of work: a configured check, an SNMP device, the host, ...

    Config sections that are not plain checks (snmp, ssh) turn themselves into JobSpecs, so the
    scheduler needs to know nothing about any collector type.
    """

    key: str  # unique: "check:<name>", "snmp:<device>", "host", ...
    name: str  # the check/device name; becomes the `check` label when per_check
    type: str  # collector type, for self metrics
    interval: float
    timeout: float
    factory: Callable[[], Collector]
    per_check: bool = True
    labels: dict[str, str] = field(default_factory=dict)


def lazy_import(name: str) -> Any:
    """Import `name` on first attribute access.

    The registry imports every collector module so the config can be validated, but an office
    that configures no SSH check should not carry paramiko and cryptography (~18 MiB) in
    memory; heavy client libraries are therefore bound lazily in the collector modules.
    """
    import importlib.util
    import sys

    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ImportError(f"No module named {name!r}")
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    parent, _, child = name.rpartition(".")
    if parent:  # as the import system does, so `import a.b; a.b.x` finds it
        setattr(sys.modules[parent], child, module)
    return module
