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

import base64
import hashlib
import hmac
import logging
import ssl
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from collectors.base import StrictModel

log = logging.getLogger(__name__)

ClientAuth = Literal[
    "NoClientCert", "RequestClientCert", "RequireAnyClientCert", "VerifyClientCertIfGiven",
    "RequireAndVerifyClientCert",
]
TLSVersion = Literal["TLS10", "TLS11", "TLS12", "TLS13"]
_TLS = {
    "TLS10": ssl.TLSVersion.TLSv1, "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3,
}


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

    @model_validator(mode="after")
    def _ca_needed(self) -> TLSServerConfig:
        needs_ca = self.client_auth_type in ("VerifyClientCertIfGiven",
                                             "RequireAndVerifyClientCert")
        if needs_ca and self.client_ca_file is None:
            raise ValueError(f"client_auth_type {self.client_auth_type} needs client_ca_file")
        return self


class HTTPServerConfig(StrictModel):
    headers: dict[str, str] = Field(default_factory=dict)
    http2: bool = True


class WebConfig(StrictModel):
    tls_server_config: TLSServerConfig | None = None
    http_server_config: HTTPServerConfig = Field(default_factory=HTTPServerConfig)
    basic_auth_users: dict[str, str] = Field(default_factory=dict)

    @field_validator("basic_auth_users")
    @classmethod
    def _bcrypt_only(cls, v: dict[str, str]) -> dict[str, str]:
        for user, hashed in v.items():
            if not hashed.startswith(("$2a$", "$2b$", "$2y$")) or len(hashed) != 60:
                raise ValueError(f"basic_auth_users.{user}: not a bcrypt hash "
                                 "(make one with: htpasswd -nBC 10 '' | tr -d ':')")
        return v

    def ssl_context(self) -> ssl.SSLContext | None:
        """The server context, or None for plain HTTP. Raises ValueError naming the file."""
        tls = self.tls_server_config
        if tls is None:
            return None
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = _TLS[tls.min_version]
        if tls.max_version:
            ctx.maximum_version = _TLS[tls.max_version]
        try:
            ctx.load_cert_chain(str(tls.cert_file), str(tls.key_file))
        except (OSError, ssl.SSLError) as e:
            raise ValueError(f"tls_server_config: cannot load cert_file/key_file: {e}") from None
        if tls.client_ca_file is not None:
            try:
                ctx.load_verify_locations(cafile=str(tls.client_ca_file))
            except (OSError, ssl.SSLError) as e:
                raise ValueError(f"tls_server_config.client_ca_file: {e}") from None
        ctx.verify_mode = {
            "NoClientCert": ssl.CERT_NONE,
            "RequestClientCert": ssl.CERT_NONE,
            "RequireAnyClientCert": ssl.CERT_REQUIRED,
            "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
            "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
        }[tls.client_auth_type]
        if tls.cipher_suites:
            log.info("web config: cipher_suites is accepted but the Python TLS defaults apply")
        return ctx


class BasicAuth:
    """Checks Authorization headers against bcrypt hashes, caching verdicts.

    bcrypt costs ~100 ms per check by design; Prometheus sends the same header every scrape, so
    a verdict is cached under a keyed hash of the header (never the password itself).
    """

    def __init__(self, users: dict[str, str], cache_size: int = 256) -> None:
        self.users = users
        self._cache: OrderedDict[bytes, bool] = OrderedDict()
        self._size = cache_size
        self._key = hashlib.sha256(repr(sorted(users.items())).encode()).digest()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return bool(self.users)

    def check(self, header: str | None) -> bool:
        if not self.users:
            return True
        if not header or not header.startswith("Basic "):
            return False
        digest = hmac.new(self._key, header.encode("utf-8", "replace"), "sha256").digest()
        with self._lock:
            if digest in self._cache:
                self._cache.move_to_end(digest)
                return self._cache[digest]
        ok = self._verify(header[6:].strip())
        with self._lock:
            self._cache[digest] = ok
            if len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return ok

    def _verify(self, b64: str) -> bool:
        import bcrypt

        try:
            user, _, password = base64.b64decode(b64, validate=True).decode("utf-8").partition(
                ":")
        except (ValueError, UnicodeDecodeError):
            return False
        hashed = self.users.get(user)
        if hashed is None:
            # spend the same time as for a real user so names cannot be probed by timing
            bcrypt.checkpw(b"x", b"$2b$10$" + b"." * 53)
            return False
        try:
            return bcrypt.checkpw(password.encode(), hashed.encode())
        except ValueError:
            return False


def load_web_config(path: Path) -> WebConfig:
    """Read and validate the file; every problem is a ValueError with a one-line message."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"web config {path}: file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"web config {path}: cannot read: {e}") from None
    except yaml.YAMLError as e:
        raise ValueError(f"web config {path}: invalid YAML: {e}") from None
    try:
        cfg = WebConfig.model_validate(data or {})
    except ValidationError as e:
        errs = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg'].removeprefix('Value error, ')}"
            for err in e.errors()
        )
        raise ValueError(f"web config {path}: {errs}") from None
    cfg.ssl_context()  # fail now, with the file name, rather than at the first scrape
    return cfg
