"""A fake Telegram Bot API server on loopback, written from the public Bot API docs
(https://core.telegram.org/bots/api), driven by tests as a user on a phone would be.

Methods: getUpdates (offset confirms earlier updates, timeout long-polls), sendMessage (with
reply_markup.inline_keyboard), editMessageText, answerCallbackQuery. Every answer has the
documented envelope {"ok": true, "result": ...} or {"ok": false, "error_code", "description"}.
The token is part of the path (/bot<token>/<method>); a wrong token gets 401 like the real API.

A test types a command with `user_says(...)` or presses a button with `press(...)`; what the
bot sent is in `sent`, its edits in `edited`, the callback answers in `answered`. `down=True`
makes every call fail with 502 (the API unreachable behind a proxy), to test backoff.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class FakeTelegram:
    token: str
    bot_id: int = 777000
    updates: list[dict[str, Any]] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    edited: list[dict[str, Any]] = field(default_factory=list)
    answered: list[dict[str, Any]] = field(default_factory=list)
    polls: list[dict[str, Any]] = field(default_factory=list)
    down: bool = False
    url: str = ""
    _next_update: int = 1000
    _next_message: int = 1
    _cond: threading.Condition = field(default_factory=threading.Condition)

    # -- what a user does ---------------------------------------------------------------
    def _push(self, update: dict[str, Any]) -> int:
        with self._cond:
            uid = self._next_update
            self._next_update += 1
            self.updates.append({"update_id": uid, **update})
            self._cond.notify_all()
            return uid

    def push_raw(self, update: dict[str, Any]) -> int:
        """An update with any content (malformed ones too); update_id is assigned here."""
        return self._push(update)

    def user_says(self, text: str, *, chat_id: int = 1001, user_id: int = 501,
                  username: str = "admin") -> int:
        with self._cond:
            mid = self._next_message
            self._next_message += 1
        return self._push({"message": {
            "message_id": mid, "date": int(time.time()), "text": text,
            "chat": {"id": chat_id, "type": "private"},
            "from": {"id": user_id, "is_bot": False, "first_name": username,
                     "username": username}}})

    def press(self, message: dict[str, Any], data: str, *, user_id: int = 501,
              username: str = "admin", chat_id: int | None = None) -> int:
        """Press the inline button with callback_data `data` under a message the bot sent."""
        buttons = [b for row in (message.get("reply_markup") or {}).get("inline_keyboard", [])
                   for b in row]
        assert any(b.get("callback_data") == data for b in buttons), (data, buttons)
        msg = {"message_id": message["message_id"], "date": message["date"],
               "chat": {"id": chat_id if chat_id is not None else message["chat"]["id"],
                        "type": "private"},
               "from": {"id": self.bot_id, "is_bot": True, "first_name": "pantau"},
               "text": message["text"]}
        return self._push({"callback_query": {
            "id": f"cb{len(self.updates)}", "chat_instance": "1", "data": data, "message": msg,
            "from": {"id": user_id, "is_bot": False, "first_name": username,
                     "username": username}}})

    def wait_sent(self, predicate: Any, timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._cond:
                for m in self.sent:
                    if predicate(m):
                        return m
            time.sleep(0.05)
        raise AssertionError(f"no such message; sent: {[m['text'][:80] for m in self.sent]}")

    # -- the API ------------------------------------------------------------------------
    def call(self, method: str, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if self.down:
            return 502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        try:
            result = handler(args)
        except _BadRequest as e:
            return 400, {"ok": False, "error_code": 400, "description": f"Bad Request: {e}"}
        return 200, {"ok": True, "result": result}

    def _m_getMe(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"id": self.bot_id, "is_bot": True, "first_name": "pantau",
                "username": "pantau_bot"}

    def _m_getUpdates(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(args.get("offset") or 0)
        timeout = min(float(args.get("timeout") or 0), 50.0)
        limit = int(args.get("limit") or 100)
        deadline = time.monotonic() + timeout
        with self._cond:
            self.polls.append({"offset": offset, "timeout": timeout})
            if offset:  # documented: an offset confirms (forgets) every earlier update
                self.updates = [u for u in self.updates if u["update_id"] >= offset]
            while True:
                ready = [u for u in self.updates if u["update_id"] >= offset][:limit]
                left = deadline - time.monotonic()
                if ready or left <= 0 or self.down:
                    return ready
                self._cond.wait(min(left, 0.2))

    def _message(self, args: dict[str, Any]) -> dict[str, Any]:
        if "chat_id" not in args or not str(args.get("text", "")):
            raise _BadRequest("chat_id and text are required")
        if len(str(args["text"])) > 4096:
            raise _BadRequest("message is too long")
        markup = args.get("reply_markup")
        if isinstance(markup, str):  # form-encoded callers send it as JSON text
            markup = json.loads(markup)
        if markup is not None:
            rows = markup.get("inline_keyboard")
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise _BadRequest("inline_keyboard must be an array of arrays")
            for b in (b for r in rows for b in r):
                if len(str(b.get("callback_data", "")).encode()) > 64:
                    raise _BadRequest("BUTTON_DATA_INVALID")
        return {"chat": {"id": int(args["chat_id"]) if str(args["chat_id"]).lstrip("-")
                         .isdigit() else args["chat_id"], "type": "private"},
                "text": str(args["text"]), "date": int(time.time()),
                **({"reply_markup": markup} if markup else {})}

    def _m_sendMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        msg = self._message(args)
        with self._cond:
            msg["message_id"] = 10000 + len(self.sent)
            msg["from"] = {"id": self.bot_id, "is_bot": True, "first_name": "pantau"}
            self.sent.append(msg)
        return msg

    def _m_editMessageText(self, args: dict[str, Any]) -> dict[str, Any]:
        msg = self._message(args)
        mid = int(args.get("message_id") or 0)
        with self._cond:
            if not any(m["message_id"] == mid for m in self.sent):
                raise _BadRequest("message to edit not found")
            msg["message_id"] = mid
            self.edited.append(msg)
        return msg

    def _m_answerCallbackQuery(self, args: dict[str, Any]) -> bool:
        if not args.get("callback_query_id"):
            raise _BadRequest("callback_query_id is required")
        with self._cond:
            self.answered.append(dict(args))
        return True


class _BadRequest(Exception):
    pass


def _handler(fake: FakeTelegram) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a: Any) -> None:
            pass

        def _serve(self) -> None:
            parts = self.path.split("?", 1)[0].strip("/").split("/")
            if len(parts) != 2 or parts[0] != f"bot{fake.token}":
                self._send(401, {"ok": False, "error_code": 401,
                                 "description": "Unauthorized"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            args: dict[str, Any] = {}
            ctype = self.headers.get("Content-Type", "")
            if raw and "json" in ctype:
                args = json.loads(raw)
            elif raw:
                from urllib.parse import parse_qsl
                args = dict(parse_qsl(raw.decode()))
            if "?" in self.path:
                from urllib.parse import parse_qsl
                args.update(parse_qsl(self.path.split("?", 1)[1]))
            status, body = fake.call(parts[1], args)
            self._send(status, body)

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            with contextlib.suppress(OSError):
                self.wfile.write(data)

        do_GET = do_POST = _serve

    return Handler


@contextlib.contextmanager
def fake_telegram(token: str = "123456:TEST-token-abcdefghijklmnop") -> Iterator[FakeTelegram]:
    fake = FakeTelegram(token)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
