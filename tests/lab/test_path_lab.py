"""The path check over a chain of real routers (tests/lab/chain.py), seen from the office:
the exact hop list, injected loss on hop k showing on k and beyond and not before, a silent
hop, agreement with `mtr --report` (mtr-tiny) on the same path at the same moment, route
changes counted once and ECMP alternation not at all.

Tolerances: loss is a random draw (nftables numgen) per packet, so a measured loss over n
probes has a standard deviation of sqrt(p(1-p)/n); the bounds below are at least 3 of them.
Hops in front of the lossy one see no injected loss at all and must measure (almost) none.
"""

from __future__ import annotations

import ipaddress
import json
import re
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.lab.chain import ChainLab, wait_reachable

RUNNER = str(Path(__file__).with_name("probe_runner.py"))
PANTAU = str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "pantau")


@pytest.fixture(scope="module")
def _chain_module() -> Iterator[ChainLab]:
    with ChainLab() as lab:
        wait_reachable(lab)
        yield lab


@pytest.fixture
def chain(_chain_module: ChainLab) -> Iterator[ChainLab]:
    yield _chain_module
    _chain_module.reset()


def path_check(lab: ChainLab, **kw: Any) -> dict[str, Any]:
    return {"name": "portal-path", "type": "path", "target": lab.target, "timeout": "5s",
            "probes": 10, "packet_interval": "20ms", "probe_timeout": "500ms", **kw}


def run_path(lab: ChainLab, runs: int = 1, interval: float = 0.5,
             **kw: Any) -> list[dict[str, Any]]:
    """`runs` runs of one path check (one collector, so it keeps its state) in the office."""
    spec = {"checks": [path_check(lab, **kw)], "runs": runs, "interval": interval,
            "all_details": True}
    res = lab.exec("office", [lab.python_exe, RUNNER, json.dumps(spec)],
                   timeout=30 + runs * (interval + 6), check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    return [json.loads(line) for line in res.stdout.splitlines()]


def series(rec: dict[str, Any], name: str) -> dict[str, float]:
    """hop -> value of one per-hop family (stat=avg for RTT)."""
    out = {}
    for n, labels, v in rec["samples"]:
        if n == name and labels.get("stat", "avg") == "avg":
            out[labels["hop"]] = v
    return out


def value(rec: dict[str, Any], name: str) -> float:
    return next(v for n, _, v in rec["samples"] if n == name)


def test_exact_hop_list(chain: ChainLab) -> None:
    (rec,) = run_path(chain)
    assert rec["success"], rec["reason"]
    assert [h["address"] for h in rec["details"]["hops"]] == chain.hops
    assert value(rec, "pantau_path_hops") == len(chain.hops) == 5
    addrs = {labels["hop"]: labels["address"] for n, labels, _ in rec["samples"]
             if n == "pantau_path_hop_loss_ratio"}
    assert addrs == {str(i + 1): a for i, a in enumerate(chain.hops)}
    assert all(v == 0 for v in series(rec, "pantau_path_hop_loss_ratio").values())
    assert all(0 < v < 0.05 for v in series(rec, "pantau_path_hop_rtt_seconds").values())


@pytest.mark.parametrize("k", [2, 4])
def test_loss_on_hop_k_shows_on_k_and_beyond_not_before(chain: ChainLab, k: int) -> None:
    ratio = 0.3
    chain.loss_at(k, ratio)
    recs = run_path(chain, runs=3, interval=0.3, probes=50, packet_interval="10ms")
    n = 3 * 50
    lost: dict[int, float] = {}
    for hop in range(1, 6):
        lost[hop] = sum(series(r, "pantau_path_hop_loss_ratio")[str(hop)] for r in recs) / 3
    print(f"loss {ratio} at hop {k}, {n} probes per hop: measured {lost}")
    tolerance = 0.12  # 3.2 standard deviations of a 0.3 loss over 150 probes
    for hop, measured in lost.items():
        if hop < k:
            assert measured <= 0.02, f"hop {hop} in front of the lossy hop {k}: {measured}"
        else:
            assert abs(measured - ratio) <= tolerance, f"hop {hop}: {measured} vs {ratio}"


def test_silent_hop(chain: ChainLab) -> None:
    chain.silent(3)
    (rec,) = run_path(chain)
    assert rec["success"], rec["reason"]
    hops = rec["details"]["hops"]
    assert [h["silent"] for h in hops] == [False, False, True, False, False]
    assert hops[2]["address"] == "*"
    assert [h["address"] for i, h in enumerate(hops) if i != 2] == \
        [a for i, a in enumerate(chain.hops) if i != 2]
    silent = {labels["hop"]: v for n, labels, v in rec["samples"]
              if n == "pantau_path_hop_silent"}
    assert silent == {"1": 0, "2": 0, "3": 1, "4": 0, "5": 0}
    loss = series(rec, "pantau_path_hop_loss_ratio")
    assert "3" not in loss and all(v == 0 for v in loss.values())


def test_cut_names_the_last_answering_hop(chain: ChainLab) -> None:
    proc = _loop(chain, 4)
    recs = []
    for i, rec in enumerate(_lines(proc, 4, 60)):
        recs.append(rec)
        if i == 1:
            chain.cut("peer")  # between hop 3 (isp_core) and hop 4 (internet)
    proc.wait(10)
    assert recs[0]["success"] and recs[1]["success"]
    rec = recs[-1]
    assert not rec["success"]
    assert "after hop 3 10.210.2.1" in rec["reason"], rec["reason"]
    hops = rec["details"]["hops"]
    # the hops behind the break keep their addresses and show the loss
    assert [h["address"] for h in hops] == chain.hops
    assert [h["loss"] for h in hops[3:]] == [1.0, 1.0]
    assert not any(h["silent"] for h in hops)


def _mtr(lab: ChainLab, count: int, interval: float) -> subprocess.Popen[str]:
    return lab.popen("office", ["mtr", "--report", "--report-wide", "-n", "-c", str(count),
                                "-i", str(interval), lab.target],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def parse_mtr(text: str) -> list[tuple[str, float]]:
    """(address or ???, loss ratio) per hop of an `mtr --report` text."""
    hops = []
    for line in text.splitlines():
        m = re.match(r"^\s*\d+\.\|--\s+(\S+)\s+([\d.]+)%?", line)
        if m:
            hops.append((m.group(1), float(m.group(2)) / 100))
    return hops


def test_same_as_mtr_report(chain: ChainLab) -> None:
    chain.silent(2)
    chain.loss_at(4, 0.3)
    count = 100
    mtr = _mtr(chain, count, 0.05)
    res = chain.exec("office", [PANTAU, "path", chain.target, "-c", str(count),
                                "--interval", "50ms", "--probe-timeout", "500ms", "--json"],
                     check=False, timeout=120)
    out, err = mtr.communicate(timeout=120)
    assert mtr.returncode == 0, err
    assert res.returncode == 0, res.stderr
    ours = [("???" if h["silent"] else h["address"], h["loss"])
            for h in json.loads(res.stdout)["hops"]]
    theirs = parse_mtr(out)
    print("pantau:", ours, "\nmtr:   ", theirs)
    assert [a for a, _ in ours] == [a for a, _ in theirs]
    tolerance = 0.2  # two estimates of 0.3 over 100 probes each: 3 sd of their difference
    for (addr, ours_loss), (_, mtr_loss) in zip(ours, theirs, strict=True):
        assert abs(ours_loss - mtr_loss) <= tolerance, f"{addr}: {ours_loss} vs {mtr_loss}"


def _lines(proc: subprocess.Popen[str], n: int, timeout: float) -> Iterator[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    for _ in range(n):
        assert time.monotonic() < deadline, "path runs took too long"
        line = proc.stdout.readline()
        assert line, "probe_runner ended early"
        yield json.loads(line)


def _loop(lab: ChainLab, runs: int, **kw: Any) -> subprocess.Popen[str]:
    spec = {"checks": [path_check(lab, **kw)], "runs": runs, "interval": 0.6,
            "all_details": True}
    return lab.popen("office", [lab.python_exe, RUNNER, json.dumps(spec)],
                     stdout=subprocess.PIPE, text=True)


def test_route_change_counted_once_blip_not_at_all(chain: ChainLab) -> None:
    proc = _loop(chain, 10, change_after=2)
    changes, hashes, third = [], [], []
    for i, rec in enumerate(_lines(proc, 10, 60)):
        changes.append(value(rec, "pantau_path_changes_total"))
        hashes.append(next(lb["hash"] for n, lb, _ in rec["samples"]
                           if n == "pantau_path_info"))
        third.append(rec["details"]["hops"][2]["address"])
        if i == 1:
            chain.use_alt()      # one run on the alternative path: a blip
        elif i == 2:
            chain.use_primary()
        elif i == 4:
            chain.use_alt()      # and now for good
    proc.wait(10)
    print("changes", changes, "hop 3", third)
    assert third[2] == chain.alt_hops[2] and third[-1] == chain.alt_hops[2]
    assert changes[:6] == [0] * 6            # the blip (run 3) did not count
    assert changes[6:] == [1] * 4            # the second run on the new path did, once
    assert hashes[0] != hashes[-1]


def test_ecmp_alternation_is_not_a_change(chain: ChainLab) -> None:
    proc = _loop(chain, 6, change_after=1)
    changes, third = [], []
    for i, rec in enumerate(_lines(proc, 6, 60)):
        changes.append(value(rec, "pantau_path_changes_total"))
        third.append(sorted(rec["details"]["hops"][2]["addresses"]))
        if i == 1:
            chain.ecmp()
    proc.wait(10)
    print("changes", changes, "hop 3 addresses", third)
    assert third[0] == [chain.hops[2]]
    assert third[-1] == sorted([chain.hops[2], chain.alt_hops[2]])  # both branches seen
    assert changes == [0] * 6


# Root without CAP_NET_RAW (dropped from the bounding set, so no exec can regain it): the
# pinger cannot open a raw socket and must use ping sockets, exactly as an unprivileged user.
# Staying uid 0 keeps the interpreter readable wherever CI cloned the repository (a 0700
# home directory would lock a switched user out of the venv).
WITHOUT_NET_RAW = ["setpriv", "--inh-caps=-all", "--bounding-set=-net_raw", "--"]


def assert_no_raw_sockets(chain: ChainLab) -> None:
    probe = "import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, 1)"
    res = chain.exec("office", [*WITHOUT_NET_RAW, chain.python_exe, "-c", probe], check=False)
    assert res.returncode != 0 and "PermissionError" in res.stderr, res.stderr[-500:]


def test_unprivileged_datagram_mode(chain: ChainLab) -> None:
    """Without CAP_NET_RAW, through ping sockets: Time Exceeded from the error queue."""
    chain.silent(2)
    chain.exec("office", ["sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647"])
    try:
        assert_no_raw_sockets(chain)
        spec = {"checks": [path_check(chain)], "runs": 1, "all_details": True}
        res = chain.exec("office", [*WITHOUT_NET_RAW, chain.python_exe, RUNNER,
                                    json.dumps(spec)], check=False, timeout=30)
        assert res.returncode == 0, res.stderr[-2000:]
        rec = json.loads(res.stdout)
        assert rec["success"], rec["reason"]
        hops = rec["details"]["hops"]
        assert [h["address"] for h in hops] == ["10.210.0.1", "*", *chain.hops[2:]]
        assert [h["loss"] for h in hops if not h["silent"]] == [0.0] * 4
    finally:
        chain.exec("office", ["sysctl", "-qw", "net.ipv4.ping_group_range=1 0"])


def test_cut_after_hop_k_alert_names_hop_k_with_auto_dependencies(
        chain: ChainLab, tmp_path: Path) -> None:
    """The real agent in the office, no depends_on written: the portal check is suppressed
    behind the path check, whose one alert names the last hop that still answers."""
    from tests.helpers.agent import pick, run_agent
    from tests.helpers.notify_peers import webhook_sink

    office = chain.ns["office"]
    timing = {"interval": "1s", "timeout": "900ms"}
    cfg = {
        "site": "dpmptsp-lab", "state_dir": str(tmp_path / "state"), "host": {"enabled": False},
        "checks": [
            {"name": "portal-path", "type": "path", "target": chain.target, "probes": 3,
             "packet_interval": "50ms", "probe_timeout": "300ms", **timing},
            {"name": "portal", "type": "icmp", "target": chain.target, "count": 2,
             "packet_interval": "50ms", **timing},
            {"name": "isp-edge", "type": "icmp", "target": chain.hops[1], "count": 2,
             "packet_interval": "50ms", **timing},
        ],
        "alerts": {"language": "id", "auto_dependencies": True,
                   "damping": {"failures": 2, "successes": 2}, "settle": "20s",
                   "initial_backoff": "500ms", "max_backoff": "2s",
                   "receivers": [{"name": "hook", "type": "webhook", "url": "URL"}]},
    }
    with webhook_sink(tmp_path / "sink", "127.0.0.1", 18090, netns=office) as sink:
        cfg["alerts"]["receivers"][0]["url"] = f"{sink.url}/hook"  # type: ignore[index]
        with run_agent(cfg, tmp_path / "agent", netns=office) as agent:
            agent.wait_for(lambda m: all(pick(m, "pantau_check_up", check=c) == [1.0]
                                         for c in ("portal-path", "portal", "isp-edge")), 40)
            time.sleep(2)  # a complete path seen: the graph has its edges
            # Behind hop 3 (isp_core 10.210.2.1) nothing gets through. A black hole rather
            # than a link down: with the link down isp_core answers "unreachable", which
            # Linux rate-limits per host with a global setting (net.ipv4.route.error_cost),
            # so whether hop 3 answers in a given run would be luck.
            chain.loss_at(4, 1.0)
            agent.wait_for(lambda m: pick(m, "pantau_check_root_cause", check="portal",
                                          cause="portal-path") == [1.0], 40)
            got = sink.wait_for(lambda rs: [r for r in rs if r["status"] == 200], 40, "/hook")
            time.sleep(3)  # more intervals: no second alert
            notes = [r["body"] for r in sink.records("/hook") if r["status"] == 200]
            assert len(got) >= 1
            print("alerts:", [(n["kind"], n["check"], n["root_cause"], n["reason"])
                              for n in notes])
            assert [(n["kind"], n["check"]) for n in notes] == [("firing", "portal-path")]
            assert "after hop 3 10.210.2.1" in notes[0]["reason"]
            assert "10.210.2.1" in notes[0]["text"]
            m = agent.scrape()
            assert pick(m, "pantau_check_up", check="isp-edge") == [1.0]
            assert pick(m, "pantau_check_suppressed", check="portal") == [1.0]
            # cut off behind the path's break: "unreachable" live and in the history, kept
            # apart from the path check that is down itself
            items = {i["name"]: i for i in json.loads(agent.get("/api/v1/status")[1])["items"]}
            assert items["portal"]["state"] == "unreachable"
            assert items["portal-path"]["state"] == "down"
            assert items["isp-edge"]["state"] == "up"
            recorded = recorded_states(tmp_path / "state", "dpmptsp-lab")
            print("recorded:", recorded)
            assert recorded["portal"][-1] == "unreachable"
            assert recorded["portal-path"][-1] == "down"
            assert "down" not in recorded["portal"] and "down" not in recorded["isp-edge"]
            chain.clear_loss()
            agent.wait_for(lambda m: all(pick(m, "pantau_check_up", check=c) == [1.0]
                                         for c in ("portal-path", "portal")), 40)
            recorded = recorded_states(tmp_path / "state", "dpmptsp-lab")
            assert recorded["portal"][-2:] == ["unreachable", "up"]
            assert recorded["portal-path"][-2:] == ["down", "up"]


def test_cut_at_a_watched_hop_hop_down_path_and_portal_unreachable(
        chain: ChainLab, tmp_path: Path) -> None:
    """A check on hop 4 (the internet router), learnt to be in front of the portal by the
    path, no depends_on written: when nothing gets into hop 4 any more, the hop check is
    recorded "down" (the root), the path and the portal behind it "unreachable", in the
    history, in /api/v1/status and in the report's upstream downtime."""
    from agent.config import load_config
    from agent.reports.availability import compute
    from agent.reports.history_source import sites_from_history
    from tests.helpers.agent import pick, run_agent

    timing = {"interval": "1s", "timeout": "900ms"}
    state = tmp_path / "state"
    cfg = {
        "site": "dpmptsp-lab", "state_dir": str(state), "host": {"enabled": False},
        "checks": [
            {"name": "portal-path", "type": "path", "target": chain.target, "probes": 3,
             "packet_interval": "50ms", "probe_timeout": "300ms", **timing},
            {"name": "portal", "type": "icmp", "target": chain.target, "count": 2,
             "packet_interval": "50ms", **timing},
            {"name": "internet-router", "type": "icmp", "target": chain.hops[3], "count": 2,
             "packet_interval": "50ms", **timing},
        ],
        "alerts": {"auto_dependencies": True, "damping": {"failures": 2, "successes": 2},
                   "settle": "20s"},
    }
    names = ("portal-path", "portal", "internet-router")
    with run_agent(cfg, tmp_path / "agent", netns=chain.ns["office"]) as agent:
        agent.wait_for(lambda m: all(pick(m, "pantau_check_up", check=c) == [1.0]
                                     for c in names), 40)
        time.sleep(2)  # a complete path seen: the graph has its edges
        chain.loss_at(4, 1.0)
        agent.wait_for(lambda m: pick(m, "pantau_check_root_cause", check="portal",
                                      cause="internet-router") == [1.0]
                       and pick(m, "pantau_check_root_cause", check="portal-path",
                                cause="internet-router") == [1.0], 40)
        time.sleep(1.5)  # the history write follows the state change
        items = {i["name"]: i for i in json.loads(agent.get("/api/v1/status")[1])["items"]}
        assert {n: items[n]["state"] for n in names} == {
            "internet-router": "down", "portal-path": "unreachable", "portal": "unreachable"}
        recorded = recorded_states(state, "dpmptsp-lab")
        print("recorded:", recorded)
        assert recorded["internet-router"][-1] == "down"
        assert recorded["portal-path"][-1] == "unreachable"
        assert recorded["portal"][-1] == "unreachable"
        chain.clear_loss()
        agent.wait_for(lambda m: all(pick(m, "pantau_check_up", check=c) == [1.0]
                                     for c in names), 40)
        time.sleep(1.5)
    recorded = recorded_states(state, "dpmptsp-lab")
    assert "down" not in recorded["portal"] and "down" not in recorded["portal-path"]
    agent_cfg = load_config(agent.config_path)
    now = datetime.now(UTC)
    period = (now - timedelta(hours=1), now + timedelta(minutes=1))
    site = sites_from_history(agent_cfg, period, now=now)[0]
    figures = {n: compute(n, site.site, 0.99, period, site.outages, [],
                          site.monitored_from[n], now) for n in names}
    assert figures["portal"].downtime_seconds > 0
    assert figures["portal"].upstream_downtime_seconds == figures["portal"].downtime_seconds
    assert figures["portal"].upstream_causes == ["internet-router"]
    assert figures["internet-router"].upstream_downtime_seconds == 0
    assert figures["internet-router"].downtime_seconds > 0


def recorded_states(state_dir: Path, site: str) -> dict[str, list[str]]:
    """check -> the states the outage history recorded for it, oldest first."""
    from agent.history import History

    hist = History.open(state_dir, site, readonly=True)
    try:
        out: dict[str, list[str]] = {}
        for c in hist.state_changes():
            out.setdefault(c.check, []).append(c.new)
        return out
    finally:
        hist.close()


def recorded_events(state_dir: Path, site: str) -> list[Any]:
    from agent.history import History

    hist = History.open(state_dir, site, readonly=True)
    try:
        return hist.events()
    finally:
        hist.close()


def test_route_change_one_event_one_notification_ecmp_none(
        chain: ChainLab, tmp_path: Path) -> None:
    """The real agent: moving the portal's route to the second ISP path is one event in the
    history and one notification naming the network it now goes through; per-packet ECMP
    over both paths afterwards is neither."""
    from tests.helpers.agent import pick, run_agent
    from tests.helpers.notify_peers import webhook_sink

    office = chain.ns["office"]
    cfg = {
        "site": "dpmptsp-lab", "state_dir": str(tmp_path / "state"), "host": {"enabled": False},
        "checks": [
            {"name": "portal-path", "type": "path", "target": chain.target, "probes": 5,
             "packet_interval": "20ms", "probe_timeout": "300ms", "interval": "1s",
             "timeout": "900ms", "change_after": 2, "alert_on_change": True,
             "hop_names": {"10.210.12.0/23": "ISP cadangan", chain.target: "portal"}},
        ],
        "alerts": {"language": "id", "initial_backoff": "500ms", "max_backoff": "2s",
                   "receivers": [{"name": "hook", "type": "webhook", "url": "URL"}]},
    }

    def runs(m: Any) -> float:
        return max(pick(m, "pantau_collector_runs_total", source="portal-path") or [0.0])

    def info(m: Any) -> list[str]:
        return [dict(ls)["hash"] for (n, ls), _ in m.items() if n == "pantau_path_info"]

    with webhook_sink(tmp_path / "sink", "127.0.0.1", 18091, netns=office) as sink:
        cfg["alerts"]["receivers"][0]["url"] = f"{sink.url}/hook"  # type: ignore[index]
        with run_agent(cfg, tmp_path / "agent", netns=office) as agent:
            agent.wait_for(lambda m: pick(m, "pantau_check_up", check="portal-path") == [1.0]
                           and info(m), 40)
            primary = info(agent.scrape())
            chain.use_alt()
            agent.wait_for(lambda m: pick(m, "pantau_path_changes_total",
                                          check="portal-path") == [1.0], 40)
            alt = info(agent.scrape())
            sink.wait_for(lambda rs: [r for r in rs if r["status"] == 200], 40, "/hook")
            chain.ecmp()  # both branches, per packet, from now on
            assert alt != primary
            agent.wait_for(lambda m: info(m) not in ([], alt), 40)  # both branches merged
            seen = runs(agent.scrape())
            agent.wait_for(lambda m: runs(m) >= seen + 5, 40)  # five more runs of ECMP
            m = agent.scrape()
            assert pick(m, "pantau_path_changes_total", check="portal-path") == [1.0]
            time.sleep(1.5)  # a notification written after the last run has been delivered
            notes = [r["body"] for r in sink.records("/hook") if r["status"] == 200]
            events = recorded_events(tmp_path / "state", "dpmptsp-lab")
    print("notifications:", [(n["kind"], n["title"]) for n in notes])
    print("events:", [(e.kind, e.text) for e in events])
    assert [(n["kind"], n["check"]) for n in notes] == [("path_change", "portal-path")]
    assert "rute ke portal berubah: lewat ISP cadangan" in notes[0]["text"]
    assert [(e.check, e.kind) for e in events] == [("portal-path", "path_change")]
    assert events[0].text == "route to portal changed: via ISP cadangan"
    assert events[0].detail["new"][2] == [chain.alt_hops[2]]
    assert events[0].detail["old"][2] == [chain.hops[2]]


@pytest.mark.parametrize("privileged", [True, False], ids=["raw", "dgram"])
def test_ipv6_exact_hop_list(chain: ChainLab, privileged: bool) -> None:
    chain.silent(2)  # IPv4 only: IPv6 hop 2 still answers
    spec = {"checks": [path_check(chain, target=chain.target6)], "runs": 1,
            "all_details": True}
    cmd = [chain.python_exe, RUNNER, json.dumps(spec)]
    if not privileged:
        chain.exec("office", ["sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647"])
        assert_no_raw_sockets(chain)
        cmd = [*WITHOUT_NET_RAW, *cmd]
    try:
        res = chain.exec("office", cmd, check=False, timeout=30)
    finally:
        chain.exec("office", ["sysctl", "-qw", "net.ipv4.ping_group_range=1 0"])
    assert res.returncode == 0, res.stderr[-2000:]
    rec = json.loads(res.stdout)
    assert rec["success"], rec["reason"]
    assert [h["address"] for h in rec["details"]["hops"]] == chain.hops6
    assert all(h["loss"] == 0 for h in rec["details"]["hops"])


ONE_SOCKET = """
import asyncio, json, sys
sys.path.insert(0, {root!r})
from collectors.base import Context, Deadline
from collectors.probe.icmp import IcmpCollector, IcmpConfig
from collectors.probe.path import PathCollector, PathConfig

def raw_sockets():
    with open("/proc/self/net/raw") as f:
        return len(f.read().splitlines()) - 1  # the header line

async def main(target):
    cols = [PathCollector(PathConfig.model_validate({{"name": f"p{{i}}", "type": "path",
            "target": target, "probes": 5, "packet_interval": 0.05, "timeout": 3}}))
            for i in range(20)]
    cols += [IcmpCollector(IcmpConfig.model_validate({{"name": f"i{{i}}", "type": "icmp",
             "target": target, "count": 5}})) for i in range(5)]
    seen = []
    async def watch():
        for _ in range(20):
            await asyncio.sleep(0.02)
            seen.append(raw_sockets())
    obs, _ = await asyncio.gather(
        asyncio.gather(*(c.collect(Context(Deadline(3), "lab", "x")) for c in cols)), watch())
    print(json.dumps({{"ok": sum(o.success for o in obs), "sockets": sorted(set(seen))}}))

asyncio.run(main(sys.argv[1]))
"""


def test_one_socket_for_all_paths(chain: ChainLab) -> None:
    code = ONE_SOCKET.format(root=str(Path(__file__).resolve().parents[2]))
    res = chain.exec("office", [chain.python_exe, "-c", code, chain.target], timeout=30)
    out = json.loads(res.stdout)
    assert out == {"ok": 25, "sockets": [1]}, out


def test_cli_report_text_for_the_isp(chain: ChainLab) -> None:
    chain.silent(2)
    res = chain.exec("office", [PANTAU, "path", chain.target, "-c", "5", "--interval",
                                "50ms", "--report"], check=False, timeout=60)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].startswith("Start: ") and "Loss%   Snt" in lines[1]
    assert parse_mtr(res.stdout) == [(chain.hops[0], 0.0), ("???", 1.0),
                                     *[(a, 0.0) for a in chain.hops[2:]]]
    assert lines[-1] == f"pantau: {chain.target} answered"
    chain.cut("peer")
    res = chain.exec("office", [PANTAU, "path", chain.target, "-c", "2", "--interval",
                                "50ms", "--probe-timeout", "300ms", "--report"], check=False,
                     timeout=60)
    assert res.returncode == 1, res.stderr
    assert "after hop 3 10.210.2.1: the path breaks behind it" in res.stdout.splitlines()[-1]


def test_reverse_dns_names_hops_through_the_system_resolver_cached(chain: ChainLab) -> None:
    """`reverse_dns: true`: hops named by their PTR records from the office's own resolver
    (dnsmasq in the office namespace), each address asked once over three runs (cached, a
    hop without a record too); without the option nothing is asked at all."""
    names = {chain.hops[0]: "gw.kantor.test", chain.hops[2]: "core.isp.test"}
    with chain.office_resolver(names) as log:
        plain = run_path(chain, runs=1)
        assert all("name" not in h for h in plain[0]["details"]["hops"])
        asked_plain = log.read_text().count("PTR") if log.exists() else 0
        recs = run_path(chain, runs=3, reverse_dns=True, reverse_dns_ttl="1h")
        text = log.read_text()
        cli = chain.exec("office", [PANTAU, "path", chain.target, "-c", "2", "--interval",
                                    "50ms", "--report", "--dns"], check=False, timeout=60)
    assert cli.returncode == 0, cli.stderr
    assert "1.|-- gw.kantor.test (10.210.0.1)" in cli.stdout
    assert "3.|-- core.isp.test (10.210.2.1)" in cli.stdout
    assert "2.|-- 10.210.1.1 " in cli.stdout  # no record: the address alone
    queries = [ln for ln in text.splitlines() if "query[PTR]" in ln]
    print("PTR queries:", queries)
    assert asked_plain == 0
    for rec in recs:
        assert rec["success"], rec["reason"]
        hops = rec["details"]["hops"]
        assert [h.get("name", "") for h in hops] == [
            "gw.kantor.test", "", "core.isp.test", "", ""]
    for address in chain.hops:
        ptr = ipaddress.ip_address(address).reverse_pointer
        assert sum(ptr in q for q in queries) == 1, (address, queries)


@pytest.mark.parametrize("privileged", [True, False], ids=["root", "no-net-raw"])
@pytest.mark.parametrize("protocol", ["udp", "tcp"])
def test_udp_and_tcp_paths_where_the_target_filters_echo(
        chain: ChainLab, protocol: str, privileged: bool) -> None:
    """The portal drops ICMP echo: the ICMP path cannot reach it, the UDP (high ports) and
    TCP SYN paths still discover every hop and the target, with no loss, also without
    CAP_NET_RAW and outside ping_group_range (nothing raw is opened)."""
    chain.drop_echo_at_target()
    icmp = run_path(chain, runs=1)[0]
    assert not icmp["success"]
    spec = {"checks": [path_check(chain, protocol=protocol)], "runs": 2, "interval": 0.3,
            "all_details": True}
    prefix = [] if privileged else WITHOUT_NET_RAW
    if not privileged:
        assert_no_raw_sockets(chain)
    res = chain.exec("office", [*prefix, chain.python_exe, RUNNER, json.dumps(spec)],
                     check=False, timeout=60)
    assert res.returncode == 0, res.stderr[-2000:]
    for line in res.stdout.splitlines():
        rec = json.loads(line)
        assert rec["success"], rec["reason"]
        hops = rec["details"]["hops"]
        print(protocol, [(h["address"], h["loss"]) for h in hops])
        assert [h["address"] for h in hops] == chain.hops
        assert [h["loss"] for h in hops] == [0.0] * len(chain.hops)
    cli = chain.exec("office", [*prefix, PANTAU, "path", chain.target, "--protocol", protocol,
                                "-c", "3", "--interval", "50ms", "--report"],
                     check=False, timeout=60)
    assert cli.returncode == 0, cli.stderr
    assert parse_mtr(cli.stdout) == [(a, 0.0) for a in chain.hops]


def test_embedded_default_traces_the_path_through_the_test_router(
        chain: ChainLab, tmp_path: Path) -> None:
    """`pantau run` with no config in the office, whose default route goes through the lab's
    router and whose resolver is behind the chain: the embedded default traces the path to
    the resolver and exposes its hops. The state directory is a tmpfs of the agent's own
    mount namespace, so the machine's /var/lib/pantau is never touched."""
    from tests.helpers.agent import RunningAgent, pick
    from tests.helpers.procs import stop_process

    resolver = chain.target  # an address behind the whole chain (nothing answers DNS there)
    log_path = tmp_path / "agent.log"
    with chain.office_resolv_conf(f"nameserver {resolver}\n"), log_path.open("wb") as log:
        proc = chain.popen("office", [
            "unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
            'mount -t tmpfs pantau-lab /var/lib && exec "$@"', "sh",
            PANTAU, "run", "--listen", "127.0.0.1:19878"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        agent = RunningAgent(proc, "http://127.0.0.1:19878", tmp_path / "none", log_path,
                             chain.ns["office"])
        try:
            path = f"dns-{resolver.replace('.', '-')}-path"
            agent.wait_for(lambda m: pick(m, "pantau_path_hops", check=path) == [5.0], 40)
            m = agent.scrape()
            hops = {dict(ls)["hop"]: dict(ls)["address"] for (n, ls), _ in m.items()
                    if n == "pantau_path_hop_loss_ratio" and dict(ls).get("check") == path}
            assert hops == {str(i + 1): a for i, a in enumerate(chain.hops)}
            assert pick(m, "pantau_probe_success", check="gateway-10-210-0-1") == [1.0]
        finally:
            stop_process(proc, group=True)
    assert "config: embedded default" in log_path.read_text()
