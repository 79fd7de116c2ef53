"""Alerting in the office lab: the real agent in the office namespace, real links cut.

    office --lan-- router --uplink-- isp --transit-- internet (portal, dns)

The "uplink" check is a TCP connect to a listener on the ISP side of the uplink; portal (HTTP)
and DNS depend on it. Receivers are a real prometheus-alertmanager and a webhook sink, either
next to the agent (office namespace) or behind the uplink (internet namespace).
Needs root: `pytest tests/lab/test_alerting_lab.py -m lab`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.agent import RunningAgent, pick, run_agent
from tests.helpers.notify_peers import Sink, _http_get, alertmanager, webhook_sink
from tests.lab.office import OfficeLab

NET = "10.200.2.2"  # the lab's internet host
ISP = "10.200.1.2"  # the ISP end of the uplink
ISP_PORT = 2600
SERVERS = str(Path(__file__).with_name("servers.py"))


@pytest.fixture
def lab(office_lab: OfficeLab) -> Iterator[OfficeLab]:
    """The office lab plus a TCP listener at the ISP's end of the uplink (the uplink check)."""
    proc = office_lab.popen("isp", [office_lab.python_exe, SERVERS, "banner", "--host", ISP,
                                    "--port", str(ISP_PORT), "--text", "isp"])
    try:
        deadline = time.monotonic() + 10
        while office_lab.exec("isp", ["ss", "-ltnH", f"sport = :{ISP_PORT}"]).stdout == "":
            assert time.monotonic() < deadline, "isp listener did not start"
            time.sleep(0.1)
        yield office_lab
    finally:
        proc.kill()
        proc.wait(timeout=5)


def office_config(state_dir: Path, receivers: list[dict[str, Any]], *,
                  damping: tuple[int, int] = (2, 2), interval: str = "1s",
                  extra_checks: list[dict[str, Any]] | None = None,
                  timeout: str = "600ms") -> dict[str, Any]:
    t = timeout
    return {
        "site": "dpmptsp-lab",
        "state_dir": str(state_dir),
        "host": {"enabled": False},
        "checks": [
            {"name": "uplink", "type": "tcp", "target": f"{ISP}:{ISP_PORT}",
             "interval": interval, "timeout": t, "labels": {"role": "uplink"}},
            {"name": "portal", "type": "http", "target": f"http://{NET}/health",
             "interval": interval, "timeout": t, "depends_on_any": ["uplink"],
             "labels": {"role": "service"}},
            {"name": "dns", "type": "dns", "target": NET, "query_name": "portal.lab.test",
             "interval": interval, "timeout": t, "depends_on_any": ["uplink"],
             "labels": {"role": "service"}},
            *(extra_checks or []),
        ],
        "alerts": {
            "language": "en", "timezone": "WIB",
            "damping": {"failures": damping[0], "successes": damping[1]},
            "initial_backoff": "500ms", "max_backoff": "2s",
            "receivers": receivers,
        },
    }


def up(agent: RunningAgent, *checks: str, value: float = 1.0) -> Any:
    return agent.wait_for(
        lambda m: all(pick(m, "pantau_check_up", check=c) == [value] for c in checks), 40)


def hooks(sink: Sink) -> list[dict[str, Any]]:
    return [r["body"] for r in sink.records("/hook") if r["status"] == 200]


def wait_hooks(sink: Sink, n: int, limit: float = 40) -> list[dict[str, Any]]:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        got = hooks(sink)
        if len(got) >= n:
            return got
        time.sleep(0.2)
    raise AssertionError(f"expected {n} notifications, got {hooks(sink)}")


def test_isp_cut_one_root_cause_notification_then_its_resolution_only(
        lab: OfficeLab, tmp_path: Path) -> None:
    office = lab.ns["office"]
    with webhook_sink(tmp_path / "sink", "127.0.0.1", 18080, netns=office) as sink, \
            alertmanager(tmp_path / "am", "127.0.0.1", 19093, netns=office) as am:
        cfg = office_config(tmp_path / "state", [
            {"name": "am", "type": "alertmanager", "url": am.url},
            {"name": "hook", "type": "webhook", "url": f"{sink.url}/hook"},
        ])
        with run_agent(cfg, tmp_path / "agent", netns=office) as agent:
            up(agent, "uplink", "portal", "dns")
            lab.cut("uplink")
            agent.wait_for(lambda m: pick(m, "pantau_check_root_cause", check="portal",
                                          cause="uplink") == [1.0]
                           and pick(m, "pantau_check_root_cause", check="dns",
                                    cause="uplink") == [1.0], 40)
            got = wait_hooks(sink, 1)
            time.sleep(4)  # several more check intervals: nothing else may arrive
            got = hooks(sink)
            assert [(n["kind"], n["check"], n["root_cause"]) for n in got] == [
                ("firing", "uplink", "uplink")]
            assert got[0]["affected"] == ["dns", "portal"]
            assert "Root cause: uplink down — dns, portal affected" in got[0]["text"]
            m = agent.scrape()
            assert pick(m, "pantau_check_suppressed", check="portal") == [1.0]
            assert pick(m, "pantau_check_suppressed", check="dns") == [1.0]
            active = am.alerts()
            assert [(a["labels"]["check"], a["labels"]["site"], a["labels"]["role"])
                    for a in active] == [("uplink", "dpmptsp-lab", "uplink")]

            lab.restore("uplink")
            got = wait_hooks(sink, 2)
            time.sleep(4)  # dns and portal come back too: never announced, so no message
            got = hooks(sink)
            assert [(n["kind"], n["check"]) for n in got[1:]] == [("resolved", "uplink")]
            deadline = time.monotonic() + 20
            while am.alerts() and time.monotonic() < deadline:
                time.sleep(0.3)
            assert am.alerts() == []
            assert len({n["id"] for n in got}) == 2


def _am_received(am_url: str, netns: str) -> dict[str, float]:
    text = _http_get(f"{am_url}/metrics", netns).decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("alertmanager_alerts_received_total{"):
            status = line.split('status="')[1].split('"')[0]
            out[status] = out.get(status, 0.0) + float(line.rsplit(" ", 1)[1])
    return out


def test_receivers_behind_the_cut_link_get_everything_after_restore(
        lab: OfficeLab, tmp_path: Path) -> None:
    internet = lab.ns["internet"]
    with webhook_sink(tmp_path / "sink", NET, 18081, netns=internet) as sink, \
            alertmanager(tmp_path / "am", NET, 19094, netns=internet) as am:
        # the cut link drops packets silently: each attempt ends at the receiver's timeout
        cfg = office_config(tmp_path / "state", [
            {"name": "am", "type": "alertmanager", "url": am.url, "timeout": "2s"},
            {"name": "hook", "type": "webhook", "url": f"{sink.url}/hook", "timeout": "2s"},
        ])
        with run_agent(cfg, tmp_path / "agent", netns=lab.ns["office"]) as agent:
            up(agent, "uplink", "portal", "dns")
            lab.cut("uplink")
            agent.wait_for(lambda m: pick(m, "pantau_notifications_total", receiver="hook",
                                          result="retry")[0] >= 2
                           and pick(m, "pantau_outbox_pending") == [2.0], 40)
            time.sleep(3)  # held for a while
            assert hooks(sink) == []
            assert _am_received(am.url, internet).get("firing", 0) == 0
            lab.restore("uplink")
            got = wait_hooks(sink, 2, limit=60)
            assert got[0]["kind"] == "firing" and got[0]["check"] == "uplink"
            assert [(n["kind"], n["check"]) for n in got[1:]] == [("resolved", "uplink")]
            # in order: the uplink's resolution comes after its firing
            kinds = [(n["kind"], n["check"]) for n in got]
            assert kinds.index(("firing", "uplink")) < kinds.index(("resolved", "uplink"))
            agent.wait_for(lambda m: pick(m, "pantau_outbox_pending") == [0.0], 30)
            received = _am_received(am.url, internet)
            assert received.get("firing", 0) >= 1 and received.get("resolved", 0) == 1, received
            assert am.alerts() == []
            time.sleep(1)
            assert len(hooks(sink)) == 2  # delivered once


def test_kill9_during_burst_loses_nothing_and_sends_nothing_twice(
        lab: OfficeLab, tmp_path: Path) -> None:
    office = lab.ns["office"]
    burst = [{"name": f"svc{i}", "type": "tcp", "target": f"{ISP}:{ISP_PORT}",
              "interval": "500ms", "timeout": "300ms"} for i in range(8)]
    state = tmp_path / "state"
    with webhook_sink(tmp_path / "sink", "127.0.0.1", 18082, netns=office) as sink:
        cfg = office_config(state, [{"name": "hook", "type": "webhook",
                                     "url": f"{sink.url}/hook"}],
                            damping=(1, 1), interval="500ms", extra_checks=burst,
                            timeout="300ms")
        names = [c["name"] for c in cfg["checks"]]
        seen: dict[str, float] = {}
        with run_agent(cfg, tmp_path / "run1", netns=office) as agent:
            up(agent, *names)
            deadline = time.monotonic() + 12
            cut = False
            flips = 0
            while time.monotonic() < deadline:
                if flips < 10:
                    (lab.restore if cut else lab.cut)("uplink")
                    cut = not cut
                    flips += 1
                if flips == 4:  # the receiver starts refusing: a backlog is owed at the kill
                    sink.fail_next(100000)
                t_flip = time.monotonic() + 0.9
                while time.monotonic() < t_flip:
                    m = agent.scrape()
                    for n in names:
                        v = pick(m, "pantau_check_state_changes_total", check=n)
                        if v:
                            seen[n] = v[0]
                if sum(seen.values()) >= 60 and flips >= 6:
                    break
            # kill -9 right after the last scrape, in the middle of the burst
            with contextlib.suppress(ProcessLookupError):
                os.killpg(agent.proc.pid, signal.SIGKILL)
            agent.proc.wait(timeout=10)
        lab.restore("uplink")
        assert sum(seen.values()) >= 30, f"too few state changes to test anything: {seen}"

        db = sqlite3.connect(state / "history.db")
        try:
            counts = dict(db.execute(
                "SELECT check_name, count(*) FROM state_changes GROUP BY check_name"))
        finally:
            db.close()
        db = sqlite3.connect(state / "history.db")
        try:
            owed = db.execute(
                "SELECT count(*) FROM deliveries WHERE status = 'pending'").fetchone()[0]
        finally:
            db.close()
        for n, shown in seen.items():
            assert counts.get(n, 0) >= shown, \
                f"{n}: /metrics said {shown} changes, history has {counts}"

        assert owed > 0, "nothing was owed at the kill: the restart proves nothing"
        sink.fail_next(0)
        # restart: every notification still owed is delivered, none twice
        with run_agent(cfg, tmp_path / "run2", netns=office) as agent:
            up(agent, *names)
            agent.wait_for(lambda m: pick(m, "pantau_outbox_pending") == [0.0], 60)
            time.sleep(1)
        db = sqlite3.connect(state / "history.db")
        try:
            uids = [r[0] for r in db.execute("SELECT uid FROM notifications")]
            undelivered = db.execute(
                "SELECT count(*) FROM deliveries WHERE status != 'delivered'").fetchone()[0]
        finally:
            db.close()
        delivered = [r["body"]["id"] for r in sink.records("/hook") if r["status"] == 200]
        assert undelivered == 0
        assert set(uids) == set(delivered), "a notification was lost"
        dups = len(delivered) - len(set(delivered))
        # A kill between the receiver's 200 and the commit can repeat at most the one
        # in-flight delivery; it carries the same Idempotency-Key, so the receiver can drop it.
        assert dups <= 1, f"{dups} notifications delivered twice"
        print(f"kill -9 burst: {sum(counts.values())} changes, {len(uids)} notifications, "
              f"{owed} owed at the kill and delivered after restart, "
              f"{dups} duplicate deliveries")


def test_flapping_faster_than_damping_sends_no_storm(lab: OfficeLab, tmp_path: Path) -> None:
    office = lab.ns["office"]
    with webhook_sink(tmp_path / "sink", "127.0.0.1", 18083, netns=office) as sink:
        cfg = office_config(tmp_path / "state", [{"name": "hook", "type": "webhook",
                                                  "url": f"{sink.url}/hook"}],
                            damping=(3, 2), interval="1s")
        with run_agent(cfg, tmp_path / "agent", netns=office) as agent:
            up(agent, "uplink", "portal", "dns")
            base = agent.scrape()
            failures_seen = 0
            for _ in range(6):  # 6 flaps: down 0.7 s, up 1.8 s
                lab.cut("uplink")
                t_end = time.monotonic() + 0.7
                while time.monotonic() < t_end:
                    m = agent.scrape()
                    failures_seen += sum(1 for v in pick(m, "pantau_collector_success")
                                         if v == 0)
                lab.restore("uplink")
                time.sleep(1.8)
            time.sleep(2)
            m = agent.scrape()
            assert failures_seen > 0, "the flapping never made a check fail: test is void"
            for c in ("uplink", "portal", "dns"):
                assert pick(m, "pantau_check_state_changes_total", check=c) == \
                    pick(base, "pantau_check_state_changes_total", check=c)
                assert pick(m, "pantau_check_up", check=c) == [1.0]
        assert hooks(sink) == []
        print(f"flapping: 6 flaps, {failures_seen} failed results seen, 0 notifications")


def test_both_uplinks_cut_one_notification_naming_both(lab: OfficeLab, tmp_path: Path) -> None:
    """Two uplink checks with the services depending on either (depends_on_any). In this lab
    both paths leave through the one `uplink` cable (the second "uplink" probes a host on the
    internet side), so cutting it takes both down at once, as a dead office router would."""
    office = lab.ns["office"]
    with webhook_sink(tmp_path / "sink", "127.0.0.1", 18082, netns=office) as sink:
        cfg = office_config(tmp_path / "state", [
            {"name": "hook", "type": "webhook", "url": f"{sink.url}/hook"}],
            extra_checks=[{"name": "uplink-b", "type": "tcp", "target": f"{NET}:80",
                           "interval": "1s", "timeout": "600ms",
                           "labels": {"role": "uplink"}}])
        for c in cfg["checks"]:
            if c["name"] in ("portal", "dns"):
                c["depends_on_any"] = ["uplink", "uplink-b"]
        cfg["alerts"]["language"] = "id"
        with run_agent(cfg, tmp_path / "agent", netns=office) as agent:
            up(agent, "uplink", "uplink-b", "portal", "dns")
            cut_at = time.time()
            lab.cut("uplink")
            wait_hooks(sink, 1)
            time.sleep(5)  # several more intervals: no second alert for the other uplink
            got = hooks(sink)
            assert [(n["kind"], n["members"]) for n in got] == [
                ("firing", ["uplink", "uplink-b"])], got
            note = got[0]
            assert note["affected"] == ["dns", "portal"]
            # the first failure is the first probe after the cut: within one interval (1 s)
            # plus that probe's own timeout (600 ms)
            assert 0 <= note["first_failure"] - cut_at <= 1.0 + 0.6 + 0.1, \
                note["first_failure"] - cut_at
            text = note["text"]
            assert "Akar masalah: uplink dan uplink-b putus — dns, portal terdampak" in text
            assert "koneksi internet kantor putus total" in text
            assert note["title"].startswith("[KRITIS] GANGGUAN uplink dan uplink-b")
            lab.restore("uplink")
            wait_hooks(sink, 3)
            time.sleep(3)
            assert sorted((n["kind"], n["check"]) for n in hooks(sink)[1:]) == [
                ("resolved", "uplink"), ("resolved", "uplink-b")]
