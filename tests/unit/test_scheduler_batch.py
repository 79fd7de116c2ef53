"""Batched jobs (collectors.base.BatchCollector): jobs due in the same tick go as one
collect_batch round, and each keeps its own result, deadline, counters and removal.

The collector here is a test double of the batch *interface* only (the real icmp round is
tested against the kernel in tests/peers/test_icmp_round_peer.py); what it does per run is chosen
by the test through its config."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Hashable, Sequence
from typing import Any, ClassVar

from pydantic import BaseModel

from agent.scheduler import COMMIT_CHUNK, COMMIT_SLICE, Scheduler
from agent.store import Result, Store
from collectors.base import BatchCollector, Context, JobSpec, MetricSpec, Observation, Sample
from collectors.config import StrictModel


class _Cfg(StrictModel):
    pass


class Member:
    """answer: "now" (done at once), "later" (done when `release` is set), "never"."""

    type: ClassVar[str] = "batchtest"
    Config: ClassVar[type[BaseModel]] = _Cfg
    METRICS: ClassVar[tuple[MetricSpec, ...]] = (
        MetricSpec("pantau_probe_success", "gauge", "x", ("type", "target")),
    )
    per_check: ClassVar[bool] = True
    rounds: ClassVar[list[list[str]]] = []
    release: ClassVar[asyncio.Event | None] = None

    def __init__(self, name: str, answer: str = "now", group: str = "a") -> None:
        self.name, self.answer, self.group = name, answer, group
        self.closed = False

        class config:  # what _failure_samples reads for the target label
            target = f"10.0.0.{len(name)}"

        self.config = config

    def batch_key(self) -> Hashable | None:
        return None if self.group == "alone" else self.group

    async def collect(self, ctx: Context) -> Observation:
        Member.rounds.append([self.name])
        return Observation(True, [Sample.of("x", 1, via="collect")])

    @classmethod
    async def collect_batch(cls, runs: Sequence[tuple[Any, Context]],
                            done: Callable[[int, Observation], None]) -> None:
        cls.rounds.append([c.name for c, _ in runs])
        for i, (c, _ctx) in enumerate(runs):
            if c.answer == "now":
                done(i, Observation(True, [Sample.of("x", float(i), member=c.name)]))
        if any(c.answer == "later" for c, _ in runs):
            assert cls.release is not None
            await cls.release.wait()
            for i, (c, _) in enumerate(runs):
                if c.answer == "later":
                    done(i, Observation(True, [Sample.of("x", 1, member=c.name)]))
        if any(c.answer == "never" for c, _ in runs):
            await asyncio.sleep(3600)

    async def aclose(self) -> None:
        self.closed = True


def _spec(m: Member, interval: float = 0.5, timeout: float = 0.3) -> JobSpec:
    return JobSpec(f"check:{m.name}", m.name, "batchtest", interval, timeout, lambda: m,
                   identity=(m.name, m.answer, m.group))


def _setup() -> tuple[Store, Scheduler]:
    Member.rounds = []
    Member.release = asyncio.Event()
    store = Store("site-a")
    return store, Scheduler(store, max_concurrency=4, jitter=0.0)


async def _until(cond: Callable[[], bool], rounds: int = 400) -> None:
    """Bounded: at most `rounds` x 10 ms."""
    for _ in range(rounds):
        if cond():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


def test_member_is_a_batch_collector() -> None:
    assert isinstance(Member("x"), BatchCollector)


def test_jobs_due_together_go_as_one_round_each_with_its_own_result() -> None:
    async def main() -> None:
        store, sched = _setup()
        await sched.start([_spec(Member("a1")), _spec(Member("a2")),
                           _spec(Member("alone1", group="alone")),
                           _spec(Member("b1", group="b"))])
        await _until(lambda: all(store.get(f"check:{n}") for n in ("a1", "a2", "alone1", "b1")))
        first = sorted(sorted(r) for r in Member.rounds)
        assert first == [["a1", "a2"], ["alone1"], ["b1"]]  # same key together, others apart
        for n in ("a1", "a2"):
            res = store.get(f"check:{n}")
            assert res is not None and res.observation.success
            (s,) = res.samples
            assert dict(s.labels) == {"site": "site-a", "check": n, "member": n}
            self_ = store.get(f"self:check:{n}")
            assert self_ is not None
            runs = [x.value for x in self_.samples if x.name == "pantau_collector_runs_total"]
            assert runs == [1.0]
            labels = dict(self_.samples[0].labels)
            assert labels == {"site": "site-a", "collector": "batchtest", "source": n}
        assert sched.jobs["check:a1"].runs == 1 and sched.jobs["check:a2"].runs == 1
        await sched.stop()

    asyncio.run(main())


def test_silent_member_times_out_alone_and_does_not_hold_the_others() -> None:
    async def main() -> None:
        store, sched = _setup()
        await sched.start([_spec(Member("quick")), _spec(Member("mute", "never"))])
        await _until(lambda: store.get("check:quick") is not None)
        # the quick one is stored while the round still waits for the mute one
        assert store.get("check:mute") is None
        await _until(lambda: store.get("check:mute") is not None)
        mute = store.get("check:mute")
        assert mute is not None
        assert not mute.observation.success
        assert mute.observation.reason == "timeout after 0.3s"
        values = {(s.name, dict(s.labels).get("target")): s.value for s in mute.samples}
        assert values[("pantau_probe_success", "10.0.0.4")] == 0.0  # its own failure series
        quick = store.get("check:quick")
        assert quick is not None and quick.observation.success
        await sched.stop()

    asyncio.run(main())


def test_member_removed_by_reload_leaves_the_round() -> None:
    async def main() -> None:
        store, sched = _setup()
        stays, goes = Member("stays", "later"), Member("goes", "later")
        await sched.start([_spec(stays), _spec(goes)])
        await _until(lambda: bool(Member.rounds))  # the round with both is running
        assert sorted(Member.rounds[0]) == ["goes", "stays"]
        kept, started = await sched.update([_spec(stays)])
        assert (kept, started) == (1, 0)
        assert goes.closed
        assert Member.release is not None
        Member.release.set()  # now the round answers for both
        await _until(lambda: store.get("check:stays") is not None)
        await asyncio.sleep(0.05)  # let the committer run past the removed one
        assert store.get("check:goes") is None and store.get("self:check:goes") is None
        assert "check:goes" not in sched.jobs
        # and the next rounds are without it
        Member.release = asyncio.Event()
        Member.release.set()
        await _until(lambda: len(Member.rounds) >= 2)
        assert Member.rounds[1] == ["stays"]
        await sched.stop()

    asyncio.run(main())


def test_job_added_by_reload_joins_later_rounds() -> None:
    async def main() -> None:
        store, sched = _setup()
        one = Member("one")
        await sched.start([_spec(one)])
        await _until(lambda: store.get("check:one") is not None)
        await sched.update([_spec(one), _spec(Member("two"))])
        await _until(lambda: store.get("check:two") is not None)
        assert sched.jobs["check:one"].runs >= 1 and sched.jobs["check:two"].runs == 1
        await sched.stop()

    asyncio.run(main())


def _committed_between_turns(n: int, per_result: float = 0.0) -> list[int]:
    """One round of `n` members; how many results were committed between two turns of a
    callback that keeps rescheduling itself (what a scrape waiting on the loop sees).
    `per_result` s of blocking work per stored result stands in for a busy machine."""
    between: list[int] = []

    async def main() -> None:
        store, sched = _setup()
        loop = asyncio.get_running_loop()
        committed = 0
        last = [0]

        def count(result: Result) -> None:
            nonlocal committed
            if result.key.startswith("check:"):
                committed += 1
                if per_result:
                    time.sleep(per_result)

        def turn() -> None:
            between.append(committed - last[0])
            last[0] = committed
            if committed < n:
                loop.call_soon(turn)

        store.subscribe(count)
        await sched.start([_spec(Member(f"m{i:03d}")) for i in range(n)])
        loop.call_soon(turn)
        await _until(lambda: committed == n)
        assert Member.rounds and len(Member.rounds[0]) == n  # one round for all
        await sched.stop()

    asyncio.run(main())
    return between


def test_a_large_round_is_committed_in_slices() -> None:
    """Between two slices of results the event loop runs other callbacks (a scrape)."""
    between = _committed_between_turns(3 * COMMIT_CHUNK + 7)
    assert max(between) <= COMMIT_CHUNK


def test_a_slice_ends_when_its_time_is_up() -> None:
    """Results slower than a slice's time (a busy machine) go one per slice: a scrape waits
    for one result, not for COMMIT_CHUNK of them."""
    n = 12
    between = _committed_between_turns(n, per_result=2 * COMMIT_SLICE)  # longer than a slice
    assert max(between) == 1 and sum(between) == n


def test_store_labels_follow_site_labels_and_changed_series() -> None:
    """The store's label cache (by position and by tuple) never hands out stale labels."""
    store = Store("site-a")
    same = (("target", "x"),)
    first = store.put("check:c", "c", "t", Observation(True, [Sample("m", 1.0, same)]),
                      per_check=True, extra_labels={"role": "r1"})
    assert first.samples[0].labels == (("site", "site-a"), ("check", "c"), ("role", "r1"),
                                       ("target", "x"))
    assert first.observation.samples == first.samples
    # same tuple at the same position, other check labels: rebuilt
    again = store.put("check:c", "c", "t", Observation(True, [Sample("m", 2.0, same)]),
                      per_check=True, extra_labels={"role": "r2"})
    assert dict(again.samples[0].labels)["role"] == "r2"
    # another tuple at that position
    other = store.put("check:c", "c", "t",
                      Observation(True, [Sample("m", 3.0, (("target", "y"),))]),
                      per_check=True, extra_labels={"role": "r2"})
    assert dict(other.samples[0].labels)["target"] == "y"
    # the site changed by a reload
    store.site = "site-b"
    moved = store.put("check:c", "c", "t", Observation(True, [Sample("m", 4.0, same)]),
                      per_check=True, extra_labels={"role": "r2"})
    assert dict(moved.samples[0].labels)["site"] == "site-b"
