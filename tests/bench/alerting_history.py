"""How much a durable state change costs: History.record (WAL, synchronous=FULL, one
transaction with the change, the status and a notification with 2 outbox rows) against the
sqlite3 command-line tool doing the same statements with the same pragmas, in the same run.

    .venv/bin/python tests/bench/alerting_history.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from agent.history import ChangeRow, History, NewNotification, StatusRow

N = 300


def bench_pantau(d: Path) -> float:
    h = History.open(d, "bench")
    t0 = time.perf_counter()
    for i in range(N):
        h.record([ChangeRow("uplink", float(i), "up", "down", "timeout", "uplink", "firing")],
                 [StatusRow("uplink", "down", float(i), "firing", "uplink")],
                 [NewNotification(f"u{i}", "uplink", "firing", float(i), "uplink",
                                  {"text": "uplink down"}, ("am", "hook"))])
    dt = time.perf_counter() - t0
    h.close()
    return dt


def bench_sqlite_cli(d: Path) -> float:
    db = d / "cli.db"
    setup = ("PRAGMA journal_mode=WAL;"
             "CREATE TABLE s(id INTEGER PRIMARY KEY, c TEXT, ts REAL, o TEXT, n TEXT, r TEXT);"
             "CREATE TABLE st(c TEXT PRIMARY KEY, s TEXT, since REAL);"
             "CREATE TABLE n(id INTEGER PRIMARY KEY, uid TEXT UNIQUE, payload TEXT);"
             "CREATE TABLE d(id INTEGER PRIMARY KEY, nid INTEGER, r TEXT, status TEXT);")
    subprocess.run(["sqlite3", str(db), setup], check=True, capture_output=True)
    lines = ["PRAGMA synchronous=FULL;"]
    for i in range(N):
        lines.append(
            "BEGIN IMMEDIATE;"
            f"INSERT INTO s(c,ts,o,n,r) VALUES('uplink',{i},'up','down','timeout');"
            f"INSERT INTO st VALUES('uplink','down',{i}) ON CONFLICT(c) DO UPDATE SET"
            " s=excluded.s, since=excluded.since;"
            f"INSERT INTO n(uid,payload) VALUES('u{i}','{{\"text\":\"uplink down\"}}');"
            "INSERT INTO d(nid,r,status) VALUES(last_insert_rowid(),'am','pending');"
            "INSERT INTO d(nid,r,status) VALUES((SELECT max(id) FROM n),'hook','pending');"
            "COMMIT;")
    script = "\n".join(lines)
    t0 = time.perf_counter()
    subprocess.run(["sqlite3", str(db)], input=script, text=True, check=True,
                   capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    with tempfile.TemporaryDirectory(dir=Path.home()) as tmp:
        d = Path(tmp)
        cli = bench_sqlite_cli(d)
        pantau = bench_pantau(d)
    print(f"{N} durable state changes (change + status + notification + 2 outbox rows each)")
    print(f"  sqlite3 CLI (anchor): {cli * 1000 / N:.2f} ms per commit")
    print(f"  pantau History.record: {pantau * 1000 / N:.2f} ms per commit")
    print(f"  ratio pantau/sqlite3: {pantau / cli:.2f}")


if __name__ == "__main__":
    main()
