"""Notifications against real peers: prometheus-alertmanager, a webhook receiver, an SMTP
server that requires STARTTLS, and a Bot API endpoint, all on loopback.

The alerting pipeline is driven through the real Store, so state machine, history, outbox and
outputs run exactly as in the agent; only the probe results are fed by the test.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from agent import __version__
from agent.alerting import Alerting
from agent.alerting.engine import AlertsConfig
from agent.history import History
from agent.store import Store
from collectors.base import Observation
from collectors.config import CheckConfig
from exporters.notify import DeliveryError, TelegramNotifier, TelegramReceiver
from tests.helpers.agent import free_port, run_cli
from tests.helpers.notify_peers import alertmanager, smtp_server, webhook_sink

SITE = "dpmptsp-sleman"
TOKEN = "123456:AAH-very-secret-token-value"


def checks() -> list[CheckConfig]:
    return [
        CheckConfig(name="uplink", type="icmp", target="192.0.2.1", labels={"role": "uplink"}),
        CheckConfig(name="portal", type="http", target="https://portal", depends_on_any=["uplink"],
                    playbook="diagnose", labels={"role": "service"}),
        CheckConfig(name="dns", type="dns", target="resolver", depends_on_any=["uplink"],
                    severity="warning", labels={"role": "service"}),
    ]


def make_config(tmp: Path, receivers: list[dict[str, Any]], **alerts: Any) -> SimpleNamespace:
    cfg = AlertsConfig.model_validate({
        "language": "id", "timezone": "WITA", "damping": {"failures": 2, "successes": 1},
        "initial_backoff": "200ms", "max_backoff": "1s", "settle": "30s",
        "runbook_url": "https://wiki.example/runbook/{check}",
        "receivers": receivers, **alerts,
    })
    return SimpleNamespace(site=SITE, checks=checks(), alerts=cfg, state_dir=tmp / "state")


def feed(store: Store, **results: bool) -> None:
    for name, ok in results.items():
        store.put(f"check:{name}", name, "x",
                  Observation(ok, reason="" if ok else f"{name}: timeout"), per_check=True)


async def until(pred: Callable[[], Any], limit: float = 30.0, what: str = "") -> Any:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        got = pred()
        if got:
            return got
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what or pred}")


def metric(alerting: Alerting, name: str, **labels: str) -> list[float]:
    want = set(labels.items())
    return [s.value for s in alerting.samples() if s.name == name and want <= set(s.labels)]


def run(coro: Awaitable[None]) -> None:
    asyncio.run(asyncio.wait_for(coro, 80))


def test_root_cause_only_to_every_receiver_then_all_resolutions(tmp_path: Path) -> None:
    hook_port, am_port, smtp_port = free_port(), free_port(), free_port()
    with webhook_sink(tmp_path / "sink", "127.0.0.1", hook_port) as sink, \
            alertmanager(tmp_path / "am", "127.0.0.1", am_port,
                         webhook_url=f"http://127.0.0.1:{hook_port}/from-am") as am, \
            smtp_server(tmp_path, smtp_port, "pantau", "s3cret-mail") as (mailbox, cert):
        cfg = make_config(tmp_path, [
            {"name": "am", "type": "alertmanager", "url": am.url, "resend_interval": "1s"},
            {"name": "hook", "type": "webhook", "url": f"{sink.url}/hook",
             "hmac_secret": "hook-key"},
            {"name": "mail", "type": "email", "smarthost": f"127.0.0.1:{smtp_port}",
             "from": "pantau@kantor.go.id", "to": ["admin@kantor.go.id"],
             "username": "pantau", "password": "s3cret-mail", "tls_config": {"ca_file": str(cert)}},
            {"name": "tg", "type": "telegram", "bot_token": TOKEN, "chat_id": -1001,
             "api_url": f"{sink.url}/tg"},
        ])

        async def scenario() -> None:
            store = Store(SITE)
            alerting = Alerting(cfg, store, None, SITE)
            await alerting.start()
            try:
                feed(store, uplink=True, portal=True, dns=True)
                # the cut: services fail first, the uplink reaches its damping last
                for _ in range(2):
                    feed(store, portal=False, dns=False)
                    feed(store, uplink=False)
                await until(lambda: metric(alerting, "pantau_outbox_pending") == [0.0]
                            and metric(alerting, "pantau_notifications_total",
                                       receiver="mail", result="sent") == [1.0], what="delivery")
                assert metric(alerting, "pantau_check_root_cause", check="portal",
                              cause="uplink") == [1.0]
                assert metric(alerting, "pantau_check_up", check="uplink") == [0.0]
                hooks = [r for r in sink.records("/hook")]
                assert [(r["body"]["kind"], r["body"]["check"]) for r in hooks] == [
                    ("firing", "uplink")]
                sig = hmac.new(b"hook-key", hooks[0]["raw"].encode(), hashlib.sha256).hexdigest()
                assert hooks[0]["headers"]["x-pantau-signature"] == f"sha256={sig}"
                assert hooks[0]["headers"]["idempotency-key"] == hooks[0]["body"]["id"]
                assert hooks[0]["headers"]["user-agent"] == f"pantau/{__version__}"
                assert hooks[0]["body"]["affected"] == ["dns", "portal"]
                assert hooks[0]["body"]["first_failure"] < hooks[0]["body"]["since"]
                active = am.alerts()
                assert [a["labels"]["check"] for a in active] == ["uplink"]
                labels = active[0]["labels"]
                assert labels["site"] == SITE and labels["severity"] == "critical"
                assert labels["alertname"] == "PantauCheckDown" and labels["role"] == "uplink"
                assert active[0]["annotations"]["runbook"].endswith("/runbook/uplink")
                assert "uplink" in active[0]["annotations"]["summary"]
                # kept alive like Prometheus does: re-sent with a later endsAt, never duplicated
                first_end = active[0]["endsAt"]
                await until(lambda: [a["endsAt"] > first_end for a in am.alerts()] == [True],
                            10, "alertmanager refresh")
                assert len(mailbox.messages) == 1
                mail = mailbox.messages[0]
                assert mail["tls"] and mail["auth"] and "uplink" in mail["data"]
                assert "WITA" in mail["data"]
                tg = sink.records(f"/tg/bot{TOKEN}/sendMessage")
                assert len(tg) == 1 and tg[0]["body"]["chat_id"] == "-1001"
                assert "GANGGUAN" in tg[0]["body"]["text"]

                # Alertmanager itself routed it on (group_wait 1s) before we restore
                await until(lambda: sink.records("/from-am"), what="alertmanager notifies")
                fired = sink.records("/from-am")[0]["body"]
                assert fired["status"] == "firing"
                assert [a["labels"]["check"] for a in fired["alerts"]] == ["uplink"]

                # restore: only the announced outage resolves; dns and portal were named as
                # affected in the uplink's alert and were never announced on their own
                feed(store, uplink=True, portal=True, dns=True)
                await until(lambda: len(sink.records("/hook")) == 2, what="resolutions")
                await until(lambda: metric(alerting, "pantau_outbox_pending") == [0.0])
                await asyncio.sleep(0.5)  # would a resolution for dns or portal follow?
                resolved = sorted((r["body"]["check"], r["body"]["kind"])
                                  for r in sink.records("/hook")[1:])
                assert resolved == [("uplink", "resolved")]
                await until(lambda: len(mailbox.messages) == 2, what="mails")
                assert len(sink.records(f"/tg/bot{TOKEN}/sendMessage")) == 2
                await until(lambda: am.alerts() == [], what="alertmanager resolution")
                # Alertmanager itself notified the firing and then the resolution of uplink
                await until(lambda: any(r["body"]["status"] == "resolved"
                                        for r in sink.records("/from-am")), 20)
                from_am = sink.records("/from-am")
                assert {a["labels"]["check"] for r in from_am for a in r["body"]["alerts"]} \
                    == {"uplink"}
            finally:
                await alerting.stop()

        run(scenario())
        h = History.open(tmp_path / "state", SITE, readonly=True)
        try:
            changes = [(c.check, c.new, c.root_cause) for c in h.state_changes()]
            assert ("portal", "unreachable", "uplink") in changes  # cut off upstream
            assert ("uplink", "down", "uplink") in changes
            rows = h.notifications()
            assert {r["status"] for r in rows} == {"delivered"}
            assert len(rows) == 2 * 4  # 2 notifications x 4 receivers
        finally:
            h.close()


def test_undeliverable_notifications_are_held_then_delivered_in_order_once(
        tmp_path: Path) -> None:
    hook_port = free_port()
    cfg = make_config(tmp_path, [{"name": "hook", "type": "webhook",
                                  "url": f"http://127.0.0.1:{hook_port}/hook"}])

    async def phase1() -> None:
        # receiver not running at all: connection refused, retried with backoff
        store = Store(SITE)
        alerting = Alerting(cfg, store, None, SITE)
        await alerting.start()
        try:
            feed(store, uplink=True, portal=True, dns=True)
            for _ in range(2):
                feed(store, uplink=False)
            feed(store, uplink=True)  # down -> up -> down: three notifications
            for _ in range(2):
                feed(store, uplink=False)
            await until(lambda: metric(alerting, "pantau_notifications_total",
                                       receiver="hook", result="retry")[0] >= 2)
            assert metric(alerting, "pantau_outbox_pending") == [3.0]
        finally:
            await alerting.stop()  # the agent stops with notifications still owed

    run(phase1())
    with webhook_sink(tmp_path / "sink", "127.0.0.1", hook_port) as sink:
        sink.fail_next(2)  # and the receiver has a bad moment when it comes back

        async def phase2() -> None:
            store = Store(SITE)
            alerting = Alerting(cfg, store, None, SITE)  # a restarted agent
            await alerting.start()
            try:
                await until(lambda: metric(alerting, "pantau_outbox_pending") == [0.0],
                            what="outbox drained")
            finally:
                await alerting.stop()

        run(phase2())
        ok = [r for r in sink.records("/hook") if r["status"] == 200]
        assert [r["body"]["kind"] for r in ok] == ["firing", "resolved", "firing"]
        assert len({r["body"]["id"] for r in ok}) == 3
        assert len(sink.records("/hook")) == 5  # two refused by the receiver, retried


def test_telegram_token_never_in_logs_or_errors(tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    # The remote writer quiets the process-wide "httpx" logger to WARNING; undo that here so
    # the request lines that would carry the token are really emitted (and redacted).
    caplog.set_level(logging.DEBUG, logger="httpx")
    port = free_port()
    with webhook_sink(tmp_path / "sink", "127.0.0.1", port) as sink:
        n = TelegramNotifier(TelegramReceiver.model_validate(
            {"name": "tg", "type": "telegram", "bot_token": TOKEN, "chat_id": "42",
             "api_url": f"{sink.url}/tg"}))

        async def go() -> list[str]:
            errors = []
            alerting = Alerting(make_config(tmp_path, []), Store(SITE), None, SITE)
            note = alerting.test_notification("tg")
            await n.send(note, 5)
            sink.fail_next(1, 502)
            try:
                await n.send(note, 5)
            except DeliveryError as e:
                errors.append(str(e))
            await n.aclose()
            dead = TelegramNotifier(TelegramReceiver.model_validate(
                {"name": "tg2", "type": "telegram", "bot_token": TOKEN, "chat_id": "42",
                 "api_url": f"http://127.0.0.1:{free_port()}"}))
            try:
                await dead.send(note, 2)
            except DeliveryError as e:
                errors.append(str(e))
            await dead.aclose()
            return errors

        errors = asyncio.run(go())
        assert len(sink.records(f"/tg/bot{TOKEN}/sendMessage")) == 2  # it really used the token
    assert len(errors) == 2
    # httpx logs every request URL: the filter must have redacted the token out of it
    assert "bot<redacted>/sendMessage" in caplog.text
    for text in [caplog.text, *errors]:
        assert TOKEN not in text
        assert "AAH-very-secret" not in text


def test_cli_alerts_test_and_history(tmp_path: Path) -> None:
    port = free_port()
    with webhook_sink(tmp_path / "sink", "127.0.0.1", port) as sink:
        conf = tmp_path / "pantau.yml"
        conf.write_text(json.dumps({
            "site": SITE, "state_dir": str(tmp_path / "state"), "host": {"enabled": False},
            "alerts": {"language": "en", "receivers": [
                {"name": "hook", "type": "webhook", "url": f"{sink.url}/hook"},
                {"name": "dead", "type": "webhook", "url": f"http://127.0.0.1:{free_port()}/"},
            ]},
        }))
        r = run_cli("alerts", "test", "hook", "--config", str(conf))
        assert r.returncode == 0, r.stderr
        recs = sink.records("/hook")
        assert len(recs) == 1 and recs[0]["body"]["kind"] == "test"
        assert "test message" in recs[0]["body"]["text"]
        r = run_cli("alerts", "test", "nope", "--config", str(conf))
        assert r.returncode == 2 and "unknown receiver 'nope'" in r.stderr
        assert "Traceback" not in r.stderr
        r = run_cli("alerts", "test", "dead", "--config", str(conf))
        assert r.returncode == 1 and "ConnectError" in r.stderr and "Traceback" not in r.stderr
        r = run_cli("alerts", "history", "--config", str(conf))
        assert r.returncode == 2 and "no history" in r.stderr
        h = History.open(tmp_path / "state", SITE)
        from agent.history import ChangeRow
        h.record([ChangeRow("uplink", time.time(), "up", "down", "timeout", "uplink", "firing")],
                 [], [])
        h.close()
        r = run_cli("alerts", "history", "--config", str(conf))
        assert r.returncode == 0, r.stderr
        assert "uplink" in r.stdout and "up->down" in r.stdout
