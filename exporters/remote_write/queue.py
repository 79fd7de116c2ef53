"""The remote write buffer on disk: SQLite in WAL mode with synchronous=FULL.

Why SQLite rather than segment files: a committed transaction survives kill -9 and power loss,
deletes of acknowledged rows are atomic, and a torn write can never leave half a row that the
sender would later push. Each row is one snappy-compressed chunk of encoded WriteRequest entries
(so sending is decompress + concatenate), with its sample count and time span for the bounds.

Rows are delivered strictly in id order (AUTOINCREMENT: ids are never reused, even when the table
empties), so every series reaches the receiver in timestamp order. The queue is bounded by bytes
and by age; the oldest rows go first and their samples are counted, never silently lost.

Not thread-safe by itself beyond its own lock: every method may be called from worker threads.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rw_queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_min INTEGER NOT NULL,   -- oldest sample in the row, ms since the epoch
    ts_max INTEGER NOT NULL,
    samples INTEGER NOT NULL,
    payload BLOB NOT NULL      -- snappy block of WriteRequest field-1 entries
)
"""


@dataclass(frozen=True, slots=True)
class Row:
    id: int
    ts_min: int
    ts_max: int
    samples: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class NewRow:
    ts_min: int
    ts_max: int
    samples: int
    payload: bytes


@dataclass(slots=True)
class Dropped:
    """Samples a bound threw away, by reason."""

    queue_full: int = 0
    too_old: int = 0


_DAMAGED = (11, 26)  # SQLITE_CORRUPT, SQLITE_NOTADB: the only errors that mean a bad file


class DiskQueue:
    """A bounded FIFO of encoded remote-write chunks that outlives the process."""

    def __init__(self, path: Path, max_bytes: int, max_age: float) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.max_age = max_age
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = self._open()
        self.bytes = 0
        self.samples = 0
        self.rows = 0
        self.oldest_ms: int | None = None
        with self._lock:
            self._recount()

    def _open(self) -> sqlite3.Connection:
        try:
            return self._connect()
        except sqlite3.DatabaseError as e:
            if getattr(e, "sqlite_errorcode", None) not in _DAMAGED:
                # unreadable or unwritable now (a read-only state dir, a lock): not damage;
                # the healthy file stays where it is and the caller reports the error
                raise
            # A damaged buffer must not keep the agent from starting: set it aside, start empty.
            aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
            log.error("remote write queue %s is unreadable (%s); moved to %s, starting empty",
                      self.path, e, aside)
            for suffix in ("", "-wal", "-shm"):
                src = Path(str(self.path) + suffix)
                if src.exists():
                    os.replace(src, Path(str(aside) + suffix))
            return self._connect()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                             timeout=10)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute(_SCHEMA)
            db.execute("SELECT count(*) FROM rw_queue").fetchone()
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def _recount(self) -> None:
        n, size, total = self._db.execute(
            "SELECT count(*), coalesce(sum(length(payload)), 0), coalesce(sum(samples), 0)"
            " FROM rw_queue"
        ).fetchone()
        self.rows, self.bytes, self.samples = int(n), int(size), int(total)
        first = self._db.execute("SELECT ts_min FROM rw_queue ORDER BY id LIMIT 1").fetchone()
        self.oldest_ms = int(first[0]) if first else None

    # -- writing --------------------------------------------------------------------------
    def append(self, rows: list[NewRow], now: float | None = None) -> Dropped:
        """Commit `rows` durably in one transaction, then enforce the bounds.

        When this returns, the rows are on disk: that is what "queued" means in the metrics.
        """
        dropped = Dropped()
        with self._lock:
            if rows:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._db.executemany(
                        "INSERT INTO rw_queue (ts_min, ts_max, samples, payload)"
                        " VALUES (?, ?, ?, ?)",
                        [(r.ts_min, r.ts_max, r.samples, r.payload) for r in rows],
                    )
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self.rows += len(rows)
                self.bytes += sum(len(r.payload) for r in rows)
                self.samples += sum(r.samples for r in rows)
                if self.oldest_ms is None:
                    self.oldest_ms = rows[0].ts_min
            dropped.too_old = self._expire(now if now is not None else time.time())
            dropped.queue_full = self._shrink()
        return dropped

    def _expire(self, now: float) -> int:
        """Drop rows whose newest sample is older than max_age."""
        cutoff = int((now - self.max_age) * 1000)
        if self.oldest_ms is None or self.oldest_ms >= cutoff:
            return 0
        last_id: int | None = None
        cur = self._db.execute("SELECT id, ts_max FROM rw_queue ORDER BY id")
        for row_id, ts_max in cur:
            if int(ts_max) >= cutoff:
                break
            last_id = int(row_id)
        cur.close()
        return self._delete_through(0, last_id) if last_id is not None else 0

    def _shrink(self) -> int:
        """Drop the oldest rows until the payload fits in max_bytes."""
        excess = self.bytes - self.max_bytes
        if excess <= 0:
            return 0
        freed = 0
        last_id: int | None = None
        cur = self._db.execute("SELECT id, length(payload) FROM rw_queue ORDER BY id")
        for row_id, size in cur:
            freed += int(size)
            last_id = int(row_id)
            if freed >= excess:
                break
        cur.close()
        return self._delete_through(0, last_id) if last_id is not None else 0

    def _delete_through(self, first_id: int, last_id: int) -> int:
        cur = self._db.execute(
            "DELETE FROM rw_queue WHERE id BETWEEN ? AND ? RETURNING samples, length(payload)",
            (first_id, last_id),
        )
        deleted = cur.fetchall()
        n_samples = sum(int(s) for s, _ in deleted)
        self.rows -= len(deleted)
        self.samples -= n_samples
        self.bytes -= sum(int(b) for _, b in deleted)
        if deleted:
            first = self._db.execute(
                "SELECT ts_min FROM rw_queue ORDER BY id LIMIT 1"
            ).fetchone()
            self.oldest_ms = int(first[0]) if first else None
        return n_samples

    # -- reading --------------------------------------------------------------------------
    def peek(self, max_samples: int) -> list[Row]:
        """The oldest rows, up to max_samples samples (always at least one row if any)."""
        out: list[Row] = []
        total = 0
        with self._lock:
            cur = self._db.execute(
                "SELECT id, ts_min, ts_max, samples, payload FROM rw_queue ORDER BY id LIMIT 10000"
            )
            for row_id, ts_min, ts_max, n, payload in cur:
                if out and total + int(n) > max_samples:
                    break
                out.append(Row(int(row_id), int(ts_min), int(ts_max), int(n), bytes(payload)))
                total += int(n)
            cur.close()
        return out

    def ack(self, rows: list[Row]) -> int:
        """Delete delivered rows; returns how many of their samples were still queued.

        Rows a bound dropped while they were in flight are already gone and not counted twice.
        """
        if not rows:
            return 0
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                n = self._delete_through(rows[0].id, rows[-1].id)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return n

    def oldest_age(self, now: float | None = None) -> float:
        if self.oldest_ms is None:
            return 0.0
        return max(0.0, (now if now is not None else time.time()) - self.oldest_ms / 1000)

    def close(self) -> None:
        with self._lock:
            self._db.close()
