"""The agent's GC and GIL settings for answer latency (agent/runtime.py)."""

from __future__ import annotations

import itertools


def test_latency_settings_are_put_back_when_the_agent_stops() -> None:
    """The agent paces GC itself and shortens the GIL switch interval while it runs
    (agent/runtime.py); an agent run inside another process (the tests) leaves neither."""
    import gc
    import sys

    from agent import runtime

    before = (gc.get_threshold(), sys.getswitchinterval())
    restore = runtime._tune_for_latency()
    try:
        assert gc.get_threshold() == runtime.GC_THRESHOLDS
        assert sys.getswitchinterval() == runtime.SWITCH_INTERVAL
    finally:
        restore()
    assert (gc.get_threshold(), sys.getswitchinterval()) == before


def test_the_pacer_slows_down_when_idle_and_keeps_pace_when_busy() -> None:
    from agent import runtime

    waits = [runtime.GC_YOUNG]
    for _ in range(10):
        waits.append(runtime.next_wait(waits[-1], busy=False))
    assert waits[1] == 2 * runtime.GC_YOUNG and waits[-1] == runtime.GC_IDLE
    assert all(a <= b for a, b in itertools.pairwise(waits))
    assert runtime.next_wait(runtime.GC_IDLE, busy=True) == runtime.GC_YOUNG


def test_a_result_ends_the_pacers_long_wait() -> None:
    """After a quiet spell the pacer sleeps up to GC_IDLE; the first result wakes it at once
    (it collects then, instead of letting a burst fill the young generation for the whole
    wait) and it keeps the short pace while results come."""
    import asyncio

    from agent import runtime
    from agent.store import Store
    from collectors.base import Observation

    async def main() -> None:
        store = Store("s")
        pacer = runtime.GcPacer(store)
        saved = runtime.GC_IDLE, runtime.GC_BUSY_COUNT
        runtime.GC_IDLE = 3600.0  # a wait no test would sit out
        runtime.GC_BUSY_COUNT = 10**9  # only results count as work here
        task = asyncio.create_task(pacer.run())
        try:
            for _ in range(200):  # quiet: the waits double until the pacer sleeps long
                await asyncio.sleep(0.02)
                if pacer._wake is not None:
                    break
            first = pacer._wake
            assert first is not None, "the pacer never slowed down"
            store.put("check:a", "a", "tcp", Observation(True), per_check=True)
            assert first.done()
            for _ in range(100):
                await asyncio.sleep(0.01)
                if pacer._wake is not first:
                    break
            assert pacer._wake is None  # back to the short pace (plain sleeps)
        finally:
            task.cancel()
            runtime.GC_IDLE, runtime.GC_BUSY_COUNT = saved

    asyncio.run(main())


def test_the_pacers_resident_size_is_psutils() -> None:
    """The pacer's own /proc/self/statm reading is the resident size psutil reports (the
    one process_resident_memory_bytes shows), within what a page or two of allocation in
    between can move it."""
    import psutil

    from agent import runtime

    rss = runtime._Resident()
    try:
        mine = rss.read()
        theirs = psutil.Process().memory_info().rss
        assert mine > 0
        assert abs(mine - theirs) <= 1024 * 1024
        block = bytearray(32 * 1024 * 1024)  # touched: resident
        grown = rss.read()
        assert grown - mine >= 30 * 1024 * 1024
        del block
    finally:
        rss.close()
    assert rss.read() == 0  # closed: no reading, no error
