"""First start with monthly reports on: the report task must wait for the history schema, or
the log shows "monthly report failed: no such table" and the report comes an hour late."""

from __future__ import annotations

import time
from pathlib import Path

from tests.helpers.agent import run_agent


def test_monthly_report_on_empty_state_dir_logs_no_error(tmp_path: Path) -> None:
    state = tmp_path / "state"
    assert not state.exists()
    cfg = {
        "site": "diskominfo-kab-contoh",
        "state_dir": str(state),
        "checks": [{"name": "loopback", "type": "tcp", "target": "127.0.0.1:1",
                    "interval": "2s", "timeout": "1s"}],
        "reports": {"monthly": True, "monthly_formats": ["html", "csv", "json"]},
    }
    with run_agent(cfg, tmp_path / "agent") as agent:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if len(list((state / "reports").glob("diskominfo-kab-contoh-*"))) == 3:
                break
            time.sleep(0.2)
        time.sleep(0.5)
        log = agent.log_text()
    written = sorted(p.suffix for p in (state / "reports").glob("diskominfo-kab-contoh-*"))
    assert written == [".csv", ".html", ".json"], log
    bad = [line for line in log.splitlines()
           if "ERROR" in line or "report failed" in line or "Traceback" in line]
    assert bad == [], log
