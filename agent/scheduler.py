"""Runs every job on its interval: one asyncio task per check/device, a hard deadline per run,
a global concurrency limit, and no way for one collector to take the agent down.

Why a run can overrun although every run has a deadline: blocking libraries (psutil, paramiko)
run in threads that asyncio cannot cancel. The scheduler stops waiting at the deadline and
records a timeout, but it will not start the same job again while that thread is still busy:
the tick is skipped and counted (pantau_collector_skipped_total) instead of piling up threads.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field

from agent.store import Store
from collectors import Collector
from collectors.base import Context, Deadline, JobSpec, MetricSpec, Observation, Sample
from collectors.common.threads import ThreadTracker
from collectors.probe import PROBE_SUCCESS, probe_samples

log = logging.getLogger(__name__)

SELF_METRICS: tuple[MetricSpec, ...] = (
    MetricSpec(
        "pantau_collector_duration_seconds", "gauge",
        "How long the last run of a collector took.", ("collector", "source"),
    ),
    MetricSpec(
        "pantau_collector_success", "gauge",
        "1 if the last run of a collector succeeded, 0 if it failed or timed out.",
        ("collector", "source"),
    ),
    MetricSpec(
        "pantau_collector_skipped_total", "counter",
        "Runs skipped because the previous run of the same job was still busy.",
        ("collector", "source"),
    ),
    MetricSpec(
        "pantau_collector_runs_total", "counter",
        "Runs started, by collector and source.", ("collector", "source"),
    ),
)


@dataclass
class JobState:
    spec: JobSpec
    collector: Collector | None = None
    inflight: asyncio.Task[Observation] | None = None
    task: asyncio.Task[None] | None = None
    threads: ThreadTracker = field(default_factory=ThreadTracker)
    runs: int = 0
    skipped: int = 0
    last_duration: float = 0.0
    last_success: bool = False
    last_reason: str = ""
    ran_once: asyncio.Event = field(default_factory=asyncio.Event)


class Scheduler:
    def __init__(self, store: Store, max_concurrency: int = 64, jitter: float = 0.1) -> None:
        self.store = store
        self.jitter = jitter
        self._sem = asyncio.Semaphore(max_concurrency)
        self.jobs: dict[str, JobState] = {}

    async def start(self, specs: list[JobSpec]) -> None:
        for spec in specs:
            await self.add(spec)

    async def add(self, spec: JobSpec) -> None:
        if spec.key in self.jobs:
            raise ValueError(f"duplicate job {spec.key}")
        state = JobState(spec)
        try:
            state.collector = spec.factory()
        except Exception as e:  # a collector that cannot even start is a failed job
            log.error("%s: cannot start collector: %s", spec.key, e)
            state.last_reason = f"cannot start: {e}"
        self.jobs[spec.key] = state
        state.task = asyncio.create_task(self._loop(state), name=f"job:{spec.key}")

    async def update(self, specs: list[JobSpec]) -> tuple[int, int]:
        """Apply a reloaded job list: a job whose spec is unchanged keeps running with its
        schedule and its last result (a reload must not reset `for:` alerts or probe again);
        removed and changed jobs stop, new and changed ones start. (kept, started)."""
        new = {s.key: s for s in specs}
        gone = [st for key, st in self.jobs.items()
                if key not in new or not _same(st.spec, new[key])]
        for st in gone:
            del self.jobs[st.spec.key]
        await self._stop_states(gone)
        started = 0
        for spec in specs:
            if spec.key not in self.jobs:
                await self.add(spec)
                started += 1
        return len(self.jobs) - started, started

    async def stop(self) -> None:
        states = list(self.jobs.values())
        self.jobs.clear()
        await self._stop_states(states)

    async def _stop_states(self, states: list[JobState]) -> None:
        for st in states:
            if st.task:
                st.task.cancel()
            if st.inflight and not st.inflight.done():
                st.inflight.cancel()
        for st in states:
            if st.task:
                try:
                    await st.task
                except (asyncio.CancelledError, Exception):
                    pass
            if st.collector is not None:
                try:
                    await asyncio.wait_for(st.collector.aclose(), 5)
                except Exception as e:
                    log.warning("%s: close failed: %s", st.spec.key, e)
            self.store.remove(st.spec.key)
            self.store.remove(f"self:{st.spec.key}")

    async def wait_first_results(self, timeout: float) -> None:
        """Wait until every job ran once (or `timeout`), so /-/ready means something."""
        events = [st.ran_once.wait() for st in self.jobs.values()]
        if events:
            try:
                await asyncio.wait_for(asyncio.gather(*events), timeout)
            except TimeoutError:
                pass

    async def _loop(self, st: JobState) -> None:
        spec = st.spec
        loop = asyncio.get_running_loop()
        # Spread first runs over the interval so a hundred checks don't fire at once.
        await asyncio.sleep(random.uniform(0, min(spec.interval * self.jitter, 5.0)))
        next_at = loop.time()
        while True:
            if st.threads.busy or (st.inflight is not None and not st.inflight.done()):
                st.skipped += 1
                log.warning("%s: previous run still busy, skipping this tick", spec.key)
                self._publish_self(st)
            else:
                st.inflight = None
                await self._run_once(st)
            next_at += spec.interval
            now = loop.time()
            if next_at < now:  # overran: skip the missed ticks, count them
                missed = int((now - next_at) // spec.interval) + 1
                st.skipped += missed
                next_at += missed * spec.interval
                self._publish_self(st)
            await asyncio.sleep(next_at - now)

    async def _run_once(self, st: JobState) -> None:
        spec = st.spec
        async with self._sem:
            started = time.monotonic()
            st.runs += 1
            if st.collector is None:
                obs = Observation(False, reason=st.last_reason or "collector not started")
            else:
                ctx = Context(Deadline(spec.timeout), self.store.site, spec.name, st.threads)
                st.inflight = asyncio.create_task(self._guarded(st.collector, ctx))
                if await _finished_within(st.inflight, spec.timeout):
                    obs = st.inflight.result()
                    st.inflight = None
                else:
                    # Leave the task: if it is stuck in a thread, the next tick sees it busy.
                    st.inflight.cancel()
                    obs = Observation(False, _failure_samples(st.collector, spec.timeout),
                                      reason=f"timeout after {spec.timeout:g}s")
            obs.duration = obs.duration or (time.monotonic() - started)
        st.last_duration = obs.duration
        # A failing streak is logged once when it starts; each further failed run is debug
        # (a reason that alternates, reset/refused, would otherwise be a line per run).
        # Whether the check is *down* is the alert state machine's call, which logs that as
        # the one WARNING of the outage.
        if not obs.success and (st.last_success or st.runs == 1):
            log.info("%s failing: %s", spec.key, obs.reason)
        elif not obs.success:
            log.debug("%s failed: %s", spec.key, obs.reason)
        elif not st.last_success and st.runs > 1:
            log.info("%s succeeds again", spec.key)
        st.last_success = obs.success
        st.last_reason = obs.reason
        self.store.put(spec.key, spec.name, spec.type, obs, per_check=spec.per_check,
                       extra_labels=spec.labels)
        self._publish_self(st)
        st.ran_once.set()

    @staticmethod
    async def _guarded(collector: Collector, ctx: Context) -> Observation:
        try:
            return await collector.collect(ctx)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # the agent never dies of a collector
            log.exception("collector %s raised", ctx.name)
            return Observation(False, _failure_samples(collector, ctx.deadline.remaining()),
                               reason=f"collector error: {type(e).__name__}: {e}")

    def _publish_self(self, st: JobState) -> None:
        labels = {"collector": st.spec.type, "source": st.spec.name}
        samples = [
            Sample.of("pantau_collector_duration_seconds", st.last_duration, **labels),
            Sample.of("pantau_collector_success", 1.0 if st.last_success else 0.0, **labels),
            Sample.of("pantau_collector_skipped_total", st.skipped, **labels),
            Sample.of("pantau_collector_runs_total", st.runs, **labels),
        ]
        self.store.put(f"self:{st.spec.key}", st.spec.name, "self", Observation(True, samples),
                       per_check=False)


async def _finished_within(task: asyncio.Task[Observation], timeout: float) -> bool:
    """asyncio.wait({task}, timeout) for one task, without its sets and per-call closures:
    it runs once per check per interval. True if the task is done."""
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] = loop.create_future()

    def wake(_: object = None) -> None:
        if not waiter.done():
            waiter.set_result(None)

    task.add_done_callback(wake)
    timer = loop.call_later(timeout, wake)
    try:
        await waiter
    finally:
        timer.cancel()
        task.remove_done_callback(wake)
    return task.done()


def _same(a: JobSpec, b: JobSpec) -> bool:
    return (a.identity is not None and a.identity == b.identity
            and (a.name, a.type, a.interval, a.timeout, a.per_check, a.labels)
            == (b.name, b.type, b.interval, b.timeout, b.per_check, b.labels))


def _failure_samples(collector: Collector, duration: float) -> list[Sample]:
    """When a probe gave no observation of its own (timeout, crash), still say it failed:
    a pantau_probe_success series that vanishes instead of dropping to 0 hides the outage
    from every alert rule and dashboard."""
    if not any(m.name == PROBE_SUCCESS.name for m in collector.METRICS):
        return []
    target = str(getattr(getattr(collector, "config", None), "target", ""))
    return probe_samples(collector.type, target, False, duration)
