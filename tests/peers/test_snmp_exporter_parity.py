"""pantau's /snmp beside the real prometheus-snmp-exporter (Debian's 0.21) on the tests'
24-port switch (tests/helpers/gear.py): the same metric names, label sets and values for every
module of the suite's own snmp.yml fixtures, counters bracketed by two snmp_exporter scrapes
around pantau's. snmp_exporter reads the v0.21 format; pantau reads it and the same modules in
today's format (auths + modules), which must give the same series. Then SNMPv3 (snmp.yml
`auths:` version 3) side by side, and configured devices naming snmp.yml modules."""

from __future__ import annotations

import copy
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from collectors.snmp.exporter import parse_snmp_yml
from tests.helpers.agent import parse_metrics, run_agent
from tests.helpers.exporters import run_exporter
from tests.helpers.gear import IFACES, V3_USER, Gear, gear_lab
from tests.helpers.snmpd import free_udp_port

DATA = Path(__file__).parents[1] / "testdata" / "snmp_exporter"
# values that move between two scrapes: bracketed (counters, uptime) or only present
MONOTONIC = ("Octets", "sysUpTime")
VOLATILE = {"hrSystemProcesses", "hrSystemNumUsers", "snmp_scrape_duration_seconds",
            "snmp_scrape_walk_duration_seconds", "snmp_scrape_packets_sent"}
# snmp_exporter 0.21's spelling of the gear's v3 user (its `password` is the auth password)
V3_AUTH_021 = {"username": V3_USER["username"], "security_level": "authPriv",
               "password": V3_USER["auth_password"], "auth_protocol": V3_USER["auth_protocol"],
               "priv_protocol": V3_USER["priv_protocol"],
               "priv_password": V3_USER["priv_password"]}

Series = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def gear(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gear]:
    with gear_lab(tmp_path_factory.mktemp("gear"), ["rocommunity kantor default"]) as g:
        g.traffic()  # counters that moved: bracketing means something
        yield g


@pytest.fixture(scope="module")
def exporter_yml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The v0.21 fixture plus if_mib_v3: the same module with the gear's v3 user inside it,
    the only way v0.21's format spells an auth."""
    data = yaml.safe_load((DATA / "old-format.yml").read_text())
    v3 = copy.deepcopy(data["if_mib"])
    v3.update(version=3, auth=V3_AUTH_021)
    data["if_mib_v3"] = v3
    path = tmp_path_factory.mktemp("snmpyml") / "snmp.yml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="module")
def exporter(tmp_path_factory: pytest.TempPathFactory, exporter_yml: Path) -> Iterator[str]:
    log = tmp_path_factory.mktemp("snmpexp") / "log"
    with run_exporter("prometheus-snmp-exporter", exporter_yml, log) as url:
        yield url


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


def _side_by_side(exporter: str, agent_url: str, module: str, target: str, auth: str = "",
                  their_module: str = "") -> Series:
    before = _scrape(exporter, their_module or module, target)
    ours = _scrape(agent_url, module, target, auth)
    after = _scrape(exporter, their_module or module, target)
    problems = _compare(before, ours, after)
    assert not problems, f"{module}: " + "\n".join(problems)
    return ours


def _config(path: Path, **snmp: Any) -> dict[str, Any]:
    return {"site": "kantor", "host": {"enabled": False},
            "snmp": {"exporter_modules": str(path), "exporter_targets": ["10.0.0.0/8"],
                     **snmp}}


@pytest.mark.parametrize("fmt", ["old-format.yml", "new-format.yml"])
def test_same_series_as_snmp_exporter(tmp_path: Path, gear: Gear, exporter: str,
                                      fmt: str) -> None:
    auth = "kantor_v2" if fmt == "new-format.yml" else ""
    modules = parse_snmp_yml((DATA / fmt).read_text()).modules
    assert set(modules) == {"if_mib", "system"}  # every module of the fixture is compared
    with run_agent(_config(DATA / fmt), tmp_path) as agent:
        compared = {}
        for module in modules:
            ours = _side_by_side(exporter, agent.url, module, gear.target, auth)
            compared[module] = ours
        # every port of the switch, named and aliased as the admin set them
        names = {dict(k[1]).get("ifName") for k in compared["if_mib"]
                 if k[0] == "ifHCInOctets_total"}
        assert {f"ga{i}" for i in range(IFACES)} <= names, names
        aliases = {dict(k[1]).get("ifAlias") for k in compared["if_mib"]
                   if k[0] == "ifInOctets_total"}
        assert {f"ruang-{i}" for i in range(IFACES)} <= aliases
        # the down ports read down on both sides (checked equal above): 6 of 24
        down = [k for k, v in compared["if_mib"].items() if k[0] == "ifOperStatus"
                and dict(k[1])["ifOperStatus"] == "down" and v == 1.0]
        assert len(down) == IFACES // 4, down
        assert len(compared["if_mib"]) >= 7 * IFACES and len(compared["system"]) >= 5
        print(f"{fmt}: " + ", ".join(f"{m} {len(s)} series agree" for m, s in compared.items()))
        # outside exporter_targets: refused before a packet leaves
        with pytest.raises(urllib.error.HTTPError) as e:
            _scrape(agent.url, "if_mib", "192.0.2.1:161", auth)
        assert e.value.code == 403


@pytest.mark.parametrize("fmt", ["old-format.yml", "new-format.yml"])
def test_v3_if_mib_beside_snmp_exporter(tmp_path: Path, gear: Gear, exporter: str,
                                        exporter_yml: Path, fmt: str) -> None:
    """snmp.yml's v3 auth through pantau's own SNMPv3 client, authPriv SHA/AES."""
    if fmt == "old-format.yml":  # the very file snmp_exporter reads, auth inside the module
        cfg, module, auth = _config(exporter_yml), "if_mib_v3", ""
    else:  # today's format: the v3 auth under auths:, named by &auth=
        cfg, module, auth = _config(DATA / fmt), "if_mib", "kantor_v3"
    with run_agent(cfg, tmp_path) as agent:
        ours = _side_by_side(exporter, agent.url, module, gear.target, auth, "if_mib_v3")
        assert len([k for k in ours if k[0] == "ifHCInOctets_total"]) >= IFACES
        # the v2c view of the same module agrees with the v3 one on what does not move
        v2 = _scrape(exporter, "if_mib", gear.target)
        assert {k for k in v2 if k[0] == "ifPhysAddress"} == \
            {k for k in ours if k[0] == "ifPhysAddress"}
        if auth:  # a wrong v3 password: an error, and never the password in it
            wrong = tmp_path / "wrong.yml"
            data = yaml.safe_load((DATA / fmt).read_text())
            data["auths"]["kantor_v3"]["password"] = "salah-sekali"
            wrong.write_text(yaml.safe_dump(data))
        body = agent.metrics_text()
        assert V3_USER["priv_password"] not in body and V3_USER["auth_password"] not in body
    if auth:
        with run_agent(_config(wrong), tmp_path / "wrong") as agent:
            with pytest.raises(urllib.error.HTTPError) as e:
                _scrape(agent.url, "if_mib", gear.target, "kantor_v3")
            text = e.value.read().decode()
            assert e.value.code == 500 and "authentication failed" in text, text
            assert "salah-sekali" not in text and "salah-sekali" not in agent.log_text()


def test_configured_devices_poll_snmp_yml_modules(tmp_path: Path, gear: Gear,
                                                  exporter: str) -> None:
    """A device naming snmp.yml modules: polled by the scheduler with its own auth, its series
    on /metrics in snmp_exporter's names with device, site and its labels, and up/down seen
    like any device's (a dead one goes down)."""
    dead = f"127.0.0.1:{free_udp_port()}"
    cfg = _config(DATA / "new-format.yml",
                  auths={"lab": {"community": "kantor"}, "lab3": {"version": "3", **V3_USER}},
                  devices=[
                      {"name": "sw-mod", "address": gear.target, "auth": "lab", "interval": "5s",
                       "timeout": "1s", "modules": ["if_mib", "system"],
                       "labels": {"ruang": "server"}},
                      {"name": "sw-mod3", "address": gear.target, "auth": "lab3",
                       "interval": "5s", "timeout": "1s", "modules": ["if_mib"]},
                      {"name": "sw-dead", "address": dead, "auth": "lab", "interval": "5s",
                       "timeout": "500ms", "retries": 0, "modules": ["if_mib"]}])
    yml = parse_snmp_yml((DATA / "new-format.yml").read_text())
    system_only = {m.name for m in yml.modules["system"].metrics} - {
        m.name for m in yml.modules["if_mib"].metrics}
    with run_agent(cfg, tmp_path) as agent:
        before = _scrape(exporter, "if_mib", gear.target)
        (since,) = [v for k, v in before.items() if k[0] == "sysUpTime"]

        def polled_since(m: Any) -> Any:
            """Both live devices polled after `before` (the switch's own clock says so), the
            dead one down."""
            up = {dict(ls).get("device"): v for (n, ls), v in m.items() if n == "sysUpTime"}
            dead_up = [v for (n, ls), v in m.items() if n == "pantau_snmp_up"
                       and dict(ls).get("device") == "sw-dead"]
            fresh = all(up.get(d, 0) > since for d in ("sw-mod", "sw-mod3"))
            return m if fresh and dead_up == [0.0] else None

        mine = agent.wait_for(polled_since, timeout=40)
        after = _scrape(exporter, "if_mib", gear.target)
        theirs = {k: v for k, v in before.items() if not k[0].startswith("snmp_")}
        for device, extra in (("sw-mod", {"ruang": "server"}), ("sw-mod3", {})):
            fixed = {"device": device, "site": "kantor", **extra}
            ours: Series = {}
            for (n, ls), v in mine.items():
                labels = dict(ls)
                if labels.get("device") != device or n.startswith(("pantau_", "snmp_")):
                    continue
                assert {k: labels.get(k) for k in fixed} == fixed, (n, labels)
                ours[(n, frozenset((k, x) for k, x in labels.items() if k not in fixed))] = v
            if device == "sw-mod":  # the system module's series are there too, once each
                assert any(n == "sysName" and dict(ls).get("sysName") == "gear-lab"
                           for n, ls in ours)
                ours = {k: v for k, v in ours.items() if k[0] not in system_only}
            problems = _compare(theirs, ours, after)
            assert not problems, f"{device}: " + "\n".join(problems)
            print(f"{device}: {len(ours)} if_mib series agree with snmp_exporter")
        # the scheduler's verdicts reach the status the alerting and reports read
        _, raw = agent.get("/api/v1/status")
        states = {i["name"]: i["state"] for i in json.loads(raw)["items"]}
        assert states["snmp:sw-mod"] == states["snmp:sw-mod3"] == "up", states
        assert states["snmp:sw-dead"] == "down", states
        # snmp_exporter's families are declared once, typed as snmp_exporter types them
        text = agent.metrics_text()
        assert "# TYPE ifHCInOctets counter" in text and "# TYPE ifOperStatus gauge" in text
        assert V3_USER["priv_password"] not in text
