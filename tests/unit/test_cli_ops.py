"""The state-dir lock in process, pantau.env beside the config, --version."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent import __version__
from agent.statelock import StateDirBusy, StateLock, holder
from tests.helpers.agent import run_cli


def test_lock_is_exclusive_names_its_holder_and_is_released(tmp_path: Path) -> None:
    state = tmp_path / "state"
    assert holder(state) is None and not state.exists()  # asking creates nothing
    lock = StateLock.acquire(state)
    try:
        assert holder(state) == os.getpid()
        with pytest.raises(StateDirBusy) as e:
            StateLock.acquire(state)
        assert f"PID {os.getpid()}" in str(e.value)
        assert holder(state) == os.getpid()  # a refused attempt does not drop the lock
    finally:
        lock.release()
    assert holder(state) is None
    StateLock.acquire(state).release()


def test_pantau_env_beside_the_config_fills_only_what_is_missing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.cli.common import load_env_beside

    cfg = tmp_path / "pantau.yml"
    cfg.write_text("site: kantor\nalerts:\n  receivers:\n    - {name: tg, type: telegram, "
                   "bot_token: '${PANTAU_T_TOKEN}', chat_id: '-100'}\n")
    r = run_cli("check-config", str(cfg))
    assert r.returncode == 2 and "PANTAU_T_TOKEN is not set" in r.stderr
    (tmp_path / "pantau.env").write_text("# secrets\nPANTAU_T_TOKEN=\"123:abc\"\n"
                                         "PANTAU_T_OTHER='x y'\nnot a line\n")
    r = run_cli("check-config", str(cfg))
    assert r.returncode == 0, r.stderr
    # what the environment already sets wins over the file, as with systemd's Environment=
    monkeypatch.delenv("PANTAU_T_TOKEN", raising=False)
    monkeypatch.setenv("PANTAU_T_OTHER", "from-env")
    load_env_beside(cfg)
    assert os.environ["PANTAU_T_TOKEN"] == "123:abc"  # quotes stripped
    assert os.environ["PANTAU_T_OTHER"] == "from-env"
    monkeypatch.delenv("PANTAU_T_TOKEN")


def test_version_flag() -> None:
    r = run_cli("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"pantau {__version__}"


def test_startup_summary_says_what_it_watches_and_where_state_goes(tmp_path: Path) -> None:
    from agent import logs
    from agent.config import AgentConfig

    cfg = AgentConfig.model_validate({
        "site": "kantor", "state_dir": str(tmp_path / "nowhere"),
        "checks": [{"name": "gw", "type": "icmp", "target": "192.0.2.1"},
                   {"name": "web", "type": "http", "target": "https://portal.example/x?t=1",
                    "depends_on": ["gw"]}],
        "alerts": {"receivers": [{"name": "tg", "type": "telegram", "bot_token": "1:a",
                                  "chat_id": "-1"}]},
        "remote_write": {"url": "https://central.example/api/v1/write"},
    })
    lines = logs.summary(cfg, None, "0.0.0.0:9877")
    assert lines[0] == "config: embedded default"
    assert f"state dir: {tmp_path / 'nowhere'}" in lines
    assert "check gw: icmp 192.0.2.1 every 30s" in lines
    # a query string may carry a token: the summary shows scheme, host and path
    assert "check web: http https://portal.example/x every 30s (depends on gw)" in lines
    assert "alerts: on; receivers: tg (telegram)" in lines
    assert "remote write: https://central.example/api/v1/write" in lines
    assert not any("1:a" in ln for ln in lines)  # no secrets
    warnings = logs.warnings(cfg, None, "none")
    assert any("is not writable by this user" in w and str(tmp_path) in w for w in warnings)
    assert any("not writable" in w and "nowhere" in w for w in warnings)
    assert any("no ICMP socket" in w for w in warnings)
    (tmp_path / "nowhere").mkdir()
    assert len(logs.warnings(cfg, tmp_path / "pantau.yml", "raw")) == 0


def test_restore_puts_the_config_back_without_overwriting_a_newer_one(tmp_path: Path) -> None:
    import sqlite3

    state = tmp_path / "state"
    state.mkdir()
    conn = sqlite3.connect(state / "history.db")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t(x)")
    conn.execute("INSERT INTO t VALUES (42)")
    conn.commit()  # left open: a -wal file beside it, as with a running agent
    (state / "known_hosts").write_text("10.0.0.1 ssh-ed25519 AAAA\n")
    cfg = tmp_path / "pantau.yml"
    cfg.write_text(f"site: kantor\nstate_dir: {state}\n")
    archive = tmp_path / "b.tar.gz"
    r = run_cli("backup", str(archive), "-c", str(cfg))
    assert r.returncode == 0, r.stderr
    assert (archive.stat().st_mode & 0o777) == 0o600  # it holds the config
    conn.close()

    cfg.write_text(f"site: kantor-baru\nstate_dir: {state}\n")  # edited since the backup
    new = tmp_path / "new"
    r = run_cli("restore", str(archive), "--state-dir", str(new))
    assert r.returncode == 0, r.stderr
    assert "differs from the backup" in r.stderr
    assert cfg.read_text().startswith("site: kantor-baru")
    assert (tmp_path / "pantau.yml.restored").read_text().startswith("site: kantor\n")
    restored = sqlite3.connect(new / "history.db")
    assert restored.execute("SELECT x FROM t").fetchall() == [(42,)]
    assert restored.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    restored.close()
    assert (new / "known_hosts").read_text().startswith("10.0.0.1")
