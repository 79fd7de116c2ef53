"""Alert texts an on-call admin reads on a phone, compared with golden files in
tests/testdata/alerts/ (Bahasa Indonesia and English): a single failure, dependants
suppressed behind their root, the whole uplink group down, recovery, an outage never
announced (no message at all) and flapping. The texts come from the engine's own path
(state machine -> Alerting._notification -> messages.render), fed with results at exact
times. PANTAU_UPDATE_GOLDEN=1 rewrites the files; review the diff before committing."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from agent.alerting import Alerting
from agent.alerting.engine import AlertsConfig
from agent.alerting.state import Outcome
from agent.store import Store
from collectors.config import CheckConfig

GOLDEN = Path(__file__).resolve().parents[1] / "testdata" / "alerts"
T0 = datetime(2026, 12, 1, 2, 0, tzinfo=ZoneInfo("Asia/Makassar")).timestamp()
UPLINKS = ["uplink-telkom", "uplink-indihome"]


def office(lang: str) -> Alerting:
    checks = [
        CheckConfig(name="uplink-telkom", type="icmp", target="203.0.113.1"),
        CheckConfig(name="uplink-indihome", type="icmp", target="198.51.100.1"),
        CheckConfig(name="server-web", type="tcp", target="10.20.0.10:443"),
        CheckConfig(name="dns", type="dns", target="10.20.0.53:53", depends_on_any=UPLINKS),
        CheckConfig(name="portal-perizinan", type="http",
                    target="https://perizinan.contoh.go.id/", depends_on=["server-web"],
                    depends_on_any=UPLINKS),
        CheckConfig(name="sipd", type="http", target="https://sipd.contoh.go.id/",
                    depends_on=["server-web"]),
    ]
    cfg = SimpleNamespace(
        site="diskominfo-kab-contoh", state_dir=Path("/nonexistent"), checks=checks,
        alerts=AlertsConfig.model_validate({
            "language": lang, "timezone": "WITA", "settle": "120s",
            "damping": {"failures": 3, "successes": 2},
            "status_url": "http://10.20.0.5:9877/status",
            "dashboard_url": "http://10.20.0.5:3000/d/pantau?var-site={site}&var-check={check}",
            "runbook_url": "https://wiki.contoh.go.id/runbook/{check}",
        }))
    return Alerting(cfg, Store("diskominfo-kab-contoh"))  # type: ignore[arg-type]


REASONS = {
    "uplink-telkom": "no reply from 203.0.113.1 (3 echo requests lost)",
    "uplink-indihome": "no reply from 198.51.100.1 (3 echo requests lost)",
    "server-web": "connection refused",
    "dns": "DNS rcode SERVFAIL",
    "portal-perizinan": "timeout after 10.0s while connecting",
    "sipd": "timeout after 10.0s while connecting",
}


class Run:
    def __init__(self, lang: str) -> None:
        self.a = office(lang)
        self.out = Outcome()
        self.t = T0
        self.step(ok=list(self.a.checks), times=2)  # everything up first

    def step(self, ok: list[str] = (), fail: list[str] = (), times: int = 1,  # type: ignore[assignment]
             every: float = 10.0) -> None:
        for _ in range(times):
            for name in fail:
                self.out.extend(self.a.machine.observe(name, False, self.t, REASONS[name]))
            for name in ok:
                self.out.extend(self.a.machine.observe(name, True, self.t, ""))
            self.t += every

    def messages(self) -> list[str]:
        return [f"=== {n.title}\n{n.text}" for n in
                (self.a._notification(x) for x in self.out.notices)]


def single_failure(r: Run) -> None:
    r.step(fail=["dns"], ok=UPLINKS, times=3)


def suppressed_dependants(r: Run) -> None:
    r.step(fail=["portal-perizinan", "sipd"])  # the services fail first, the server after
    r.step(fail=["portal-perizinan", "sipd", "server-web"], times=3)


def uplink_group_down(r: Run) -> None:
    r.step(fail=["dns", "portal-perizinan"])  # the cable is cut: services notice first
    r.step(fail=["dns", "portal-perizinan", "uplink-telkom", "uplink-indihome"], times=3)


def recovery(r: Run) -> None:
    uplink_group_down(r)
    r.out = Outcome()
    r.step(fail=["dns", "portal-perizinan", *UPLINKS], times=30)  # five minutes later
    r.step(ok=[*UPLINKS, "dns", "portal-perizinan"], times=2)


def never_announced(r: Run) -> None:
    r.step(fail=["dns"])
    r.step(fail=["dns", *UPLINKS], times=2)  # dns down, held: both uplinks failing
    r.step(ok=["dns", *UPLINKS], times=2)  # all back before the uplinks were down


def flapping(r: Run) -> None:
    for _ in range(5):  # blips shorter than the damping: nothing
        r.step(fail=["sipd"])
        r.step(ok=["sipd"])
    r.step(fail=["sipd"], times=3)
    r.step(ok=["sipd"], times=2)
    r.step(fail=["sipd"], times=3)


SCENARIOS: dict[str, Callable[[Run], None]] = {
    f.__name__: f for f in (single_failure, suppressed_dependants, uplink_group_down, recovery,
                            never_announced, flapping)
}


@pytest.mark.parametrize("lang", ["id", "en"])
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_alert_text_golden(name: str, lang: str) -> None:
    r = Run(lang)
    SCENARIOS[name](r)
    got = "\n".join(r.messages())
    path = GOLDEN / f"{name}.{lang}.txt"
    if os.environ.get("PANTAU_UPDATE_GOLDEN"):
        path.write_text(got, encoding="utf-8")
    assert got == path.read_text(encoding="utf-8"), f"{path} differs:\n{got}"


def _kinds(name: str) -> list[tuple[str, str, tuple[str, ...]]]:
    r = Run("id")
    SCENARIOS[name](r)
    return [(n.kind, n.check, n.members) for n in r.out.notices]


def test_what_each_scenario_sends() -> None:
    """The golden files hold the words; these are the facts they must show."""
    assert _kinds("single_failure") == [("firing", "dns", ())]
    assert _kinds("suppressed_dependants") == [("firing", "server-web", ())]
    assert _kinds("uplink_group_down") == [
        ("firing", "uplink-telkom", ("uplink-indihome", "uplink-telkom"))]
    assert sorted(_kinds("recovery")) == [("resolved", "uplink-indihome", ()),
                                          ("resolved", "uplink-telkom", ())]
    assert _kinds("never_announced") == []
    assert _kinds("flapping") == [("firing", "sipd", ()), ("resolved", "sipd", ()),
                                  ("firing", "sipd", ())]


ENGLISH = re.compile(r"\b(CRITICAL|DOWN|RESOLVED|Check|since|Reason|Root cause|failing|"
                     r"no reply|echo requests|timeout after|while|connection refused|rcode|"
                     r"First failure|affected|for)\b")


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_indonesian_alerts_have_no_english(name: str) -> None:
    r = Run("id")
    SCENARIOS[name](r)
    text = "\n".join(r.messages())
    text = re.sub(r"https?://\S+", "", text)  # links are links
    assert ENGLISH.findall(text) == []


def test_group_behind_a_gateway_is_not_called_the_office_internet() -> None:
    from agent.alerting.messages import render
    from collectors.common.timefmt import resolve_zone

    kw: dict[str, object] = dict(site="s", check="a", at=T0, since=T0, members=("a", "b"),
                                 affected=("dns",))
    _, plain = render("firing", "id", resolve_zone("WITA"), **kw)  # type: ignore[arg-type]
    _, total = render("firing", "id", resolve_zone("WITA"), office_cut_off=True,
                      **kw)  # type: ignore[arg-type]
    assert "putus total" not in plain and "koneksi internet kantor putus total" in total


def test_alertmanager_alert_starts_at_the_first_failure() -> None:
    from exporters.notify.alertmanager import alert_payload

    r = Run("en")
    uplink_group_down(r)
    (note,) = [r.a._notification(n) for n in r.out.notices]
    alert = alert_payload(note, now=note.at, ttl=300)
    assert alert["startsAt"] == "2026-11-30T18:00:30Z"  # 02:00:30 WITA, first failed ping
    assert note.since - note.first_failure == 20  # declared down two intervals later
    assert alert["annotations"]["affected"] == "dns, portal-perizinan"
    assert alert["annotations"]["group"] == "uplink-indihome, uplink-telkom"
    assert alert["annotations"]["target"] == ("198.51.100.1 (uplink-indihome), "
                                              "203.0.113.1 (uplink-telkom)")
