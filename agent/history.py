"""Outage history and notification outbox: one SQLite file in state_dir.

Why SQLite with WAL + synchronous=FULL: a state change and the notifications it causes are
written in ONE transaction, and a transaction that returned is on disk, so a kill -9 or a power
cut at any moment loses no committed record and leaves no half-written alert. The outbox lives
in the same file for the same reason: a notification exists exactly when its state change does.

All methods are blocking; the agent calls them from one dedicated thread (`History.executor`),
which is also what makes sharing one connection safe.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DB_NAME = "history.db"
SQLITE_FULL = 13
SQLITE_CORRUPT = 11
SQLITE_NOTADB = 26

# Each entry migrates from version i to i+1; never edit a released entry, append a new one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE state_changes (
        id INTEGER PRIMARY KEY,
        site TEXT NOT NULL,
        check_name TEXT NOT NULL,
        ts REAL NOT NULL,
        old_state TEXT NOT NULL,
        new_state TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        root_cause TEXT NOT NULL DEFAULT '',
        verdict TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX state_changes_check_ts ON state_changes(check_name, ts);
    CREATE TABLE check_status (
        check_name TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        since REAL NOT NULL,
        verdict TEXT NOT NULL,
        root_cause TEXT NOT NULL DEFAULT '',
        updated REAL NOT NULL
    );
    CREATE TABLE notifications (
        id INTEGER PRIMARY KEY,
        uid TEXT NOT NULL UNIQUE,
        site TEXT NOT NULL,
        check_name TEXT NOT NULL,
        kind TEXT NOT NULL,
        ts REAL NOT NULL,
        root_cause TEXT NOT NULL DEFAULT '',
        payload TEXT NOT NULL
    );
    CREATE TABLE deliveries (
        id INTEGER PRIMARY KEY,
        notification_id INTEGER NOT NULL REFERENCES notifications(id),
        receiver TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        created REAL NOT NULL,
        next_attempt REAL NOT NULL,
        last_error TEXT NOT NULL DEFAULT '',
        delivered_at REAL
    );
    CREATE INDEX deliveries_outbox ON deliveries(receiver, status, id);
    CREATE TABLE playbook_runs (
        id INTEGER PRIMARY KEY,
        check_name TEXT NOT NULL,
        playbook TEXT NOT NULL,
        trigger TEXT NOT NULL,
        started REAL NOT NULL,
        finished REAL,
        status TEXT NOT NULL,
        output TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX playbook_runs_check ON playbook_runs(check_name, started);
    CREATE TABLE maintenance_windows (
        id INTEGER PRIMARY KEY,
        site TEXT NOT NULL,
        start REAL NOT NULL,
        end REAL NOT NULL,
        checks TEXT NOT NULL DEFAULT '[]',
        reason TEXT NOT NULL DEFAULT '',
        created REAL NOT NULL
    );
    """,
    """
    CREATE TABLE incident_notes (
        id INTEGER PRIMARY KEY,
        site TEXT NOT NULL,
        check_name TEXT NOT NULL,
        at REAL NOT NULL,
        note TEXT NOT NULL,
        created REAL NOT NULL
    );
    CREATE INDEX incident_notes_check_at ON incident_notes(check_name, at);
    """,
    """
    CREATE TABLE acknowledgements (
        id INTEGER PRIMARY KEY,
        site TEXT NOT NULL,
        check_name TEXT NOT NULL,
        since REAL NOT NULL,
        by_name TEXT NOT NULL,
        by_id TEXT NOT NULL DEFAULT '',
        at REAL NOT NULL,
        via TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX acknowledgements_check ON acknowledgements(check_name, since);
    """,
    """
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        site TEXT NOT NULL,
        check_name TEXT NOT NULL,
        ts REAL NOT NULL,
        kind TEXT NOT NULL,
        text TEXT NOT NULL DEFAULT '',
        detail TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX events_check_ts ON events(check_name, ts);
    """,
)
# States a check can be recorded in. "unreachable": down because a check it depends on is
# down (cut off upstream, no alert of its own), kept apart from "down" so the history and the
# reports say which outages were the service's own.
STATES = ("up", "down", "unreachable", "unknown")
OUTAGE_STATES = ("down", "unreachable")
SCHEMA_VERSION = len(MIGRATIONS)


class HistoryError(Exception):
    """The history cannot be opened or written; `disk_full` says whether space ran out."""

    def __init__(self, message: str, disk_full: bool = False) -> None:
        super().__init__(message)
        self.disk_full = disk_full


@dataclass(frozen=True)
class ChangeRow:
    check: str
    ts: float
    old: str
    new: str
    reason: str
    root_cause: str
    verdict: str


@dataclass(frozen=True)
class StatusRow:
    check: str
    state: str
    since: float
    verdict: str
    root_cause: str


@dataclass(frozen=True)
class EventRow:
    """Something that happened to a check without changing its state (a route change)."""

    check: str
    ts: float
    kind: str
    text: str  # one line in English, for the history views and the report
    detail: dict[str, Any]


@dataclass(frozen=True)
class NewNotification:
    uid: str
    check: str
    kind: str
    ts: float
    root_cause: str
    payload: dict[str, Any]
    receivers: tuple[str, ...]


@dataclass(frozen=True)
class OutboxItem:
    delivery_id: int
    notification_id: int
    receiver: str
    attempts: int
    next_attempt: float
    payload: dict[str, Any]


def _unwritable_hint(path: Path) -> str:
    """Why SQLite may fail on a healthy file: its directory (a read-only mount, say)."""
    return "" if os.access(path.parent, os.W_OK) else " (its directory is not writable)"


def _is_full(e: sqlite3.Error) -> bool:
    code = getattr(e, "sqlite_errorcode", None)
    return code == SQLITE_FULL or "full" in str(e).lower()


class History:
    def __init__(self, conn: sqlite3.Connection, path: Path, site: str) -> None:
        self.conn = conn
        self.path = path
        self.site = site
        self.lost = 0  # times the file was deleted or replaced under us
        self._inode = self._stat_inode()
        # One thread owns the connection; callers in the event loop use run_in_executor.
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pantau-history")

    # -- opening --------------------------------------------------------------------------
    @classmethod
    def open(cls, state_dir: Path, site: str, *, readonly: bool = False) -> History:
        path = Path(state_dir) / DB_NAME
        if readonly:
            if not path.exists():
                raise HistoryError(f"no history at {path}")
            conn = cls._connect(f"file:{path}?mode=ro", uri=True)
            return cls(conn, path, site)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise HistoryError(f"cannot create {path.parent}: {e.strerror}") from None
        return cls(cls._open_rw(path), path, site)

    @classmethod
    def _open_rw(cls, path: Path) -> sqlite3.Connection:
        conn = cls._connect(str(path))
        problem = cls._integrity_problem(conn, path)
        if problem:
            conn.close()
            aside = path.with_name(f"{DB_NAME}.corrupt-{int(time.time())}")
            try:
                for suffix in ("", "-wal", "-shm"):
                    src = Path(str(path) + suffix)
                    if src.exists():
                        src.rename(Path(str(aside) + suffix))
            except OSError as e:
                raise HistoryError(f"history {path} failed its integrity check ({problem}) "
                                   f"and cannot be moved aside: {e.strerror}") from None
            log.error("history %s failed its integrity check (%s); moved aside to %s and "
                      "starting a new one", path, problem, aside)
            conn = cls._connect(str(path))
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            migrate(conn)
        except sqlite3.Error as e:
            conn.close()
            raise HistoryError(f"cannot prepare history {path}: {e}{_unwritable_hint(path)}",
                               _is_full(e)) from None
        try:  # SQLite opens a file it may not write read-only; say so now, not per write
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(f"PRAGMA user_version={version}")  # a write, rolled back
            finally:
                conn.execute("ROLLBACK")
        except sqlite3.Error as e:
            conn.close()
            raise HistoryError(f"history {path} cannot be written: {e}"
                               f"{_unwritable_hint(path)}", _is_full(e)) from None
        return conn

    @staticmethod
    def _connect(target: str, uri: bool = False) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(target, uri=uri, isolation_level=None,
                                   check_same_thread=False, timeout=10)
        except sqlite3.Error as e:
            raise HistoryError(f"cannot open history {target}: {e}") from None
        conn.row_factory = sqlite3.Row
        return conn

    @staticmethod
    def _integrity_problem(conn: sqlite3.Connection, path: Path) -> str:
        """Why the database is corrupt, or "": only integrity_check (or SQLite saying the
        file is corrupt or not a database) may call it corrupt. A read-only directory, a
        locked or unreadable file is a HistoryError, and the healthy file stays untouched."""
        try:
            rows = conn.execute("PRAGMA integrity_check").fetchall()
        except sqlite3.DatabaseError as e:
            if getattr(e, "sqlite_errorcode", None) in (SQLITE_CORRUPT, SQLITE_NOTADB):
                return str(e)
            raise HistoryError(f"cannot read history {path}: {e}{_unwritable_hint(path)}"
                               ) from None
        result = "; ".join(str(r[0]) for r in rows)
        return "" if result == "ok" else result

    def close(self) -> None:
        self.executor.shutdown(wait=True)
        self.conn.close()

    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def _stat_inode(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_dev, st.st_ino

    def file_unchanged(self) -> bool:
        """True while the history file is the one open (one stat, safe from any thread: it
        only reads). The engine's check every second asks this first, in the event loop,
        and hands the work to the history's thread only when it says False."""
        now = self._stat_inode()
        return now is not None and now == self._inode

    def check_file(self) -> bool:
        """SQLite keeps writing into a deleted file through its open descriptor, and all of
        it is gone at the next start. Notice (one stat per write, and the engine asks every
        second too) and start a new file; True when a loss was noticed now. HistoryError
        when the new file cannot be made (tried again at the next call, counted once)."""
        if self.file_unchanged():
            return False
        noticed = self._inode is not None
        if noticed:
            self.lost += 1
            self._inode = None  # a failed reopen below is retried, not counted again
            log.error("history %s was deleted or replaced while pantau was running; the "
                      "outage history before now is lost unless restored from a backup; "
                      "starting a new history there", self.path)
            with contextlib.suppress(sqlite3.Error):
                self.conn.close()
        self.conn = self._open_rw(self.path)
        self._inode = self._stat_inode()
        return noticed

    # -- writing --------------------------------------------------------------------------
    def _tx(self, fn: Any) -> Any:
        self.check_file()
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn()
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
            return result
        except sqlite3.Error as e:
            if self.conn.in_transaction:
                try:
                    self.conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            raise HistoryError(f"history write failed: {e}", _is_full(e)) from None

    def record(
        self,
        changes: Sequence[ChangeRow],
        statuses: Sequence[StatusRow],
        notifications: Sequence[NewNotification],
        now: float | None = None,
        verdicts: Sequence[tuple[str, str, str]] = (),
        events: Sequence[EventRow] = (),
    ) -> list[int]:
        """Write state changes, current statuses and new notifications (with one outbox row
        per receiver) in one transaction. Returns the new notification ids.

        `verdicts` (check, root_cause, verdict) update the check's latest down row: the root
        cause of an outage is often known only seconds after it began (the uplink reaches its
        damping after the portal does), and the report should show the final answer. A
        down row whose verdict becomes "suppressed" is the start of an outage caused upstream,
        so it becomes "unreachable" too."""
        at = time.time() if now is None else now

        def body() -> list[int]:
            c = self.conn
            c.executemany(
                "INSERT INTO state_changes(site, check_name, ts, old_state, new_state, reason,"
                " root_cause, verdict) VALUES (?,?,?,?,?,?,?,?)",
                [(self.site, r.check, r.ts, r.old, r.new, r.reason, r.root_cause, r.verdict)
                 for r in changes],
            )
            c.executemany(
                "INSERT INTO check_status(check_name, state, since, verdict, root_cause, updated)"
                " VALUES (?,?,?,?,?,?) ON CONFLICT(check_name) DO UPDATE SET state=excluded.state,"
                " since=excluded.since, verdict=excluded.verdict, root_cause=excluded.root_cause,"
                " updated=excluded.updated",
                [(s.check, s.state, s.since, s.verdict, s.root_cause, at) for s in statuses],
            )
            for check, cause, verdict in verdicts:
                c.execute(
                    "UPDATE state_changes SET root_cause=?, verdict=?, new_state=CASE WHEN"
                    " ?='suppressed' THEN 'unreachable' ELSE new_state END WHERE id=(SELECT"
                    " max(id) FROM state_changes WHERE check_name=? AND new_state IN"
                    " ('down', 'unreachable'))",
                    (cause, verdict, verdict, check),
                )
            c.executemany(
                "INSERT INTO events(site, check_name, ts, kind, text, detail)"
                " VALUES (?,?,?,?,?,?)",
                [(self.site, e.check, e.ts, e.kind, e.text,
                  json.dumps(e.detail, ensure_ascii=False)) for e in events],
            )
            ids: list[int] = []
            for n in notifications:
                cur = c.execute(
                    "INSERT INTO notifications(uid, site, check_name, kind, ts, root_cause,"
                    " payload) VALUES (?,?,?,?,?,?,?)",
                    (n.uid, self.site, n.check, n.kind, n.ts, n.root_cause,
                     json.dumps(n.payload, ensure_ascii=False)),
                )
                nid = int(cur.lastrowid or 0)
                ids.append(nid)
                c.executemany(
                    "INSERT INTO deliveries(notification_id, receiver, status, created,"
                    " next_attempt) VALUES (?,?,'pending',?,?)",
                    [(nid, r, at, at) for r in n.receivers],
                )
            return ids

        result: list[int] = self._tx(body)
        return result

    def next_pending(self, receiver: str) -> OutboxItem | None:
        """The oldest undelivered notification for `receiver`: delivery is strictly in order."""
        row = self.conn.execute(
            "SELECT d.id, d.notification_id, d.receiver, d.attempts, d.next_attempt, n.payload"
            " FROM deliveries d JOIN notifications n ON n.id = d.notification_id"
            " WHERE d.receiver = ? AND d.status = 'pending' ORDER BY d.id LIMIT 1",
            (receiver,),
        ).fetchone()
        if row is None:
            return None
        return OutboxItem(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]))

    def mark_delivered(self, delivery_id: int, at: float) -> None:
        self._tx(lambda: self.conn.execute(
            "UPDATE deliveries SET status='delivered', attempts=attempts+1, delivered_at=?,"
            " last_error='' WHERE id=?", (at, delivery_id)))

    def mark_retry(self, delivery_id: int, next_attempt: float, error: str) -> None:
        self._tx(lambda: self.conn.execute(
            "UPDATE deliveries SET attempts=attempts+1, next_attempt=?, last_error=? WHERE id=?",
            (next_attempt, error[:500], delivery_id)))

    def mark_failed(self, delivery_id: int, error: str) -> None:
        self._tx(lambda: self.conn.execute(
            "UPDATE deliveries SET status='failed', attempts=attempts+1, last_error=? WHERE id=?",
            (error[:500], delivery_id)))

    def drop_receivers_except(self, receivers: Sequence[str]) -> int:
        """Give up deliveries to receivers no longer configured; returns how many."""
        names = list(receivers)
        marks = ",".join("?" * len(names)) or "''"
        cur = self._tx(lambda: self.conn.execute(
            "UPDATE deliveries SET status='failed', last_error='receiver removed from config'"
            f" WHERE status='pending' AND receiver NOT IN ({marks})", names))
        return int(cur.rowcount or 0)

    def pending_count(self) -> int:
        return int(self.conn.execute(
            "SELECT count(*) FROM deliveries WHERE status='pending'").fetchone()[0])

    # -- playbooks and maintenance ----------------------------------------------------------
    def record_playbook_run(self, check: str, playbook: str, trigger: str, started: float,
                            finished: float | None, status: str, output: str = "") -> int:
        cur = self._tx(lambda: self.conn.execute(
            "INSERT INTO playbook_runs(check_name, playbook, trigger, started, finished, status,"
            " output) VALUES (?,?,?,?,?,?,?)",
            (check, playbook, trigger, started, finished, status, output[-20000:])))
        return int(cur.lastrowid or 0)

    def playbook_runs_since(self, check: str, since: float) -> int:
        return int(self.conn.execute(
            "SELECT count(*) FROM playbook_runs WHERE check_name=? AND started>=?"
            " AND status NOT IN ('rate_limited', 'not_allowed', 'unavailable', 'declined',"
            " 'confirm_timeout')",
            (check, since)).fetchone()[0])

    def add_maintenance(self, start: float, end: float, checks: Sequence[str] = (),
                        reason: str = "") -> int:
        if end <= start:
            raise HistoryError("a maintenance window must end after it starts")
        cur = self._tx(lambda: self.conn.execute(
            "INSERT INTO maintenance_windows(site, start, end, checks, reason, created)"
            " VALUES (?,?,?,?,?,?)",
            (self.site, start, end, json.dumps(list(checks)), reason, time.time())))
        return int(cur.lastrowid or 0)

    def end_maintenance(self, check: str, at: float) -> int:
        """End now every window running at `at` that names `check`; returns how many."""
        def body() -> int:
            ended = 0
            for r in self.conn.execute(
                    "SELECT id, start, checks FROM maintenance_windows WHERE start<=? AND end>?",
                    (at, at)).fetchall():
                if check in json.loads(r[2]):
                    self.conn.execute("UPDATE maintenance_windows SET end=? WHERE id=?",
                                      (max(at, float(r[1]) + 0.001), r[0]))
                    ended += 1
            return ended

        result: int = self._tx(body)
        return result

    def add_acknowledgement(self, check: str, since: float, by_name: str, by_id: str,
                            at: float, via: str) -> int:
        """Someone took on the outage of `check` that began at `since`."""
        cur = self._tx(lambda: self.conn.execute(
            "INSERT INTO acknowledgements(site, check_name, since, by_name, by_id, at, via)"
            " VALUES (?,?,?,?,?,?,?)", (self.site, check, since, by_name, by_id, at, via)))
        return int(cur.lastrowid or 0)

    def acknowledgements(self, since: float | None = None) -> list[dict[str, Any]]:
        """Every acknowledgement (of outages that began at or after `since`), oldest first."""
        sql = ("SELECT check_name, since, by_name, by_id, at, via FROM acknowledgements"
               + (" WHERE since>=?" if since is not None else "") + " ORDER BY id")
        rows = self.conn.execute(sql, (since,) if since is not None else ()).fetchall()
        return [dict(r) for r in rows]

    def remove_maintenance(self, window_id: int) -> bool:
        cur = self._tx(lambda: self.conn.execute(
            "DELETE FROM maintenance_windows WHERE id=?", (window_id,)))
        return bool(cur.rowcount)

    def update_maintenance(self, window_id: int, *, start: float | None = None,
                           end: float | None = None, checks: Sequence[str] | None = None,
                           reason: str | None = None) -> bool:
        """Change the given fields of one window; False when there is no such window."""
        row = self.conn.execute("SELECT start, end FROM maintenance_windows WHERE id=?",
                                (window_id,)).fetchone()
        if row is None:
            return False
        new_start = start if start is not None else float(row["start"])
        new_end = end if end is not None else float(row["end"])
        if new_end <= new_start:
            raise HistoryError("a maintenance window must end after it starts")
        sets = ["start=?", "end=?"]
        args: list[Any] = [new_start, new_end]
        if checks is not None:
            sets.append("checks=?")
            args.append(json.dumps(list(checks)))
        if reason is not None:
            sets.append("reason=?")
            args.append(reason)
        self._tx(lambda: self.conn.execute(
            f"UPDATE maintenance_windows SET {', '.join(sets)} WHERE id=?", (*args, window_id)))
        return True

    def add_incident_note(self, check: str, at: float, note: str) -> int:
        """A public note about the outage of `check` that was going on at `at` (its start)."""
        cur = self._tx(lambda: self.conn.execute(
            "INSERT INTO incident_notes(site, check_name, at, note, created) VALUES (?,?,?,?,?)",
            (self.site, check, at, note, time.time())))
        return int(cur.lastrowid or 0)

    def incident_notes(self) -> list[tuple[str, float, str]]:
        """(check, outage start, note), oldest note first."""
        rows = self.conn.execute(
            "SELECT check_name, at, note FROM incident_notes ORDER BY id").fetchall()
        return [(str(r[0]), float(r[1]), str(r[2])) for r in rows]

    # -- reading --------------------------------------------------------------------------
    def status(self) -> list[StatusRow]:
        rows = self.conn.execute(
            "SELECT check_name, state, since, verdict, root_cause FROM check_status").fetchall()
        return [StatusRow(*tuple(r)) for r in rows]

    def state_changes(self, check: str | None = None, since: float | None = None,
                      limit: int = 1000) -> list[ChangeRow]:
        sql = ("SELECT check_name, ts, old_state, new_state, reason, root_cause, verdict"
               " FROM state_changes WHERE 1=1")
        args: list[Any] = []
        if check is not None:
            sql += " AND check_name=?"
            args.append(check)
        if since is not None:
            sql += " AND ts>=?"
            args.append(since)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        rows = self.conn.execute(sql, args).fetchall()
        return [ChangeRow(*tuple(r)) for r in reversed(rows)]

    def events(self, check: str | None = None, since: float | None = None,
               until: float | None = None, limit: int = 1000) -> list[EventRow]:
        """Recorded events (route changes), oldest first."""
        sql = "SELECT check_name, ts, kind, text, detail FROM events WHERE 1=1"
        args: list[Any] = []
        for cond, value in (("check_name=?", check), ("ts>=?", since), ("ts<?", until)):
            if value is not None:
                sql += f" AND {cond}"
                args.append(value)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        rows = self.conn.execute(sql, args).fetchall()
        return [EventRow(str(r[0]), float(r[1]), str(r[2]), str(r[3]), json.loads(r[4]))
                for r in reversed(rows)]

    def notifications(self, limit: int = 100) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT n.id, n.uid, n.check_name, n.kind, n.ts, n.root_cause, d.receiver, d.status,"
            " d.attempts, d.last_error, d.delivered_at FROM notifications n"
            " JOIN deliveries d ON d.notification_id = n.id ORDER BY n.id DESC, d.id LIMIT ?",
            (limit,),
        ).fetchall()
        return [dict(r) for r in reversed(rows)]

    def maintenance_windows(self, start: float | None = None,
                            end: float | None = None) -> list[dict[str, Any]]:
        sql = "SELECT id, site, start, end, checks, reason FROM maintenance_windows WHERE 1=1"
        args: list[Any] = []
        if start is not None:
            sql += " AND end > ?"
            args.append(start)
        if end is not None:
            sql += " AND start < ?"
            args.append(end)
        out = []
        for r in self.conn.execute(sql + " ORDER BY start", args).fetchall():
            d = dict(r)
            d["checks"] = json.loads(d["checks"])
            out.append(d)
        return out

    def playbook_runs(self, limit: int = 100) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT * FROM playbook_runs ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [dict(r) for r in reversed(rows)]


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema to SCHEMA_VERSION, one migration per transaction; return the version.

    A database written by a newer pantau is refused rather than guessed at.
    """
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise sqlite3.DatabaseError(
            f"schema version {version} is newer than this pantau understands ({SCHEMA_VERSION})")
    while version < SCHEMA_VERSION:
        script = MIGRATIONS[version]
        conn.execute("BEGIN IMMEDIATE")
        try:
            for stmt in _statements(script):
                conn.execute(stmt)
            version += 1
            conn.execute(f"PRAGMA user_version={version}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        log.info("history schema migrated to version %d", version)
    return version


def _statements(script: str) -> list[str]:
    # executescript() would commit on its own; split so the migration stays one transaction.
    parts, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                parts.append(buf.strip())
            buf = ""
    if buf.strip():
        parts.append(buf.strip())
    return parts
