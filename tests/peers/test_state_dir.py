"""One owner per state dir, and backup/restore of it while the agent writes."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.helpers.agent import PANTAU, free_port, pick, run_agent, run_cli
from tests.helpers.listener import TcpListener


def _config(state: Path, port: int, checks: int = 0) -> str:
    lines = [f"site: kantor-a\nstate_dir: {state}\nhost:\n  interval: 1s\n  timeout: 500ms\n",
             "alerts:\n  damping: {failures: 1, successes: 1}\n"]
    if checks:
        lines.append("checks:\n")
        for i in range(checks):
            lines.append(f"  - {{name: svc-{i}, type: tcp, target: '127.0.0.1:{port}', "
                         "interval: 200ms, timeout: 150ms}\n")
    return "".join(lines)


def _mtimes(state: Path) -> dict[str, int]:
    return {str(p.relative_to(state)): p.stat().st_mtime_ns for p in state.rglob("*")} | {
        ".": state.stat().st_mtime_ns}


def test_second_agent_on_same_state_dir_exits_2_before_writing(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with run_agent(_config(state, 0), tmp_path / "a") as first:
        time.sleep(1.5)  # the first agent has written its history by now
        before = _mtimes(state)
        assert "history.db" in before and "pantau.lock" in before
        cfg = tmp_path / "b.yml"
        cfg.write_text(_config(state, 0))
        started = time.monotonic()
        r = subprocess.run([str(PANTAU), "run", "--config", str(cfg), "--listen",
                            f"127.0.0.1:{free_port()}"], capture_output=True, text=True,
                           timeout=30)
        took = time.monotonic() - started
        assert r.returncode == 2, r.stderr
        assert f"PID {first.proc.pid}" in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
        assert took < 10
        # nothing the second one did touched the state dir (the first one writes only on
        # state changes and none happened: its host check has no alerting)
        assert _mtimes(state) == before
    # the lock dies with its holder: a new agent starts on the same dir
    with run_agent(_config(state, 0), tmp_path / "c"):
        pass


class Flapper:
    """A TCP port that opens and closes every `period` s: every check on it flaps."""

    def __init__(self, port: int, period: float = 0.5) -> None:
        self.port = port
        self.period = period
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", self.port))
            except OSError:
                # While the port is closed, a check's connect can be given that very port
                # as its own ephemeral one and connect to itself (TCP simultaneous open);
                # the port is free again as soon as the check closes that socket. An
                # exception here would end the flapping for good.
                s.close()
                self.stop.wait(0.05)
                continue
            s.listen(64)
            s.settimeout(0.05)
            until = time.monotonic() + self.period
            while time.monotonic() < until and not self.stop.is_set():
                try:
                    c, _ = s.accept()
                    c.close()
                except OSError:
                    pass
            s.close()
            self.stop.wait(self.period)

    def __enter__(self) -> Flapper:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)


def _changes(db: Path) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT id, check_name, ts, old_state, new_state FROM state_changes"
                            " ORDER BY id").fetchall()
    finally:
        conn.close()


def test_backup_while_writing_restores_every_committed_change(tmp_path: Path) -> None:
    state = tmp_path / "state"
    port = free_port()
    archive = tmp_path / "backup.tar.gz"
    with Flapper(port), run_agent(_config(state, port, checks=30), tmp_path / "a") as agent:
        db = state / "history.db"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(_changes(db)) < 100:
            time.sleep(0.2)
        committed = _changes(db)  # everything committed before the backup starts
        assert len(committed) >= 100
        r = run_cli("backup", str(archive), "--config", str(agent.config_path))
        assert r.returncode == 0, r.stderr
        assert "history.db" in r.stdout
        after = _changes(db)
        assert len(after) > len(committed), "the agent kept writing through the backup"
        # restore refuses while the agent holds the state dir, and changes nothing
        r = run_cli("restore", str(archive), "--force")
        assert r.returncode == 2 and f"PID {agent.proc.pid}" in r.stderr, r.stderr
        assert _changes(db)[: len(after)] == after

    new = tmp_path / "restored"
    r = run_cli("restore", str(archive), "--state-dir", str(new),
                "--config-to", str(tmp_path / "restored.yml"))
    assert r.returncode == 0, r.stderr
    conn = sqlite3.connect(new / "history.db")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    restored = _changes(new / "history.db")
    # every change committed before the backup is there, and nothing that never was
    assert restored[: len(committed)] == committed
    final = _changes(state / "history.db")
    assert restored == final[: len(restored)]
    assert (tmp_path / "restored.yml").read_text() == (tmp_path / "a" / "pantau.yml").read_text()
    # a second restore into the now full dir is refused without --force
    r = run_cli("restore", str(archive), "--state-dir", str(new))
    assert r.returncode == 2 and "--force" in r.stderr
    # and an agent runs on the restored dir
    with run_agent(_config(new, 0), tmp_path / "b"):
        pass
    print(f"committed before backup {len(committed)}, restored {len(restored)}, "
          f"written by the end {len(final)}")


def test_restore_of_garbage_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "x.tar.gz"
    bad.write_bytes(b"not a tarball")
    r = run_cli("restore", str(bad), "--state-dir", str(tmp_path / "s"))
    assert r.returncode == 2 and "not a pantau backup" in r.stderr
    assert "Traceback" not in r.stderr


def _readonly_mount(state: Path) -> tuple[str, ...]:
    """Run the command in a private mount namespace where `state` is a read-only bind mount
    of itself: root ignores file modes, a read-only mount stops root too (EROFS)."""
    return ("unshare", "--mount", "--propagation", "private", "sh", "-c",
            f"mount --bind -o ro '{state}' '{state}' && exec \"$@\"", "pantau-ro")


def _digests(state: Path) -> dict[str, str]:
    import hashlib

    return {str(p.relative_to(state)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in state.rglob("*") if p.is_file()}


@pytest.mark.parametrize("lock_file", [True, False], ids=["with-lock-file", "history-only"])
def test_read_only_state_dir_with_history_keeps_monitoring(tmp_path: Path,
                                                           lock_file: bool) -> None:
    """Item 5 of issue 13: a state dir the agent cannot write (here a read-only mount) with a
    healthy history from an earlier run. The agent keeps monitoring and serving /metrics,
    says that alerting is off and why, never calls the database corrupt, leaves every file
    as it was and exits 0 on SIGTERM (the old code exited 2 at the state-dir lock; before
    the lock, 1 after moving the healthy history aside as 'corrupt')."""
    state = tmp_path / "state"
    config = _config(state, free_port(), checks=1)  # nobody listens there: svc-0 goes down
    # and a remote_write queue in the state dir (nobody receives either: it fills)
    config += f"remote_write:\n  url: http://127.0.0.1:{free_port()}/api/v1/write\n"
    with run_agent(config, tmp_path / "first") as first:
        first.wait_for(lambda m: pick(m, "pantau_check_up", check="svc-0") == [0.0])
    with sqlite3.connect(state / "history.db") as db:
        assert db.execute("SELECT count(*) FROM state_changes").fetchone()[0] >= 1
    if not lock_file:  # e.g. a history restored by hand, or from before the lock existed
        (state / "pantau.lock").unlink()
    before = _digests(state)

    with run_agent(config, tmp_path / "ro", wrap=_readonly_mount(state)) as agent:
        runs = []
        for _ in range(5):  # scrapes succeed and the check keeps reporting
            m = agent.wait_for(lambda m: m if [v for v in pick(
                m, "pantau_collector_runs_total", source="svc-0")
                if not runs or v > runs[-1]] else None)
            assert pick(m, "pantau_probe_success", check="svc-0") == [0.0]
            runs.append(pick(m, "pantau_collector_runs_total", source="svc-0")[0])
        assert runs == sorted(set(runs)), runs
        log = agent.log_text()
        assert f"state dir {state} is not writable" in log, log
        assert "alerting is OFF" in log and str(state / "history.db") in log, log
        assert "remote write is OFF" in log, log
        assert "corrupt" not in log.lower(), log
    assert agent.proc.returncode == 0, agent.log_text()
    assert _digests(state) == before
    assert "remote_write.sqlite" in before, before


def test_deleted_history_is_counted_and_a_new_one_written(tmp_path: Path) -> None:
    """Item 9 of issue 13: `rm history.db` under a running agent. Noticed within seconds
    although nothing is written (pantau_history_lost_total 1, an error naming the file), and
    the next state change goes into a new history.db at the same path that a restart finds,
    not into the deleted file (the old code had no metric and wrote on into the deleted
    inode)."""
    state = tmp_path / "state"
    with TcpListener() as svc:
        config = _config(state, svc.port, checks=1)
        with run_agent(config, tmp_path / "a") as agent:
            agent.wait_for(lambda m: pick(m, "pantau_check_up", check="svc-0") == [1.0])
            assert pick(agent.scrape(), "pantau_history_lost_total") == [0.0]
            db = state / "history.db"
            assert [c[4] for c in _changes(db)] == ["up"]
            db.unlink()  # as an admin cleaning up would, -wal and -shm left behind
            agent.wait_for(lambda m: pick(m, "pantau_history_lost_total") == [1.0])
            assert db.exists(), "a new history was started at the same path"
            log = agent.log_text()
            assert f"history {db} was deleted or replaced" in log, log
            svc.stop()  # svc-0 goes down: a state change to record
            agent.wait_for(lambda m: pick(m, "pantau_check_up", check="svc-0") == [0.0])
            assert [c[4] for c in _changes(db)] == ["down"]
            assert pick(agent.scrape(), "pantau_history_lost_total") == [1.0]
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert [r[0] for r in conn.execute("SELECT new_state FROM state_changes")] == ["down"]
    finally:
        conn.close()
