"""OpenSSL is mapped only when TLS is used (collectors/common/openssl_on_demand.py), and
nothing works differently for it: the digests are the same, and asyncio's TLS works once ssl
is imported. Runs in fresh interpreters, since pytest has long imported asyncio and ssl."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import subprocess
import sys
from pathlib import Path

from cryptography import x509

from tests.helpers.certs import issue, new_ca, pem, pem_key

REPO = Path(__file__).resolve().parents[2]

DIGESTS = ("md5", "sha1", "sha224", "sha256", "sha384", "sha512")

# What the agent's start leaves loaded, and every digest it computes, from a fresh interpreter.
START = r"""
import json, sys
import collectors  # what every pantau process imports first
from collectors.common import openssl_on_demand
from collectors.snmp import usm
import asyncio.sslproto, hashlib, hmac
maps = open("/proc/self/maps").read()
msg = b"pantau " * 100
print(json.dumps({
    "deferred": openssl_on_demand.deferred(),
    "ssl_loaded": "ssl" in sys.modules, "hashlib_openssl": "_hashlib" in sys.modules,
    "libssl": "libssl" in maps, "libcrypto": "libcrypto" in maps,
    "asyncio_ssl": asyncio.sslproto.ssl is not None,
    "digests": {n: hashlib.new(n, msg).hexdigest() for n in %(digests)r},
    "hmacs": {n: hmac.digest(b"kunci", msg, n).hex() for n in %(digests)r},
    "usm": {n: usm.localize(usm.password_to_key(b"maplesyrup", n),
                            bytes.fromhex("000000000000000000000002"), n).hex()
            for n in ("md5", "sha1", "sha256")},
}))
"""

# SNMPv3 puts hashlib and hmac back on OpenSSL without loading ssl.
DIGESTS_BACK = r"""
import json, sys
import collectors
import hashlib, hmac
before = hmac._hashopenssl is None and "openssl" not in hashlib.sha1.__name__
from collectors.snmp.usm import User
User.make("u", "SHA", "kata-sandi-1", "AES", "kata-sandi-2")
msg = b"pantau " * 100
print(json.dumps({
    "before_builtin": before,
    "hmac_openssl": hmac._hashopenssl is not None,
    "hashlib_openssl": "openssl" in hashlib.sha1.__name__,
    "ssl_loaded": "ssl" in sys.modules,
    "digests": {n: hashlib.new(n, msg).hexdigest() for n in %(digests)r},
    "hmacs": {n: hmac.digest(b"kunci", msg, n).hex() for n in %(digests)r},
}))
"""

# After such a start: ssl imported, then asyncio's own TLS server, client and start_tls.
TLS = r"""
import json, sys
import collectors
from collectors.common import openssl_on_demand
was_deferred = openssl_on_demand.deferred()
import asyncio
import ssl
cert, key, ca = sys.argv[1:4]

async def main():
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=ca)
    got = []

    async def echo(reader, writer):
        line = await reader.readline()
        if line == b"STARTTLS\n":  # what the /metrics server does: plain accept, then TLS
            writer.write(b"OK\n")
            await writer.drain()
            await writer.start_tls(server_ctx)
            line = await reader.readline()
        writer.write(line.upper())
        await writer.drain()
        writer.close()

    tls = await asyncio.start_server(echo, "127.0.0.1", 0, ssl=server_ctx)
    plain = await asyncio.start_server(echo, "127.0.0.1", 0)
    for srv, upgrade in ((tls, False), (plain, True)):
        port = srv.sockets[0].getsockname()[1]
        if upgrade:
            r, w = await asyncio.open_connection("127.0.0.1", port)
            w.write(b"STARTTLS\n")
            await w.drain()
            assert await r.readline() == b"OK\n"
            await w.start_tls(client_ctx, server_hostname="localhost")
        else:
            r, w = await asyncio.open_connection("127.0.0.1", port, ssl=client_ctx,
                                                 server_hostname="localhost")
        w.write(b"halo kantor\n")
        await w.drain()
        got.append((await asyncio.wait_for(r.readline(), 5)).decode())
        got.append(w.get_extra_info("ssl_object").version())
        w.close()
    for srv in (tls, plain):
        srv.close()
        await srv.wait_closed()
    return got

got = asyncio.run(asyncio.wait_for(main(), 20))
import hmac
print(json.dumps({"was_deferred": was_deferred, "deferred": openssl_on_demand.deferred(),
                  "got": got, "hmac_openssl": hmac._hashopenssl is not None}))
"""


def _run(code: str, *args: str) -> dict[str, object]:
    r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                       cwd=REPO, timeout=60)
    assert r.returncode == 0, r.stderr
    out: dict[str, object] = json.loads(r.stdout)
    return out


def test_a_start_maps_no_openssl_and_the_digests_are_the_same() -> None:
    from collectors.snmp import usm

    got = _run(START % {"digests": DIGESTS})
    assert got["deferred"] is True
    assert not got["ssl_loaded"] and not got["hashlib_openssl"]
    assert not got["libssl"] and not got["libcrypto"]
    assert got["asyncio_ssl"] is False
    msg = b"pantau " * 100
    # here (pytest loaded OpenSSL long ago) hashlib and hmac are OpenSSL's: same answers
    assert "_hashlib" in sys.modules
    assert got["digests"] == {n: hashlib.new(n, msg).hexdigest() for n in DIGESTS}
    assert got["hmacs"] == {n: hmac.digest(b"kunci", msg, n).hex() for n in DIGESTS}
    engine = bytes.fromhex("000000000000000000000002")
    assert got["usm"] == {n: usm.localize(usm.password_to_key(b"maplesyrup", n), engine, n).hex()
                          for n in ("md5", "sha1", "sha256")}
    # RFC 3414 A.3.1: the MD5 key of "maplesyrup" for that engine
    assert got["usm"]["md5"] == "526f5eed9fcce26f8964c2930787d82b"  # type: ignore[index]


def test_snmpv3_puts_the_digests_back_on_openssl() -> None:
    got = _run(DIGESTS_BACK % {"digests": DIGESTS})
    assert got["before_builtin"] is True
    assert got["hmac_openssl"] is True and got["hashlib_openssl"] is True
    assert got["ssl_loaded"] is False  # the digests need libcrypto, not ssl
    msg = b"pantau " * 100
    assert got["digests"] == {n: hashlib.new(n, msg).hexdigest() for n in DIGESTS}
    assert got["hmacs"] == {n: hmac.digest(b"kunci", msg, n).hex() for n in DIGESTS}


def test_asyncio_tls_works_once_ssl_is_imported(tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    ca, ca_key = new_ca("pantau test CA", now + dt.timedelta(days=1))
    cert, key = issue(ca, ca_key, "localhost", [x509.DNSName("localhost")],
                      x509.oid.ExtendedKeyUsageOID.SERVER_AUTH, now - dt.timedelta(hours=1),
                      now + dt.timedelta(days=1))
    (tmp_path / "c.pem").write_bytes(pem(cert))
    (tmp_path / "k.pem").write_bytes(pem_key(key))
    (tmp_path / "ca.pem").write_bytes(pem(ca))
    got = _run(TLS, str(tmp_path / "c.pem"), str(tmp_path / "k.pem"), str(tmp_path / "ca.pem"))
    assert got["was_deferred"] is True  # asyncio did start without ssl...
    assert got["deferred"] is False  # ...and the first `import ssl` handed it over
    assert got["hmac_openssl"] is True  # OpenSSL's digests too, now that it is mapped
    replies = got["got"]
    assert isinstance(replies, list)
    assert replies[0::2] == ["HALO KANTOR\n", "HALO KANTOR\n"]
    assert all(str(v).startswith("TLSv1.") for v in replies[1::2])


def test_nothing_is_deferred_once_asyncio_is_loaded() -> None:
    got = _run("import asyncio, json\nimport collectors\n"
               "from collectors.common import openssl_on_demand\nimport sys\n"
               "print(json.dumps({'deferred': openssl_on_demand.deferred(),"
               " 'ssl': asyncio.sslproto.ssl is not None}))")
    assert got == {"deferred": False, "ssl": True}
