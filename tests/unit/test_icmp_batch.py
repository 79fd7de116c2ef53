"""IcmpCollector.collect_batch over a scripted pinger round: the slicing of results (no
socket here; the real round is tested against the kernel in tests/peers/test_icmp_round_peer.py).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence

import pytest

from collectors.base import Context, Deadline, Observation
from collectors.probe import icmp
from collectors.probe.icmp import BATCH_CHUNK, IcmpCollector, IcmpConfig


class ScriptedRound:
    """Finishes the first `first` targets at once; the rest finish while the collector is
    handing on the first ones (in a callback that runs during its slice pause)."""

    def __init__(self, targets: Sequence[tuple[str, int]], first: int) -> None:
        n = len(targets)
        self.targets = targets
        self.rtts: list[list[float | None]] = [[0.001, 0.002, 0.003] for _ in range(n)]
        self.hop_limits = [-1] * n
        self.errors: list[Exception | None] = [None] * n
        self.ended = [0.0] * n
        self.left = n - first
        self._pending = list(range(first))
        self._rest = list(range(first, n))
        self.closed = False
        self._scheduled = False
        self._finished = asyncio.Event()

    async def results(self) -> list[int]:
        """As PingRound.results: waits while nothing is finished and targets are left."""
        loop = asyncio.get_running_loop()
        if self._rest and not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._finish_rest)
        if not self._pending and self.left:
            await self._finished.wait()
        out, self._pending = self._pending, []
        return out

    def _finish_rest(self) -> None:
        self._pending += self._rest
        self._rest = []
        self.left = 0
        self._finished.set()

    def close(self) -> None:
        self.closed = True


class ScriptedPinger:
    payload_size = 56

    def __init__(self, first: int) -> None:
        self.first = first
        self.rounds: list[ScriptedRound] = []

    def round(self, targets: Sequence[tuple[str, int]], count: int, interval: float,
              deadline: float) -> ScriptedRound:
        r = ScriptedRound(targets, self.first)
        self.rounds.append(r)
        return r


@pytest.mark.parametrize("first", [1, BATCH_CHUNK, 2 * BATCH_CHUNK + 3])
def test_targets_finishing_during_a_slice_are_reported(
        monkeypatch: pytest.MonkeyPatch, first: int) -> None:
    n = 3 * BATCH_CHUNK
    pinger = ScriptedPinger(first)
    monkeypatch.setattr(icmp, "get_pinger", lambda: pinger)
    colls = [IcmpCollector(IcmpConfig(name=f"c{i}", type="icmp", target=f"127.0.1.{i + 1}"))
             for i in range(n)]
    got: dict[int, Observation] = {}

    async def main() -> None:
        runs = [(c, Context(Deadline(5), "s", c.config.name)) for c in colls]

        def done(i: int, obs: Observation) -> None:
            assert i not in got  # once each
            got[i] = obs

        await IcmpCollector.collect_batch(runs, done)

    asyncio.run(main())
    assert sorted(got) == list(range(n))
    assert all(o.success for o in got.values())
    assert pinger.rounds[0].closed
    assert pinger.rounds[0].targets[0] == ("127.0.1.1", socket.AF_INET)
