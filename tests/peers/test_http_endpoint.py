"""The /metrics endpoint of a running agent: exposition checked by promtool, scraped by a real
Prometheus (plain, and with TLS + basic auth from an exporter-toolkit web config), auth and
client certificates accepted and refused, an idle client that cannot stall HTTPS scrapes, and
requests that are malformed."""

from __future__ import annotations

import gzip
import shutil
import socket
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import bcrypt
import pytest

from tests.helpers.agent import run_agent, run_cli
from tests.helpers.certs import make_pki
from tests.helpers.prometheus import run_prometheus

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
    """promtool's only findings may be the camelCase names pantau keeps on purpose because
    node_exporter has them (node_memory_MemAvailable_bytes...): the same findings promtool
    reports for a real node_exporter read in the same run."""
    with run_agent(BASE, tmp_path) as agent:
        agent.wait_for(lambda m: any(n == "pantau_icmp_rtt_seconds" for n, _ in m))
        body = agent.metrics_text().encode()
    ours = _promtool_findings(body)
    from tests.helpers.agent import free_port

    port = free_port()
    ne = subprocess.Popen(["prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{port}",
                           "--collector.disable-defaults", "--collector.meminfo"],
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
        ne.terminate()
        ne.wait(timeout=10)
    assert all(f.startswith("node_memory_") for f in ours), ours
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
        scrape = [
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


def test_idle_client_does_not_stall_https_scrapes(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    web = _web_config(tmp_path, pki, None)
    with run_agent({**BASE, "web_config_file": str(web)}, tmp_path, wait_ready=False) as agent:
        url = agent.url.replace("http://", "https://")
        host, port = agent.url.removeprefix("http://").split(":")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if _https(url + "/-/healthy", pki) == 200:
                    break
            except OSError:
                time.sleep(0.3)
        idle = [socket.create_connection((host, int(port)), timeout=5) for _ in range(5)]
        try:
            times = []
            for _ in range(5):
                t0 = time.monotonic()
                assert _https(url + "/metrics", pki, ("prometheus", "rahasia-kantor"),
                              timeout=4) == 200
                times.append(time.monotonic() - t0)
            # the idle clients are still connected, sending nothing; the handshake deadline is
            # 5 s, so a stalled accept loop would show up as multi-second scrapes
            assert max(times) < 2.0, times
            for s in idle:
                s.setblocking(False)
                with pytest.raises(BlockingIOError):
                    s.recv(1)  # still open: nobody closed them yet
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
