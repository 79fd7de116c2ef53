"""Delivers the notifications waiting in the history's outbox: per receiver, in order, with
exponential backoff and jitter, until each is delivered or refused for good.

Why one loop per receiver with head-of-line blocking: "uplink down" must never arrive after
"uplink recovered". A receiver that is unreachable (the office is offline) holds its own queue
and no other receiver's. Why exactly once: the row is marked delivered in the same thread right
after the receiver accepted it; the only window for a duplicate is a crash between the two, and
every output carries a stable id there (idempotency key, Message-ID, Alertmanager's label dedup).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

from agent.history import History, HistoryError, OutboxItem
from collectors.common.retry import backoff
from collectors.common.tasks import cancel_all
from exporters.notify import DeliveryError, Notification, Notifier

log = logging.getLogger(__name__)

ResultHook = Callable[[str, str], None]  # (receiver, "sent" | "retry" | "failed")


class Outbox:
    def __init__(
        self,
        history: History,
        notifiers: Mapping[str, Notifier],
        *,
        initial_backoff: float = 5.0,
        max_backoff: float = 300.0,
        timeout: float = 30.0,
        on_result: ResultHook | None = None,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.history = history
        self.notifiers = dict(notifiers)
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self.on_result = on_result or (lambda r, res: None)
        self.on_change = on_change or (lambda: None)
        self._events: dict[str, asyncio.Event] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._rng = random.Random()
        # Delivered but not yet recorded (disk full): never send these again in this process.
        self._unrecorded: dict[int, float] = {}
        self.pending = 0

    async def _db(self, fn: Callable[..., Any], *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.history.executor, fn, *args)

    async def start(self) -> None:
        for name in self.notifiers:
            self._events[name] = asyncio.Event()
            self._tasks.append(asyncio.create_task(self._loop(name), name=f"outbox:{name}"))
        await self.refresh_pending()

    async def stop(self) -> None:
        await cancel_all(self._tasks)
        self._tasks.clear()

    def wake(self) -> None:
        for ev in self._events.values():
            ev.set()

    async def refresh_pending(self) -> None:
        try:
            self.pending = await self._db(self.history.pending_count)
        except Exception as e:  # a read error must not stop delivery
            log.warning("outbox: cannot count pending notifications: %s", e)
        self.on_change()

    async def _sleep(self, name: str, seconds: float) -> None:
        ev = self._events[name]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ev.wait(), max(0.0, seconds))
        ev.clear()

    async def _loop(self, name: str) -> None:
        notifier = self.notifiers[name]
        while True:
            try:
                item: OutboxItem | None = await self._db(self.history.next_pending, name)
            except Exception as e:
                log.error("outbox %s: cannot read the outbox: %s", name, e)
                await self._sleep(name, 5.0)
                continue
            if item is None:
                await self._sleep(name, 30.0)
                continue
            if item.delivery_id in self._unrecorded:
                await self._record(name, item, delivered=True, error="")
                continue
            wait = item.next_attempt - time.time()
            if wait > 0:
                # A wake-up (new notification) re-reads the head; the head's backoff stands.
                await self._sleep(name, wait)
                continue
            await self._deliver(name, notifier, item)

    async def _deliver(self, name: str, notifier: Notifier, item: OutboxItem) -> None:
        try:
            n = Notification.from_dict(item.payload)
        except TypeError as e:
            await self._record(name, item, delivered=False, error=f"bad payload: {e}",
                               permanent=True)
            return
        try:
            await asyncio.wait_for(notifier.send(n, self.timeout), self.timeout + 5)
        except DeliveryError as e:
            await self._record(name, item, delivered=False, error=str(e),
                               permanent=e.permanent, retry_after=e.retry_after)
            return
        except TimeoutError:
            await self._record(name, item, delivered=False, error="timed out")
            return
        except Exception as e:  # an output bug must not kill the loop
            log.exception("outbox %s: unexpected error", name)
            await self._record(name, item, delivered=False, error=f"{type(e).__name__}: {e}")
            return
        self._unrecorded[item.delivery_id] = time.time()
        await self._record(name, item, delivered=True, error="")

    async def _record(self, name: str, item: OutboxItem, *, delivered: bool, error: str,
                      permanent: bool = False, retry_after: float | None = None) -> None:
        try:
            if delivered:
                at = self._unrecorded.get(item.delivery_id, time.time())
                await self._db(self.history.mark_delivered, item.delivery_id, at)
                self._unrecorded.pop(item.delivery_id, None)
                self.on_result(name, "sent")
                log.info("notification %d delivered to %s", item.notification_id, name)
            elif permanent:
                await self._db(self.history.mark_failed, item.delivery_id, error)
                self.on_result(name, "failed")
                log.error("notification %d to %s refused, giving up: %s",
                          item.notification_id, name, error)
            else:
                delay = backoff(item.attempts + 1, self.initial_backoff, self.max_backoff,
                                self._rng)
                if retry_after:
                    delay = max(delay, min(retry_after, self.max_backoff))
                await self._db(self.history.mark_retry, item.delivery_id,
                               time.time() + delay, error)
                self.on_result(name, "retry")
                log.warning("notification %d to %s failed (attempt %d), retrying in %.1fs: %s",
                            item.notification_id, name, item.attempts + 1, delay, error)
        except HistoryError as e:
            log.error("outbox %s: cannot record delivery state: %s", name, e)
            await self._sleep(name, 5.0)
        await self.refresh_pending()
