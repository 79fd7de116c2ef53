"""Every HTTP request pantau makes says who it is: `User-Agent: pantau/<version>` from the
HTTP probe and from each HTTP notifier, seen by a real HTTP server on 127.0.0.1 (the remote
write client is checked in test_rw_writer.py)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from agent import __version__
from collectors.base import Context, Deadline
from collectors.probe import HttpCollector
from exporters.notify import (
    AlertmanagerNotifier,
    AlertmanagerReceiver,
    Notification,
    TelegramNotifier,
    TelegramReceiver,
    WebhookNotifier,
    WebhookReceiver,
)

UA = f"pantau/{__version__}"


@pytest.fixture
def server() -> Iterator[tuple[list[tuple[str, str]], str]]:
    seen: list[tuple[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            seen.append((self.path, self.headers.get("User-Agent", "")))
            body = json.dumps({"ok": True, "result": {}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args: Any) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield seen, f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


def _note() -> Notification:
    return Notification(uid="u1", kind="firing", site="s", check="portal", severity="critical",
                        at=1.0, since=1.0, root_cause="portal", reason="x", title="t", text="b")


def test_http_probe_user_agent(server: tuple[list[tuple[str, str]], str]) -> None:
    seen, base = server
    probe = HttpCollector(HttpCollector.Config.model_validate(
        {"name": "portal", "type": "http", "target": f"{base}/sehat"}))
    obs = asyncio.run(probe.collect(Context(Deadline(5.0), "s", "portal")))
    assert obs.success, obs.reason
    assert seen == [("/sehat", UA)]


def test_http_probe_user_agent_can_be_overridden(
        server: tuple[list[tuple[str, str]], str]) -> None:
    seen, base = server
    probe = HttpCollector(HttpCollector.Config.model_validate(
        {"name": "portal", "type": "http", "target": f"{base}/",
         "headers": {"User-Agent": "Mozilla/5.0 (portal needs a browser)"}}))
    asyncio.run(probe.collect(Context(Deadline(5.0), "s", "portal")))
    assert seen[0][1] == "Mozilla/5.0 (portal needs a browser)"


@pytest.mark.parametrize("kind", ["webhook", "alertmanager", "telegram"])
def test_notifier_user_agent(server: tuple[list[tuple[str, str]], str], kind: str) -> None:
    seen, base = server
    notifier: Any
    if kind == "webhook":
        notifier = WebhookNotifier(WebhookReceiver.model_validate(
            {"name": "w", "type": "webhook", "url": f"{base}/hook"}))
    elif kind == "alertmanager":
        notifier = AlertmanagerNotifier(AlertmanagerReceiver.model_validate(
            {"name": "am", "type": "alertmanager", "url": base}))
    else:
        notifier = TelegramNotifier(TelegramReceiver.model_validate(
            {"name": "tg", "type": "telegram", "api_url": base, "bot_token": "123:abc",
             "chat_id": "42"}))

    async def go() -> None:
        try:
            await notifier.send(_note(), 5.0)
        finally:
            await notifier.aclose()

    asyncio.run(go())
    assert seen and all(ua == UA for _, ua in seen), seen
