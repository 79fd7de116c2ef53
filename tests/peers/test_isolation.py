"""Targets that never answer do not delay /metrics or the other checks."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.agent import pick, run_agent
from tests.helpers.tarpit import Tarpit


@pytest.fixture
def tarpit() -> Iterator[int]:
    """Accepts TCP connections and never sends a byte (a portal that hangs)."""
    with Tarpit(backlog=512) as pit:
        yield pit.port


def test_hanging_targets_do_not_delay_metrics_or_other_checks(tmp_path: Path,
                                                              tarpit: int) -> None:
    hanging = [
        {"name": f"hang-http-{i}", "type": "http", "target": f"http://127.0.0.1:{tarpit}/",
         "interval": "3s", "timeout": "2500ms"} for i in range(20)
    ] + [
        {"name": f"hang-tcp-{i}", "type": "tcp", "target": f"127.0.0.1:{tarpit}",
         "expect": "^220", "interval": "3s", "timeout": "2500ms"} for i in range(20)
    ]
    fast = {"name": "fast", "type": "icmp", "target": "127.0.0.1", "interval": "1s",
            "timeout": "500ms", "count": 1}
    cfg = {"site": "kantor-iso", "host": {"interval": "2s", "timeout": "1s"},
           "checks": [fast, *hanging]}
    with run_agent(cfg, tmp_path) as agent:
        agent.wait_for(lambda m: pick(m, "pantau_probe_success", check="hang-http-0") == [0.0],
                       timeout=15)
        runs0 = pick(agent.scrape(), "pantau_collector_runs_total", source="fast")[0]
        latencies = []
        t_end = time.monotonic() + 6
        while time.monotonic() < t_end:
            t0 = time.perf_counter()
            status, _ = agent.get("/metrics")
            latencies.append(time.perf_counter() - t0)
            assert status == 200
            time.sleep(0.05)
        m = agent.scrape()
        runs1 = pick(m, "pantau_collector_runs_total", source="fast")[0]
    # the fast check kept its 1 s rhythm (6 s -> ~6 runs) while 40 checks hung for 2.5 s each
    assert runs1 - runs0 >= 5, (runs0, runs1)
    assert pick(m, "pantau_probe_success", check="fast") == [1.0]
    assert pick(m, "pantau_collector_skipped_total", source="fast") == [0.0]
    # scrapes only read pre-rendered bytes: they stay fast while probes hang
    assert statistics.median(latencies) < 0.05 and max(latencies) < 0.5, (
        statistics.median(latencies), max(latencies))
    reasons = {pick(m, "pantau_probe_success", check=f"hang-tcp-{i}")[0] for i in range(20)}
    assert reasons == {0.0}
