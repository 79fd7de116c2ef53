"""Real notification peers for tests: Alertmanager, a webhook sink, an SMTP server with
STARTTLS, and a Telegram Bot API stand-in — each a real server on a real socket, started in
the test's own network namespace when asked, and always stopped afterwards.

The webhook sink runs as a subprocess (`python -m tests.helpers.notify_peers sink ...`) and
appends every request to a JSONL file, so it can live in a lab namespace (e.g. behind the cut
ISP link) and the test still reads what arrived.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.helpers.procs import stop_process

REPO = Path(__file__).resolve().parents[2]
ALERTMANAGER = "/usr/bin/prometheus-alertmanager"


def _netns(cmd: list[str], netns: str | None) -> list[str]:
    return ["ip", "netns", "exec", netns, *cmd] if netns else cmd


def _http_get(url: str, netns: str | None, timeout: float = 5.0) -> bytes:
    if not netns:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return bytes(r.read())
    out = subprocess.run(
        _netns([sys.executable, "-c", "import sys,urllib.request;sys.stdout.buffer.write("
                f"urllib.request.urlopen({url!r},timeout={timeout}).read())"], netns),
        capture_output=True, timeout=timeout + 10, check=True)
    return out.stdout


# ------------------------------------------------------------------------------------------
# Alertmanager


@dataclass
class Alertmanager:
    url: str
    netns: str | None
    proc: subprocess.Popen[bytes]
    log: Path

    def alerts(self, active_only: bool = True) -> list[dict[str, Any]]:
        q = "?active=true&silenced=false&inhibited=false" if active_only else ""
        data = json.loads(_http_get(f"{self.url}/api/v2/alerts{q}", self.netns))
        return list(data)


@contextlib.contextmanager
def alertmanager(tmp: Path, host: str, port: int, webhook_url: str | None = None,
                 netns: str | None = None) -> Iterator[Alertmanager]:
    """A real prometheus-alertmanager; if webhook_url is given it forwards there (firing and
    resolved), so a test can see what Alertmanager itself notified."""
    tmp.mkdir(parents=True, exist_ok=True)
    receivers: list[dict[str, Any]] = [{"name": "sink"}]
    if webhook_url:
        receivers[0]["webhook_configs"] = [{"url": webhook_url, "send_resolved": True}]
    cfg = {
        "route": {"receiver": "sink", "group_by": ["alertname", "site", "check"],
                  "group_wait": "1s", "group_interval": "1s", "repeat_interval": "1h"},
        "receivers": receivers,
    }
    (tmp / "am.yml").write_text(json.dumps(cfg))
    log = tmp / "alertmanager.log"
    with log.open("wb") as lf:
        proc = subprocess.Popen(
            _netns([ALERTMANAGER, f"--config.file={tmp / 'am.yml'}",
                    f"--storage.path={tmp / 'am-data'}",
                    f"--web.listen-address={host}:{port}", "--cluster.listen-address="], netns),
            stdout=lf, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://{host}:{port}"
    am = Alertmanager(url, netns, proc, log)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"alertmanager exited: {log.read_text()[-2000:]}")
            try:
                _http_get(f"{url}/-/ready", netns, timeout=2)
                break
            except (OSError, subprocess.SubprocessError):
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"alertmanager not ready: {log.read_text()[-2000:]}") from None
                time.sleep(0.2)
        yield am
    finally:
        stop_process(proc, group=True)


# ------------------------------------------------------------------------------------------
# Webhook sink (subprocess, JSONL)


@dataclass
class Sink:
    url: str
    out: Path
    proc: subprocess.Popen[bytes]
    control: Path

    def records(self, path: str | None = None) -> list[dict[str, Any]]:
        if not self.out.exists():
            return []
        rows = [json.loads(line) for line in self.out.read_text().splitlines() if line.strip()]
        return [r for r in rows if path is None or r["path"] == path]

    def fail_next(self, n: int, status: int = 503) -> None:
        """Answer the next n requests with `status` (a receiver having a bad day)."""
        self.control.write_text(json.dumps({"fail": n, "status": status}))

    def wait_for(self, pred: Any, timeout: float = 30.0, path: str | None = None) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            recs = self.records(path)
            got = pred(recs)
            if got:
                return recs
            time.sleep(0.1)
        raise AssertionError(f"sink: condition not met in {timeout}s; got {self.records(path)}")


@contextlib.contextmanager
def webhook_sink(tmp: Path, host: str, port: int, netns: str | None = None) -> Iterator[Sink]:
    tmp.mkdir(parents=True, exist_ok=True)
    out, control = tmp / f"sink-{port}.jsonl", tmp / f"sink-{port}.control"
    proc = subprocess.Popen(
        _netns([sys.executable, "-m", "tests.helpers.notify_peers", "sink", "--host", host,
                "--port", str(port), "--out", str(out), "--control", str(control)], netns),
        cwd=REPO, start_new_session=True)
    h = f"[{host}]" if ":" in host else host
    sink = Sink(f"http://{h}:{port}", out, proc, control)
    try:
        deadline = time.monotonic() + 15
        while not (tmp / f"sink-{port}.jsonl.ready").exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("webhook sink did not start")
            time.sleep(0.05)
        yield sink
    finally:
        stop_process(proc, group=True)


def _serve_sink(host: str, port: int, out: Path, control: Path) -> None:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            status = 200
            with lock:
                if control.exists():
                    ctl = json.loads(control.read_text() or "{}")
                    if ctl.get("fail", 0) > 0:
                        status = int(ctl.get("status", 503))
                        ctl["fail"] -= 1
                        control.write_text(json.dumps(ctl))
                try:
                    body: Any = json.loads(raw)
                except ValueError:
                    body = raw.decode(errors="replace")
                rec = {"path": self.path, "t": time.time(), "status": status,
                       "headers": {k.lower(): v for k, v in self.headers.items()},
                       "body": body, "raw": raw.decode(errors="replace")}
                with out.open("a") as f:
                    f.write(json.dumps(rec) + "\n")
            reply = b'{"ok": true, "result": {}}' if status == 200 else b'{"ok": false}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

    srv = Server((host, port), Handler)
    Path(str(out) + ".ready").write_text("ok")
    srv.serve_forever()


# ------------------------------------------------------------------------------------------
# SMTP with STARTTLS (aiosmtpd, a real SMTP implementation)


@dataclass
class Mailbox:
    messages: list[dict[str, Any]] = field(default_factory=list)


def make_cert(tmp: Path) -> tuple[Path, Path]:
    cert, key = tmp / "smtp.crt", tmp / "smtp.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60)
    return cert, key


@contextlib.contextmanager
def smtp_server(tmp: Path, port: int, user: str, password: str) -> Iterator[tuple[Mailbox, Path]]:
    """aiosmtpd on 127.0.0.1 that requires STARTTLS before AUTH and MAIL."""
    import ssl

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    cert, key = make_cert(tmp)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    box = Mailbox()

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            box.messages.append({
                "from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                "data": envelope.content.decode("utf-8", errors="replace"),
                "tls": session.ssl is not None, "auth": session.authenticated,
            })
            return "250 OK"

    def auth(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.login.decode() == user \
            and data.password.decode() == password
        return AuthResult(success=ok)

    controller = Controller(Handler(), hostname="127.0.0.1", port=port, tls_context=ctx,
                            require_starttls=True, authenticator=auth, auth_require_tls=True)
    controller.start()
    try:
        yield box, cert
    finally:
        controller.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sink")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--out", type=Path, required=True)
    s.add_argument("--control", type=Path, required=True)
    a = ap.parse_args()
    _serve_sink(a.host, a.port, a.out, a.control)


if __name__ == "__main__":
    main()
