"""Runs every job on its interval: one asyncio task per check/device, a hard deadline per run,
a global concurrency limit, and no way for one collector to take the agent down.

Why a run can overrun although every run has a deadline: blocking libraries (psutil, paramiko)
run in threads that asyncio cannot cancel. The scheduler stops waiting at the deadline and
records a timeout, but it will not start the same job again while that thread is still busy:
the tick is skipped and counted (pantau_collector_skipped_total) instead of piling up threads.

Batched jobs (collectors.base.BatchCollector: the icmp checks of an IP literal): a task, a
timer and a wake-up per run per check cost more than pinging, so jobs of one type with the same
interval, timeout and batch key share one scheduling task, and the ones due in the same tick
(within `_batch_window` of each other) go as one `collect_batch` round. Each keeps its own
phase (the jitter of its first run), deadline, runs/skips counters and result; results are
committed by one task in slices of at most COMMIT_SLICE seconds (and COMMIT_CHUNK results)
with the event loop free in between, so a round of a thousand results does not hold a scrape
for the whole of it. A round holds one slot
of the concurrency limit.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import random
import time
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass, field

from agent.store import Store
from collectors import Collector
from collectors.base import (
    BatchCollector,
    BatchDone,
    Context,
    Deadline,
    JobSpec,
    MetricSpec,
    Observation,
    Sample,
)
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


# A commit slice ends after COMMIT_CHUNK results or COMMIT_SLICE seconds, whichever first,
# then the event loop is free. A result costs ~50 µs (store, self metrics, listeners) on a
# quiet machine but several times that on a busy one, and a scrape that arrives during a
# slice waits for all of it: the time bound keeps that wait near 1 ms whatever the load.
COMMIT_CHUNK = 50
COMMIT_SLICE = 0.001


def _batch_window(interval: float) -> float:
    """Jobs due up to this long after the first due one of a tick run with it (that much
    early): 50 ms at the usual intervals, so the 2 s spread of 1,000 checks' first runs makes
    ~40 rounds of ~25, and the spread itself stays."""
    return min(0.05, interval / 400)


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
    # batched jobs: the group, when the next run is due (loop time), whether a round has it
    batch: _Batch | None = None
    next_at: float = 0.0
    in_round: bool = False
    removed: bool = False  # stopped: a result still on its way is dropped
    self_labels: tuple[tuple[str, str], ...] = ()
    self_key: str = ""  # its self metrics' store key, "self:<key>"
    # pantau_collector_success 0 and 1 of this job, made once: a job that keeps succeeding
    # (or failing) hands the same sample every run
    self_flags: tuple[Sample, ...] = ()
    # its pantau_collector_skipped_total sample while the count stays (it mostly stays 0)
    self_skipped: Sample | None = None


@dataclass(eq=False)
class _Batch:
    """The batched jobs of one (type, interval, timeout, batch key) and their task."""

    key: tuple[Hashable, ...]
    cls: type[BatchCollector]
    interval: float
    timeout: float
    heap: list[tuple[float, int, JobState]] = field(default_factory=list)  # by next_at
    live: int = 0
    task: asyncio.Task[None] | None = None
    wake: asyncio.Future[None] | None = None  # resolved when a job joins (maybe due earlier)
    rounds: set[asyncio.Task[None]] = field(default_factory=set)


class Scheduler:
    def __init__(self, store: Store, max_concurrency: int = 64, jitter: float = 0.1) -> None:
        self.store = store
        self.jitter = jitter
        self._sem = asyncio.Semaphore(max_concurrency)
        self.jobs: dict[str, JobState] = {}
        self._batches: dict[tuple[Hashable, ...], _Batch] = {}
        self._order = itertools.count()  # heap tie-break
        self._commits: deque[tuple[JobState, Observation]] = deque()
        self._commit_wake: asyncio.Future[None] | None = None
        self._committer: asyncio.Task[None] | None = None

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
        state.self_labels = (("collector", spec.type), ("source", spec.name))
        state.self_key = f"self:{spec.key}"
        state.self_flags = (Sample("pantau_collector_success", 0.0, state.self_labels),
                            Sample("pantau_collector_success", 1.0, state.self_labels))
        self.jobs[spec.key] = state
        batch = self._batch_for(state)
        if batch is None:
            state.task = asyncio.create_task(self._loop(state), name=f"job:{spec.key}")
        else:
            self._join(batch, state)

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
        batches = list(self._batches.values())
        self._batches.clear()
        tasks = [t for b in batches for t in (b.task, *b.rounds) if t is not None]
        if self._committer is not None:
            tasks.append(self._committer)
            self._committer = None
        for t in tasks:
            t.cancel()
        for t in tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):
                pass
        self._commits.clear()
        await self._stop_states(states)

    async def _stop_states(self, states: list[JobState]) -> None:
        for st in states:
            st.removed = True
            if st.task:
                st.task.cancel()
            if st.inflight and not st.inflight.done():
                st.inflight.cancel()
            b = st.batch
            if b is not None:
                # its entry leaves the heap when next due; a round that has it still runs
                # for the others, and its result is dropped at commit
                b.live -= 1
                if b.live == 0 and self._batches.get(b.key) is b:
                    del self._batches[b.key]
                    if b.task is not None:
                        b.task.cancel()
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
            self.store.remove(st.self_key)

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
        self._commit(st, obs)

    def _commit(self, st: JobState, obs: Observation) -> None:
        """A run's result: logged on a change, stored, counted in the self metrics."""
        spec = st.spec
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
        labels = st.self_labels
        skipped = st.self_skipped
        if skipped is None or skipped.value != st.skipped:
            skipped = st.self_skipped = Sample("pantau_collector_skipped_total",
                                               float(st.skipped), labels)
        samples = [
            Sample("pantau_collector_duration_seconds", float(st.last_duration), labels),
            st.self_flags[st.last_success],
            skipped,
            Sample("pantau_collector_runs_total", float(st.runs), labels),
        ]
        self.store.put(st.self_key, st.spec.name, "self", Observation(True, samples),
                       per_check=False)


    # -- batched jobs -------------------------------------------------------------------
    def _batch_for(self, st: JobState) -> _Batch | None:
        coll = st.collector
        if coll is None or not isinstance(coll, BatchCollector):
            return None
        try:
            bkey = coll.batch_key()
        except Exception as e:  # then it runs alone, which always works
            log.warning("%s: batch_key failed: %s", st.spec.key, e)
            return None
        if bkey is None:
            return None
        spec = st.spec
        key = (spec.type, type(coll), spec.interval, spec.timeout, bkey)
        b = self._batches.get(key)
        if b is None:
            b = self._batches[key] = _Batch(key, type(coll), spec.interval, spec.timeout)
            b.task = asyncio.create_task(self._batch_loop(b), name=f"batch:{spec.type}")
        return b

    def _join(self, b: _Batch, st: JobState) -> None:
        loop = asyncio.get_running_loop()
        st.batch = b
        # the same spread of first runs as a job of its own gets
        st.next_at = loop.time() + random.uniform(0, min(st.spec.interval * self.jitter, 5.0))
        heapq.heappush(b.heap, (st.next_at, next(self._order), st))
        b.live += 1
        if b.wake is not None and not b.wake.done():
            b.wake.set_result(None)

    async def _batch_loop(self, b: _Batch) -> None:
        """Wait for the earliest due job of the group; start a round with every job due
        within the window after it; put each back at its next due time."""
        loop = asyncio.get_running_loop()
        heap = b.heap
        window = _batch_window(b.interval)
        while True:
            while heap and heap[0][2].removed:
                heapq.heappop(heap)
            now = loop.time()
            if not heap or heap[0][0] > now:
                b.wake = wake = loop.create_future()
                timer = loop.call_at(heap[0][0], _resolve, wake) if heap else None
                try:
                    await wake
                finally:
                    b.wake = None
                    if timer is not None:
                        timer.cancel()
                continue
            members: list[JobState] = []
            while heap and heap[0][0] <= now + window:
                st = heapq.heappop(heap)[2]
                if st.removed:
                    continue
                if st.in_round or st.threads.busy:
                    st.skipped += 1
                    log.warning("%s: previous run still busy, skipping this tick", st.spec.key)
                    self._publish_self(st)
                else:
                    members.append(st)
                st.next_at += b.interval
                if st.next_at < now:  # the loop overran: skip the missed ticks, count them
                    missed = int((now - st.next_at) // b.interval) + 1
                    st.skipped += missed
                    st.next_at += missed * b.interval
                    self._publish_self(st)
                heapq.heappush(heap, (st.next_at, next(self._order), st))
            if members:
                for st in members:
                    st.in_round = True
                task = asyncio.create_task(self._round(b, members))
                b.rounds.add(task)
                task.add_done_callback(b.rounds.discard)

    async def _round(self, b: _Batch, members: list[JobState]) -> None:
        try:
            async with self._sem:
                started = time.monotonic()
                reported = [False] * len(members)
                runs: list[tuple[Collector, Context]] = []
                # the members start together with the same timeout: one deadline for all
                deadline = Deadline(b.timeout)
                site = self.store.site
                for st in members:
                    st.runs += 1
                    assert st.collector is not None  # only jobs with a collector are batched
                    runs.append((st.collector, Context(deadline, site, st.spec.name,
                                                       st.threads)))

                def done(i: int, obs: Observation) -> None:
                    if not reported[i]:
                        reported[i] = True
                        obs.duration = obs.duration or (time.monotonic() - started)
                        self._queue(members[i], obs)

                task = asyncio.create_task(self._guarded_batch(b.cls, runs, done))
                if await _finished_within(task, b.timeout):
                    error = task.result()
                else:
                    task.cancel()
                    error = ""
                for i, st in enumerate(members):
                    if reported[i]:
                        continue
                    reported[i] = True  # a late done() of the cancelled round is ignored
                    assert st.collector is not None
                    if error:
                        obs = Observation(False, _failure_samples(
                            st.collector, time.monotonic() - started), reason=error)
                    else:
                        obs = Observation(False, _failure_samples(st.collector, b.timeout),
                                          reason=f"timeout after {b.timeout:g}s")
                    obs.duration = time.monotonic() - started
                    self._queue(st, obs)
        finally:
            for st in members:
                st.in_round = False

    @staticmethod
    async def _guarded_batch(cls: type[BatchCollector], runs: list[tuple[Collector, Context]],
                             done: BatchDone) -> str:
        """The batch's error, "" if none: every run it did not report fails with it."""
        try:
            await cls.collect_batch(runs, done)
            return ""
        except asyncio.CancelledError:
            raise
        except Exception as e:  # the agent never dies of a collector
            log.exception("collector %s raised in a batch of %d", cls.type, len(runs))
            return f"collector error: {type(e).__name__}: {e}"

    def _queue(self, st: JobState, obs: Observation) -> None:
        self._commits.append((st, obs))
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._commit_loop(), name="commit")
        elif self._commit_wake is not None and not self._commit_wake.done():
            self._commit_wake.set_result(None)

    async def _commit_loop(self) -> None:
        loop = asyncio.get_running_loop()
        queue = self._commits
        while True:
            if not queue:
                self._commit_wake = loop.create_future()
                try:
                    await self._commit_wake
                finally:
                    self._commit_wake = None
                continue
            ends = time.perf_counter() + COMMIT_SLICE
            for _ in range(min(len(queue), COMMIT_CHUNK)):
                st, obs = queue.popleft()
                if st.removed:
                    continue
                try:
                    self._commit(st, obs)
                except Exception:  # never lose the committer (and every later result)
                    log.exception("%s: storing the result failed", st.spec.key)
                if time.perf_counter() > ends:
                    break
            if queue:
                await asyncio.sleep(0)  # a scrape may be waiting


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


async def _finished_within(task: asyncio.Task[Observation] | asyncio.Task[str],
                           timeout: float) -> bool:
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
