"""The /metrics endpoint of a running agent: exposition checked by promtool, scraped by a real
Prometheus (plain, and with TLS + basic auth from an exporter-toolkit web config), auth and
client certificates accepted and refused, an idle client that cannot stall HTTPS scrapes, and
requests that are malformed."""

from __future__ import annotations

import asyncio
import base64
import gzip
import http.client
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import bcrypt
import pytest

from collectors.base import MetricSpec, Sample
from exporters.exposition import CONTENT_TYPE, Exposition
from exporters.http_server import MetricsServer
from exporters.webconfig import WebConfig, load_web_config
from tests.helpers.agent import parse_metrics, pick, run_agent, run_cli
from tests.helpers.certs import make_pki
from tests.helpers.procs import stop_process
from tests.helpers.prometheus import run_prometheus
from tests.helpers.waiting import wait_until

BASE = {"site": "kantor-http", "host": {"interval": "2s", "timeout": "1s"},
        "checks": [{"name": "loop", "type": "icmp", "target": "127.0.0.1", "interval": "2s",
                    "timeout": "1s"}]}


def _web_config(tmp_path: Path, pki: dict[str, Path], client_auth: str | None) -> Path:
    hashed = bcrypt.hashpw(b"rahasia-kantor", bcrypt.gensalt(4)).decode()
    tls: dict[str, Any] = {"cert_file": str(pki["server"]), "key_file": str(pki["server_key"])}
    if client_auth:
        tls |= {"client_auth_type": client_auth, "client_ca_file": str(pki["ca"])}
    import yaml

    path = tmp_path / "web-config.yml"
    path.write_text(yaml.safe_dump({"tls_server_config": tls,
                                    "basic_auth_users": {"prometheus": hashed}}))
    return path


def _https(url: str, pki: dict[str, Path], auth: tuple[str, str] | None = None,
           client_cert: bool = False, timeout: float = 5.0) -> int:
    ctx = ssl.create_default_context(cafile=str(pki["ca"]))
    if client_cert:
        ctx.load_cert_chain(str(pki["client"]), str(pki["client_key"]))
    req = urllib.request.Request(url)
    if auth:
        import base64

        req.add_header("Authorization",
                       "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=ctx) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


def _promtool_findings(body: bytes) -> set[str]:
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: run tests/install-deps.sh"
    r = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True,
                       timeout=60)
    findings = {line for line in (r.stdout + r.stderr).decode().splitlines() if line.strip()}
    assert r.returncode in (0, 3), (r.returncode, findings)  # 3: lint findings only
    return findings


def test_promtool_check_metrics_clean(tmp_path: Path) -> None:
    """promtool's only findings may be those about node_exporter's own names, which pantau
    keeps on purpose (node_memory_MemAvailable_bytes, node_entropy_available_bits...): the
    same findings promtool reports for a real node_exporter read in the same run."""
    with run_agent(BASE, tmp_path) as agent:
        agent.wait_for(lambda m: any(n == "pantau_icmp_rtt_seconds" for n, _ in m))
        body = agent.metrics_text().encode()
    ours = _promtool_findings(body)
    from tests.helpers.agent import free_port

    port = free_port()
    ne = subprocess.Popen(["prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{port}"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                    theirs = _promtool_findings(r.read())
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("node_exporter did not start")
    finally:
        stop_process(ne)
    assert all(f.startswith("node_") for f in ours), ours
    assert ours <= theirs, ours - theirs
    text = body.decode()
    assert 'instance="' not in text and 'job="' not in text
    assert 'node_load1{site="kantor-http"}' in text


def test_gzip_head_and_errors(tmp_path: Path) -> None:
    with run_agent(BASE, tmp_path) as agent:
        req = urllib.request.Request(agent.url + "/metrics", headers={"Accept-Encoding": "gzip"})
        with urllib.request.urlopen(req, timeout=5) as r:
            assert r.headers["Content-Encoding"] == "gzip"
            assert b"pantau_build_info" in gzip.decompress(r.read())
        assert agent.get("/-/healthy")[0] == 200
        assert agent.get("/nope")[0] == 404
        status, body = agent.get("/")
        assert status == 200 and b"/metrics" in body
        host, port = agent.url.removeprefix("http://").split(":")
        for raw in (b"GARBAGE\r\n\r\n", b"GET /metrics HTTP/9\r\n\r\n",
                    b"GET /metrics HTTP/1.1\r\nBad Header\r\n\r\n",
                    b"GET /metrics HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n",
                    b"GET /" + b"a" * 40000 + b" HTTP/1.1\r\n\r\n"):
            with socket.create_connection((host, int(port)), timeout=5) as s:
                s.sendall(raw)
                reply = s.recv(200)
            assert reply.split(b" ")[1] in (b"400", b"413", b"431"), (raw[:30], reply)
        assert agent.get("/-/healthy")[0] == 200  # still serving
        assert "Traceback" not in agent.log_text()


def test_real_prometheus_scrapes_plain_and_tls_with_auth(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    web = _web_config(tmp_path, pki, None)
    with run_agent(BASE, tmp_path / "plain") as plain, \
            run_agent({**BASE, "web_config_file": str(web)}, tmp_path / "tls",
                      wait_ready=False) as secure:
        secure_target = secure.url.removeprefix("http://")
        scrape: list[dict[str, Any]] = [
            {"job_name": "plain", "static_configs": [
                {"targets": [plain.url.removeprefix("http://")]}]},
            {"job_name": "secure", "scheme": "https",
             "tls_config": {"ca_file": str(pki["ca"])},
             "basic_auth": {"username": "prometheus", "password": "rahasia-kantor"},
             "static_configs": [{"targets": [secure_target]}]},
            {"job_name": "wrong-password", "scheme": "https",
             "tls_config": {"ca_file": str(pki["ca"])},
             "basic_auth": {"username": "prometheus", "password": "salah"},
             "static_configs": [{"targets": [secure_target]}]},
        ]
        with run_prometheus(tmp_path, scrape) as prom:
            prom.wait_for('up{job="plain"} == 1')
            prom.wait_for('up{job="secure"} == 1')
            prom.wait_for('up{job="wrong-password"} == 0')
            res = prom.wait_for('pantau_build_info{job="secure"}')
            assert res[0]["metric"]["site"] == "kantor-http"


def test_basic_auth_and_client_certificates(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    web = _web_config(tmp_path, pki, "RequireAndVerifyClientCert")
    cfg = {**BASE, "web_config_file": str(web)}
    with run_agent(cfg, tmp_path, wait_ready=False) as agent:
        url = agent.url.replace("http://", "https://")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if _https(url + "/-/ready", pki, client_cert=True) == 200:
                    break
            except OSError:
                pass
            time.sleep(0.3)
        good = ("prometheus", "rahasia-kantor")
        assert _https(url + "/metrics", pki, good, client_cert=True) == 200
        assert _https(url + "/metrics", pki, ("prometheus", "salah"), client_cert=True) == 401
        assert _https(url + "/metrics", pki, None, client_cert=True) == 401
        assert _https(url + "/metrics", pki, ("root", "rahasia-kantor"), client_cert=True) == 401
        with pytest.raises((ssl.SSLError, ConnectionError, urllib.error.URLError)):
            _https(url + "/metrics", pki, good, client_cert=False)
        assert "rahasia-kantor" not in agent.log_text()


def _write_web(path: Path, password: str, pki: dict[str, Path] | None) -> None:
    import yaml

    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()
    data: dict[str, Any] = {"basic_auth_users": {"prometheus": hashed}}
    if pki is not None:
        data["tls_server_config"] = {"cert_file": str(pki["server"]),
                                     "key_file": str(pki["server_key"])}
    path.write_text(yaml.safe_dump(data))


def _status(url: str, pki: dict[str, Path] | None, auth: tuple[str, str]) -> int | str:
    """HTTP status, or the name of the error for a handshake/connection failure."""
    try:
        if pki is not None:
            return _https(url, pki, auth)
        req = urllib.request.Request(url, headers={
            "Authorization": "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()})
        with urllib.request.urlopen(req, timeout=5) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)
    except (OSError, ssl.SSLError) as e:
        return type(getattr(e, "reason", e)).__name__


def _until(check: Any, want: Any, timeout: float = 20.0) -> Any:
    """Poll until check() == want (bounded); returns the last value, for the assert message."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got == want or time.monotonic() > deadline:
            return got
        time.sleep(0.3)


def test_reload_rereads_web_config(tmp_path: Path) -> None:
    """Like exporter-toolkit re-reading its file: new users, a renewed certificate and TLS
    switched off all apply on SIGHUP without a restart; a broken web config refuses the reload
    and the running users and certificate stay."""
    (tmp_path / "old").mkdir()
    (tmp_path / "new").mkdir()
    old_pki = make_pki(tmp_path / "old")
    new_pki = make_pki(tmp_path / "new")  # another CA: tells which certificate is served
    web = tmp_path / "web-config.yml"
    _write_web(web, "lama-2025", old_pki)
    cfg = {**BASE, "web_config_file": str(web)}
    with run_agent(cfg, tmp_path, wait_ready=False) as agent:
        https = agent.url.replace("http://", "https://") + "/metrics"
        assert _until(lambda: _status(https, old_pki, ("prometheus", "lama-2025")), 200) == 200

        # New password and renewed certificate (from the new CA).
        _write_web(web, "baru-2026", new_pki)
        agent.signal(signal.SIGHUP)
        assert _until(lambda: _status(https, new_pki, ("prometheus", "baru-2026")), 200) == 200
        assert _status(https, new_pki, ("prometheus", "lama-2025")) == 401
        assert _status(https, old_pki, ("prometheus", "baru-2026")) == "SSLCertVerificationError"

        # A broken web config: the reload is refused, the running users/certificate stay.
        web.write_text("basic_auth_users:\n  prometheus: plain-text-password\n")
        agent.signal(signal.SIGHUP)

        def refused() -> bool:
            ctx = ssl.create_default_context(cafile=str(new_pki["ca"]))
            req = urllib.request.Request(https, headers={
                "Authorization": "Basic " + base64.b64encode(b"prometheus:baru-2026").decode()})
            try:
                with urllib.request.urlopen(req, timeout=5, context=ctx) as r:
                    m = parse_metrics(r.read().decode())
            except OSError:
                return False
            return pick(m, "pantau_config_last_reload_successful") == [0.0]

        assert _until(refused, True) is True, agent.log_text()[-2000:]
        assert _status(https, new_pki, ("prometheus", "baru-2026")) == 200
        log = agent.log_text()
        assert "reload refused" in log and "not a bcrypt hash" in log
        assert "baru-2026" not in log and "lama-2025" not in log

        # TLS switched off: plain HTTP with basic auth on the same port.
        _write_web(web, "baru-2026", None)
        agent.signal(signal.SIGHUP)
        assert _until(lambda: _status(agent.url + "/metrics", None,
                                      ("prometheus", "baru-2026")), 200) == 200
        assert _status(agent.url + "/metrics", None, ("prometheus", "lama-2025")) == 401
        assert agent.proc.poll() is None


def _reload_gauge(url: str, pki: dict[str, Path], auth: tuple[str, str]) -> float | str:
    """pantau_config_last_reload_successful over HTTPS, or the error's name."""
    ctx = ssl.create_default_context(cafile=str(pki["ca"]))
    req = urllib.request.Request(url, headers={
        "Authorization": "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()})
    try:
        with urllib.request.urlopen(req, timeout=5, context=ctx) as r:
            return pick(parse_metrics(r.read().decode()),
                        "pantau_config_last_reload_successful")[0]
    except (OSError, ssl.SSLError) as e:
        return type(getattr(e, "reason", e)).__name__


def test_reload_refuses_tls_that_would_fail_every_handshake(tmp_path: Path) -> None:
    """Item 9 of issue 13: web configs whose files load but whose TLS fails later, in every
    connection's task (max_version below min_version, TLS 1.0/1.1 only), and files that
    change under an unchanged web-config.yml (certificate replaced by garbage, a key of
    another pair, a key with a passphrase). Each SIGHUP is a refused reload: the metric goes
    to 0, the reason is logged, and the running certificate and users keep answering. The
    old code said 1 for the version cases and then failed every HTTPS handshake."""
    import yaml
    from cryptography.hazmat.primitives import serialization

    (tmp_path / "pki").mkdir()
    (tmp_path / "other").mkdir()
    pki = make_pki(tmp_path / "pki")
    other = make_pki(tmp_path / "other")
    good_cert, good_key = pki["server"].read_bytes(), pki["server_key"].read_bytes()
    web = tmp_path / "web-config.yml"
    auth = ("prometheus", "rahasia-2026")
    _write_web(web, auth[1], pki)
    good_web = web.read_text()
    with run_agent({**BASE, "web_config_file": str(web)}, tmp_path, wait_ready=False) as agent:
        url = agent.url.replace("http://", "https://") + "/metrics"
        assert _until(lambda: _reload_gauge(url, pki, auth), 1.0) == 1.0, agent.log_text()

        def versions(lo: str, hi: str) -> None:
            data = yaml.safe_load(good_web)
            data["tls_server_config"] |= {"min_version": lo, "max_version": hi}
            web.write_text(yaml.safe_dump(data))

        def garbage_cert() -> None:
            pki["server"].write_text("-----BEGIN CERTIFICATE-----\nbukan sertifikat\n")

        def other_key() -> None:
            pki["server_key"].write_bytes(other["server_key"].read_bytes())

        def encrypted_key() -> None:
            key = serialization.load_pem_private_key(good_key, None)
            pki["server_key"].write_bytes(key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(b"kata-sandi")))

        cases = [("max below min", lambda: versions("TLS13", "TLS12"), "NO_PROTOCOLS_AVAILABLE"),
                 ("TLS 1.0/1.1 only", lambda: versions("TLS10", "TLS11"), "no TLS handshake"),
                 ("garbage certificate", garbage_cert, "not a readable PEM"),
                 ("key of another pair", other_key, "KEY_VALUES_MISMATCH"),
                 ("key with a passphrase", encrypted_key, "encrypted with a passphrase")]
        for name, spoil, reason in cases:
            spoil()
            agent.signal(signal.SIGHUP)
            got = _until(lambda: _reload_gauge(url, pki, auth), 0.0)
            assert got == 0.0, (name, got, agent.log_text()[-3000:])
            # still the old certificate and users: a full handshake and 200 with them
            assert _status(url, pki, auth) == 200, name
            last = agent.log_text().rpartition("reload refused")[2]
            assert reason in last, (name, last)
            # put the good files back: the next reload succeeds on them
            web.write_text(good_web)
            pki["server"].write_bytes(good_cert)
            pki["server_key"].write_bytes(good_key)
            agent.signal(signal.SIGHUP)
            assert _until(lambda: _reload_gauge(url, pki, auth), 1.0) == 1.0, name
        assert auth[1] not in agent.log_text() and "kata-sandi" not in agent.log_text()
        assert agent.proc.poll() is None


def test_idle_client_does_not_stall_https_scrapes(tmp_path: Path) -> None:
    """Five clients connect to the HTTPS port and say nothing. The handshake deadline is 30 s
    and each scrape's client timeout 8 s, so if the accept loop waited on the silent clients'
    handshakes (prometheus_client's server does) every scrape here would time out."""
    pki = make_pki(tmp_path)
    web = load_web_config(_web_config(tmp_path, pki, None))
    server = MetricsServer(_expo(), "127.0.0.1", 0, web_config=web, handshake_timeout=30.0)
    with _Served(server):
        url = f"https://127.0.0.1:{server.port}/metrics"
        assert _https(url, pki, ("prometheus", "rahasia-kantor"), timeout=8) == 200
        idle = [socket.create_connection(("127.0.0.1", server.port), timeout=5)
                for _ in range(5)]
        try:
            times = []
            for _ in range(5):
                t0 = time.monotonic()
                assert _https(url, pki, ("prometheus", "rahasia-kantor"), timeout=8) == 200
                times.append(time.monotonic() - t0)
            assert max(times) < 8.0, times  # far under the 30 s the silent clients may take
            for s in idle:
                s.setblocking(False)
                with pytest.raises(BlockingIOError):
                    s.recv(1)  # still connected, nothing received, nobody closed them
        finally:
            for s in idle:
                s.close()


def test_bad_web_config_is_a_clear_error(tmp_path: Path) -> None:
    web = tmp_path / "web.yml"
    web.write_text("basic_auth_users:\n  admin: plaintext-password\n")
    cfg_path = tmp_path / "pantau.yml"
    cfg_path.write_text(f"site: x\nweb_config_file: {web}\nstate_dir: {tmp_path}/s\n")
    r = run_cli("run", "--config", str(cfg_path), "--listen", "127.0.0.1:0", timeout=30)
    assert r.returncode == 2, r.stderr
    assert "not a bcrypt hash" in r.stderr and "Traceback" not in r.stderr
    assert "plaintext-password" not in r.stderr


# --- MetricsServer on its own: routes, HTTP edge cases, limits ---------------------------------

class _Served:
    """A MetricsServer on a private event loop in a thread, for blocking test clients."""

    def __init__(self, server: MetricsServer) -> None:
        self.server = server
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> _Served:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()

    def raw(self, data: bytes, host: str = "127.0.0.1") -> bytes:
        with socket.create_connection((host, self.server.port), timeout=5) as s:
            s.sendall(data)
            chunks = []
            for _ in range(100):
                chunk = s.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
            return b"".join(chunks)


def _expo() -> Exposition:
    expo = Exposition([
        MetricSpec("pantau_check_up", "gauge", "1 when the last check succeeded.", ()),
        MetricSpec("pantau_if_in_octets_total", "counter", "Octets received.",
                   ("device", "ifname")),
        MetricSpec("pantau_device_info", "info", "Device identity.", ("device", "descr")),
    ])
    expo.update("a", [
        Sample("pantau_check_up", 1.0, (("site", "kantor"), ("check", "portal"))),
        Sample("pantau_if_in_octets_total", 1.5e12, (("device", "sw1"), ("ifname", "ge-0/0/1"))),
        Sample("pantau_device_info", 1.0, (("device", "sw1"),
                                           ("descr", 'Cisco "IOS"\nline2 \\ x'))),
        Sample("pantau_not_declared", 3.0, ()),
    ])
    expo.update("b", [Sample("pantau_check_up", 0.0, (("site", "kantor"), ("check", "dns")))])
    expo.refresh()
    return expo


def test_promtool_clean_on_rendered_exposition() -> None:
    body = _expo().body()
    assert _promtool_findings(body) == set()
    assert b"pantau_not_declared" not in body
    assert b"# TYPE pantau_if_in_octets_total counter" in body


def test_routes_reload_probe_ready() -> None:
    state = {"ready": False, "reload_ok": True}
    calls: list[tuple[str, str, float | None]] = []

    async def reload() -> tuple[bool, str]:
        return (True, "reloaded") if state["reload_ok"] else (False, "checks.0.target: bad")

    async def probe(module: str, target: str, timeout: float | None) -> tuple[int, str, bytes]:
        calls.append((module, target, timeout))
        return 200, CONTENT_TYPE, b"probe_success 1\n"

    server = MetricsServer(_expo(), "127.0.0.1", 0, ready=lambda: bool(state["ready"]),
                           reload=reload, probe=probe, site="kantor <b>")
    with _Served(server) as srv:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)

        def get(path: str, method: str = "GET", headers: dict[str, str] | None = None
                ) -> tuple[int, bytes, http.client.HTTPResponse]:
            conn.request(method, path, headers=headers or {})
            r = conn.getresponse()
            return r.status, r.read(), r

        assert get("/-/healthy")[:2] == (200, b"OK\n")
        assert get("/-/ready")[0] == 503
        state["ready"] = True
        assert get("/-/ready")[0] == 200
        status, body, r = get("/metrics")
        assert status == 200 and r.headers["Content-Type"] == CONTENT_TYPE
        assert b'pantau_check_up{site="kantor",check="dns"} 0' in body
        status, head_body, r = get("/metrics", "HEAD")
        assert status == 200 and head_body == b"" and int(r.headers["Content-Length"]) == len(body)
        status, gz, r = get("/metrics", headers={"Accept-Encoding": "br, gzip;q=0.5"})
        assert r.headers["Content-Encoding"] == "gzip" and gzip.decompress(gz) == body
        status, plain, r = get("/metrics", headers={"Accept-Encoding": "gzip;q=0"})
        assert r.headers.get("Content-Encoding") is None and plain == body
        assert get("/-/reload")[0] == 405
        assert get("/-/reload", "POST")[:2] == (200, b"reloaded\n")
        state["reload_ok"] = False
        assert get("/-/reload", "POST")[:2] == (500, b"checks.0.target: bad\n")
        assert get("/probe?module=icmp")[0] == 400
        assert get("/probe?target=1.2.3.4")[0] == 400
        assert not calls
        status, body, _ = get("/probe?module=icmp&target=127.0.0.1",
                              headers={"X-Prometheus-Scrape-Timeout-Seconds": "9.5"})
        assert (status, body) == (200, b"probe_success 1\n")
        assert calls == [("icmp", "127.0.0.1", 9.5)]
        status, body, _ = get("/")
        assert status == 200 and b'href="/metrics"' in body and b"kantor &lt;b&gt;" in body
        assert get("/nope")[0] == 404
        assert get("/metrics", "DELETE")[0] == 405
        conn.close()

    bare = MetricsServer(_expo(), "127.0.0.1", 0)  # no probe, no reload handler
    with _Served(bare) as srv:
        assert b" 404 " in srv.raw(b"GET /probe?module=a&target=b HTTP/1.0\r\n\r\n")
        assert b" 403 " in srv.raw(b"POST /-/reload HTTP/1.0\r\n\r\n")


def test_keepalive_on_ipv6_loopback() -> None:
    server = MetricsServer(_expo(), "[::1]", 0)
    with _Served(server):
        conn = http.client.HTTPConnection("::1", server.port, timeout=5)
        conn.request("GET", "/metrics")
        r = conn.getresponse()
        assert r.status == 200 and b"pantau_check_up" in r.read()
        sock = conn.sock
        for _ in range(3):
            conn.request("GET", "/-/healthy")
            assert conn.getresponse().read() == b"OK\n"
        assert conn.sock is sock  # all on the one connection
        conn.close()


def test_malformed_requests_and_slow_clients() -> None:
    server = MetricsServer(_expo(), "127.0.0.1", 0, request_timeout=0.5, keepalive_idle=1.0,
                           max_connections=4)
    with _Served(server) as srv:
        for raw, code in (
            (b"GARBAGE\r\n\r\n", b"400"),
            (b"GET metrics HTTP/1.1\r\n\r\n", b"400"),
            (b"\x00\x01\x02 / HTTP/1.1\r\n\r\n", b"400"),
            (b"GET /metrics HTTP/2.0\r\n\r\n", b"400"),
            (b"GET /metrics HTTP/1.1\r\n: novalue\r\n\r\n", b"400"),
            (b"GET /metrics HTTP/1.1\r\nContent-Length: -1\r\n\r\n", b"400"),
            (b"GET /metrics HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", b"400"),
            (b"POST /-/reload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", b"501"),
            (b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n", b"431"),
        ):
            reply = srv.raw(raw)
            assert reply.split(b" ", 2)[1] == code, (raw[:40], reply[:80])
        # absolute-form target, and a POST body announced with Expect: 100-continue
        assert b" 200 " in srv.raw(b"GET http://x/-/healthy HTTP/1.0\r\n\r\n")
        reply = srv.raw(b"POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n"
                        b"Expect: 100-continue\r\nConnection: close\r\n\r\nabc")
        assert reply.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404")

        # slowloris: a request head that never completes is cut off by the server
        slow = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        idle = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        try:
            slow.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            assert slow.recv(100) == b""  # closed by the server, not by our 5 s timeout
            assert idle.recv(100) == b""  # an idle connection that never spoke, too
        finally:
            slow.close()
            idle.close()

        # connection cap: 4 idle connections held open; a newcomer evicts the oldest idle
        # one instead of being refused, so idle clients cannot lock out a scrape
        held = [socket.create_connection(("127.0.0.1", server.port), timeout=5)
                for _ in range(4)]
        try:
            wait_until(lambda: server.open_connections >= 4, 5.0, "the server holding all four")
            assert b" 200 " in srv.raw(b"GET /-/healthy HTTP/1.0\r\n\r\n")
            assert server.evicted_connections >= 1
            assert held[0].recv(100) == b""  # the oldest was the one closed
        finally:
            for s in held:
                s.close()


def test_bcrypt_runs_once_and_allowed_sans(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    hashed = bcrypt.hashpw(b"rahasia-kantor", bcrypt.gensalt(4)).decode()
    tls = {"cert_file": pki["server"], "key_file": pki["server_key"],
           "client_auth_type": "RequireAndVerifyClientCert", "client_ca_file": pki["ca"]}
    good = ("prometheus", "rahasia-kantor")
    cfg = WebConfig.model_validate({"tls_server_config": {**tls,
                                                          "client_allowed_sans": ["prometheus"]},
                                    "basic_auth_users": {"prometheus": hashed},
                                    "http_server_config": {"headers": {"X-Frame-Options":
                                                                       "deny"}}})
    server = MetricsServer(_expo(), "127.0.0.1", 0, web_config=cfg)
    with _Served(server):
        url = f"https://127.0.0.1:{server.port}/metrics"
        for _ in range(5):
            assert _https(url, pki, good, client_cert=True) == 200
        assert server.auth.bcrypt_checks == 1
        assert _https(url, pki, ("prometheus", "salah"), client_cert=True) == 401
        ctx = ssl.create_default_context(cafile=str(pki["ca"]))
        ctx.load_cert_chain(str(pki["client"]), str(pki["client_key"]))
        with urllib.request.urlopen(f"https://127.0.0.1:{server.port}/-/healthy", timeout=5,
                                    context=ctx) as r:
            assert r.headers["X-Frame-Options"] == "deny"
    other = cfg.model_copy(deep=True)
    assert other.tls_server_config is not None
    other.tls_server_config.client_allowed_sans = ["grafana"]
    server = MetricsServer(_expo(), "127.0.0.1", 0, web_config=other)
    with _Served(server):
        assert _https(f"https://127.0.0.1:{server.port}/metrics", pki, good,
                      client_cert=True) == 403


def test_per_peer_limit_and_unread_responses_are_bounded() -> None:
    """One address may hold max_connections_per_peer connections (more are closed at once,
    other addresses still served), and a client that never reads a large response holds only
    the small write buffer, not a copy of the body."""
    from exporters import http_server

    expo = _expo()
    big = b"x" * (8 << 20)
    expo.body = lambda use_gzip=False: big  # type: ignore[method-assign]
    expo.refresh = lambda: None  # type: ignore[method-assign]
    server = MetricsServer(expo, "127.0.0.1", 0, max_connections_per_peer=3)
    with _Served(server):
        held = []
        for _ in range(3):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            s.connect(("127.0.0.1", server.port))
            held.append(s)
        time.sleep(0.2)
        extra = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        assert extra.recv(100) == b""  # closed at once
        assert server.refused_connections >= 1
        with socket.create_connection(("127.0.0.1", server.port), timeout=5,
                                      source_address=("127.0.0.2", 0)) as other:
            other.sendall(b"GET /-/healthy HTTP/1.0\r\n\r\n")
            assert b" 200 " in other.recv(200)
        for s in held:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")  # and never read
        time.sleep(1.0)

        def buffered() -> int:
            return sum(t.get_write_buffer_size() for t in _transports(server))

        assert 0 < buffered() <= 3 * (http_server.WRITE_BUFFER_HIGH + http_server.WRITE_CHUNK)
        extra.close()
        for s in held:
            s.close()


def _transports(server: MetricsServer) -> list[asyncio.WriteTransport]:
    out = []
    for task in server._conns:
        coro = task.get_coro()
        frame = getattr(coro, "cr_frame", None)
        writer = frame.f_locals.get("writer") if frame is not None else None
        if writer is not None:
            out.append(writer.transport)
    return out


def test_metrics_built_ahead_once_per_scrape() -> None:
    """A result after a scrape gets the body (and, after a gzip scrape, its gzip) built once
    on the server's loop before the next scrape, which then builds nothing; more results
    before that scrape build nothing ahead, and an unchanged body nothing at all."""
    expo = _expo()
    server = MetricsServer(expo, "127.0.0.1", 0)

    def put(value: float) -> None:  # results arrive on the loop's thread, as in the agent
        done = threading.Event()

        def run() -> None:
            expo.update("b", [Sample("pantau_check_up", value, (("check", "b"),))])
            done.set()
        srv.loop.call_soon_threadsafe(run)
        assert done.wait(5)

    with _Served(server) as srv:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)

        def scrape() -> bytes:
            conn.request("GET", "/metrics", headers={"Accept-Encoding": "gzip"})
            r = conn.getresponse()
            return gzip.decompress(r.read())

        scrape()
        renders, ahead = expo.renders, expo.ahead_builds
        put(1.0)
        wait_until(lambda: expo.ahead_builds == ahead + 1, 5, "the body built ahead")
        assert expo.renders == renders + 1 and not expo._gzip_stale
        put(0.0)  # changed again before the next scrape: not built ahead again
        put(1.0)
        time.sleep(0.3)  # far more than the quiet the server waits for
        assert expo.ahead_builds == ahead + 1 and expo.renders == renders + 1
        body = scrape()  # builds the last two results itself
        assert b'pantau_check_up{check="b"} 1\n' in body and expo.renders == renders + 2
        assert body == expo.body()
        renders = expo.renders
        assert scrape() == body and expo.renders == renders  # unchanged: no work at all
        time.sleep(0.3)
        assert expo.ahead_builds == ahead + 1 and expo.renders == renders
        conn.close()
    assert expo._hook is None  # the stopped server no longer builds for this exposition
