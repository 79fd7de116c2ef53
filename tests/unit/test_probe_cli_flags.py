"""`pantau probe` flags for the common options: --ca-file and --insecure against a real HTTPS
server on loopback with a private CA, --query for dns; wrong combinations are one line."""

from __future__ import annotations

import http.server
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.agent import run_cli
from tests.helpers.certs import make_pki


@pytest.fixture
def https(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    pki = make_pki(tmp_path)

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *a: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki["server"], pki["server_key"])
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/", pki["ca"]
    finally:
        server.shutdown()
        server.server_close()


def test_ca_file_and_insecure(https: tuple[str, Path]) -> None:
    url, ca = https
    r = run_cli("probe", "http", url, "--timeout", "3s")
    assert r.returncode == 1, r.stdout  # a private CA: the system's bundle refuses it
    r = run_cli("probe", "http", url, "--timeout", "3s", "--ca-file", str(ca))
    assert r.returncode == 0, r.stdout + r.stderr
    r = run_cli("probe", "http", url, "--timeout", "3s", "--insecure")
    assert r.returncode == 0, r.stdout + r.stderr


def test_query_and_bad_combinations(tmp_path: Path) -> None:
    r = run_cli("probe", "dns", "127.0.0.1:9", "--timeout", "1s")
    assert r.returncode == 2 and "query_name" in r.stderr
    r = run_cli("probe", "dns", "127.0.0.1:9", "--timeout", "1s", "--query", "oss.go.id")
    assert r.returncode == 1  # valid, and nothing answers on port 9
    r = run_cli("probe", "icmp", "127.0.0.1", "--insecure")
    assert r.returncode == 2 and "tls_config" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("probe", "http", "https://127.0.0.1:9/", "--ca-file", str(tmp_path / "none"))
    assert r.returncode == 2 and "ca_file" in r.stderr
