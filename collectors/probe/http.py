"""`type: http` checks: does the permit portal answer, how fast, and is its certificate sound?

Phase timings. The check resolves the name itself (`resolve`, with the IP-protocol preference),
so "dns" is exact, and sends its request to that address with the original Host header and SNI
name, so certificate names are still verified against the real host. The exchange
(http_client.py) times "connect", "tls" and "first_byte" (request sent -> response headers,
blackbox's "processing"); "transfer" is the body read, "total" the whole run. With redirects
each phase sums over the hops, as blackbox_exporter does. Every run opens its own connection;
nothing is pooled between runs, so every run pays (and measures) its own.

The TLS stream's ssl object gives the presented chain for the earliest certificate expiry. A
verification failure fails the run with the exact cause ("certificate expired") and
`pantau_tls_chain_valid 0`. ssl is imported by the first https URL, not before: an office
whose checks are plain http:// never maps OpenSSL for them.
"""

from __future__ import annotations

import asyncio
import builtins
import re
import socket
import time
import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, Field, field_validator

from collectors.base import Context, Deadline, MetricSpec, Observation, Sample
from collectors.common.tls import TLSConfig, is_cert_verification_error
from collectors.common.url import URL, InvalidURL
from collectors.common.version import USER_AGENT
from collectors.config import CheckConfig, Secret
from collectors.probe.common import PROBE_METRICS, probe_samples
from collectors.probe.http_client import HttpProtocolError, Response, Trace, exchange
from collectors.probe.net import (
    TLS_CHAIN_VALID,
    TLS_METRICS,
    IpProtocol,
    error_reason,
    own_deadline,
    probe_tls_context,
    resolve,
    tls_facts,
    tls_samples,
    with_system_ca,
)

if TYPE_CHECKING:
    import ssl

_REDIRECTS = {301, 302, 303, 307, 308}
_STATUS_RE = re.compile(r"^\s*([1-5])xx\s*$|^\s*(\d{3})\s*(?:-\s*(\d{3}))?\s*$", re.IGNORECASE)


def _parse_status(item: int | str) -> tuple[int, int]:
    m = _STATUS_RE.match(str(item))
    if not m:
        raise ValueError(f"invalid status code {item!r}: use 200, \"2xx\" or \"200-299\"")
    if m.group(1):
        lo = int(m.group(1)) * 100
        return lo, lo + 99
    lo = int(m.group(2))
    hi = int(m.group(3)) if m.group(3) else lo
    if not 100 <= lo <= hi <= 599:
        raise ValueError(f"invalid status code range {item!r}")
    return lo, hi


class HttpConfig(CheckConfig):
    type: Literal["http"]
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] = "GET"
    headers: dict[str, Secret] = Field(
        default_factory=dict, description="Request headers; values may be ${ENV} secrets.")
    body: Secret | None = Field(None, description="Request body (may hold a ${ENV} secret).")
    valid_status_codes: list[int | str] = Field(
        default_factory=lambda: list[int | str](["2xx"]),
        description="Codes counted a success: 200, 2xx, 200-399.")
    body_must_match: list[str] = Field(default_factory=list, description="Regexes the body needs.")
    body_must_not_match: list[str] = Field(
        default_factory=list, description="Regexes that fail the check when found in the body.")
    follow_redirects: bool = True
    max_redirects: int = Field(10, ge=0, le=50)
    tls_config: TLSConfig = Field(default_factory=TLSConfig,
                                  description="CA, client certificate, SNI name, verification.")
    preferred_ip_protocol: IpProtocol = "ip4"
    ip_protocol_fallback: bool = True
    max_body_bytes: int = Field(10 << 20, ge=0, description="Larger bodies fail the check.")

    @field_validator("target")
    @classmethod
    def _target_valid(cls, v: str) -> str:
        try:
            url = URL.parse(v)
        except InvalidURL as e:
            raise ValueError(f"invalid URL {v!r}: {e}") from None
        if url.userinfo:
            raise ValueError("credentials in the URL would end up in labels: use headers "
                             "(e.g. Authorization: ${TOKEN})")
        return v

    @field_validator("valid_status_codes")
    @classmethod
    def _codes_valid(cls, v: list[int | str]) -> list[int | str]:
        if not v:
            raise ValueError("valid_status_codes must not be empty")
        for item in v:
            _parse_status(item)
        return v

    @field_validator("body_must_match", "body_must_not_match")
    @classmethod
    def _regexes_valid(cls, v: list[str]) -> list[str]:
        for pattern in v:
            try:
                re.compile(pattern)
            except re.error as e:
                raise ValueError(f"invalid regex {pattern!r}: {e}") from None
        return v


class _BoundedDecoder:
    """Content-Encoding gzip/deflate/identity, never inflating more than it is asked for."""

    def __init__(self, encoding: str) -> None:
        enc = encoding.strip().lower()
        self._d: Any
        if enc in ("gzip", "x-gzip"):
            self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif enc == "deflate":
            self._d = zlib.decompressobj()
        elif enc in ("", "identity"):
            self._d = None
        else:
            raise ValueError(f"unsupported Content-Encoding {encoding!r}")

    def feed(self, data: bytes, room: int) -> bytes:
        """At most room + 1 bytes: one more than room says the body is too big."""
        if self._d is None:
            return data
        return bytes(self._d.decompress(data, max(0, room) + 1))


def _codes_text(ranges: list[tuple[int, int]]) -> str:
    return "[" + ", ".join(f"{lo}-{hi}" if lo != hi else str(lo) for lo, hi in ranges) + "]"


class HttpCollector:
    type: ClassVar[str] = "http"
    Config: ClassVar[builtins.type[BaseModel]] = HttpConfig
    per_check: ClassVar[bool] = True
    METRICS: ClassVar[tuple[MetricSpec, ...]] = (
        *PROBE_METRICS,
        MetricSpec("pantau_http_phase_seconds", "gauge",
                   "Time per phase: dns, connect, tls, first_byte (request sent to response "
                   "headers), transfer (body), total; summed over redirects.", ("phase",),
                   unit="seconds"),
        MetricSpec("pantau_http_status_code", "gauge",
                   "Status code of the final response, 0 when none came."),
        MetricSpec("pantau_http_redirects", "gauge", "Redirects followed."),
        MetricSpec("pantau_http_content_length", "gauge",
                   "Content-Length header of the final response, -1 when absent."),
        MetricSpec("pantau_http_body_bytes", "gauge", "Body bytes received (after decoding).",
                   unit="bytes"),
        MetricSpec("pantau_http_ip_protocol", "gauge", "4 or 6: IP version used."),
        *TLS_METRICS,
    )

    def __init__(self, config: HttpConfig) -> None:
        # /probe sets this so that a redirect has to pass the module's allow-list too
        self.redirect_guard: Callable[[str], bool] | None = None
        self.config = config
        self._ranges = [_parse_status(c) for c in config.valid_status_codes]
        self._must = [re.compile(p) for p in config.body_must_match]
        self._must_not = [re.compile(p) for p in config.body_must_not_match]
        self._ssl_ctx: ssl.SSLContext | None = None

    async def collect(self, ctx: Context) -> Observation:
        cfg = self.config
        started = time.monotonic()
        dl, budget = own_deadline(ctx)
        trace = Trace()
        samples: list[Sample] = []
        details: dict[str, Any] = {}
        try:
            async with asyncio.timeout(dl.remaining()):
                reason = await self._run(dl, trace, samples, details)
        except Exception as e:
            if not any(x.name == "pantau_http_status_code" for x in samples):
                samples.append(Sample.of("pantau_http_status_code", 0))  # no response
            if is_cert_verification_error(e):
                samples.append(Sample.of(TLS_CHAIN_VALID.name, 0))
            if isinstance(e, HttpProtocolError):
                reason = f"HTTP protocol error while {trace.step}: {e}"
            else:
                reason = error_reason(e, phase=trace.step, budget=budget)
        duration = time.monotonic() - started
        trace.phases["total"] = duration
        samples.extend(Sample.of("pantau_http_phase_seconds", v, phase=p)
                       for p, v in trace.phases.items())
        success = not reason
        samples.extend(probe_samples(self.type, cfg.target, success, duration))
        return Observation(success, samples, reason=reason, duration=duration, details=details)

    def _context(self) -> ssl.SSLContext:
        """The checks' shared context (net.py), made at the first https URL: ssl and OpenSSL
        are not loaded before one."""
        if self._ssl_ctx is None:
            ctx = probe_tls_context(self.config.tls_config, "http")
            ctx.set_alpn_protocols(["http/1.1"])  # the only version this client speaks
            self._ssl_ctx = ctx
        return with_system_ca(self._ssl_ctx)

    async def _run(self, dl: Deadline, trace: Trace, samples: list[Sample],
                   details: dict[str, Any]) -> str:
        cfg = self.config
        first = url = URL.parse(cfg.target)
        method = cfg.method
        body = cfg.body.get_secret_value().encode() if cfg.body is not None else None
        redirects = 0
        while True:
            ssl_ctx = self._context() if url.scheme == "https" else None
            trace.step = "resolving"
            res = await resolve(url.host, url.port, cfg.preferred_ip_protocol,
                                cfg.ip_protocol_fallback, dl.remaining())
            trace.phases["dns"] += res.seconds
            details.update(address=res.address, family=res.family)
            elsewhere = redirects > 0 and url.origin != first.origin
            response = await exchange(
                method, url, res.address, self._headers(url, elsewhere), body, trace,
                ssl_context=ssl_ctx,
                server_hostname=cfg.tls_config.server_name or url.host)
            try:
                location = response.header("location")
                if (cfg.follow_redirects and response.status_code in _REDIRECTS
                        and location is not None):
                    redirects += 1
                    if redirects > cfg.max_redirects:
                        return f"too many redirects (more than {cfg.max_redirects})"
                    try:
                        url = url.join(location)
                    except InvalidURL as e:
                        return f"redirect to an invalid URL {location!r}: {e}"
                    if self.redirect_guard is not None and not self.redirect_guard(str(url)):
                        return f"redirect to {url} is not allowed by the probe module"
                    if response.status_code == 303 or (
                            response.status_code in (301, 302) and method == "POST"):
                        method, body = "GET", None
                    continue
                return await self._final(response, res.family, redirects, trace, samples,
                                         details, url)
            finally:
                await response.aclose()

    def _headers(self, url: URL, elsewhere: bool) -> list[tuple[str, str]]:
        headers = {k.lower(): (k, v.get_secret_value()) for k, v in self.config.headers.items()}
        if elsewhere:
            # Like browsers and httpx: credentials never follow a redirect elsewhere.
            for name in ("authorization", "cookie", "proxy-authorization"):
                headers.pop(name, None)
        headers["host"] = ("Host", url.netloc)  # h11 sends them in this order: Host first
        headers.setdefault("user-agent", ("User-Agent", USER_AGENT))
        headers.setdefault("accept", ("Accept", "*/*"))
        # what _BoundedDecoder reads
        headers.setdefault("accept-encoding", ("Accept-Encoding", "gzip, deflate"))
        host = headers.pop("host")
        return [host, *headers.values()]

    async def _final(self, response: Response, family: int, redirects: int,
                     trace: Trace, samples: list[Sample], details: dict[str, Any],
                     url: URL) -> str:
        cfg = self.config
        status = response.status_code
        samples.append(Sample.of("pantau_http_status_code", status))
        samples.append(Sample.of("pantau_http_redirects", redirects))
        samples.append(Sample.of("pantau_http_ip_protocol",
                                 6 if family == socket.AF_INET6 else 4))
        length = response.header("content-length") or ""
        samples.append(Sample.of("pantau_http_content_length",
                                 int(length) if length.isdigit() else -1))
        if url.scheme == "https":
            samples.extend(tls_samples(trace.ssl_object,
                                       None if cfg.tls_config.insecure_skip_verify else True))
            if trace.ssl_object is not None:
                details["tls"] = tls_facts(trace.ssl_object)
        details.update(status=status, final_url=str(url), http_version=response.http_version,
                       content_length=int(length) if length.isdigit() else -1)
        t0 = time.monotonic()
        chunks: list[bytes] = []
        size = 0
        too_big = False
        encoding = response.header("content-encoding") or ""
        try:
            decoder = _BoundedDecoder(encoding)
            # bounded per chunk: 64 KiB of a gzip bomb inflated at once would be 64 MiB
            async for raw in response.iter_raw():
                chunk = decoder.feed(raw, cfg.max_body_bytes - size)
                size += len(chunk)
                if size > cfg.max_body_bytes:
                    too_big = True
                    break
                chunks.append(chunk)
        except (ValueError, zlib.error) as e:
            trace.phases["transfer"] += time.monotonic() - t0
            return f"cannot decode the body ({encoding}): {e}"
        trace.phases["transfer"] += time.monotonic() - t0
        samples.append(Sample.of("pantau_http_body_bytes", size))
        details["body_bytes"] = size
        if not any(lo <= status <= hi for lo, hi in self._ranges):
            return f"status {status} not in {_codes_text(self._ranges)}"
        if too_big:
            return f"body larger than max_body_bytes ({cfg.max_body_bytes})"
        if self._must or self._must_not:
            text = b"".join(chunks).decode(response.encoding, "replace")
            for pat in self._must:
                if not pat.search(text):
                    details["regex_failed"] = True
                    return f"body did not match {pat.pattern!r}"
            for pat in self._must_not:
                if pat.search(text):
                    details["regex_failed"] = True
                    return f"body matched forbidden {pat.pattern!r}"
        return ""

    async def aclose(self) -> None:
        return None
