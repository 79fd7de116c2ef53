"""Scheduler guarantees: deadlines, failures recorded not fatal, overruns skipped and counted,
and the global concurrency limit."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import ClassVar

from pydantic import BaseModel

from agent.scheduler import Scheduler
from agent.store import Store
from collectors.base import Context, JobSpec, MetricSpec, Observation, Sample
from collectors.config import StrictModel


class _Cfg(StrictModel):
    pass


class Behaving:
    """A test collector whose behaviour the test chooses: ok, raise, hang (async or thread)."""

    type: ClassVar[str] = "test"
    Config: ClassVar[type[BaseModel]] = _Cfg
    METRICS: ClassVar[tuple[MetricSpec, ...]] = ()
    per_check: ClassVar[bool] = True
    active = 0
    max_active = 0

    def __init__(self, mode: str, hold: float = 0.0) -> None:
        self.mode = mode
        self.hold = hold
        self.deadlines: list[float] = []

    async def collect(self, ctx: Context) -> Observation:
        self.deadlines.append(ctx.deadline.remaining())
        Behaving.active += 1
        Behaving.max_active = max(Behaving.max_active, Behaving.active)
        try:
            if self.mode == "raise":
                raise RuntimeError("device said no")
            if self.mode == "hang":
                await asyncio.sleep(3600)
            if self.mode == "thread":
                ev = threading.Event()
                await ctx.run_blocking(ev.wait, self.hold)
            if self.mode == "hold":
                await asyncio.sleep(self.hold)
            return Observation(True, [Sample.of("x", 1)])
        finally:
            Behaving.active -= 1

    async def aclose(self) -> None:
        return None


def _spec(key: str, coll: Behaving, interval: float = 0.2, timeout: float = 0.1) -> JobSpec:
    return JobSpec(key, key, "test", interval, timeout, lambda: coll)


def _run(coro_fn, seconds: float):  # type: ignore[no-untyped-def]
    async def main():  # type: ignore[no-untyped-def]
        store = Store("site-a")
        sched = Scheduler(store, max_concurrency=2, jitter=0.0)
        await coro_fn(sched)
        await asyncio.sleep(seconds)
        snap = store.snapshot()
        jobs = dict(sched.jobs)
        await sched.stop()
        return snap, jobs

    return asyncio.run(main())


def test_raise_is_recorded_and_agent_goes_on() -> None:
    bad, good = Behaving("raise"), Behaving("ok")

    async def setup(s: Scheduler) -> None:
        await s.start([_spec("bad", bad), _spec("good", good)])

    snap, jobs = _run(setup, 0.5)
    assert snap["bad"].observation.success is False
    assert "RuntimeError: device said no" in snap["bad"].observation.reason
    assert snap["good"].observation.success is True
    assert jobs["bad"].runs >= 2  # it kept being scheduled after raising


def test_deadline_passed_down_and_enforced() -> None:
    hang = Behaving("hang")

    async def setup(s: Scheduler) -> None:
        await s.start([_spec("hang", hang, interval=0.3, timeout=0.1)])

    t0 = time.monotonic()
    snap, _ = _run(setup, 0.25)
    assert time.monotonic() - t0 < 5
    assert snap["hang"].observation.success is False
    assert snap["hang"].observation.reason == "timeout after 0.1s"
    assert 0.05 < hang.deadlines[0] <= 0.1


def test_stuck_thread_skips_next_tick_and_counts_it() -> None:
    stuck = Behaving("thread", hold=0.7)

    async def setup(s: Scheduler) -> None:
        await s.start([_spec("stuck", stuck, interval=0.2, timeout=0.1)])

    snap, jobs = _run(setup, 0.65)
    assert jobs["stuck"].runs == 1  # never started twice while the thread was busy
    assert jobs["stuck"].skipped >= 2
    skipped = [s.value for s in snap["self:stuck"].samples
               if s.name == "pantau_collector_skipped_total"]
    assert skipped and skipped[0] >= 2


def test_concurrency_limit() -> None:
    Behaving.max_active = 0
    colls = [Behaving("hold", hold=0.15) for _ in range(6)]

    async def setup(s: Scheduler) -> None:
        await s.start([_spec(f"j{i}", c, interval=1.0, timeout=0.5) for i, c in enumerate(colls)])

    _run(setup, 0.6)
    assert Behaving.max_active == 2


def test_store_adds_site_and_check_labels() -> None:
    ok = Behaving("ok")

    async def setup(s: Scheduler) -> None:
        await s.start([JobSpec("check:p", "p", "test", 1.0, 0.5, lambda: ok,
                               labels={"role": "portal"})])

    snap, _ = _run(setup, 0.1)
    (sample,) = snap["check:p"].samples
    assert dict(sample.labels) == {"site": "site-a", "check": "p", "role": "portal"}


class HangingProbe(Behaving):
    """A probe collector (declares pantau_probe_success) that never answers."""

    METRICS: ClassVar[tuple[MetricSpec, ...]] = (
        MetricSpec("pantau_probe_success", "gauge", "x", ("type", "target")),
    )

    class config:
        target = "10.0.0.1"


def test_timed_out_probe_still_reports_failure() -> None:
    hang = HangingProbe("hang")

    async def setup(s: Scheduler) -> None:
        await s.start([_spec("p", hang, interval=0.3, timeout=0.1)])

    snap, _ = _run(setup, 0.25)
    values = {(smp.name, dict(smp.labels).get("target")): smp.value
              for smp in snap["p"].samples}
    assert values[("pantau_probe_success", "10.0.0.1")] == 0.0


def test_self_metrics_every_run_success_sample_kept() -> None:
    """The self metrics are published with every result, under "self:<key>"; a job that
    keeps succeeding hands the same pantau_collector_success sample run after run."""
    good = Behaving("ok")
    seen: list[Sample] = []

    async def setup(s: Scheduler) -> None:
        def watch(result: object) -> None:
            if getattr(result, "key", "") == "self:good":
                seen.extend(x for x in result.samples  # type: ignore[attr-defined]
                            if x.name == "pantau_collector_success")
        s.store.subscribe(watch)
        await s.start([_spec("good", good, interval=0.1, timeout=0.05)])

    snap, jobs = _run(setup, 0.35)
    runs = [s.value for s in snap["self:good"].samples
            if s.name == "pantau_collector_runs_total"]
    assert runs == [float(jobs["good"].runs)] and jobs["good"].runs >= 3
    assert len(seen) >= 3 and all(x is seen[0] for x in seen)
    assert seen[0] == Sample("pantau_collector_success", 1.0,
                             (("site", "site-a"), ("collector", "test"), ("source", "good")))
