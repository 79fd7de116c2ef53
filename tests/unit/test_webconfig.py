"""web-config.yml loading (exporter-toolkit format) and the basic-auth checker.

Every broken file must give one line naming the field; every credential check must agree with
bcrypt, and the cache must spare bcrypt for a repeated good header but never for a bad one."""

from __future__ import annotations

import asyncio
import base64
import ssl
from pathlib import Path

import bcrypt
import pytest
import yaml

from exporters.webconfig import BasicAuth, WebConfig, load_web_config
from tests.helpers.certs import make_pki

HASH = bcrypt.hashpw(b"rahasia", bcrypt.gensalt(4)).decode()


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "web.yml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def _error(path: Path) -> str:
    with pytest.raises(ValueError) as exc:
        load_web_config(path)
    message = str(exc.value)
    assert "\n" not in message, message
    return message


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_empty_and_full_files_load(tmp_path: Path) -> None:
    assert load_web_config(_write(tmp_path, "")).tls_server_config is None
    pki = make_pki(tmp_path)
    cfg = load_web_config(_write(tmp_path, {
        "tls_server_config": {"cert_file": str(pki["server"]), "key_file": str(pki["server_key"]),
                              "client_auth_type": "RequireAndVerifyClientCert",
                              "client_ca_file": str(pki["ca"]), "min_version": "TLS13",
                              "cipher_suites": ["TLS_AES_128_GCM_SHA256"]},
        "http_server_config": {"headers": {"X-Frame-Options": "deny"}},
        "basic_auth_users": {"prometheus": HASH},
    }))
    ctx = cfg.ssl_context()
    assert ctx is not None
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_3
    assert cfg.http_server_config.headers == {"X-Frame-Options": "deny"}


@pytest.mark.parametrize(("mode", "verify"), [
    ("NoClientCert", ssl.CERT_NONE), ("VerifyClientCertIfGiven", ssl.CERT_OPTIONAL),
    ("RequireAndVerifyClientCert", ssl.CERT_REQUIRED), ("RequireAnyClientCert", ssl.CERT_REQUIRED),
])
def test_client_auth_types(tmp_path: Path, mode: str, verify: ssl.VerifyMode) -> None:
    pki = make_pki(tmp_path)
    ctx = WebConfig.model_validate({"tls_server_config": {
        "cert_file": pki["server"], "key_file": pki["server_key"], "client_auth_type": mode,
        "client_ca_file": pki["ca"]}}).ssl_context()
    assert ctx is not None and ctx.verify_mode == verify


@pytest.mark.parametrize(("content", "needle"), [
    ("basic_auth_users: [a\n", "invalid YAML"),
    ("- a\n- b\n", "(top level)"),
    ({"basic_auth_users": {"admin": "plain-password"}},
     "basic_auth_users: user 'admin': not a bcrypt"),
    ({"basic_auth_users": {"admin": "$1$md5crypt$abcdefgh"}}, "not a bcrypt hash"),
    ({"tls_server_config": {"cert_file": "/nonexistent/c.pem", "key_file": "/nonexistent/k.pem"}},
     "tls_server_config.cert_file/key_file"),
    ({"tls_server_config": {"cert_file": "/etc/hostname", "key_file": "/etc/hostname"}},
     "tls_server_config.cert_file/key_file"),
    ({"tls_server_config": {"cert_file": "a", "key_file": "b",
                            "client_auth_type": "RequireAndVerifyClientCert"}},
     "needs client_ca_file"),
    ({"tls_server_config": {"cert_file": "a", "key_file": "b", "client_auth_type": "Sometimes"}},
     "tls_server_config.client_auth_type"),
    ({"tls_server_config": {"cert_file": "a", "key_file": "b", "min_version": "SSL3"}},
     "tls_server_config.min_version"),
    ({"tls_server_config": {"cert_file": "a"}}, "tls_server_config.key_file"),
    ({"basic_auth": {"a": "b"}}, "basic_auth: Extra inputs are not permitted"),
    ({"http_server_config": {"headers": {"X-Evil": "a\r\nSet-Cookie: x"}}},
     "headers.X-Evil: value must be a single line"),
    ({"http_server_config": {"headers": {"Content-Length": "0"}}}, "cannot be overridden"),
    ({"http_server_config": {"headers": {"Bad Name": "x"}}}, "not a valid header name"),
])
def test_broken_files_name_the_field(tmp_path: Path, content: object, needle: str) -> None:
    message = _error(_write(tmp_path, content))
    assert needle in message, message
    assert "plain-password" not in message


def test_missing_file_and_bad_ca(tmp_path: Path) -> None:
    assert "file not found" in _error(tmp_path / "nope.yml")
    pki = make_pki(tmp_path)
    bad_ca = tmp_path / "ca-garbage.pem"
    bad_ca.write_text("not a certificate\n")
    message = _error(_write(tmp_path, {"tls_server_config": {
        "cert_file": str(pki["server"]), "key_file": str(pki["server_key"]),
        "client_auth_type": "VerifyClientCertIfGiven", "client_ca_file": str(bad_ca)}}))
    assert "tls_server_config.client_ca_file" in message and str(bad_ca) in message


def test_basic_auth_verdicts() -> None:
    auth = BasicAuth({"prometheus": HASH})
    assert auth.check(_basic("prometheus", "rahasia"))
    assert not auth.check(_basic("prometheus", "salah"))
    assert not auth.check(_basic("root", "rahasia"))  # unknown user, same password
    assert not auth.check(None)
    assert not auth.check("Bearer abc")
    assert not auth.check("Basic !!!not-base64")
    assert not auth.check("Basic " + base64.b64encode(b"no-colon").decode())
    assert BasicAuth({}).check(None)  # auth off: everyone in


def test_cache_spares_bcrypt_only_for_good_headers() -> None:
    auth = BasicAuth({"prometheus": HASH}, cache_size=2)
    good = _basic("prometheus", "rahasia")
    for _ in range(5):
        assert asyncio.run(auth.check_async(good))
    assert auth.bcrypt_checks == 1
    for _ in range(3):
        assert not asyncio.run(auth.check_async(_basic("prometheus", "salah")))
    assert auth.bcrypt_checks == 4  # failures are never cached
    assert auth.cached(good) is True  # and did not evict the good entry
    assert auth.cached(_basic("prometheus", "salah")) is None
    assert auth.cached(None) is False
