"""An office with a constructed October 2026 outage history (exact numbers known), for the
report tests: uplink down 3 h in October (one outage crossing in from September, one across an
agent restart), portal added on the 16th and down 2 h behind the uplink."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from agent.history import ChangeRow, History

WIB = ZoneInfo("Asia/Jakarta")


def ts(day: int, hour: int = 0, minute: int = 0, month: int = 10) -> float:
    return datetime(2026, month, day, hour, minute, tzinfo=WIB).timestamp()


def make_office(tmp_path: Path, extra_yaml: str = "") -> Path:
    """Write pantau.yml (+ extra_yaml appended) and the history; returns the config path."""
    state = tmp_path / "state"
    cfg = tmp_path / "pantau.yml"
    cfg.write_text(
        "site: dpmptsp-kab-contoh\n"
        f"state_dir: {state}\n"
        "checks:\n"
        "  - {name: uplink, type: tcp, target: '127.0.0.1:1'}\n"
        "  - {name: portal, type: tcp, target: '127.0.0.1:2', depends_on: [uplink]}\n"
        "reports:\n"
        "  timezone: WIB\n"
        "  slo: 0.995\n"
        + extra_yaml
    )
    hist = History.open(state, "dpmptsp-kab-contoh")
    rows = [
        ChangeRow("uplink", ts(1, month=9), "unknown", "up", "", "", "up"),
        ChangeRow("portal", ts(16), "unknown", "up", "", "", "up"),  # added mid-month
        # an outage crossing the start of the period (from October)
        ChangeRow("uplink", ts(30, 23, month=9), "up", "down", "loss 100%", "uplink", "root"),
        ChangeRow("uplink", ts(1, 1), "down", "up", "", "", "up"),
        # agent restart in the middle of an outage: unknown, then down again
        ChangeRow("uplink", ts(20, 10), "up", "down", "loss 100%", "uplink", "root"),
        ChangeRow("portal", ts(20, 10), "up", "down", "timeout", "uplink", "suppressed"),
        ChangeRow("uplink", ts(20, 11), "down", "unknown", "agent restart", "", ""),
        ChangeRow("uplink", ts(20, 11, 5), "unknown", "down", "loss 100%", "uplink", "root"),
        ChangeRow("uplink", ts(20, 12), "down", "up", "", "", "up"),
        ChangeRow("portal", ts(20, 12), "down", "up", "", "", "up"),
    ]
    hist.record(rows, [], [])
    hist.close()
    return cfg
