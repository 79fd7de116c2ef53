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
