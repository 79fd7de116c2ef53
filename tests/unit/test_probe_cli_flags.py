"""`pantau probe` flags for the common options: --ca-file and --insecure against a real HTTPS
server on loopback with a private CA, --query for dns; wrong combinations are one line."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.agent import run_cli
from tests.helpers.certs import make_pki
from tests.helpers.listener import OkHttpServer


@pytest.fixture
def https(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    pki = make_pki(tmp_path)

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki["server"], pki["server_key"])
    with OkHttpServer(tls=ctx) as server:
        yield server.url, pki["ca"]


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
