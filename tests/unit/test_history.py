"""Outage history: schema, durability across kill -9, integrity check, outbox order, full disk."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.history import (
    DB_NAME,
    SCHEMA_VERSION,
    ChangeRow,
    History,
    HistoryError,
    NewNotification,
    StatusRow,
)

REPO = Path(__file__).resolve().parents[2]


def note(uid: str, check: str = "uplink", kind: str = "firing",
         receivers: tuple[str, ...] = ("am", "hook")) -> NewNotification:
    return NewNotification(uid, check, kind, time.time(), check, {"uid": uid}, receivers)


def test_schema_pragmas_and_version(tmp_path: Path) -> None:
    h = History.open(tmp_path, "kantor")
    try:
        assert h.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert h.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert h.schema_version() == SCHEMA_VERSION
        tables = {r[0] for r in h.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"state_changes", "check_status", "notifications", "deliveries",
                "playbook_runs", "maintenance_windows"} <= tables
    finally:
        h.close()
    # reopening is a no-op migration and keeps data
    h = History.open(tmp_path, "kantor")
    h.record([ChangeRow("a", 1.0, "up", "down", "timeout", "a", "firing")], [], [])
    h.close()
    h = History.open(tmp_path, "kantor")
    assert [c.new for c in h.state_changes()] == ["down"]
    h.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / DB_NAME)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 5}")
    conn.close()
    with pytest.raises(HistoryError, match="newer than this pantau"):
        History.open(tmp_path, "kantor")


def test_corrupt_database_is_moved_aside(tmp_path: Path) -> None:
    (tmp_path / DB_NAME).write_bytes(b"SQLite format 3\x00" + os.urandom(8192))
    h = History.open(tmp_path, "kantor")
    try:
        assert h.schema_version() == SCHEMA_VERSION
        assert h.state_changes() == []
    finally:
        h.close()
    aside = [p.name for p in tmp_path.iterdir() if ".corrupt-" in p.name]
    assert aside, list(tmp_path.iterdir())


def test_outbox_in_order_per_receiver(tmp_path: Path) -> None:
    h = History.open(tmp_path, "kantor")
    try:
        h.record([ChangeRow("uplink", 1.0, "up", "down", "", "uplink", "firing")],
                 [StatusRow("uplink", "down", 1.0, "firing", "uplink")],
                 [note("n1"), note("n2", kind="resolved"), note("n3", receivers=("hook",))])
        assert h.pending_count() == 5
        first = h.next_pending("am")
        assert first is not None and first.payload == {"uid": "n1"}
        h.mark_retry(first.delivery_id, time.time() + 60, "connection refused")
        again = h.next_pending("am")
        assert again is not None and again.delivery_id == first.delivery_id
        assert again.attempts == 1
        h.mark_delivered(first.delivery_id, time.time())
        nxt = h.next_pending("am")
        assert nxt is not None and nxt.payload == {"uid": "n2"}
        h.mark_failed(nxt.delivery_id, "400 bad request")
        assert h.next_pending("am") is None
        hook = [h.next_pending("hook")]
        assert hook[0] is not None and hook[0].payload == {"uid": "n1"}
        assert h.pending_count() == 3
        assert [s.verdict for s in h.status()] == ["firing"]
        rows = h.notifications()
        assert {(r["uid"], r["receiver"], r["status"]) for r in rows} >= {
            ("n1", "am", "delivered"), ("n2", "am", "failed"), ("n3", "hook", "pending")}
        # a receiver removed from the config no longer holds the outbox
        assert h.drop_receivers_except(["am"]) == 3
        assert h.pending_count() == 0 and h.next_pending("hook") is None
    finally:
        h.close()


def test_playbook_runs_and_maintenance(tmp_path: Path) -> None:
    h = History.open(tmp_path, "kantor")
    try:
        now = time.time()
        h.record_playbook_run("modem", "restart-modem", "alert", now, now + 1, "ok", "done")
        assert h.playbook_runs_since("modem", now - 3600) == 1
        assert h.playbook_runs_since("modem", now + 10) == 0
        h.add_maintenance(now, now + 3600, ["portal"], "ganti router")
        w = h.maintenance_windows()
        assert w[0]["checks"] == ["portal"] and w[0]["reason"] == "ganti router"
        with pytest.raises(HistoryError, match="must end after"):
            h.add_maintenance(now, now - 1)
    finally:
        h.close()


WRITER = """
import sys, time
from pathlib import Path
from agent.history import History, ChangeRow, NewNotification
h = History.open(Path(sys.argv[1]), "kantor")
i = 0
while True:
    i += 1
    h.record([ChangeRow(f"c{i % 7}", time.time(), "up", "down", "x", "c", "firing")], [],
             [NewNotification(f"uid-{i}", "c", "firing", time.time(), "c", {"i": i}, ("am",))])
    print(i, flush=True)
"""


def test_kill9_loses_no_committed_record(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], cwd=REPO,
                            stdout=subprocess.PIPE, text=True)
    reported: list[int] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 30
        while len(reported) < 150 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            reported.append(int(line))
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    assert len(reported) >= 150, "writer did not get going"
    h = History.open(tmp_path, "kantor")
    try:
        n_changes = h.conn.execute("SELECT count(*) FROM state_changes").fetchone()[0]
        uids = {r[0] for r in h.conn.execute("SELECT uid FROM notifications")}
        # every commit that returned (and so was printed) is there; at most the one in flight more
        assert reported[-1] <= n_changes <= reported[-1] + 1
        assert {f"uid-{i}" for i in reported} <= uids
        assert h.pending_count() == n_changes
    finally:
        h.close()


@contextlib.contextmanager
def small_disk(path: Path, size: str = "2m") -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                   check=True, capture_output=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)


def fill(path: Path) -> Path:
    filler = path / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for _ in range(8192):  # bounded; the tmpfs is 2 MiB
            try:
                os.write(fd, b"\0" * 1024)
            except OSError:
                break
    finally:
        os.close(fd)
    return filler


def test_disk_full_is_reported_and_recovers(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk") as disk:
        h = History.open(disk, "kantor")
        try:
            h.record([ChangeRow("a", 1.0, "up", "down", "", "a", "firing")], [], [])
            filler = fill(disk)
            err: HistoryError | None = None
            big = "x" * 4000
            for i in range(500):
                try:
                    h.record([ChangeRow("a", float(i), "down", "up", big, "", "ok")], [],
                             [note(f"full-{i}")])
                except HistoryError as e:
                    err = e
                    break
            assert err is not None, "the disk never filled up"
            assert err.disk_full, str(err)
            before = h.conn.execute("SELECT count(*) FROM state_changes").fetchone()[0]
            filler.unlink()
            h.record([ChangeRow("a", 9.0, "up", "down", "after", "a", "firing")], [], [])
            after = h.conn.execute("SELECT count(*) FROM state_changes").fetchone()[0]
            assert after == before + 1
            assert h.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finally:
            h.close()


def test_alerting_reports_full_disk_and_keeps_monitoring(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The agent-level contract: metric + log while full, live check state, nothing lost."""
    import asyncio
    from types import SimpleNamespace

    from agent.alerting import Alerting
    from agent.alerting.engine import AlertsConfig
    from agent.store import Store
    from collectors.base import Observation
    from collectors.config import CheckConfig

    with small_disk(tmp_path / "disk", "3m") as disk:
        cfg = SimpleNamespace(
            site="kantor", state_dir=disk,
            checks=[CheckConfig(name="uplink", type="tcp", target="x:1")],
            alerts=AlertsConfig.model_validate({"damping": {"failures": 1, "successes": 1}}))

        def value(a: Alerting, name: str) -> float:
            return next(s.value for s in a.samples() if s.name == name)

        async def scenario() -> None:
            store = Store("kantor")
            alerting = Alerting(cfg, store, None, "kantor")
            await alerting.start()
            try:
                filler = fill(disk)
                ok = True
                changes = 0
                for _ in range(400):  # bounded: flip until a write fails
                    ok = not ok
                    store.put("check:uplink", "uplink", "tcp",
                              Observation(ok, reason="x" * 3000), per_check=True)
                    changes += 1
                    await asyncio.sleep(0.01)
                    if value(alerting, "pantau_history_disk_full") == 1:
                        break
                assert value(alerting, "pantau_history_disk_full") == 1
                assert value(alerting, "pantau_history_write_errors_total") >= 1
                # monitoring continues: the live state is still published
                ok = not ok
                store.put("check:uplink", "uplink", "tcp", Observation(ok), per_check=True)
                await asyncio.sleep(0.05)
                up = [s.value for s in alerting.samples() if s.name == "pantau_check_up"]
                assert up == [1.0 if ok else 0.0]
                changes += 1
                filler.unlink()
                deadline = time.monotonic() + 20
                while value(alerting, "pantau_history_disk_full") == 1:
                    assert time.monotonic() < deadline, "never recovered"
                    await asyncio.sleep(0.2)
                assert alerting.history is not None
                n = alerting.history.conn.execute(
                    "SELECT count(*) FROM state_changes").fetchone()[0]
                assert n == changes  # everything held in memory was written
            finally:
                await alerting.stop()

        asyncio.run(scenario())
    assert "disk full" in caplog.text


def test_deleted_database_is_noticed_and_replaced(tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    """Deleting history.db under a running agent: the next write notices (inode check), says
    so, and goes to a new file at the same path instead of into the deleted one."""
    h = History.open(tmp_path, "kantor")
    try:
        h.record([ChangeRow("a", 1.0, "up", "down", "timeout", "a", "firing")], [], [])
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                (tmp_path / (DB_NAME + suffix)).unlink()
        h.record([ChangeRow("a", 2.0, "down", "up", "ok", "a", "resolved")], [], [])
        assert h.lost == 1
        assert "was deleted or replaced" in caplog.text
    finally:
        h.close()
    again = History.open(tmp_path, "kantor")  # what a restart would find
    try:
        assert [c.new for c in again.state_changes()] == ["up"]
    finally:
        again.close()


def test_lost_history_that_cannot_be_recreated_is_counted_once(tmp_path: Path) -> None:
    """The whole state dir removed: the loss is counted once, each retry fails with a
    HistoryError (not a crash, not another count), and once the dir is back a new file is
    made without counting again."""
    import shutil

    state = tmp_path / "state"
    h = History.open(state, "kantor")
    try:
        assert h.check_file() is False
        shutil.rmtree(state)
        for _ in range(3):
            with pytest.raises(HistoryError):
                h.check_file()
        assert h.lost == 1
        state.mkdir()
        assert h.check_file() is False  # already counted
        h.record([ChangeRow("a", 1.0, "up", "down", "timeout", "a", "firing")], [], [])
        assert h.lost == 1 and (state / DB_NAME).exists()
    finally:
        h.close()


def test_unreadable_database_is_not_called_corrupt(tmp_path: Path) -> None:
    """Only integrity_check may call a database corrupt: a file SQLite cannot read right now
    (here locked by another writer; a read-only state dir is the same case) is a
    HistoryError, and the healthy file is never moved aside."""
    h = History.open(tmp_path, "kantor")
    h.record([ChangeRow("a", 1.0, "up", "down", "timeout", "a", "firing")], [], [])
    h.close()
    locker = sqlite3.connect(tmp_path / DB_NAME, timeout=0)
    locker.execute("PRAGMA journal_mode=DELETE")
    locker.execute("PRAGMA locking_mode=EXCLUSIVE")
    locker.execute("BEGIN EXCLUSIVE")
    conn = sqlite3.connect(tmp_path / DB_NAME, timeout=0.2)
    try:
        with pytest.raises(HistoryError, match="locked"):
            History._integrity_problem(conn, tmp_path / DB_NAME)
    finally:
        conn.close()
        locker.rollback()
        locker.close()
    assert not [p for p in tmp_path.iterdir() if ".corrupt-" in p.name]
    h = History.open(tmp_path, "kantor")
    try:
        assert [c.new for c in h.state_changes()] == ["down"]
    finally:
        h.close()
