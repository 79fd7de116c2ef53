"""Checks cut off by an upstream failure are recorded "unreachable", apart from "down", and
route changes are events in the history (with a notification only when asked for): the real
alerting engine writing a real SQLite history, fed results in an exact order."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from agent.alerting import Alerting
from agent.alerting.engine import AlertsConfig
from agent.history import History
from agent.reports.availability import compute, outages_from_transitions
from agent.reports.history_source import sites_from_history
from agent.store import Store
from collectors.base import Observation
from collectors.config import CheckConfig
from collectors.probe.path import PathConfig


def _config(tmp_path: Path, checks: list[Any], **alerts: Any) -> SimpleNamespace:
    return SimpleNamespace(site="kantor", state_dir=tmp_path, checks=checks,
                           alerts=AlertsConfig.model_validate(alerts))


def _run(cfg: SimpleNamespace, steps: Callable[[Store, Callable[[], Awaitable[None]]],
                                                Awaitable[None]]) -> None:
    async def scenario() -> None:
        store = Store("kantor")
        alerting = Alerting(cfg, store, None, "kantor")  # type: ignore[arg-type]
        await alerting.start()

        async def settled() -> None:  # every queued change written to the history
            for _ in range(200):
                await asyncio.sleep(0.01)
                if not alerting._queue:
                    return
            raise AssertionError("history writes did not finish")

        try:
            await steps(store, settled)
        finally:
            await alerting.stop()

    asyncio.run(scenario())


def _states(tmp_path: Path) -> dict[str, list[tuple[str, str]]]:
    h = History.open(tmp_path, "kantor", readonly=True)
    try:
        out: dict[str, list[tuple[str, str]]] = {}
        for c in h.state_changes():
            out.setdefault(c.check, []).append((c.old, c.new))
        return out
    finally:
        h.close()


def _put(store: Store, name: str, ok: bool, reason: str = "") -> None:
    store.put(f"check:{name}", name, "tcp", Observation(ok, reason=reason), per_check=True)


CHECKS = [CheckConfig(name="uplink", type="tcp", target="a:1"),
          CheckConfig(name="portal", type="tcp", target="b:1", depends_on=["uplink"])]


def test_cut_off_upstream_is_recorded_unreachable_and_reported_apart(tmp_path: Path) -> None:
    cfg = _config(tmp_path, CHECKS, damping={"failures": 2, "successes": 1}, settle="60s")

    async def steps(store: Store, settled: Callable[[], Awaitable[None]]) -> None:
        for name in ("uplink", "portal"):
            _put(store, name, True)
        # the portal reaches its damping first, while the uplink is failing but not yet down:
        # held, recorded "down" for a moment, then "unreachable" once the uplink is down
        _put(store, "uplink", False, "connection refused")
        _put(store, "portal", False, "connection refused")
        _put(store, "portal", False, "connection refused")
        await settled()
        assert _states(tmp_path)["portal"][-1] == ("up", "down")
        _put(store, "uplink", False, "connection refused")
        await settled()
        # the uplink comes back; the portal stays down on its own: its own outage from now
        _put(store, "uplink", True)
        _put(store, "portal", False, "connection refused")
        _put(store, "portal", False, "connection refused")
        await settled()
        _put(store, "portal", True)
        await settled()

    _run(cfg, steps)
    states = _states(tmp_path)
    assert states["uplink"] == [("unknown", "up"), ("up", "down"), ("down", "up")]
    assert states["portal"] == [("unknown", "up"), ("up", "unreachable"),
                                ("unreachable", "down"), ("down", "up")]
    h = History.open(tmp_path, "kantor", readonly=True)
    try:
        assert {r.check: r.state for r in h.status()} == {"uplink": "up", "portal": "up"}
    finally:
        h.close()
    # the report: the portal's outage counts as caused upstream
    site_cfg = SimpleNamespace(site="kantor", state_dir=tmp_path,
                               checks=[SimpleNamespace(name=c.name) for c in CHECKS])
    period = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
    site = sites_from_history(site_cfg, period)[0]  # type: ignore[arg-type]
    portal = [o for o in site.outages if o.check == "portal"]
    assert len(portal) == 1 and portal[0].unreachable and portal[0].upstream
    uplink = [o for o in site.outages if o.check == "uplink"]
    assert len(uplink) == 1 and not uplink[0].unreachable and not uplink[0].upstream
    row = compute("portal", "kantor", 0.99, period, site.outages, [],
                  site.monitored_from["portal"], datetime.now(UTC))
    assert row.upstream_downtime_seconds == row.downtime_seconds > 0
    assert row.upstream_causes == ["uplink"]


def test_unreachable_alone_opens_an_outage() -> None:
    from agent.reports.availability import Transition

    t0 = datetime(2026, 11, 2, 8, tzinfo=UTC)
    got = outages_from_transitions([
        Transition(t0, "portal", "unreachable", "", "timeout"),
        Transition(t0.replace(hour=9), "portal", "up")])
    assert len(got) == 1 and got[0].unreachable and got[0].upstream
    assert got[0].end == t0.replace(hour=9)


def test_restart_keeps_unreachable(tmp_path: Path) -> None:
    cfg = _config(tmp_path, CHECKS, damping={"failures": 1, "successes": 1})

    async def down(store: Store, settled: Callable[[], Awaitable[None]]) -> None:
        _put(store, "uplink", False, "connection refused")
        _put(store, "portal", False, "connection refused")
        await settled()

    async def up(store: Store, settled: Callable[[], Awaitable[None]]) -> None:
        _put(store, "uplink", True)
        _put(store, "portal", True)
        await settled()

    _run(cfg, down)
    _run(cfg, up)  # a new agent, restored from the history
    assert _states(tmp_path)["portal"] == [("unknown", "unreachable"), ("unreachable", "up")]


CHANGE = {"old": [["10.0.0.1"], ["10.1.0.1"], ["10.2.0.1"]],
          "new": [["10.0.0.1"], ["10.30.0.1"], ["10.2.0.1"]],
          "via": ["ISP cadangan"], "target": "portal", "old_hash": "a", "new_hash": "b"}


def _path_run(tmp_path: Path, alert: bool) -> tuple[list[Any], list[tuple[str, str]]]:
    check = PathConfig.model_validate({"name": "portal-path", "type": "path",
                                       "target": "10.2.0.1", "alert_on_change": alert})
    cfg = _config(tmp_path, [check], language="id")

    async def steps(store: Store, settled: Callable[[], Awaitable[None]]) -> None:
        for i in range(3):
            details = {"path_change": CHANGE} if i == 1 else {}
            store.put("check:portal-path", "portal-path", "path",
                      Observation(True, details=details), per_check=True)
        await settled()

    _run(cfg, steps)
    h = History.open(tmp_path, "kantor", readonly=True)
    try:
        notes = [(str(r[0]), str(r[1])) for r in h.conn.execute(
            "SELECT kind, payload FROM notifications ORDER BY id").fetchall()]
        return h.events(), notes
    finally:
        h.close()


def test_route_change_is_an_event_and_notifies_only_when_asked(tmp_path: Path) -> None:
    events, notes = _path_run(tmp_path / "quiet", alert=False)
    assert [(e.check, e.kind, e.text) for e in events] == [
        ("portal-path", "path_change", "route to portal changed: via ISP cadangan")]
    assert events[0].detail["new"][1] == ["10.30.0.1"]
    assert notes == []
    events, notes = _path_run(tmp_path / "loud", alert=True)
    assert len(events) == 1
    assert [k for k, _ in notes] == ["path_change"]
    assert "rute ke portal berubah: lewat ISP cadangan" in notes[0][1]
    assert "10.0.0.1 > 10.30.0.1 > 10.2.0.1" in notes[0][1]


def test_route_change_on_the_report_timeline(tmp_path: Path) -> None:
    import json

    from agent.reports.build import build_report
    from agent.reports.config import ReportsConfig
    from agent.reports.render import to_html, to_json

    _path_run(tmp_path, alert=False)
    site_cfg = SimpleNamespace(site="kantor", state_dir=tmp_path,
                               checks=[SimpleNamespace(name="portal-path")])
    now = datetime.now(UTC)
    period = (datetime(now.year, now.month, 1, tzinfo=UTC), now.replace(year=now.year + 1))
    sites = sites_from_history(site_cfg, period, now=now)  # type: ignore[arg-type]
    report = build_report(sites, period, ReportsConfig(), lang="id", now=now)
    assert [(e.check, e.kind) for e in report.events] == [("portal-path", "path_change")]
    html = to_html(report)
    assert html.count("rute ke portal berubah: lewat ISP cadangan") == 2  # mark + table row
    assert 'class="route"' in html and 'id="event-table"' in html
    doc = json.loads(to_json(report))
    assert [(e["check"], e["text"]) for e in doc["events"]] == [
        ("portal-path", "rute ke portal berubah: lewat ISP cadangan")]
    # a period without it lists none
    before = (period[0].replace(year=period[0].year - 1), period[0])
    earlier = build_report(sites_from_history(site_cfg, before, now=now),  # type: ignore[arg-type]
                           before, ReportsConfig(), lang="id", now=now)
    assert earlier.events == [] and 'id="event-table"' not in to_html(earlier)


def test_recorded_root_cause_follows_the_root_further_up(tmp_path: Path) -> None:
    """office <- isp <- portal: the portal is cut off behind the ISP check, which then turns
    out to be cut off behind the office link: the portal's outage names the office link."""
    checks = [CheckConfig(name="office", type="tcp", target="a:1"),
              CheckConfig(name="isp", type="tcp", target="b:1", depends_on=["office"]),
              CheckConfig(name="portal", type="tcp", target="c:1", depends_on=["isp"])]
    cfg = _config(tmp_path, checks, damping={"failures": 1, "successes": 1}, settle="60s")

    async def steps(store: Store, settled: Callable[[], Awaitable[None]]) -> None:
        for name in ("office", "isp", "portal"):
            _put(store, name, True)
        _put(store, "isp", False, "connection refused")
        _put(store, "portal", False, "connection refused")
        await settled()
        _put(store, "office", False, "connection refused")
        await settled()

    _run(cfg, steps)
    h = History.open(tmp_path, "kantor", readonly=True)
    try:
        last = {c.check: c for c in h.state_changes()}
    finally:
        h.close()
    assert (last["portal"].new, last["portal"].root_cause) == ("unreachable", "office")


def test_root_that_recovers_first_stays_the_recorded_root_cause(tmp_path: Path) -> None:
    """internet-router <- portal-path <- portal, damping 2/2 (the lab's order): the router
    goes down first, then the portal (held: its path is failing), then the path. At the end
    the router comes back a moment before the path and the portal: the path is not yet up
    (still attributed to the router while it proves itself), so the portal, behind it, is
    still cut off by the router and its outage must keep naming the router, not the path."""
    checks = [CheckConfig(name="portal-path", type="tcp", target="a:1",
                          depends_on=["internet-router"]),
              CheckConfig(name="portal", type="tcp", target="b:1", depends_on=["portal-path"]),
              CheckConfig(name="internet-router", type="tcp", target="c:1")]
    cfg = _config(tmp_path, checks, damping={"failures": 2, "successes": 2}, settle="20s")

    async def steps(store: Store, settled: Callable[[], Awaitable[None]]) -> None:
        for name in ("portal-path", "portal", "internet-router"):
            _put(store, name, True)
            _put(store, name, True)
        for name in ("portal-path", "internet-router", "portal"):
            _put(store, name, False, "no reply")
        _put(store, "internet-router", False, "no reply")  # down first: the root, notified
        _put(store, "portal", False, "no reply")  # down, held: its path is failing
        _put(store, "portal-path", False, "no reply")  # down: both behind the router
        await settled()
        down = _last_down_rows(tmp_path)
        assert (down["portal"].new, down["portal"].root_cause) == (
            "unreachable", "internet-router")
        # the router recovers first; the path and the portal a moment later
        _put(store, "internet-router", True)
        _put(store, "internet-router", True)
        await settled()
        _put(store, "portal", True)
        _put(store, "portal", True)
        _put(store, "portal-path", True)
        _put(store, "portal-path", True)
        await settled()

    _run(cfg, steps)
    down = _last_down_rows(tmp_path)
    assert (down["portal"].new, down["portal"].root_cause) == ("unreachable", "internet-router")
    assert (down["portal-path"].new, down["portal-path"].root_cause) == (
        "unreachable", "internet-router")
    site_cfg = SimpleNamespace(site="kantor", state_dir=tmp_path,
                               checks=[SimpleNamespace(name=c.name) for c in checks])
    period = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
    site = sites_from_history(site_cfg, period)[0]  # type: ignore[arg-type]
    row = compute("portal", "kantor", 0.99, period, site.outages, [],
                  site.monitored_from["portal"], datetime.now(UTC))
    assert row.upstream_causes == ["internet-router"]


def _last_down_rows(tmp_path: Path) -> dict[str, Any]:
    """check -> its latest history row that opened an outage (down or unreachable)."""
    h = History.open(tmp_path, "kantor", readonly=True)
    try:
        return {c.check: c for c in h.state_changes() if c.new in ("down", "unreachable")}
    finally:
        h.close()
