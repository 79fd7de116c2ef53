"""Push everything pantau collects to a central receiver with Prometheus remote write 1.0.

Offices behind NAT can't be scraped, and their links fail exactly when the data matters. So
every result is first committed to a disk queue in state_dir (see rw_queue) and only deleted
once the receiver has answered 2xx; a cut link, a restart or a kill -9 only delays delivery.
Samples go out in queue order, so each series stays in timestamp order, which receivers without
an out-of-order window (Prometheus 2.x by default) insist on.

What gets lost, always counted: the oldest rows when the queue exceeds max_bytes or max_age,
batches the receiver refuses with a 4xx (malformed or too old: resending can't help), samples
not newer than the previous one of their series, and whatever was still in memory (at most
`queue.sync_interval`, default 1 s) when the process was killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from collectors.base import Sample
from collectors.common.lazy import lazy_import
from collectors.common.retry import backoff
from collectors.common.tasks import cancel_all
from collectors.common.version import USER_AGENT
from exporters.remote_write import proto as rw_proto

# The config and the families live in config.py (loaded by every agent); their names stay
# importable from here.
from exporters.remote_write.config import METRICS as METRICS
from exporters.remote_write.config import BackoffConfig as BackoffConfig
from exporters.remote_write.config import BasicAuth as BasicAuth
from exporters.remote_write.config import QueueConfig as QueueConfig
from exporters.remote_write.config import RemoteWriteConfig as RemoteWriteConfig
from exporters.remote_write.queue import DiskQueue, NewRow, Row

if TYPE_CHECKING:
    import httpx
else:
    httpx = lazy_import("httpx")

log = logging.getLogger(__name__)

QUEUE_FILE = "remote_write.sqlite"

# --------------------------------------------------------------------------------------------
# The writer


class RemoteWriter:
    """Queue every result on disk and push it to the receiver in order, retrying forever.

    `enqueue` is called from the store listener in the event loop thread: it only appends to a
    list. A flusher task commits that list to the disk queue every `queue.sync_interval`, and a
    sender task pushes the oldest rows, deleting them only after a 2xx.
    """

    def __init__(self, config: RemoteWriteConfig, state_dir: Path, site: str) -> None:
        self.config = config
        self.site = site
        self.path = state_dir / QUEUE_FILE
        self.queue: DiskQueue | None = None
        self._encoder = rw_proto.Encoder()
        self._pending: list[tuple[int, Sequence[Sample]]] = []
        self._pending_samples = 0
        # series -> (timestamp its last sample came with, timestamp it was queued at), in ms
        self._last_ts: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[int, int]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._data = asyncio.Event()
        self._client: httpx.AsyncClient | None = None
        self._commit_lock = asyncio.Lock()
        self.counts: dict[str, int] = {"queued": 0, "sent": 0, "rejected": 0}
        self.dropped: dict[str, int] = {
            "queue_full": 0, "too_old": 0, "out_of_order": 0, "disk_error": 0,
        }
        self.requests: dict[str, int] = {"success": 0, "retry": 0, "rejected": 0}
        self.last_success = 0.0
        self._failing_since: float | None = None
        self._last_failure_log = 0.0
        self._last_reject_log = -1e9
        self._draining = False

    # -- input --------------------------------------------------------------------------
    def enqueue(self, timestamp: float, samples: Sequence[Sample]) -> None:
        """Take one result's final series (with site/check labels) stamped `timestamp` (s)."""
        if not samples:
            return
        self._pending.append((round(timestamp * 1000), samples))
        self._pending_samples += len(samples)
        # Memory guard if the disk stalls: keep at most ~100 batches in RAM, oldest out first.
        limit = self.config.batch_size * 100
        while self._pending_samples > limit and len(self._pending) > 1:
            _, old = self._pending.pop(0)
            self._pending_samples -= len(old)
            self.dropped["queue_full"] += len(old)

    # -- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        try:
            self.queue = await asyncio.to_thread(
                DiskQueue, self.path, int(self.config.queue.max_bytes),
                self.config.queue.max_age,
            )
        except Exception as e:
            raise ValueError(f"remote_write: cannot open the queue {self.path}: {e}") from None
        verify: ssl.SSLContext | bool = True
        if self.config.url.startswith("https:"):
            verify = self.config.tls_config.client_context()
        auth: httpx.Auth | None = None
        if self.config.basic_auth is not None:
            ba = self.config.basic_auth
            auth = httpx.BasicAuth(ba.username, ba.secret().get_secret_value())
        # httpx logs every request with its full URL at INFO: noise, and a query string could
        # carry a token. Our own lines say what matters with the URL stripped.
        logging.getLogger("httpx").setLevel(max(logging.WARNING,
                                                logging.getLogger("httpx").level))
        self._client = httpx.AsyncClient(
            verify=verify, auth=auth, timeout=self.config.timeout, trust_env=False,
            proxy=self.config.proxy_url,
            headers={"User-Agent": USER_AGENT,
                     **{k: v.get_secret_value() for k, v in self.config.headers.items()},
                     **rw_proto.HEADERS, **self.config.auth_headers()},
        )
        log.info("remote write to %s (%d samples queued on disk from before)",
                 self.config.safe_url(), self.queue.samples)
        self._tasks = [
            asyncio.create_task(self._flush_loop(), name="remote-write-flush"),
            asyncio.create_task(self._send_loop(), name="remote-write-send"),
        ]
        if self.queue.samples:
            self._data.set()

    async def drain(self, limit: float) -> bool:
        """Commit what is in memory and wait up to `limit` s for the queue to empty.

        For a graceful shutdown; True if everything was delivered.
        """
        deadline = time.monotonic() + limit
        self._draining = True
        await self._commit()
        while self.queue is not None and self.queue.samples and time.monotonic() < deadline:
            self._data.set()
            await asyncio.sleep(0.05)
        return self.queue is None or self.queue.samples == 0

    async def stop(self) -> None:
        """Commit what is still in memory; whatever is unsent stays on disk for next time."""
        await cancel_all(self._tasks)
        self._tasks = []
        if self.queue is not None:
            await self._commit()
            await asyncio.to_thread(self.queue.close)
            self.queue = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- disk ---------------------------------------------------------------------------
    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.queue.sync_interval)
            await self._commit()

    async def _commit(self) -> None:
        async with self._commit_lock:
            if not self._pending or self.queue is None:
                return
            items, self._pending, self._pending_samples = self._pending, [], 0
            try:
                await asyncio.to_thread(self._commit_sync, items)
            except Exception as e:  # disk full, I/O error: count, say so, keep running
                n = sum(len(s) for _, s in items)
                self.dropped["disk_error"] += n
                log.error("remote write: cannot write the disk queue %s: %s (%d samples lost)",
                          self.path, e, n)
                return
            if self.queue.samples:
                self._data.set()

    def _commit_sync(self, items: list[tuple[int, Sequence[Sample]]]) -> None:
        """Encode, split into rows of at most batch_size samples, commit, apply the bounds."""
        assert self.queue is not None
        rows: list[NewRow] = []
        parts: list[bytes] = []
        ts_min = ts_max = 0
        out_of_order = 0
        size = self.config.batch_size
        enc = self._encoder.timeseries
        last_ts = self._last_ts
        if len(last_ts) > 1_000_000:  # label churn guard
            last_ts.clear()
        for ts, samples in items:
            for s in samples:
                key = (s.name, s.labels)
                prev = last_ts.get(key)
                at = ts
                if prev is not None:
                    came, queued = prev
                    if ts == came:
                        # A second value of the series within the same millisecond (the
                        # alerting engine publishes twice when one state change is committed)
                        # is the newer one: it goes 1 ms later. Dropping it as out of order
                        # kept the older value, and pushed pantau_check_up lagged one state
                        # behind what /metrics showed.
                        at = queued + 1
                    elif ts <= queued:
                        out_of_order += 1
                        continue
                last_ts[key] = (ts, at)
                if not parts:
                    ts_min = at
                ts_min = min(ts_min, at)
                ts_max = max(ts_max, at)
                parts.append(enc(s, at))
                if len(parts) >= size:
                    rows.append(NewRow(ts_min, ts_max, len(parts),
                                       rw_proto.compress(b"".join(parts))))
                    parts = []
        if parts:
            rows.append(NewRow(ts_min, ts_max, len(parts), rw_proto.compress(b"".join(parts))))
        dropped = self.queue.append(rows)
        self.counts["queued"] += sum(r.samples for r in rows)
        self.dropped["out_of_order"] += out_of_order
        self.dropped["queue_full"] += dropped.queue_full
        self.dropped["too_old"] += dropped.too_old
        if dropped.queue_full or dropped.too_old:
            log.warning("remote write queue bound reached: dropped the oldest %d samples "
                        "(%d over max_bytes, %d over max_age)",
                        dropped.queue_full + dropped.too_old, dropped.queue_full, dropped.too_old)

    # -- network ------------------------------------------------------------------------
    async def _send_loop(self) -> None:
        failures = 0
        while True:
            assert self.queue is not None
            if self.queue.samples < self.config.batch_size:
                # Not a full batch yet: wait for the flush interval or for a full batch.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wait_full(), self.config.flush_interval)
            rows = await asyncio.to_thread(self.queue.peek, self.config.batch_size)
            if not rows:
                self._data.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._data.wait(), self.config.flush_interval)
                continue
            outcome = await self._send(rows)
            if outcome == "retry":
                failures += 1
                await asyncio.sleep(backoff(failures, self.config.backoff.min,
                                            self.config.backoff.max))
            else:
                failures = 0

    async def _wait_full(self) -> None:
        assert self.queue is not None
        while self.queue.samples < self.config.batch_size and not self._draining:
            self._data.clear()
            await self._data.wait()

    async def _send(self, rows: list[Row]) -> str:
        """One request for `rows`; returns success, retry or rejected."""
        assert self._client is not None and self.queue is not None
        n = sum(r.samples for r in rows)
        body = await asyncio.to_thread(_build_body, rows)
        try:
            resp = await self._client.post(self.config.url, content=body)
            status, text = resp.status_code, resp.text[:200]
        except httpx.HTTPError as e:
            self._failed(f"{type(e).__name__}: {e}" if str(e) else type(e).__name__, n)
            return "retry"
        if 200 <= status < 300:
            sent = await asyncio.to_thread(self.queue.ack, rows)
            self.counts["sent"] += sent
            self.requests["success"] += 1
            self.last_success = time.time()
            if self._failing_since is not None:
                log.info("remote write to %s recovered after %.0f s",
                         self.config.safe_url(), time.monotonic() - self._failing_since)
                self._failing_since = None
            return "success"
        if status == 429 or status >= 500 or status in (401, 403, 404, 408):
            # 401/403/404: usually a fix on the central side is coming; keep the data.
            self._failed(f"HTTP {status}: {_one_line(text)}", n)
            return "retry"
        self.requests["rejected"] += 1
        if len(rows) > 1:
            # A receiver commits a request whole or not at all, so one bad row (too old, or
            # already delivered before a lost reply) must not take its neighbours down with
            # it: split until the refused rows stand alone, deliver the rest.
            mid = len(rows) // 2
            for part in (rows[:mid], rows[mid:]):
                if await self._send(part) == "retry":
                    return "retry"
            return "success"
        rejected = await asyncio.to_thread(self.queue.ack, rows)
        self.counts["rejected"] += rejected
        now = time.monotonic()
        if now - self._last_reject_log >= 60:
            self._last_reject_log = now
            log.error("remote write: %s refused %d samples with HTTP %d (not retried): %s",
                      self.config.safe_url(), n, status, _one_line(text))
        return "rejected"

    def _failed(self, reason: str, n: int) -> None:
        self.requests["retry"] += 1
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
            self._last_failure_log = now
            log.warning("remote write to %s failed, will retry (%d samples waiting): %s",
                        self.config.safe_url(), self.queue.samples if self.queue else n, reason)
        elif now - self._last_failure_log >= 60:
            self._last_failure_log = now
            log.warning("remote write to %s still failing after %.0f s (%d samples queued): %s",
                        self.config.safe_url(), now - self._failing_since,
                        self.queue.samples if self.queue else n, reason)

    # -- self metrics -------------------------------------------------------------------
    def samples(self) -> list[Sample]:
        q = self.queue
        out = [Sample.of("pantau_remote_write_samples_total", v, result=k)
               for k, v in self.counts.items()]
        out += [Sample.of("pantau_remote_write_dropped_samples_total", v, reason=k)
                for k, v in self.dropped.items()]
        out += [Sample.of("pantau_remote_write_requests_total", v, result=k)
                for k, v in self.requests.items()]
        out += [
            Sample.of("pantau_remote_write_queue_bytes", q.bytes if q else 0),
            Sample.of("pantau_remote_write_queue_samples", q.samples if q else 0),
            Sample.of("pantau_remote_write_oldest_sample_age_seconds",
                      q.oldest_age() if q else 0.0),
            Sample.of("pantau_remote_write_last_success_timestamp_seconds", self.last_success),
        ]
        return out


def _build_body(rows: list[Row]) -> bytes:
    if len(rows) == 1:
        return rows[0].payload
    return rw_proto.compress(b"".join(rw_proto.decompress(r.payload) for r in rows))


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]

