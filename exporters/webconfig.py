"""TLS and basic auth for /metrics, from a web-config.yml in Prometheus' exporter-toolkit format.

The same file an admin already writes for node_exporter works here unchanged:

    tls_server_config:
      cert_file: /etc/pantau/tls.crt
      key_file: /etc/pantau/tls.key
      client_auth_type: RequireAndVerifyClientCert   # optional
      client_ca_file: /etc/pantau/ca.crt
    basic_auth_users:
      prometheus: $2y$10$...                         # bcrypt hash (htpasswd -nBC 10 "" | tr -d ':')
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import logging
import os
import re
import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from collectors.common import yamlsafe
from collectors.common.tls import TLSVersion, is_ssl_error, tls_version
from collectors.config import StrictModel

if TYPE_CHECKING:
    import ssl

log = logging.getLogger(__name__)

ClientAuth = Literal[
    "NoClientCert", "RequestClientCert", "RequireAnyClientCert", "VerifyClientCertIfGiven",
    "RequireAndVerifyClientCert",
]


class TLSServerConfig(StrictModel):
    cert_file: Path
    key_file: Path
    client_auth_type: ClientAuth = "NoClientCert"
    client_ca_file: Path | None = None
    min_version: TLSVersion = "TLS12"
    max_version: TLSVersion | None = None
    cipher_suites: list[str] = Field(default_factory=list)
    prefer_server_cipher_suites: bool = True
    curve_preferences: list[str] = Field(default_factory=list)

    client_allowed_sans: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ca_needed(self) -> TLSServerConfig:
        # Python's ssl cannot ask for a certificate without verifying it against a CA, so
        # RequireAnyClientCert is enforced as RequireAndVerifyClientCert and needs the CA too.
        needs_ca = self.client_auth_type in ("RequireAnyClientCert", "VerifyClientCertIfGiven",
                                             "RequireAndVerifyClientCert")
        if needs_ca and self.client_ca_file is None:
            raise ValueError(f"client_auth_type {self.client_auth_type} needs client_ca_file")
        if self.client_allowed_sans and self.client_auth_type != "RequireAndVerifyClientCert":
            raise ValueError("client_allowed_sans needs client_auth_type "
                             "RequireAndVerifyClientCert")
        return self


_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
# Headers that framing and auth depend on; letting the config set them would break responses.
_RESERVED = {"content-length", "content-type", "content-encoding", "connection",
             "transfer-encoding", "www-authenticate"}


class HTTPServerConfig(StrictModel):
    headers: dict[str, str] = Field(default_factory=dict)
    http2: bool = True

    @field_validator("headers")
    @classmethod
    def _safe_headers(cls, v: dict[str, str]) -> dict[str, str]:
        for name, value in v.items():
            if not _TOKEN.match(name):
                raise ValueError(f"headers: {name!r} is not a valid header name")
            if name.lower() in _RESERVED:
                raise ValueError(f"headers: {name} is set by pantau and cannot be overridden")
            if any(c in value for c in "\r\n\0"):
                raise ValueError(f"headers.{name}: value must be a single line")
        return v


class WebConfig(StrictModel):
    tls_server_config: TLSServerConfig | None = None
    http_server_config: HTTPServerConfig = Field(default_factory=HTTPServerConfig)
    basic_auth_users: dict[str, str] = Field(default_factory=dict)

    @field_validator("basic_auth_users")
    @classmethod
    def _bcrypt_only(cls, v: dict[str, str]) -> dict[str, str]:
        for user, hashed in v.items():
            if not hashed.startswith(("$2a$", "$2b$", "$2y$")) or len(hashed) != 60:
                raise ValueError(f"user {user!r}: not a bcrypt hash "
                                 "(make one with: htpasswd -nBC 10 '' | tr -d ':')")
        return v

    def ssl_context(self) -> ssl.SSLContext | None:
        """The server context, or None for plain HTTP. Raises ValueError naming the file.

        Loading the files is not enough: versions and ciphers that leave no common protocol
        (max_version below min_version, TLS 1.0/1.1 that OpenSSL's security level forbids)
        load fine and then fail every handshake, in each connection's task, long after a
        reload said it succeeded. So one handshake is run here, in memory."""
        tls = self.tls_server_config
        if tls is None:
            return None  # ssl stays unloaded (collectors/common/openssl_on_demand.py)
        import ssl

        ctx = self._server_context(tls)
        _self_handshake(ctx, tls)  # before client certificates are asked for
        if tls.client_ca_file is not None:
            try:
                ctx.load_verify_locations(cafile=str(tls.client_ca_file))
            except (OSError, ssl.SSLError) as e:
                raise ValueError(f"tls_server_config.client_ca_file: cannot load "
                                 f"{tls.client_ca_file}: {_ssl_reason(e)}") from None
        ctx.verify_mode = {
            "NoClientCert": ssl.CERT_NONE,
            "RequestClientCert": ssl.CERT_NONE,
            "RequireAnyClientCert": ssl.CERT_REQUIRED,  # see _ca_needed
            "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
            "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
        }[tls.client_auth_type]
        if tls.cipher_suites or tls.curve_preferences:
            log.info("web config: cipher_suites/curve_preferences are accepted but Python's "
                     "TLS defaults apply")
        return ctx

    @staticmethod
    def _server_context(tls: TLSServerConfig) -> ssl.SSLContext:
        """Versions and the certificate/key pair: what a handshake needs before client
        certificates come in."""
        import ssl

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = tls_version(tls.min_version)
        if tls.max_version:
            ctx.maximum_version = tls_version(tls.max_version)
        try:
            # a passphrase callback that refuses: OpenSSL would otherwise prompt on the
            # terminal, and a reload would hang on a key nobody can type the passphrase for
            ctx.load_cert_chain(str(tls.cert_file), str(tls.key_file), password=_no_passphrase)
        except (OSError, ssl.SSLError, _EncryptedKey) as e:
            raise ValueError(f"tls_server_config.cert_file/key_file: cannot load "
                             f"{tls.cert_file} / {tls.key_file}: {_ssl_reason(e)}") from None
        return ctx

    def peer_allowed(self, peercert: dict[str, object] | None) -> bool:
        """client_allowed_sans: the verified client certificate must carry one of these SANs."""
        tls = self.tls_server_config
        if tls is None or not tls.client_allowed_sans:
            return True
        sans = peercert.get("subjectAltName", ()) if peercert else ()
        names = {str(v) for _, v in sans} if isinstance(sans, tuple) else set()
        return bool(names & set(tls.client_allowed_sans))


class BasicAuth:
    """Checks Authorization headers against bcrypt hashes.

    bcrypt costs ~60-100 ms per check by design and Prometheus sends the same header every
    scrape, so a successful check is remembered under an HMAC of the header with a per-process
    random key (never the password itself; the key makes cache timing useless to an attacker).
    Failures are not cached, so guessing cannot evict the real scraper's entry; uncached checks
    run in a thread, at most two at a time, so guessing cannot stall the event loop either.
    """

    def __init__(self, users: dict[str, str], cache_size: int = 64) -> None:
        self.users = users
        self._cache: OrderedDict[bytes, str] = OrderedDict()
        self._size = cache_size
        self._key = os.urandom(32)
        self._lock = threading.Lock()
        self._verifying: asyncio.Semaphore | None = None
        self.bcrypt_checks = 0  # for tests and self metrics: how often bcrypt really ran

    @property
    def enabled(self) -> bool:
        return bool(self.users)

    def _digest(self, header: str) -> bytes:
        return hmac.new(self._key, header.encode("utf-8", "replace"), "sha256").digest()

    def cached(self, header: str | None) -> bool | None:
        """True/False when decidable without bcrypt, None when bcrypt must run."""
        if not self.users:
            return True
        if not header or not header.startswith("Basic "):
            return False
        digest = self._digest(header)
        with self._lock:
            user = self._cache.get(digest)
            if user is not None and user in self.users:
                self._cache.move_to_end(digest)
                return True
        return None

    def check(self, header: str | None) -> bool:
        """Blocking check (bcrypt on the calling thread); servers use `check_async`."""
        verdict = self.cached(header)
        if verdict is not None:
            return verdict
        assert header is not None
        return self._verify_and_remember(header)

    async def check_async(self, header: str | None) -> bool:
        verdict = self.cached(header)
        if verdict is not None:
            return verdict
        assert header is not None
        if self._verifying is None:
            self._verifying = asyncio.Semaphore(2)
        async with self._verifying:
            return await asyncio.to_thread(self._verify_and_remember, header)

    def _verify_and_remember(self, header: str) -> bool:
        user = self._verify(header[6:].strip())
        if user is None:
            return False
        with self._lock:
            self._cache[self._digest(header)] = user
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return True

    def _verify(self, b64: str) -> str | None:
        """The user name when the credentials match, else None."""
        import bcrypt

        self.bcrypt_checks += 1
        try:
            raw = base64.b64decode(b64, validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return None
        user, sep, password = raw.partition(":")
        if not sep:
            return None
        hashed = self.users.get(user)
        # An unknown user costs the same bcrypt as a known one, so names cannot be probed by
        # timing: check against some real hash and then refuse.
        probe_hash = hashed if hashed is not None else next(iter(self.users.values()))
        try:
            ok = bcrypt.checkpw(password.encode("utf-8"), probe_hash.encode("ascii"))
        except ValueError:
            return None
        return user if ok and hashed is not None else None


class _EncryptedKey(Exception):
    def __str__(self) -> str:
        return "the key is encrypted with a passphrase; pantau needs an unencrypted key file"


def _no_passphrase() -> bytes:
    raise _EncryptedKey


def _self_handshake(server: ssl.SSLContext, tls: TLSServerConfig) -> None:
    """One TLS handshake between `server` and a client that accepts any certificate, in
    memory: ValueError naming the versions when no handshake is possible."""
    import ssl

    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    to_client, to_server = ssl.MemoryBIO(), ssl.MemoryBIO()
    c_out, s_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    c = client.wrap_bio(to_client, c_out)
    s = server.wrap_bio(to_server, s_out, server_side=True)
    done = {"c": False, "s": False}
    try:
        for _ in range(8):  # a TLS 1.2 handshake takes two round trips, 1.3 one and a half
            for name, end in (("c", c), ("s", s)):
                if not done[name]:
                    try:
                        end.do_handshake()
                        done[name] = True
                    except ssl.SSLWantReadError:
                        pass
            to_server.write(c_out.read())
            to_client.write(s_out.read())
            if all(done.values()):
                return
    except ssl.SSLError as e:
        versions = f"min_version {tls.min_version}" + (
            f", max_version {tls.max_version}" if tls.max_version else "")
        raise ValueError(f"tls_server_config: no TLS handshake is possible with {versions} "
                         f"({e.reason or e})") from None
    raise ValueError("tls_server_config: a test TLS handshake did not complete")


def _yaml_reason(e: yaml.YAMLError) -> str:
    """PyYAML's message is several lines with a caret drawing; keep the problem and the line."""
    if isinstance(e, yaml.MarkedYAMLError) and e.problem_mark is not None:
        return f"{e.problem} at line {e.problem_mark.line + 1}"
    return " ".join(str(e).split())


def _ssl_reason(e: Exception) -> str:
    if is_ssl_error(e):
        reason = getattr(e, "reason", None)
        if "PEM" in str(e) or reason in ("NO_START_LINE", "KEY_VALUES_MISMATCH"):
            return f"not a readable PEM certificate/key pair ({reason or e})"
        return str(reason or e)
    if isinstance(e, OSError):
        return e.strerror or str(e)
    return str(e)


def load_web_config(path: Path) -> WebConfig:
    """Read and validate the file; every problem is a ValueError with a one-line message."""
    try:
        data = yamlsafe.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"web config {path}: file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"web config {path}: cannot read: {e}") from None
    except yaml.YAMLError as e:
        raise ValueError(f"web config {path}: invalid YAML: {_yaml_reason(e)}") from None
    try:
        cfg = WebConfig.model_validate(data or {})
    except ValidationError as e:
        errs = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: "
            f"{err['msg'].removeprefix('Value error, ')}"
            for err in e.errors()
        )
        raise ValueError(f"web config {path}: {errs}") from None
    try:
        cfg.ssl_context()  # fail now, with the file name, rather than at the first scrape
    except ValueError as e:
        raise ValueError(f"web config {path}: {e}") from None
    return cfg
