"""On-call from the phone, driven as a user would: the alerting engine and its Telegram bot
against the fake Bot API server over real HTTP on loopback (tests/helpers/telegram_api.py)."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from agent.alerting import Alerting
from agent.alerting.config import AlertsConfig, PlaybookPolicy
from agent.config import AgentConfig
from agent.history import History
from agent.oncall.commands import Invalid, parse
from agent.status import StatusService
from agent.status.data import compute_month
from agent.store import Store
from collectors.base import Observation
from tests.helpers.agent import free_port, pick, run_agent, run_cli
from tests.helpers.telegram_api import FakeTelegram, fake_telegram

ADMIN, ADMIN_CHAT = 501, 1001


def config(tmp: Path, fake: FakeTelegram, lang: str = "id",
           repeat: str | None = "1s") -> AgentConfig:
    alerts: dict[str, Any] = {
        "language": lang, "damping": {"failures": 1, "successes": 1},
        "initial_backoff": "1s",
        "receivers": [{"name": "oncall", "type": "telegram", "bot_token": fake.token,
                       "chat_id": ADMIN_CHAT, "api_url": fake.url,
                       "bot": {"enabled": True, "allowed_user_ids": [ADMIN],
                               "poll_timeout": "1s", "max_backoff": "1s"}}]}
    if repeat:
        alerts["repeat_interval"] = repeat
    return AgentConfig.model_validate({
        "site": "kantor", "state_dir": str(tmp),
        "checks": [{"name": "web", "type": "tcp", "target": "192.0.2.1:80"},
                   {"name": "dns", "type": "tcp", "target": "192.0.2.2:53"}],
        "alerts": alerts})


Scenario = Callable[[Alerting, Store], Awaitable[None]]


def run(cfg: AgentConfig, scenario: Scenario) -> None:
    async def main() -> None:
        store = Store("kantor")
        alerting = Alerting(cfg, store, None, "kantor")
        await alerting.start()
        try:
            await scenario(alerting, store)
        finally:
            await alerting.stop()

    asyncio.run(main())


def fail(store: Store, check: str, ok: bool = False) -> None:
    store.put(f"check:{check}", check, "tcp", Observation(ok, reason="" if ok else "timeout"),
              per_check=True)


async def until(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


def sample(alerting: Alerting, name: str, **labels: str) -> float:
    for s in alerting.samples():
        if s.name == name and all(dict(s.labels).get(k) == v for k, v in labels.items()):
            return s.value
    return 0.0


def alerts_of(fake: FakeTelegram, check: str) -> list[dict[str, Any]]:
    return [m for m in fake.sent if "reply_markup" in m
            and (f"GANGGUAN {check}" in m["text"] or f"DOWN: {check}" in m["text"])]


def replies(fake: FakeTelegram) -> list[str]:
    return [m["text"] for m in fake.sent if "reply_markup" not in m]


def cli_config(tmp: Path) -> Path:
    conf = tmp / "pantau.yml"
    conf.write_text(f"site: kantor\nstate_dir: {tmp}\nchecks:\n"
                    "  - {name: web, type: tcp, target: '192.0.2.1:80'}\n"
                    "  - {name: dns, type: tcp, target: '192.0.2.2:53'}\n")
    return conf


def report_json(tmp: Path) -> dict[str, Any]:
    """`pantau report -f json` over today (WIB days, the report's zone)."""
    now = datetime.now(ZoneInfo("Asia/Jakarta"))
    frm, to = now - timedelta(days=1), now + timedelta(days=1)
    made = run_cli("report", "-c", str(cli_config(tmp)), "--from", f"{frm:%Y-%m-%d}", "--to",
                   f"{to:%Y-%m-%d}", "-f", "json", "-o", str(tmp / "r.json"))
    assert made.returncode == 0, made.stderr
    return dict(json.loads((tmp / "r.json").read_text()))


def test_alert_has_buttons_ack_stops_repeats_and_is_recorded(tmp_path: Path) -> None:
    with fake_telegram() as fake:
        cfg = config(tmp_path, fake)

        async def scenario(al: Alerting, store: Store) -> None:
            fail(store, "web")
            first = await until(lambda: alerts_of(fake, "web"))
            buttons = [b["callback_data"] for row in first[0]["reply_markup"]["inline_keyboard"]
                       for b in row]
            assert buttons == ["ack:web", "mute1h:web", "mute4h:web", "status:web"]
            # unacknowledged: the alert comes again every repeat_interval
            await until(lambda: len(alerts_of(fake, "web")) >= 2, timeout=5)
            fake.press(first[0], "ack:web")
            await until(lambda: fake.answered)
            assert "ditangani oleh admin" in fake.answered[0]["text"]
            edited = await until(lambda: fake.edited)
            assert "ditangani oleh admin" in edited[0]["text"]
            assert edited[0]["message_id"] == first[0]["message_id"]
            await asyncio.sleep(0.5)  # a repeat already queued may still go out
            count = len(alerts_of(fake, "web"))
            await asyncio.sleep(3.0)  # three repeat intervals
            assert len(alerts_of(fake, "web")) == count
            assert sample(al, "pantau_check_acknowledged", check="web") == 1
            status = StatusService(lambda: cfg, lambda: al)
            acks = status.status_doc("id")["acknowledgements"]
            assert [(a["check"], a["by"], a["via"]) for a in acks] == [
                ("web", "admin", "telegram:oncall")]
            # recovery ends the acknowledgement; the next outage alerts and repeats again
            fail(store, "web", ok=True)
            await until(lambda: "web" not in al.acks)
            fail(store, "web")
            await until(lambda: len(alerts_of(fake, "web")) >= count + 2, timeout=6)

        run(cfg, scenario)
        h = History.open(tmp_path, "kantor", readonly=True)
        try:
            acks = h.acknowledgements()
        finally:
            h.close()
        assert [(a["check_name"], a["by_name"], a["by_id"]) for a in acks] == [
            ("web", "admin", str(ADMIN))]
    row = next(r for r in report_json(tmp_path)["checks"] if r["check"] == "web")
    # the first outage was acknowledged, the second (still open) not
    assert [o["acknowledged_by"] for o in row["outage_list"]] == ["admin", None]


def test_unknown_chat_or_user_is_refused_logged_and_counted(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    with fake_telegram() as fake:
        cfg = config(tmp_path, fake, repeat=None)

        async def scenario(al: Alerting, store: Store) -> None:
            fake.user_says("/mute web 4h", user_id=999, username="orang")
            fake.user_says("/status", chat_id=2002)  # the right user, a foreign chat
            await until(lambda: len(replies(fake)) >= 2)
            assert all("tidak berwenang" in t for t in replies(fake))
            fail(store, "web")
            alert = (await until(lambda: alerts_of(fake, "web")))[0]
            fake.press(alert, "ack:web", user_id=999, username="orang")
            await until(lambda: fake.answered)
            assert fake.answered[0]["show_alert"] is True
            assert sample(al, "pantau_oncall_refused_total", receiver="oncall") == 3
            assert al.acks == {} and not al.muted("web", time.time())
            assert not fake.edited

        run(cfg, scenario)
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == 3 and "user 999" in refused[0]
    assert not any(fake.token in r.getMessage() for r in caplog.records)


def test_mute_is_a_maintenance_window_that_ends_by_itself_and_leaves_the_sla(
        tmp_path: Path) -> None:
    with fake_telegram() as fake:
        cfg = config(tmp_path, fake, repeat=None)

        async def scenario(al: Alerting, store: Store) -> None:
            fake.user_says("/mute web 3s ganti kabel LAN")
            reply = await until(lambda: replies(fake))
            assert "web dibisukan sampai" in reply[0] and "ganti kabel LAN" in reply[0]
            assert al.muted("web", time.time())
            assert sample(al, "pantau_check_muted", check="web") == 1
            fail(store, "web")  # down while muted: recorded, but nobody is woken
            await asyncio.sleep(1.0)
            assert not alerts_of(fake, "web")
            fail(store, "web", ok=True)
            await asyncio.sleep(2.5)
            assert not al.muted("web", time.time())  # ended by itself
            fail(store, "web")
            await until(lambda: alerts_of(fake, "web"))  # alerts again afterwards
            fake.user_says("/mute dns 1h")
            fake.user_says("/unmute dns")
            await until(lambda: any("pemeliharaan diakhiri" in t for t in replies(fake)))
            assert not al.muted("dns", time.time())

        run(cfg, scenario)
        h = History.open(tmp_path, "kantor", readonly=True)
        try:
            windows = h.maintenance_windows()
        finally:
            h.close()
        web = [w for w in windows if w["checks"] == ["web"]]
        assert len(web) == 1 and web[0]["reason"] == "ganti kabel LAN (admin)"
        assert 2.9 < web[0]["end"] - web[0]["start"] < 3.1
        # the outage inside the mute is planned maintenance: not held against the SLA
        avail, maint = compute_month(cfg, time.time())
        assert any(m.reason == "ganti kabel LAN (admin)" for _, m in maint)
        ratio = avail["web"].ratio
        assert ratio is not None and ratio < 1.0  # the later outage counts
        h = History.open(tmp_path, "kantor", readonly=True)
        try:
            downs = [c for c in h.state_changes("web") if c.new == "down"]
        finally:
            h.close()
        assert len(downs) == 2  # both outages are in the history
    # what the admin and the manager see: `pantau maintenance list` and the next report
    listed = run_cli("maintenance", "list", "-c", str(cli_config(tmp_path)))
    assert listed.returncode == 0, listed.stderr
    assert "web  ganti kabel LAN (admin)" in listed.stdout
    report = report_json(tmp_path)
    assert [m["reason"] for m in report["maintenance"] if m["checks"] == ["web"]] == [
        "ganti kabel LAN (admin)"]
    row = next(r for r in report["checks"] if r["check"] == "web")
    assert 2 < row["maintenance_seconds"] <= 3.1
    assert row["outages"] == 1  # the outage inside the mute is not counted against the SLA


def test_commands_in_bahasa_indonesia_and_english(tmp_path: Path) -> None:
    for lang, words in (("id", ["Perintah pantau", "Tidak ada gangguan", "Naik: 0, turun: 1",
                                "Ketersediaan bulan ini", "ditangani oleh admin"]),
                        ("en", ["pantau commands", "Nothing is down", "Up: 0, down: 1",
                                "Availability this month", "acknowledged by admin"])):
        with fake_telegram() as fake:
            cfg = config(tmp_path / lang, fake, lang=lang, repeat=None)

            async def scenario(al: Alerting, store: Store, fake: FakeTelegram = fake,
                               words: list[str] = words, lang: str = lang) -> None:
                fake.user_says("/help")
                fake.user_says("/down@pantau_bot")
                await until(lambda: len(replies(fake)) >= 2)
                fail(store, "web")
                await until(lambda: alerts_of(fake, "web"))
                fake.user_says("/status")
                fake.user_says("/laporan" if lang == "id" else "/report")
                fake.user_says("/ack web")
                await until(lambda: len(replies(fake)) >= 5)
                got = replies(fake)
                for text, want in zip(got, words, strict=True):
                    assert want in text, (text, want)
                alert = alerts_of(fake, "web")[0]
                labels = [b["text"] for r in alert["reply_markup"]["inline_keyboard"]
                          for b in r]
                assert labels == (["Ack", "Bisukan 1 jam", "Bisukan 4 jam", "Lihat status"]
                                  if lang == "id" else
                                  ["Ack", "Mute 1 h", "Mute 4 h", "View status"])

            run(cfg, scenario)


def test_bad_commands_get_a_clear_reply_and_malformed_updates_are_ignored(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    with fake_telegram() as fake:
        cfg = config(tmp_path, fake, repeat=None)

        async def scenario(al: Alerting, store: Store) -> None:
            fake.push_raw({"edited_channel_post": {"x": 1}})
            fake.push_raw({"message": {"text": "/status"}})  # no chat
            fake.push_raw({"callback_query": {"id": "q", "data": "ack:web"}})  # no sender
            for text in ("/mute web", "/mute web 99d", "/mute web lama", "/ack nosuch",
                         "/ack", "/reboot web", "/unmute"):
                fake.user_says(text)
            fake.user_says("halo, ada yang bisa bantu?")  # chat, not a command: no answer
            fake.user_says("/status")
            await until(lambda: len(replies(fake)) >= 8)
            got = replies(fake)
            assert got[0].startswith("Cara pakai: /mute") and got[1] == got[0] == got[2]
            assert "'nosuch' tidak ada dalam konfigurasi" in got[3]
            assert got[4] == "Cara pakai: /ack CHECK"
            assert got[5] == "Perintah tidak dikenal: /reboot. Ketik /help."
            assert got[6] == "Cara pakai: /unmute CHECK"
            assert got[7].startswith("Status kantor")
            assert sample(al, "pantau_oncall_malformed_updates_total", receiver="oncall") == 3
            assert not al.muted("web", time.time())

        run(cfg, scenario)
    lines = [r.getMessage() for r in caplog.records if "malformed update" in r.getMessage()]
    assert len(lines) == 3


def test_survives_the_api_being_down_and_never_runs_an_update_twice(tmp_path: Path) -> None:
    with fake_telegram() as fake:
        cfg = config(tmp_path, fake, repeat=None)

        async def first(al: Alerting, store: Store) -> None:
            fake.down = True
            await until(lambda: sample(al, "pantau_oncall_poll_errors_total",
                                       receiver="oncall") >= 2)
            fake.user_says("/mute web 1h waktu API mati")  # waits at Telegram meanwhile
            await asyncio.sleep(0.5)
            fake.down = False
            await until(lambda: any("dibisukan" in t for t in replies(fake)))

        run(cfg, first)
        offset = int((tmp_path / "telegram-oncall.offset").read_text())
        # a kill -9 after the offset was written but before Telegram heard of it: the same
        # update is delivered again, and must not be acted on a second time
        fake.updates.append({"update_id": offset - 1, "message": {
            "message_id": 1, "date": 0, "text": "/mute web 1h waktu API mati",
            "chat": {"id": ADMIN_CHAT, "type": "private"},
            "from": {"id": ADMIN, "is_bot": False, "first_name": "admin"}}})
        fake.user_says("/help")

        async def second(al: Alerting, store: Store) -> None:
            await until(lambda: any("Perintah pantau" in t for t in replies(fake)))

        run(cfg, second)
        assert sum("dibisukan" in t for t in replies(fake)) == 1
        h = History.open(tmp_path, "kantor", readonly=True)
        try:
            assert len(h.maintenance_windows()) == 1
        finally:
            h.close()


def test_parse_refuses_what_it_does_not_know() -> None:
    assert parse("halo") is None
    assert parse("/MUTE web 2h kabel putus").reason == "kabel putus"  # type: ignore[union-attr]
    for bad in ("/mute web 0s", "/mute web -1h", "/sh -c reboot", "/ack a b"):
        with pytest.raises(Invalid):
            parse(bad)


def test_running_agent_alert_ack_in_status_api_and_kill_9_keeps_the_offset(
        tmp_path: Path) -> None:
    """`pantau run` end to end: a real check fails (a closed port on loopback), the alert
    comes with buttons, Ack shows in /api/v1/status and /metrics; kill -9 and a restart do
    not run the acknowledged update's command again, and the token is in no log line."""
    closed = free_port()
    with fake_telegram() as fake:
        conf = {
            "site": "kantor", "state_dir": str(tmp_path / "state"),
            "checks": [{"name": "web", "type": "tcp", "target": f"127.0.0.1:{closed}",
                        "interval": "1s", "timeout": "500ms"}],
            "alerts": {"damping": {"failures": 1, "successes": 1}, "repeat_interval": "2s",
                       "receivers": [{"name": "oncall", "type": "telegram",
                                      "bot_token": "${TG_TOKEN}", "chat_id": ADMIN_CHAT,
                                      "api_url": fake.url,
                                      "bot": {"enabled": True, "allowed_user_ids": [ADMIN],
                                              "poll_timeout": "1s"}}]}}
        env = {"TG_TOKEN": fake.token}
        with run_agent(conf, tmp_path, env=env) as agent:
            alert = fake.wait_sent(lambda m: "reply_markup" in m and "GANGGUAN web" in m["text"],
                                   timeout=20)
            fake.press(alert, "mute4h:web")  # pressed twice by a shaky thumb: two updates
            fake.press(alert, "ack:web")
            agent.wait_for(lambda m: pick(m, "pantau_check_acknowledged", check="web") == [1.0])
            status = json.loads(agent.get("/api/v1/status")[1])
            assert [(a["check"], a["by"]) for a in status["acknowledgements"]] == [
                ("web", "admin")]
            deadline = time.monotonic() + 15  # the page recomputes windows within seconds
            while not any(w["reason"] == "dibisukan lewat Telegram oleh admin"
                          for w in status["maintenance_active"]):
                assert time.monotonic() < deadline, status["maintenance_active"]
                time.sleep(0.5)
                status = json.loads(agent.get("/api/v1/status")[1])
            agent.signal(signal.SIGKILL)
            agent.proc.wait(10)
            log_text = agent.log_text()
        assert fake.token not in log_text
        offset = int((tmp_path / "state" / "telegram-oncall.offset").read_text())
        assert offset == fake._next_update  # both presses handled and recorded
        fake.updates.insert(0, {"update_id": offset - 1, "callback_query": {
            "id": "again", "data": "mute4h:web", "message": alert,
            "from": {"id": ADMIN, "is_bot": False, "first_name": "admin"}}})
        fake.user_says("/down")
        with run_agent(conf, tmp_path / "again", env=env) as agent:
            fake.wait_sent(lambda m: "web sejak" in m["text"] and "ditangani admin"
                           in m["text"], timeout=20)
        h = History.open(tmp_path / "state", "kantor", readonly=True)
        try:
            assert len(h.maintenance_windows()) == 1  # the re-delivered press did nothing
            assert len(h.acknowledgements()) == 1
        finally:
            h.close()


def test_playbook_asks_first_yes_runs_once_no_and_timeout_run_nothing_all_audited(
        tmp_path: Path) -> None:
    with fake_telegram() as fake:
        cfg = config(tmp_path, fake, repeat=None)
        cfg.checks[0].playbook = "restart-service@web-01"
        cfg.alerts.playbooks = PlaybookPolicy.model_validate({
            "enabled": True, "allowed": ["restart-service"], "max_runs_per_hour": 10,
            "confirm_via": "oncall", "confirm_timeout": "2s"})
        runs: list[tuple[str, str]] = []

        async def runner(check: str, playbook: str, budget: float) -> tuple[str, str]:
            runs.append((check, playbook))
            return "ok", "nginx restarted"

        def asks() -> list[dict[str, Any]]:
            return [m for m in fake.sent if m["text"].startswith("Jalankan restart-service")]

        async def outage(store: Store) -> None:
            fail(store, "web")
            await asyncio.sleep(0.3)

        async def scenario(al: Alerting, store: Store) -> None:
            al.playbook_hook = runner
            await outage(store)
            ask = (await until(asks))[0]
            assert ask["text"] == "Jalankan restart-service di web-01 untuk gangguan web?"
            fake.press(ask, ask["reply_markup"]["inline_keyboard"][0][0]["callback_data"],
                       user_id=999)  # a stranger's Ya does nothing
            fake.press(ask, ask["reply_markup"]["inline_keyboard"][0][0]["callback_data"])
            fake.press(ask, ask["reply_markup"]["inline_keyboard"][0][0]["callback_data"])
            await until(lambda: runs)
            await until(lambda: len(fake.answered) >= 3)
            assert "sudah diputuskan" in fake.answered[2]["text"]  # the second Ya
            fail(store, "web", ok=True)
            await asyncio.sleep(0.3)
            await outage(store)  # Tidak
            await until(lambda: len(asks()) == 2)
            fake.press(asks()[1], asks()[1]["reply_markup"]["inline_keyboard"][0][1]
                       ["callback_data"])
            await until(lambda: len(fake.answered) >= 4)
            fail(store, "web", ok=True)
            await asyncio.sleep(0.3)
            await outage(store)  # no answer
            await until(lambda: len(asks()) == 3)
            await until(lambda: any("Tidak ada jawaban" in m["text"] for m in fake.edited),
                        timeout=6)
            await asyncio.sleep(0.3)

        run(cfg, scenario)
    assert runs == [("web", "restart-service@web-01")]
    h = History.open(tmp_path, "kantor", readonly=True)
    try:
        audit = [(r["status"], r["output"]) for r in h.playbook_runs()]
    finally:
        h.close()
    assert [a[0] for a in audit] == ["ok", "declined", "confirm_timeout"]
    assert audit[0][1].startswith("confirmed by admin (501) via telegram:oncall")
    assert audit[1][1].startswith("declined by admin (501)")


def test_confirm_via_must_name_a_bot() -> None:
    with pytest.raises(ValidationError, match="confirm_via 'nobody' is not a telegram"):
        AlertsConfig.model_validate({"playbooks": {"confirm_via": "nobody"}})
