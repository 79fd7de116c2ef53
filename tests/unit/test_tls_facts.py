"""The TLS facts of a handshake (collectors/probe/net.py) are read from OpenSSL's own decoding
of the certificates, not with cryptography's x509 module (10.5 MiB of RSS). Here a real
handshake on loopback with a certificate whose names need escaping, verified and not, and
every fact compared with what cryptography reads from the same certificates."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import ipaddress
import ssl
import sys
from pathlib import Path
from typing import Any

import pytest

from collectors.probe.net import earliest_expiry, tls_facts
from tests.helpers.certs import new_ca, pem, pem_key


def _tricky_leaf(tmp: Path) -> tuple[Path, Path, Path, Any, Any]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    ca, ca_key = new_ca("Diskominfo CA, Kab. Contoh", now + dt.timedelta(days=90))
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([
        x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COUNTRY_NAME, "ID")]),
        x509.RelativeDistinguishedName([
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Pemkab + Dinas \"DPMPTSP\""),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "#perizinan; <web>")]),
        x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COMMON_NAME, " portal ")]),
    ])
    leaf = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30, seconds=7))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.DNSName("perizinan.example.go.id"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    (tmp / "ca.pem").write_bytes(pem(ca))
    (tmp / "leaf.pem").write_bytes(pem(leaf) + pem(ca))
    (tmp / "leaf.key").write_bytes(pem_key(key))
    return tmp / "ca.pem", tmp / "leaf.pem", tmp / "leaf.key", leaf, ca


def _handshake(cert: Path, key: Path, client: ssl.SSLContext) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_ctx.load_cert_chain(cert, key)

        async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            await r.read(1)
            w.close()

        srv = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_ctx)
        port = srv.sockets[0].getsockname()[1]
        try:
            _, w = await asyncio.open_connection("127.0.0.1", port, ssl=client,
                                                 server_hostname="localhost")
            obj = w.get_extra_info("ssl_object")
            facts = tls_facts(obj)
            facts["_expiry"] = earliest_expiry(obj)
            facts["_verified"] = [c.public_bytes(2) for c in obj._sslobj.get_verified_chain()]
            w.close()
            return facts
        finally:
            srv.close()
            await srv.wait_closed()

    return asyncio.run(run())


@pytest.mark.parametrize("verify", [True, False])
def test_tls_facts_match_cryptography(tmp_path: Path, verify: bool) -> None:
    ca_pem, cert, key, leaf, ca = _tricky_leaf(tmp_path)
    client = ssl.create_default_context(cafile=str(ca_pem))
    if not verify:
        client.check_hostname = False
        client.verify_mode = ssl.CERT_NONE
    facts = _handshake(cert, key, client)
    from cryptography.hazmat.primitives.serialization import Encoding

    assert facts["subject"] == leaf.subject.rfc4514_string()
    assert facts["issuer"] == leaf.issuer.rfc4514_string()
    # escaped where RFC 4514 says, the multi-valued RDN kept together
    assert facts["subject"].startswith("CN=\\ portal\\ ,"), facts["subject"]
    assert "O=Pemkab \\+ Dinas \\\"DPMPTSP\\\"" in facts["subject"], facts["subject"]
    assert "OU=\\#perizinan\\; \\<web\\>+O=" in facts["subject"], facts["subject"]
    assert facts["dns_names"] == "localhost,perizinan.example.go.id"
    assert facts["fingerprint_sha256"] == hashlib.sha256(
        leaf.public_bytes(Encoding.DER)).hexdigest()
    # the leaf expires first; whole seconds, as the certificate writes them
    expiry = leaf.not_valid_after_utc.timestamp()
    assert facts["earliest_expiry"] == facts["_expiry"] == expiry
    assert facts["earliest_expiry"] < ca.not_valid_after_utc.timestamp()
    # what OpenSSL calls the verified chain, read by cryptography as the code did before
    from cryptography import x509

    verified = [x509.load_der_x509_certificate(d).not_valid_after_utc.timestamp()
                for d in facts["_verified"]]
    assert facts["verified_chain_expiry"] == (min(verified) if verified else None)
    if verify:
        assert facts["verified_chain_expiry"] == expiry
    assert facts["version"] in ("TLSv1.2", "TLSv1.3")


def test_tls_facts_load_no_x509_library(tmp_path: Path) -> None:
    """A handshake's facts in a fresh interpreter: cryptography stays out."""
    import subprocess

    _, cert, key, _, _ = _tricky_leaf(tmp_path)
    code = (
        "import json, ssl, sys\n"
        "from tests.unit.test_tls_facts import _handshake\n"
        "ctx = ssl.create_default_context(cafile=sys.argv[3])\n"
        "facts = _handshake(sys.argv[1], sys.argv[2], ctx)\n"
        "print(json.dumps([facts['dns_names'], 'cryptography' in sys.modules]))\n")
    # (the _handshake helper itself reads no certificate with cryptography)
    repo = Path(__file__).resolve().parents[2]
    r = subprocess.run([sys.executable, "-c", code, str(cert), str(key),
                        str(tmp_path / "ca.pem")], capture_output=True, text=True,
                       cwd=repo, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == '["localhost,perizinan.example.go.id", false]'
