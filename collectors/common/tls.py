"""Client TLS settings, under prometheus/common's `tls_config` field names, for everything
pantau connects to over TLS: http and tcp probes, remote write, e-mail and the notifiers.

A bad file is a config error at load time; a certificate that cannot be loaded is a clear
error when the context is built, naming the file.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from collectors.config import StrictModel

if TYPE_CHECKING:
    import ssl

# ssl itself is imported where a context is built: an agent that makes no TLS connection
# never loads it (collectors/common/openssl_on_demand.py).
TLSVersion = Literal["TLS10", "TLS11", "TLS12", "TLS13"]
# The config's spelling -> the name of ssl.TLSVersion's member.
_VERSIONS = {"TLS10": "TLSv1", "TLS11": "TLSv1_1", "TLS12": "TLSv1_2", "TLS13": "TLSv1_3"}


def tls_version(name: TLSVersion) -> ssl.TLSVersion:
    import ssl

    return ssl.TLSVersion[_VERSIONS[name]]


def is_ssl_error(e: BaseException) -> bool:
    """isinstance(e, ssl.SSLError) without importing ssl: no such error exists before it is
    loaded."""
    ssl = sys.modules.get("ssl")
    return ssl is not None and isinstance(e, ssl.SSLError)


def is_cert_verification_error(e: BaseException) -> bool:
    """isinstance(e, ssl.SSLCertVerificationError), as is_ssl_error."""
    ssl = sys.modules.get("ssl")
    return ssl is not None and isinstance(e, ssl.SSLCertVerificationError)


def _default_context_without_ca() -> ssl.SSLContext:
    """What ssl.create_default_context() makes, less its load_default_certs() (the same
    settings: tests/unit/test_tcp_dns_http.py compares them on the running Python)."""
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if sys.version_info >= (3, 13):  # 3.13's create_default_context sets these too
        ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN | ssl.VERIFY_X509_STRICT
    return ctx


class TLSConfig(StrictModel):
    """`tls_config:` as Prometheus, Alertmanager and blackbox_exporter spell it."""

    ca_file: Path | None = Field(None, description="CA bundle instead of the system's.")
    cert_file: Path | None = Field(None, description="Client certificate (with key_file).")
    key_file: Path | None = Field(None, description="Key of the client certificate.")
    server_name: str | None = Field(None, description="Name sent as SNI and verified.")
    insecure_skip_verify: bool = Field(
        False, description="Handshake without judging the certificate (still reports it).")
    min_version: TLSVersion | None = Field(None, description="Oldest TLS version accepted.")

    @model_validator(mode="after")
    def _files(self) -> TLSConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("tls_config: set cert_file and key_file together")
        for name in ("ca_file", "cert_file", "key_file"):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                raise ValueError(f"tls_config.{name}: {path} is not a readable file")
        return self

    @property
    def is_default(self) -> bool:
        return self == TLSConfig()

    def client_context(self, defer_system_ca: bool = False) -> ssl.SSLContext:
        """A client context; insecure_skip_verify still handshakes, it just doesn't judge.
        `defer_system_ca`: without a ca_file, the system's CA store is not loaded yet (the
        caller loads it before the first handshake, collectors/probe/net.py)."""
        import ssl

        try:
            if defer_system_ca and self.ca_file is None:
                ctx = _default_context_without_ca()
            else:
                ctx = ssl.create_default_context(
                    cafile=str(self.ca_file) if self.ca_file else None)
            if self.cert_file and self.key_file:
                ctx.load_cert_chain(str(self.cert_file), str(self.key_file))
        except (ssl.SSLError, OSError) as e:
            raise ValueError(f"tls_config: cannot load certificates: {e}") from None
        if self.min_version:
            ctx.minimum_version = tls_version(self.min_version)
        if self.insecure_skip_verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx
