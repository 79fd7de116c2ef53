"""pantau's /snmp beside the real prometheus-snmp-exporter (Debian's 0.21) on one snmpd: the
same metric names, label sets and values, counters bracketed by two snmp_exporter scrapes
around pantau's. snmp_exporter reads the v0.21 file; pantau reads it and the same modules
in today's format (auths + modules), which must give the same series."""

from __future__ import annotations

import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.agent import free_port, parse_metrics, run_agent
from tests.helpers.procs import stop_process
from tests.helpers.snmpd import Snmpd, running_snmpd
from tests.helpers.waiting import wait_http

DATA = Path(__file__).parents[1] / "testdata" / "snmp_exporter"
# values that move between two scrapes: bracketed (counters, uptime) or only present
MONOTONIC = ("Octets", "sysUpTime")
VOLATILE = {"hrSystemProcesses", "hrSystemNumUsers", "snmp_scrape_duration_seconds",
            "snmp_scrape_walk_duration_seconds", "snmp_scrape_packets_sent"}

Series = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def snmpd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Snmpd]:
    d = tmp_path_factory.mktemp("snmpd")
    with running_snmpd(d, ["rocommunity kantor 127.0.0.1", "sysName kantor-sleman-sw1",
                           "sysLocation Kantor \"Sleman\" lantai 2"]) as s:
        yield s


@pytest.fixture(scope="module")
def exporter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = (tmp_path_factory.mktemp("snmpexp") / "log").open("wb")
    proc = subprocess.Popen(["prometheus-snmp-exporter",
                             f"--config.file={DATA / 'old-format.yml'}",
                             f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_http(f"http://127.0.0.1:{port}/", 15)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(proc, group=True)
        log.close()


def _scrape(base: str, module: str, target: str, auth: str = "") -> Series:
    q = {"module": module, "target": target, **({"auth": auth} if auth else {})}
    with urllib.request.urlopen(f"{base}/snmp?{urllib.parse.urlencode(q)}", timeout=30) as r:
        body = r.read().decode()
    return {(n, frozenset(ls)): v for (n, ls), v in parse_metrics(body).items()}


def _compare(before: Series, ours: Series, after: Series) -> list[str]:
    problems = []
    if set(before) != set(ours):
        problems.append(f"only snmp_exporter: {sorted(set(before) - set(ours))[:5]}; "
                        f"only pantau: {sorted(set(ours) - set(before))[:5]}")
    for key, v in before.items():
        if key not in ours or key[0] in VOLATILE:
            continue
        if any(m in key[0] for m in MONOTONIC):
            hi = after.get(key, v)
            if not v <= ours[key] <= hi:
                problems.append(f"{key}: pantau {ours[key]} not in [{v}, {hi}]")
        elif ours[key] != v:
            problems.append(f"{key}: snmp_exporter {v}, pantau {ours[key]}")
    return problems


@pytest.mark.parametrize("fmt", ["old-format.yml", "new-format.yml"])
def test_same_series_as_snmp_exporter(tmp_path: Path, snmpd: Snmpd, exporter: str,
                                      fmt: str) -> None:
    cfg = {"site": "kantor", "host": {"enabled": False},
           "snmp": {"exporter_modules": str(DATA / fmt), "exporter_targets": ["127.0.0.0/8"]}}
    auth = "kantor_v2" if fmt == "new-format.yml" else ""
    with run_agent(cfg, tmp_path) as agent:
        for module in ("if_mib", "system"):
            before = _scrape(exporter, module, snmpd.target)
            ours = _scrape(agent.url, module, snmpd.target, auth)
            after = _scrape(exporter, module, snmpd.target)
            problems = _compare(before, ours, after)
            assert not problems, f"{module}: " + "\n".join(problems)
            assert len(ours) >= (20 if module == "if_mib" else 8), ours
        # the quoted location survives as a label value
        assert any(dict(k[1]).get("sysLocation") == 'Kantor "Sleman" lantai 2' for k in ours)
        # outside exporter_targets: refused before a packet leaves
        with pytest.raises(urllib.error.HTTPError) as e:
            _scrape(agent.url, "if_mib", "10.0.0.1:161", auth)
        assert e.value.code == 403
