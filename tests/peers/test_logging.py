"""What the agent's log says: a start-up summary, one WARNING per outage (not a line per
failed run), no request lines below debug, timestamps in the configured zone with its
offset, and `--log-format json` one parseable object per line."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from tests.helpers.agent import free_port, run_agent
from tests.helpers.listener import OkHttpServer


def _config(tmp_path: Path, port: int) -> str:
    return (f"site: kantor-a\nstate_dir: {tmp_path / 'state'}\n"
            "host: {interval: 1s, timeout: 500ms}\n"
            "alerts: {timezone: WITA, damping: {failures: 2, successes: 1}}\n"
            "checks:\n"
            f"  - {{name: portal, type: http, target: 'http://127.0.0.1:{port}/', "
            "interval: 250ms, timeout: 200ms}\n")


def _wait_log(agent: object, pattern: str, count: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(re.findall(pattern, agent.log_text())) >= count:  # type: ignore[attr-defined]
            return
        time.sleep(0.2)
    raise AssertionError(f"{pattern!r} x{count} not logged:\n{agent.log_text()}")  # type: ignore[attr-defined]


def _two_outages(agent: object, portal: OkHttpServer) -> None:
    for n in (1, 2):
        portal.stop()
        _wait_log(agent, r"check portal is down", n)
        time.sleep(2)  # eight more failed runs in the same outage
        portal.start()
        _wait_log(agent, r"check portal: down -> up", n)


def test_one_warning_per_outage_no_request_lines_at_info(tmp_path: Path) -> None:
    port = free_port()
    portal = OkHttpServer(port).start()
    try:
        with run_agent(_config(tmp_path, port), tmp_path) as agent:
            _wait_log(agent, r"check portal: unknown -> up", 1)
            _two_outages(agent, portal)
            log = agent.log_text()
    finally:
        portal.stop()
    lines = log.splitlines()
    warnings = [ln for ln in lines if " WARNING " in ln and "portal" in ln]
    assert len(warnings) == 2, "\n".join(warnings)
    assert all("is down" in w for w in warnings)
    assert not [ln for ln in lines if re.search(r" (INFO|DEBUG) (httpx|httpcore)", ln)]
    assert not [ln for ln in lines if "collectors.probe.http_client" in ln]
    # the start-up summary names the config, the state dir and the check with its target
    assert f"start-up: config: {agent.config_path}" in log
    assert f"start-up: state dir: {tmp_path / 'state'}" in log
    assert f"start-up: check portal: http http://127.0.0.1:{port}/" in log
    assert "start-up: remote write: off" in log
    # each failing streak is one INFO line, not one per run (about 16 failed runs here)
    assert len([ln for ln in lines if "check:portal failing" in ln]) == 2
    # WITA is UTC+8: every timestamp says so
    stamps = [ln.split(" ", 1)[0] for ln in lines if re.match(r"\d{4}-", ln)]
    assert stamps and all(s.endswith("+08:00") for s in stamps), stamps[:3]


def test_debug_shows_each_request_and_json_is_parseable(tmp_path: Path) -> None:
    port = free_port()
    portal = OkHttpServer(port).start()
    try:
        with run_agent(_config(tmp_path, port), tmp_path,
                       extra_args=("--log-format", "json", "--log-level", "debug")) as agent:
            _wait_log(agent, r"check portal: unknown -> up", 1)
            portal.stop()
            _wait_log(agent, r"check portal is down", 1)
            log = agent.log_text()
    finally:
        portal.stop()
    records = [json.loads(ln) for ln in log.splitlines() if ln.strip()]
    assert records and all({"ts", "level", "logger", "msg"} <= r.keys() for r in records)
    assert all(r["ts"].endswith("+08:00") for r in records)
    requests = [r for r in records if r["logger"] == "collectors.probe.http_client"]
    assert requests and requests[0]["level"] == "debug", "debug shows each request"
    assert f"GET http://127.0.0.1:{port}/ (127.0.0.1) -> 200" in requests[0]["msg"]
    down = [r for r in records if r["level"] == "warning" and "portal is down" in r["msg"]]
    assert len(down) == 1
    # failed runs within the outage are debug lines
    assert any(r["level"] == "debug" and "check:portal failed" in r["msg"] for r in records)


def test_bad_log_format_is_one_line(tmp_path: Path) -> None:
    from tests.helpers.agent import run_cli

    r = run_cli("run", "--log-format", "xml")
    assert r.returncode == 2 and "--log-format" in r.stderr and "Traceback" not in r.stderr
