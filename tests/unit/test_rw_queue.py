"""The disk queue: FIFO order, bounds that drop the oldest first and count it, and durability
of every committed row across reopen and kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from exporters.remote_write.queue import DiskQueue, NewRow

REPO = Path(__file__).resolve().parents[2]


def _row(i: int, size: int = 100, samples: int = 10, ts: int | None = None) -> NewRow:
    t = ts if ts is not None else 1_000_000 + i
    return NewRow(t, t, samples, i.to_bytes(4, "big") + b"x" * (size - 4))


def _ids(rows: list[Any]) -> list[int]:
    return [int.from_bytes(r.payload[:4], "big") for r in rows]


def test_fifo_peek_and_ack(tmp_path: Path) -> None:
    q = DiskQueue(tmp_path / "q.sqlite", max_bytes=10**6, max_age=1e12)
    q.append([_row(i) for i in range(5)])
    assert (q.rows, q.samples, q.bytes) == (5, 50, 500)
    batch = q.peek(max_samples=25)
    assert _ids(batch) == [0, 1]  # a third row would exceed 25 samples
    assert q.ack(batch) == 20
    assert _ids(q.peek(1000)) == [2, 3, 4]
    assert q.peek(1)  # at least one row even if it alone exceeds max_samples
    assert (q.rows, q.samples) == (3, 30)
    q.close()


def test_survives_reopen_and_ids_never_reused(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite"
    q = DiskQueue(path, 10**6, 1e12)
    q.append([_row(0), _row(1)])
    q.ack(q.peek(100))
    q.append([_row(2)])
    q.close()
    q = DiskQueue(path, 10**6, 1e12)
    assert (q.rows, q.samples, q.bytes, q.oldest_ms) == (1, 10, 100, 1_000_002)
    [row] = q.peek(100)
    assert row.id == 3  # AUTOINCREMENT: an ack of an old id range can never hit new rows
    q.close()


def test_full_queue_drops_oldest_and_counts(tmp_path: Path) -> None:
    q = DiskQueue(tmp_path / "q.sqlite", max_bytes=1000, max_age=1e12)
    d = q.append([_row(i) for i in range(8)])
    assert d.queue_full == 0
    d = q.append([_row(i) for i in range(8, 13)])
    assert d.queue_full == 30  # 1300 bytes, limit 1000: the three oldest rows (10 samples each)
    assert _ids(q.peek(10**6)) == list(range(3, 13))
    assert q.bytes == 1000
    assert q.oldest_ms == 1_000_003
    q.close()


def test_too_old_rows_expire_oldest_first(tmp_path: Path) -> None:
    q = DiskQueue(tmp_path / "q.sqlite", max_bytes=10**6, max_age=60)
    now = 2_000_000.0
    rows = [_row(i, ts=int((now - 100 + i * 10) * 1000)) for i in range(10)]  # ages 100..10 s
    d = q.append(rows, now=now)
    assert d.too_old == 40  # ages 100, 90, 80, 70 s are over 60 s; 60 s itself is kept
    assert _ids(q.peek(10**6)) == [4, 5, 6, 7, 8, 9]
    assert abs(q.oldest_age(now) - 60) < 0.01
    q.close()


def test_ack_after_drop_in_flight_is_not_double_counted(tmp_path: Path) -> None:
    q = DiskQueue(tmp_path / "q.sqlite", max_bytes=200, max_age=1e12)
    q.append([_row(0), _row(1)])
    in_flight = q.peek(100)
    d = q.append([_row(2), _row(3)])  # pushes rows 0 and 1 out while they are being sent
    assert d.queue_full == 20
    assert q.ack(in_flight) == 0
    assert _ids(q.peek(100)) == [2, 3]
    q.close()


def test_corrupt_file_is_set_aside(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    q = DiskQueue(path, 10**6, 1e12)
    assert q.rows == 0
    q.append([_row(0)])
    assert q.rows == 1
    assert list(tmp_path.glob("q.sqlite.corrupt-*"))
    q.close()


_WRITER = """
import sys
from pathlib import Path
from typing import Any
from exporters.remote_write.queue import DiskQueue, NewRow
q = DiskQueue(Path(sys.argv[1]), 10**9, 1e12)
i = 0
while True:
    q.append([NewRow(i, i, 1, i.to_bytes(4, "big") + bytes(2000))])
    print(i, flush=True)  # printed only after the commit returned
    i += 1
"""


def test_kill_9_loses_no_committed_row(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], cwd=REPO,
                            stdout=subprocess.PIPE, text=True)
    acked: list[int] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 30
        while len(acked) < 200 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            acked.append(int(line))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert len(acked) == 200, "writer subprocess did not commit 200 rows in 30 s"
    q = DiskQueue(path, 10**9, 1e12)
    got = _ids(q.peek(10**6))
    # everything acknowledged is there, in order, and nothing was torn
    assert got[: len(acked)] == acked
    assert got == list(range(len(got)))
    assert all(len(r.payload) == 2004 for r in q.peek(10**6))
    q.close()
