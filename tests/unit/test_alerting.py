"""Alerting wiring without network peers: alert-triggered playbooks (allowed, rate-limited,
recorded) and the config section's validation."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from agent.alerting import Alerting
from agent.alerting.engine import AlertsConfig
from agent.history import History
from agent.store import Store
from collectors.base import Observation
from collectors.config import CheckConfig


def test_playbooks_run_only_when_allowed_rate_limited_and_recorded(tmp_path: Path) -> None:
    cfg = SimpleNamespace(
        site="kantor", state_dir=tmp_path,
        checks=[CheckConfig(name="modem", type="tcp", target="x:1", playbook="reset@router"),
                CheckConfig(name="web", type="tcp", target="y:1", playbook="wipe@server")],
        alerts=AlertsConfig.model_validate({
            "damping": {"failures": 1, "successes": 1},
            "playbooks": {"enabled": True, "allowed": ["reset"], "max_runs_per_hour": 2}}))
    calls: list[tuple[str, str]] = []

    async def fake_runner(check: str, playbook: str, budget: float) -> tuple[str, str]:
        calls.append((check, playbook))
        return "ok", "modem reset"

    async def scenario() -> None:
        store = Store("kantor")
        alerting = Alerting(cfg, store, None, "kantor")
        alerting.playbook_hook = fake_runner
        await alerting.start()
        try:
            for _ in range(3):  # three outages of the modem, one of the web server
                store.put("check:modem", "modem", "tcp", Observation(False), per_check=True)
                store.put("check:web", "web", "tcp", Observation(False), per_check=True)
                await asyncio.sleep(0.3)
                store.put("check:modem", "modem", "tcp", Observation(True), per_check=True)
                store.put("check:web", "web", "tcp", Observation(True), per_check=True)
                await asyncio.sleep(0.1)
            counts = {dict(s.labels)["result"]: s.value for s in alerting.samples()
                      if s.name == "pantau_alert_playbook_runs_total"}
            assert counts == {"ok": 2, "rate_limited": 1, "not_allowed": 3}
        finally:
            await alerting.stop()

    asyncio.run(scenario())
    assert calls == [("modem", "reset@router")] * 2
    h = History.open(tmp_path, "kantor", readonly=True)
    try:
        runs = [(r["check_name"], r["playbook"], r["status"]) for r in h.playbook_runs()]
    finally:
        h.close()
    assert sorted(runs) == sorted([("modem", "reset@router", "ok")] * 2
                                  + [("modem", "reset@router", "rate_limited")]
                                  + [("web", "wipe@server", "not_allowed")] * 3)


def test_alerts_config_errors_are_clear() -> None:
    with pytest.raises(ValidationError, match="unknown time zone 'Mars'"):
        AlertsConfig.model_validate({"timezone": "Mars"})
    with pytest.raises(ValidationError, match="duplicate receiver name 'a'"):
        AlertsConfig.model_validate({"receivers": [
            {"name": "a", "type": "webhook", "url": "http://x/"},
            {"name": "a", "type": "webhook", "url": "http://y/"}]})
    with pytest.raises(ValidationError, match="must start with http"):
        AlertsConfig.model_validate({"receivers": [
            {"name": "a", "type": "alertmanager", "url": "am:9093"}]})
    with pytest.raises(ValidationError, match="needs bot_token"):
        AlertsConfig.model_validate({"receivers": [
            {"name": "t", "type": "telegram", "chat_id": "1"}]})
    with pytest.raises(ValidationError, match="invalid smarthost"):
        AlertsConfig.model_validate({"receivers": [
            {"name": "m", "type": "email", "smarthost": "mail", "from": "a@b", "to": ["c@d"]}]})
    ok = AlertsConfig.model_validate({"timezone": "wita", "receivers": [
        {"name": "m", "type": "email", "smarthost": "mail:587", "from": "a@b", "to": ["c@d"]}]})
    assert ok.receivers[0].from_ == "a@b"  # type: ignore[union-attr]


def test_check_config_reports_alerts_errors_with_line(tmp_path: Path) -> None:
    from agent.config import ConfigError, parse_config

    text = "site: x\nalerts:\n  language: fr\n  receivers:\n    - {name: a, type: pager}\n"
    with pytest.raises(ConfigError) as e:
        parse_config(text)
    issues = {(i.path, i.line) for i in e.value.issues}
    assert ("alerts.language", 3) in issues
    assert any(p.startswith("alerts.receivers[0]") for p, _ in issues)


def test_backoff_is_exponential_capped_and_jittered() -> None:
    import random

    from collectors.common.retry import backoff

    rng = random.Random(7)
    for attempt, step in ((1, 5.0), (2, 10.0), (3, 20.0), (6, 160.0), (7, 300.0), (30, 300.0)):
        values = [backoff(attempt, 5.0, 300.0, rng) for _ in range(200)]
        assert all(step / 2 <= v <= step for v in values), (attempt, min(values), max(values))
        assert max(values) - min(values) > step / 4  # really jittered, not lockstep


def test_messages_in_both_languages_with_local_time() -> None:
    from agent.alerting.messages import render
    from collectors.common.timefmt import resolve_zone

    at = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC
    title, body = render("firing", "id", resolve_zone("WITA"), site="mpp-makassar",
                         check="isp-telkom", at=at, since=at, first_failure=at - 20,
                         root_cause="isp-telkom", reason="connection refused",
                         playbook="diagnose")
    assert title == "[KRITIS] GANGGUAN isp-telkom — mpp-makassar"
    assert "Gagal pertama: 1 Jan 2026 07:59:40 WITA" in body
    assert "Dinyatakan gangguan: 1 Jan 2026 08:00:00 WITA" in body
    assert "Penyebab teknis: koneksi ditolak" in body
    assert "Akar masalah" not in body  # its own cause, nothing behind it: the title says it
    title, body = render("resolved", "en", resolve_zone("WIT"), site="s", check="portal",
                         at=at + 3725, since=at, root_cause="isp")
    assert title == "[RESOLVED] portal — s"
    assert "recovered at 1 Jan 2026 10:02:05 WIT" in body and "for 1 h 2 min" in body
    _, body = render("resolved", "id", resolve_zone("Asia/Jakarta"), site="s", check="c",
                     at=at + 90, since=at, root_cause="c")
    assert "selama 1 mnt 30 dtk" in body and "WIB" in body


def test_published_series_follow_every_change_with_their_cache(tmp_path: Path) -> None:
    """samples() keeps each check's series while what they show is unchanged; after every
    step (down, suppressed below its root, acknowledged, muted, its own outage once the root
    is back, up again, a reload with new labels) they equal the series made from scratch."""
    def config(role: str) -> SimpleNamespace:
        return SimpleNamespace(
            site="kantor", state_dir=tmp_path,
            checks=[CheckConfig(name="gw", type="tcp", target="x:1", labels={"role": role}),
                    CheckConfig(name="portal", type="tcp", target="y:1", depends_on=["gw"])],
            alerts=AlertsConfig.model_validate({"damping": {"failures": 1, "successes": 1}}))

    def fresh(alerting: Alerting) -> list[object]:
        alerting._series_cache.clear()
        alerting._base_labels.clear()
        alerting._flag_cache.clear()
        return list(alerting.samples())

    def put(store: Store, name: str, ok: bool) -> None:
        store.put(f"check:{name}", name, "tcp", Observation(ok), per_check=True)

    async def scenario() -> None:
        store = Store("kantor")
        alerting = Alerting(config("gateway"), store, None, "kantor")
        await alerting.start()
        seen: list[list[object]] = []
        try:
            async def step() -> None:
                await asyncio.sleep(0.3)
                cached = list(alerting.samples())
                again = list(alerting.samples())
                assert all(a is b for a, b in zip(cached, again, strict=True)
                           if getattr(a, "name", "").startswith("pantau_check_"))
                assert cached == fresh(alerting)
                seen.append(cached)

            put(store, "gw", True)
            put(store, "portal", True)
            await step()
            put(store, "portal", False)  # its own outage first
            await step()
            put(store, "gw", False)  # then its root: the cause moves, no state change
            put(store, "portal", False)
            await step()
            assert await alerting.acknowledge("gw", "Budi", "1", "test") == "ok"
            await step()
            await alerting.mute("portal", 600, "maintenance")
            await step()
            put(store, "gw", True)  # the root is back, portal still down: its own outage
            put(store, "portal", False)
            await step()
            put(store, "gw", True)
            put(store, "portal", True)
            await step()
            await alerting.reload(config("uplink"))  # type: ignore[arg-type]
            await step()
        finally:
            await alerting.stop()
        def value(batch: list[object], name: str, **labels: str) -> float | None:
            for s in batch:
                if s.name == name and labels.items() <= dict(s.labels).items():  # type: ignore[attr-defined]
                    return float(s.value)  # type: ignore[attr-defined]
            return None

        assert value(seen[1], "pantau_check_root_cause", check="portal", cause="portal") == 1.0
        assert value(seen[2], "pantau_check_suppressed", check="portal") == 1.0
        assert value(seen[2], "pantau_check_root_cause", check="portal", cause="gw") == 1.0
        assert value(seen[3], "pantau_check_acknowledged", check="gw") == 1.0
        assert value(seen[4], "pantau_check_muted", check="portal") == 1.0
        assert value(seen[5], "pantau_check_root_cause", check="portal", cause="portal") == 1.0
        assert value(seen[5], "pantau_check_suppressed", check="portal") == 0.0
        assert value(seen[6], "pantau_check_up", check="gw", role="gateway") == 1.0
        assert value(seen[6], "pantau_check_root_cause", check="portal") is None
        assert value(seen[7], "pantau_check_up", check="gw", role="uplink") == 1.0
        assert value(seen[7], "pantau_check_up", check="gw", role="gateway") is None

    asyncio.run(scenario())
