"""Threads for blocking calls (psutil, paramiko, sqlite) that asyncio cannot interrupt."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

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
