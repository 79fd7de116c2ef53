"""`type: tcp` checks: can the office open a TCP (optionally TLS) connection and read a banner?

Also home of the small network helpers the dns and http checks share (address resolution with an
IP-protocol preference, TLS contexts and certificate facts, one-line error reasons), so the three
probes word the same failure the same way: "connection refused", "timeout after 2.0s while
connecting", "certificate expired".
"""

from __future__ import annotations

import asyncio
import builtins
import errno
import ipaddress
import re
import socket
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from collectors.base import Context, Deadline, MetricSpec, Observation, Sample
from collectors.common.hostport import split_host_port as _split_host_port
from collectors.config import CheckConfig, Regex
from collectors.probe.common import PROBE_METRICS, probe_samples

IpProtocol = Literal["ip4", "ip6"]
EXPECT_IDLE = 1.0  # seconds of silence after some data that end a banner wait

TLS_CERT_EXPIRY = MetricSpec(
    "pantau_tls_cert_expiry_timestamp_seconds", "gauge",
    "Earliest notAfter (Unix time) among the certificates the server presented.",
    unit="seconds",
)
TLS_CHAIN_VALID = MetricSpec(
    "pantau_tls_chain_valid", "gauge",
    "1 if the presented chain verified against the configured CAs and name, 0 if not.",
)
TLS_METRICS: tuple[MetricSpec, ...] = (TLS_CERT_EXPIRY, TLS_CHAIN_VALID)


class ProbeError(Exception):
    """A failure whose message is already the one-line reason shown to the admin."""


# --------------------------------------------------------------------------------------------
# Targets and resolution


def split_host_port(target: str, default_port: int | None = None) -> tuple[str, int]:
    """Split `host:port` / `[v6]:port` / bare host (when a default port exists): the one
    parser in collectors.common.hostport, so /probe's allow check reads targets the same way."""
    return _split_host_port(target, default_port, what="target")


@dataclass(frozen=True, slots=True)
class Resolved:
    address: str
    family: int
    seconds: float


async def resolve(host: str, port: int, prefer: IpProtocol, fallback: bool,
                  budget: float) -> Resolved:
    """Resolve with blackbox's preferred_ip_protocol / ip_protocol_fallback semantics."""
    try:
        ip = ipaddress.ip_address(host)
        return Resolved(str(ip), socket.AF_INET6 if ip.version == 6 else socket.AF_INET, 0.0)
    except ValueError:
        pass
    started = time.monotonic()
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), budget)
    except TimeoutError:
        raise ProbeError(f"timeout after {budget:.1f}s while resolving {host}") from None
    except socket.gaierror as e:
        raise ProbeError(f"DNS lookup of {host} failed: {e.strerror}") from None
    seconds = time.monotonic() - started
    want = socket.AF_INET if prefer == "ip4" else socket.AF_INET6
    for fam in (want, socket.AF_INET6 if want == socket.AF_INET else socket.AF_INET):
        for info in infos:
            if info[0] == fam:
                return Resolved(str(info[4][0]), fam, seconds)
        if not fallback:
            break
    raise ProbeError(f"{host} has no {'IPv4' if prefer == 'ip4' else 'IPv6'} address")


def own_deadline(ctx: Context) -> tuple[Deadline, float]:
    """The deadline the probe works to, a little before the scheduler's, and the full budget.

    The scheduler stops waiting at ctx.deadline and records a bare timeout without samples;
    finishing slightly earlier lets the probe report its own reason ("timeout after 2.0s
    while connecting") and its pantau_probe_success 0. The reason quotes the full budget.
    """
    budget = ctx.deadline.remaining()
    return Deadline(max(0.0, budget - min(0.2, 0.1 * budget))), budget


def url_host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


# --------------------------------------------------------------------------------------------
# TLS


def tls_context(ca_file: Path | None, insecure: bool) -> ssl.SSLContext:
    """A client context; `insecure` still handshakes, it just doesn't judge the certificate."""
    try:
        ctx = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    except (OSError, ssl.SSLError) as e:
        raise ProbeError(f"cannot load CA file {ca_file}: {e}") from None
    if insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def earliest_expiry(ssl_object: Any) -> float | None:
    """Earliest notAfter of the chain the server presented (leaf only if the chain is hidden).

    Python 3.11 keeps get_unverified_chain private (public in 3.13); the leaf from
    getpeercert() is the fallback.
    """
    from cryptography import x509

    ders: list[bytes] = []
    inner = getattr(ssl_object, "_sslobj", None)
    getter = getattr(ssl_object, "get_unverified_chain", None) or getattr(
        inner, "get_unverified_chain", None)
    if getter is not None:
        try:
            for cert in getter() or []:
                ders.append(cert if isinstance(cert, bytes) else cert.public_bytes(2))
        except (ssl.SSLError, ValueError, AttributeError):
            ders = []
    if not ders:
        leaf = ssl_object.getpeercert(binary_form=True)
        if leaf:
            ders = [leaf]
    stamps = []
    for der in ders:
        try:
            stamps.append(x509.load_der_x509_certificate(der).not_valid_after_utc.timestamp())
        except ValueError:
            continue
    return min(stamps) if stamps else None


def tls_samples(ssl_object: Any | None, verified: bool | None) -> list[Sample]:
    """TLS facts for a finished handshake; chain_valid only when the chain was judged."""
    out: list[Sample] = []
    if ssl_object is not None:
        expiry = earliest_expiry(ssl_object)
        if expiry is not None:
            out.append(Sample.of(TLS_CERT_EXPIRY.name, expiry))
    if verified is not None:
        out.append(Sample.of(TLS_CHAIN_VALID.name, 1 if verified else 0))
    return out


def cert_reason(e: ssl.SSLCertVerificationError) -> str:
    code = getattr(e, "verify_code", None)
    msg = getattr(e, "verify_message", "") or str(e)
    if code == 10:
        return "certificate expired"
    if code == 9:
        return "certificate not yet valid"
    if code in (18, 19, 20, 21):
        return f"certificate signed by an unknown authority ({msg})"
    if code == 62 or "hostname" in msg.lower() or "ip address mismatch" in msg.lower():
        return f"certificate does not match the host name ({msg})"
    return f"certificate verification failed: {msg}"


# --------------------------------------------------------------------------------------------
# Error wording


_ERRNO_TEXT = {
    errno.ECONNREFUSED: "connection refused",
    errno.ENETUNREACH: "network unreachable",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ECONNRESET: "connection reset by peer",
    errno.ETIMEDOUT: "connection timed out",
    errno.EADDRNOTAVAIL: "address not available",
}


def error_reason(e: BaseException, *, phase: str, budget: float) -> str:
    """One line for the admin: what went wrong and in which step."""
    if isinstance(e, ProbeError):
        return str(e)
    if isinstance(e, TimeoutError | asyncio.TimeoutError):
        return f"timeout after {budget:.1f}s while {phase}"
    if isinstance(e, ssl.SSLCertVerificationError):
        return cert_reason(e)
    if isinstance(e, ssl.SSLError):
        return f"TLS handshake failed: {e.reason or e}"
    if isinstance(e, ConnectionRefusedError):
        return "connection refused"
    if isinstance(e, OSError) and e.errno in _ERRNO_TEXT:
        return _ERRNO_TEXT[e.errno]
    if isinstance(e, OSError):
        return f"{phase}: {e.strerror or e}"
    return f"{phase}: {type(e).__name__}: {e}"


def short(data: str, limit: int = 60) -> str:
    return repr(data if len(data) <= limit else data[:limit] + "…")


# --------------------------------------------------------------------------------------------
# The tcp check


class TcpConfig(CheckConfig):
    type: Literal["tcp"]
    send: str | None = Field(None, description="Text sent once connected (e.g. \"QUIT\\r\\n\").")
    expect: Regex | None = Field(None, description="Regex the received data must match.")
    tls: bool = Field(False, description="Do a TLS handshake after connecting.")
    tls_server_name: str | None = Field(None, description="SNI and name to verify.")
    ca_file: Path | None = Field(None, description="CA bundle for TLS instead of the system's.")
    insecure_skip_verify: bool = Field(False, description="Do not verify the certificate.")
    preferred_ip_protocol: IpProtocol = "ip4"
    ip_protocol_fallback: bool = True
    max_read_bytes: int = Field(4096, ge=1, le=1 << 20)

    @field_validator("target")
    @classmethod
    def _target_valid(cls, v: str) -> str:
        split_host_port(v)
        return v

    @model_validator(mode="after")
    def _tls_fields(self) -> TcpConfig:
        if not self.tls and (self.ca_file or self.insecure_skip_verify or self.tls_server_name):
            raise ValueError("ca_file / insecure_skip_verify / tls_server_name need tls: true")
        return self


class TcpCollector:
    type: ClassVar[str] = "tcp"
    Config: ClassVar[builtins.type[BaseModel]] = TcpConfig
    per_check: ClassVar[bool] = True
    METRICS: ClassVar[tuple[MetricSpec, ...]] = (
        *PROBE_METRICS,
        MetricSpec("pantau_tcp_connect_seconds", "gauge", "Time to open the TCP connection.",
                   unit="seconds"),
        MetricSpec("pantau_tcp_expect_match", "gauge",
                   "1 if the received data matched `expect`, 0 if not (only with expect)."),
        *TLS_METRICS,
    )

    def __init__(self, config: TcpConfig) -> None:
        self.config = config
        self._ssl_ctx: ssl.SSLContext | None = None

    async def collect(self, ctx: Context) -> Observation:
        cfg = self.config
        started = time.monotonic()
        dl, budget = own_deadline(ctx)
        samples: list[Sample] = []
        phase = "resolving"
        writer: asyncio.StreamWriter | None = None
        try:
            host, port = split_host_port(cfg.target)
            if cfg.tls and self._ssl_ctx is None:
                self._ssl_ctx = tls_context(cfg.ca_file, cfg.insecure_skip_verify)
            ssl_ctx = self._ssl_ctx
            res = await resolve(host, port, cfg.preferred_ip_protocol, cfg.ip_protocol_fallback,
                                dl.remaining())
            phase = "connecting"
            t0 = time.monotonic()
            async with asyncio.timeout(dl.remaining()):
                reader, writer = await asyncio.open_connection(res.address, port)
                samples.append(Sample.of("pantau_tcp_connect_seconds", time.monotonic() - t0))
                if ssl_ctx is not None:
                    phase = "in the TLS handshake"
                    try:
                        await writer.start_tls(ssl_ctx, server_hostname=cfg.tls_server_name
                                               or host)
                    except ssl.SSLCertVerificationError:
                        samples.append(Sample.of(TLS_CHAIN_VALID.name, 0))
                        raise
                    samples.extend(tls_samples(writer.get_extra_info("ssl_object"),
                                               None if cfg.insecure_skip_verify else True))
                if cfg.send is not None:
                    phase = "sending"
                    writer.write(cfg.send.encode())
                    await writer.drain()
                if cfg.expect is not None:
                    phase = f"waiting for data matching {cfg.expect!r}"
                    ok, got = await self._expect(reader)
                    samples.append(Sample.of("pantau_tcp_expect_match", 1 if ok else 0))
                    if not ok:
                        raise ProbeError(f"banner did not match {cfg.expect!r} (got {short(got)})")
            success, reason = True, ""
        except Exception as e:  # every failure becomes a reason, never a traceback
            success, reason = False, error_reason(e, phase=phase, budget=budget)
        finally:
            if writer is not None:
                writer.close()
                try:
                    await asyncio.wait_for(writer.wait_closed(), 0.2)
                except Exception:
                    pass
        duration = time.monotonic() - started
        samples.extend(probe_samples(self.type, cfg.target, success, duration))
        return Observation(success, samples, reason=reason, duration=duration)

    async def _expect(self, reader: asyncio.StreamReader) -> tuple[bool, str]:
        """Read until `expect` matches, the peer closes or falls silent, or max_read_bytes.

        The first byte may take until the deadline (then the reason is a timeout); once data
        has come, EXPECT_IDLE seconds of silence end the wait, so a wrong banner is reported
        as a mismatch showing what came instead of a bare timeout.
        """
        assert self.config.expect is not None
        pattern = re.compile(self.config.expect)
        buf = b""
        while len(buf) < self.config.max_read_bytes:
            want = self.config.max_read_bytes - len(buf)
            if not buf:
                chunk = await reader.read(want)
            else:
                try:
                    chunk = await asyncio.wait_for(reader.read(want), EXPECT_IDLE)
                except TimeoutError:
                    break
            if not chunk:
                break
            buf += chunk
            if pattern.search(buf.decode("utf-8", "replace")):
                return True, buf.decode("utf-8", "replace")
        return False, buf.decode("utf-8", "replace")

    async def aclose(self) -> None:
        return None
