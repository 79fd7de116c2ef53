"""Two ISPs with two cables: the real agent in the office namespace, each uplink check on its
own ISP, the services reachable through either.

    office --lan-- router --uplink--  isp  --transit--  internet (portal, dns)
                          `-uplink2-- isp2 --transit2-'

The router prefers `uplink` and falls over to `uplink2` (OfficeLab(second_uplink=True)). So
cutting one cable is one uplink down while the portal and DNS stay up; cutting both is the
office cut off, which must arrive as one notification naming both uplinks and what they take
down. No check sets a `role`: the agent derives it from depends_on_any.
Needs root: `pytest tests/lab/test_two_uplinks_lab.py -m lab`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.agent import RunningAgent, pick, run_agent
from tests.helpers.notify_peers import webhook_sink
from tests.lab.office import OfficeLab
from tests.lab.test_alerting_lab import SERVERS, hooks, up, wait_hooks

NET = "10.200.2.2"  # the lab's internet host (portal, DNS)
PORT = 2600  # the TCP listener at each ISP's end of its cable (the uplink checks)
INTERVAL, TIMEOUT = 1.0, 0.6


@pytest.fixture(scope="module")
def lab2() -> Iterator[OfficeLab]:
    with OfficeLab(second_uplink=True) as lab:
        for role, addr in (("isp", lab.addresses["isp_uplink"]),
                           ("isp2", lab.addresses["isp2_uplink2"])):
            lab.popen(role, [lab.python_exe, SERVERS, "banner", "--host", addr, "--port",
                             str(PORT), "--text", role])
            deadline = time.monotonic() + 10
            while lab.exec(role, ["ss", "-ltnH", f"sport = :{PORT}"]).stdout == "":
                assert time.monotonic() < deadline, f"{role} listener did not start"
                time.sleep(0.1)
        yield lab


def two_isp_config(lab: OfficeLab, state_dir: Path, hook_url: str) -> dict[str, Any]:
    t, i = f"{TIMEOUT * 1000:g}ms", f"{INTERVAL:g}s"
    both = ["uplink-telkom", "uplink-indihome"]
    return {
        "site": "dpmptsp-lab",
        "state_dir": str(state_dir),
        "host": {"enabled": False},
        "checks": [
            {"name": "uplink-telkom", "type": "tcp",
             "target": f"{lab.addresses['isp_uplink']}:{PORT}", "interval": i, "timeout": t},
            {"name": "uplink-indihome", "type": "tcp",
             "target": f"{lab.addresses['isp2_uplink2']}:{PORT}", "interval": i, "timeout": t},
            {"name": "portal", "type": "http", "target": f"http://{NET}/health",
             "interval": i, "timeout": t, "depends_on_any": both},
            {"name": "dns", "type": "dns", "target": NET, "query_name": "portal.lab.test",
             "interval": i, "timeout": t, "depends_on_any": both},
        ],
        "alerts": {
            "language": "id", "timezone": "WIB",
            "damping": {"failures": 2, "successes": 2},
            "initial_backoff": "500ms", "max_backoff": "2s",
            "receivers": [{"name": "hook", "type": "webhook", "url": hook_url}],
        },
    }


def changes(agent: RunningAgent, check: str) -> list[float]:
    return pick(agent.scrape(), "pantau_check_state_changes_total", check=check)


def test_one_uplink_cut_fails_over_both_cut_one_notification(lab2: OfficeLab,
                                                             tmp_path: Path) -> None:
    office = lab2.ns["office"]
    with webhook_sink(tmp_path / "sink", "127.0.0.1", 18083, netns=office) as sink:
        cfg = two_isp_config(lab2, tmp_path / "state", f"{sink.url}/hook")
        with run_agent(cfg, tmp_path / "agent", netns=office) as agent:
            up(agent, "uplink-telkom", "uplink-indihome", "portal", "dns")
            before = {c: changes(agent, c) for c in ("portal", "dns")}

            # 1. Telkom's cable cut: one notification about Telkom; the services go on
            # through Indihome and nobody is told about them.
            lab2.cut("uplink")
            got = wait_hooks(sink, 1)
            watch_until = time.monotonic() + 6 * INTERVAL
            while time.monotonic() < watch_until:
                m = agent.scrape()
                for c in ("portal", "dns"):
                    assert pick(m, "pantau_check_up", check=c) == [1.0], (c, m)
                time.sleep(0.2)
            got = hooks(sink)
            assert [(n["kind"], n["check"], n["members"]) for n in got] == [
                ("firing", "uplink-telkom", [])], got
            assert got[0]["labels"].get("role") == "uplink"  # derived, nobody set it
            assert got[0]["affected"] == []
            assert {c: changes(agent, c) for c in ("portal", "dns")} == before
            lab2.restore("uplink")
            got = wait_hooks(sink, 2)
            assert [(n["kind"], n["check"]) for n in got[1:]] == [("resolved", "uplink-telkom")]
            up(agent, "uplink-telkom", "uplink-indihome", "portal", "dns")

            # 2. Both cables cut: the office is cut off. One notification, both uplinks,
            # the checks they take down, the first failure within one interval of the cut.
            cut_at = time.time()
            lab2.cut("uplink")
            lab2.cut("uplink2")
            wait_hooks(sink, 3)
            time.sleep(5 * INTERVAL)  # several more intervals: nothing else arrives
            got = hooks(sink)[2:]
            assert [(n["kind"], sorted(n["members"])) for n in got] == [
                ("firing", ["uplink-indihome", "uplink-telkom"])], got
            note = got[0]
            assert note["affected"] == ["dns", "portal"]
            # the first probe after the cut fails: within one interval plus its own timeout
            lag = note["first_failure"] - cut_at
            assert 0 <= lag <= INTERVAL + TIMEOUT + 0.1, lag
            text = note["text"]
            members = " dan ".join(note["members"])
            assert f"Akar masalah: {members} putus — dns, portal terdampak" in text, text
            assert "koneksi internet kantor putus total" in text
            assert note["title"].startswith(f"[KRITIS] GANGGUAN {members}"), note["title"]

            # 3. Both back: each uplink recovers; the services, never announced, send
            # no recovery of their own.
            lab2.restore("uplink")
            lab2.restore("uplink2")
            wait_hooks(sink, 5)
            up(agent, "uplink-telkom", "uplink-indihome", "portal", "dns")
            time.sleep(3 * INTERVAL)
            assert sorted((n["kind"], n["check"]) for n in hooks(sink)[3:]) == [
                ("resolved", "uplink-indihome"), ("resolved", "uplink-telkom")]
            print(f"two uplinks: Telkom cut -> 1 notification, services up throughout; "
                  f"both cut -> 1 grouped notification, first failure {lag:.2f} s after "
                  f"the cut; restore -> 2 recoveries")
