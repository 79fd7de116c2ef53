"""Waiting on the thing itself, not on the clock: poll a condition until a deadline."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(condition: Callable[[], T], timeout: float, what: str,
               interval: float = 0.05) -> T:
    """Return the first truthy result of `condition()`; AssertionError naming `what` when
    the deadline passes. Exceptions of `condition` count as "not yet"."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while True:
        try:
            result = condition()
            if result:
                return result
        except Exception as e:  # a peer still starting refuses connections
            last = e
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not within {timeout:g}s"
                                 + (f" (last error: {last})" if last else ""))
        time.sleep(interval)


def wait_http(url: str, timeout: float) -> None:
    """Until `url` answers at all (any HTTP status): the server is accepting requests."""
    def answered() -> bool:
        try:
            urllib.request.urlopen(url, timeout=1).close()
        except urllib.error.HTTPError:
            pass
        return True

    wait_until(answered, timeout, f"{url} answering")
