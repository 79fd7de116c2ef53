"""Receiver URLs, auth headers and remote_write headers never appear in --print-config or
logs, and an HTTP answer that echoes a credential is filtered before it is logged."""

from __future__ import annotations

import asyncio
import http.server
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.config import parse_config
from exporters.notify.alertmanager import AlertmanagerNotifier
from exporters.notify.base import DeliveryError, Notification
from exporters.notify.webhook import WebhookNotifier
from tests.helpers.agent import run_cli

HOOK_SECRET = "T0SECRET/B0SECRET/hookpathsecret123"
HEADER_SECRET = "hdr-secret-4711"
RW_SECRET = "tenant-secret-0815"
BEARER = "bearer-secret-2323"

CONFIG = f"""\
site: kantor
alerts:
  receivers:
    - name: slack
      type: webhook
      url: http://127.0.0.1:{{port}}/services/{HOOK_SECRET}
      headers:
        Authorization: Bearer {HEADER_SECRET}
    - name: am
      type: alertmanager
      url: http://127.0.0.1:{{port}}
      bearer_token: {BEARER}
remote_write:
  url: https://mimir.example/api/v1/push
  headers:
    X-Scope-OrgID: {RW_SECRET}
"""
SECRETS = (HOOK_SECRET, "hookpathsecret123", HEADER_SECRET, RW_SECRET, BEARER)


class _Echo(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = (f"unauthorized: got {self.headers.get('Authorization')} for {self.path}"
                .encode())
        self.send_response(self.status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def echo() -> Iterator[http.server.ThreadingHTTPServer]:
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _note() -> Notification:
    return Notification(uid="u1", kind="down", site="kantor", check="portal", severity="critical",
                        at=1.0, since=1.0, root_cause="portal", reason="timeout",
                        title="portal down", text="portal down")


def test_print_config_masks_receiver_urls_and_headers(tmp_path: Path) -> None:
    f = tmp_path / "p.yml"
    f.write_text(CONFIG.format(port=9))
    r = run_cli("run", "--print-config", "-c", str(f))
    assert r.returncode == 0, r.stderr
    assert "slack" in r.stdout and "X-Scope-OrgID" in r.stdout
    for s in SECRETS:
        assert s not in r.stdout, s


def test_deliveries_never_log_secrets(echo: http.server.ThreadingHTTPServer,
                                      caplog: pytest.LogCaptureFixture) -> None:
    cfg = parse_config(CONFIG.format(port=echo.server_address[1]))
    hook_cfg, am_cfg = cfg.alerts.receivers
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="httpx")  # another test may have quietened it
    errors: list[str] = []

    async def deliver() -> None:
        for make in (lambda: WebhookNotifier(hook_cfg),  # type: ignore[arg-type]
                     lambda: AlertmanagerNotifier(am_cfg)):  # type: ignore[arg-type]
            for status in (200, 401):
                _Echo.status = status
                n = make()
                try:
                    await n.send(_note(), 5.0)
                except DeliveryError as e:
                    errors.append(str(e))
                finally:
                    await n.aclose()

    asyncio.run(deliver())
    assert len(errors) == 2 and all("401" in e for e in errors), errors
    logged = caplog.text + "\n".join(errors)
    assert "HTTP Request" in caplog.text  # httpx did log each request, filtered
    for s in SECRETS:
        assert s not in logged, (s, logged)
