"""Debian's headless Chromium, started by the test and driven over the DevTools protocol.

One browser per `Browser`, with a fresh profile under the test's tmp dir, listening for
DevTools on a loopback port it picks itself (read back from DevToolsActivePort). Every wait is
bounded; every request the page makes is recorded so a test can assert there was no external
one.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import websocket

from tests.helpers.procs import stop_process

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--no-first-run", "--no-default-browser-check", "--disable-extensions",
         "--disable-sync", "--disable-component-update", "--hide-scrollbars",
         "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0")


def chromium_path() -> str:
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError("Chromium not installed (tests/install-deps.sh installs it)")


class Browser:
    def __init__(self, tmp: Path, width: int = 1280, height: int = 900,
                 accept_language: str = "id-ID,id;q=0.9") -> None:
        """`accept_language`: what an office PC set to Indonesian sends (Chromium's own
        default follows the machine's locale, en-US here)."""
        self.dir = tmp / "chromium"
        self.dir.mkdir(parents=True, exist_ok=True)
        profile = self.dir / "profile"
        self.log = (self.dir / "chromium.log").open("wb")
        self.proc = subprocess.Popen(
            [chromium_path(), *FLAGS, f"--user-data-dir={profile}",
             f"--window-size={width},{height}", f"--accept-lang={accept_language}",
             "about:blank"],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.requests: list[str] = []
        self.events: list[dict[str, Any]] = []
        self._id = 0
        try:
            port = self._devtools_port(profile / "DevToolsActivePort")
            self.ws = websocket.create_connection(self._page_ws(port), timeout=15,
                                                  suppress_origin=True)
            self.call("Page.enable")
            self.call("Network.enable")
            self.call("Runtime.enable")
        except BaseException:
            self.close()
            raise

    def _devtools_port(self, path: Path) -> int:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.proc.returncode}")
            if path.exists():
                lines = path.read_text().split()
                if lines:
                    return int(lines[0])
            time.sleep(0.1)
        raise RuntimeError("chromium did not open its DevTools port within 30 s")

    @staticmethod
    def _page_ws(port: int) -> str:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:
                pages = [t for t in json.loads(r.read()) if t.get("type") == "page"]
            if pages:
                return str(pages[0]["webSocketDebuggerUrl"])
            time.sleep(0.1)
        raise RuntimeError("chromium has no page target")

    # -- protocol -----------------------------------------------------------------------
    def _event(self, msg: dict[str, Any]) -> None:
        self.events.append(msg)
        if msg.get("method") == "Network.requestWillBeSent":
            self.requests.append(str(msg["params"]["request"]["url"]))

    def call(self, method: str, timeout: float = 30.0, **params: Any) -> dict[str, Any]:
        self._id += 1
        me = self._id
        self.ws.send(json.dumps({"id": me, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.ws.settimeout(max(0.1, deadline - time.monotonic()))
            msg = json.loads(self.ws.recv())
            if msg.get("id") == me:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return dict(msg.get("result", {}))
            self._event(msg)
        raise TimeoutError(f"{method}: no answer within {timeout:g}s")

    def pump(self, seconds: float) -> None:
        """Read events for a while (requests the page makes on its own)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.ws.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                self._event(json.loads(self.ws.recv()))
            except websocket.WebSocketTimeoutException:
                return

    # -- conveniences ---------------------------------------------------------------------
    def navigate(self, url: str, timeout: float = 30.0) -> None:
        self.events.clear()
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(e.get("method") == "Page.loadEventFired" for e in self.events):
                return
            self.pump(0.2)
        raise TimeoutError(f"{url} did not load within {timeout:g}s")

    def js(self, expression: str) -> Any:
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                      awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expression[:80]}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def wait_js(self, expression: str, timeout: float, what: str) -> Any:
        """Poll a JS expression until it is truthy; returns it. Bounded by `timeout`."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            last = self.js(expression)
            if last:
                return last
            self.pump(0.1)
        raise AssertionError(f"{what}: not within {timeout:g}s (last: {last!r})")

    def viewport(self, width: int, height: int, mobile: bool = False) -> None:
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=mobile)

    def screenshot(self, path: Path, full_page: bool = False) -> Path:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            w, h = self.js("[document.documentElement.scrollWidth,"
                           "document.documentElement.scrollHeight]")
            params |= {"captureBeyondViewport": True,
                       "clip": {"x": 0, "y": 0, "width": w, "height": h, "scale": 1}}
        data = self.call("Page.captureScreenshot", **params)["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        ws = getattr(self, "ws", None)
        if ws is not None:
            try:
                ws.close()
            except OSError:
                pass
        stop_process(self.proc, group=True)
        self.log.close()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
