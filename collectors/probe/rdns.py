"""Reverse DNS names of hop addresses (`reverse_dns: true` on a path check), cached.

Only the system resolver is asked (getnameinfo: /etc/hosts, then the resolvers of
/etc/resolv.conf), never a lookup service of our own choosing. One cache for the whole agent,
so fifty paths through the same ISP routers cost one lookup per router per `ttl`. A failed
lookup is cached too (for at most NEGATIVE_TTL), so a router without a PTR record is not asked
for again on every run. A lookup that does not finish within the run's budget is left running
and fills the cache for a later run: the path's measurement never waits for DNS.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Iterable

NEGATIVE_TTL = 300.0
MAX_IN_FLIGHT = 8  # getnameinfo blocks a thread each: keep the executor for everything else


class ReverseNames:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._cache: dict[str, tuple[str, float]] = {}  # address -> (name or "", expires)
        self._pending: dict[str, asyncio.Task[str]] = {}
        self._slots: asyncio.Semaphore | None = None
        self.lookups = 0  # lookups sent to the resolver (cache misses), for tests and metrics

    def _now(self) -> float:
        return self._clock()

    def cached(self, address: str) -> str | None:
        hit = self._cache.get(address)
        if hit is not None and hit[1] > self._now():
            return hit[0]
        return None

    async def _lookup(self, address: str, ttl: float) -> str:
        if self._slots is None:
            self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        async with self._slots:
            self.lookups += 1
            loop = asyncio.get_running_loop()
            try:
                host, _ = await loop.getnameinfo((address, 0), socket.NI_NAMEREQD)
            except (OSError, UnicodeError):
                host = ""
        name = "" if host == address else host.rstrip(".")
        self._cache[address] = (name, self._now() + (ttl if name else min(ttl, NEGATIVE_TTL)))
        return name

    def _forget(self, address: str) -> Callable[[asyncio.Task[str]], None]:
        def done(_task: asyncio.Task[str]) -> None:
            self._pending.pop(address, None)
        return done

    async def names(self, addresses: Iterable[str], ttl: float,
                    budget: float) -> dict[str, str]:
        """address -> name ("" when it has none) for those known within `budget` seconds."""
        out: dict[str, str] = {}
        waiting: list[tuple[str, asyncio.Task[str]]] = []
        for a in dict.fromkeys(addresses):
            if a in ("", "*"):
                continue
            hit = self.cached(a)
            if hit is not None:
                out[a] = hit
                continue
            task = self._pending.get(a)
            if task is None:
                task = asyncio.get_running_loop().create_task(self._lookup(a, ttl))
                self._pending[a] = task
                task.add_done_callback(self._forget(a))
            waiting.append((a, task))
        if waiting and budget > 0:
            await asyncio.wait([t for _, t in waiting], timeout=budget)
        for a, task in waiting:
            if task.done() and not task.cancelled() and task.exception() is None:
                out[a] = task.result()
        return out


_shared: ReverseNames | None = None


def shared() -> ReverseNames:
    global _shared
    if _shared is None:
        _shared = ReverseNames()
    return _shared
