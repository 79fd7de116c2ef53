"""Templated webhooks: the ready examples in contrib/webhook/ against a fake WhatsApp gateway
over real HTTP (golden requests in tests/testdata/webhook/), template errors as config errors
with their line, and the sandbox refusing attribute tricks."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import yaml
from pydantic import ValidationError

from agent.config.loader import ConfigError, load_config
from exporters.notify import DeliveryError, Notification, WebhookNotifier, WebhookReceiver
from tests.helpers.wa_gateway import wa_gateway

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "testdata" / "webhook"

ALERT = Notification(
    uid="5b1c0a4e-0000-4000-8000-000000000001", kind="firing", site="dpmptsp-kab-contoh",
    check="portal-oss", severity="critical", at=1764565200.0, since=1764565200.0,
    root_cause="uplink-telkom", reason="timeout",
    title="[critical] GANGGUAN portal-oss — dpmptsp-kab-contoh",
    text="Pemeriksaan portal-oss gagal.\nAkar masalah: uplink-telkom", target="https://oss.go.id/",
    runbook="https://wiki.example/pantau/portal-oss")


def example(name: str, url: str) -> WebhookReceiver:
    data = yaml.safe_load((REPO / "contrib" / "webhook" / f"{name}.yml").read_text())
    path = urlsplit(data["url"]).path if not data["url"].startswith("$") else "/hook"
    data["url"] = url + path
    return WebhookReceiver.model_validate(data)


def send(cfg: WebhookReceiver, n: Notification = ALERT) -> None:
    async def go() -> None:
        notifier = WebhookNotifier(cfg)
        try:
            await notifier.send(n, 5.0)
        finally:
            await notifier.aclose()

    asyncio.run(go())


def seen(req: dict[str, Any]) -> dict[str, Any]:
    ctype = req["headers"]["content-type"]
    body: Any = (json.loads(req["body"]) if "json" in ctype
                 else dict(parse_qsl(req["body"].decode(), keep_blank_values=True)))
    return {"method": req["method"], "path": req["path"], "content_type": ctype,
            "authorization": req["headers"].get("authorization"),
            "idempotency_key": req["headers"].get("idempotency-key"), "body": body}


@pytest.mark.parametrize("name", ["fonnte", "wablas", "slack"])
def test_gateway_examples_send_their_golden_requests(name: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    with wa_gateway() as gw:
        monkeypatch.setenv("FONNTE_TOKEN", gw.token)
        monkeypatch.setenv("WABLAS_TOKEN", gw.token)
        monkeypatch.setenv("CHAT_WEBHOOK_URL", gw.url + "/hook")
        cfg = example(name, gw.url)
        if name == "slack":  # the URL is the credential there; no Authorization header
            cfg.headers = {}
            gw.token = None  # type: ignore[assignment]
        send(cfg)
        assert len(gw.requests) == 1
        got = seen(gw.requests[0])
    golden = GOLDEN / f"{name}.json"
    if os.environ.get("PANTAU_REGENERATE_GOLDEN"):
        golden.write_text(json.dumps(got, ensure_ascii=False, indent=2) + "\n")
    assert got == json.loads(golden.read_text())


def test_gateway_refusal_is_permanent_and_a_busy_gateway_is_retried(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FONNTE_TOKEN", "wrong-token")
    with wa_gateway() as gw:
        cfg = example("fonnte", gw.url)
        with pytest.raises(DeliveryError) as e:
            send(cfg)
        assert e.value.permanent and "HTTP 401" in str(e.value)
        gw.fail_with = [503]
        cfg.headers = {}
        with pytest.raises(DeliveryError) as e:
            send(cfg)
        assert not e.value.permanent


@pytest.mark.parametrize(("body", "message"), [
    ({"message": "{{ title }\n"}, "template body.message: line 1: unexpected '}'"),
    ({"message": "ok\n{% if kind %}\nno end"}, "Unexpected end of template"),
    ({"message": "{{ no_such_field }}"}, "'no_such_field' is undefined"),
    ({"message": "{{ title.__class__.__mro__ }}"}, "SecurityError"),
    ({"message": "{{ labels.update({'a': 1}) }}"}, "SecurityError"),
    ({"message": "{{ ''.__class__.__base__.__subclasses__() }}"}, "SecurityError"),
    ({"message": "{{ cycler.__init__.__globals__ }}"}, "SecurityError"),
    ({"message": "ok\n{{ 1 / (members|length) }}"}, "line 2: ZeroDivisionError"),
    ({"message": "{{ range(10**9)|list }}"}, "OverflowError: Range too big"),
    ({"message": "{{ 'a' * 10000000000 }}"}, "SecurityError: repetition too large"),
    ({"message": "{{ [1] * (2 ** 40) }}"}, "SecurityError: repetition too large"),
    ({"message": "{{ 7 ** 100000000 }}"}, "SecurityError: exponent too large"),
])
def test_template_errors_are_config_errors(body: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as e:
        WebhookReceiver.model_validate({"name": "w", "type": "webhook", "url": "http://x/",
                                        "encoding": "form", "body": body})
    assert message in str(e.value)


def test_template_error_in_a_config_file_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "pantau.yml"
    path.write_text("site: kantor\nalerts:\n  receivers:\n    - name: wa\n      type: webhook\n"
                    "      url: http://127.0.0.1:1/send\n      encoding: form\n"
                    "      body:\n        message: \"{{ title }\"\n")
    with pytest.raises(ConfigError) as e:
        load_config(path)
    text = str(e.value)
    assert "line 4" in text or "line 9" in text, text
    assert "template body.message: line 1" in text


def test_a_template_failing_on_real_data_is_a_permanent_failure_not_a_crash() -> None:
    cfg = WebhookReceiver.model_validate({
        "name": "w", "type": "webhook", "url": "http://127.0.0.1:9/", "encoding": "form",
        "body": {"message": "{{ title }} {{ 100 // (affected|length + 1 - affected|length) }}"
                            "{{ 1 / (affected|length - 2) }}"}})
    n = Notification(**{**ALERT.to_dict(), "affected": ["a", "b"]})
    with pytest.raises(DeliveryError) as e:
        send(cfg, n)
    assert e.value.permanent and "ZeroDivisionError" in str(e.value)


def test_body_and_raw_template_are_exclusive_and_raw_is_sent_as_is() -> None:
    with pytest.raises(ValidationError, match="not both"):
        WebhookReceiver.model_validate({"name": "w", "type": "webhook", "url": "http://x/",
                                        "body": {"a": "b"}, "body_template": "x"})
    with wa_gateway() as gw:
        cfg = WebhookReceiver.model_validate({
            "name": "w", "type": "webhook", "url": gw.url + "/raw", "method": "PUT",
            "headers": {"Authorization": gw.token}, "content_type": "text/plain",
            "body_template": "{{ check }} {{ kind }} sejak {{ since|int }}"})
        send(cfg)
        req = gw.requests[0]
    assert (req["method"], req["body"]) == ("PUT", b"portal-oss firing sejak 1764565200")
