"""The one interface every collector implements, and the plain data it returns.

Collectors hand back plain `Sample`s inside an `Observation`, never prometheus_client
objects: the exposition, the alert state machine, the outage history, remote write and the
reports all read the same results, and a collector can be tested without an HTTP server.
"""

from __future__ import annotations

import asyncio
import builtins
import re
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel

from collectors.common.threads import ThreadTracker

# "untyped" where node_exporter itself exposes a family untyped (netstat, vmstat); histogram and
# summary only for families pantau passes through from elsewhere (textfile collector).
MetricKind = Literal["gauge", "counter", "info", "untyped", "histogram", "summary"]
T = TypeVar("T")

# Labels the agent adds itself: a collector never sets them, and a user can't override them.
RESERVED_LABELS = frozenset({"site", "check", "instance", "job"})
_METRIC_NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


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
    # Defined outside pantau (a *.prom file of the textfile collector): declared at run time,
    # its label names are not known up front and pantau's naming rules do not apply.
    foreign: bool = False

    def __post_init__(self) -> None:
        if not _METRIC_NAME_RE.match(self.name):
            raise ValueError(f"invalid metric name {self.name!r}")
        if self.foreign:
            return
        if self.kind == "counter" and not self.name.endswith("_total"):
            raise ValueError(f"counter {self.name!r} must end in _total")
        for label in self.labels:
            if not LABEL_NAME_RE.match(label) or label in RESERVED_LABELS:
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
    # Families this run's samples belong to that no METRICS declares (textfile collector).
    specs: list[MetricSpec] = field(default_factory=list)


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


BatchDone = Callable[[int, "Observation"], None]


@runtime_checkable
class BatchCollector(Collector, Protocol):
    """Optional on top of `Collector`: runs that can share one round of work.

    Jobs of one collector type with the same interval, timeout and `batch_key()` (None: never
    batched), due in the same scheduler tick, are run by one `collect_batch` call instead of
    one `collect` each (the icmp checks: one pinger round). `collect_batch` must call
    `done(i, observation)` once per run i, as soon as that run's observation is complete (not
    when the whole batch is), with the observation `collect` would have made; the scheduler
    enforces each run's deadline as for `collect`, and queues the results (a call to `done`
    does no work but that).
    """

    def batch_key(self) -> Hashable | None: ...

    @classmethod
    async def collect_batch(cls, runs: Sequence[tuple[Any, Context]], done: BatchDone) -> None:
        ...


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
    # what the job was built from (a check's config); equal identity on a reload means the
    # job keeps running, with its schedule and last result. None: always restarted.
    identity: object = None
