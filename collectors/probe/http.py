"""`type: http` checks: does the permit portal answer, how fast, and is its certificate sound?

Phase timings. httpx reports no timings of its own, so the check measures them in two ways it
controls: the name is resolved by the check itself (`resolve`, with the IP-protocol preference)
and the request goes to that address with the original Host header and SNI name (httpcore's
`sni_hostname` extension), so "dns" is exact and certificate names are still verified against
the real host; then httpcore's `trace` request extension reports connect / TLS / request /
response-header events, which give "connect", "tls" and "first_byte" (request sent -> response
headers, blackbox's "processing"). "transfer" is the body read, "total" the whole run. With
redirects each phase sums over the hops, as blackbox_exporter does. A fresh client per run means
every run pays (and measures) its own connection; nothing is pooled between runs.

The trace callback also hands over the TLS stream, from which the check reads the presented
chain for the earliest certificate expiry. A verification failure fails the run with the exact
cause ("certificate expired") and `pantau_tls_chain_valid 0`.
"""

from __future__ import annotations

import asyncio
import builtins
import re
import ssl
import time
import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, Field, field_validator

from collectors.base import Context, Deadline, MetricSpec, Observation, Sample
from collectors.common.lazy import lazy_import
from collectors.common.tls import TLSConfig
from collectors.common.version import USER_AGENT
from collectors.config import CheckConfig, Secret
from collectors.probe.common import PROBE_METRICS, probe_samples
from collectors.probe.net import (
    TLS_CHAIN_VALID,
    TLS_METRICS,
    IpProtocol,
    ProbeError,
    error_reason,
    own_deadline,
    probe_tls_context,
    resolve,
    tls_facts,
    tls_samples,
    with_system_ca,
)

if TYPE_CHECKING:
    import httpx
else:
    httpx = lazy_import("httpx")

PHASES = ("dns", "connect", "tls", "first_byte", "transfer", "total")
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
            url = httpx.URL(v)
        except httpx.InvalidURL as e:
            raise ValueError(f"invalid URL {v!r}: {e}") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"invalid URL {v!r}: expected http://host/... or https://host/...")
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


class _Trace:
    """Collects httpcore trace events into phase durations and the step now running."""

    _STEP = {
        "connection.connect_tcp": ("connect", "connecting"),
        "connection.start_tls": ("tls", "in the TLS handshake"),
        "http11.send_request_headers": ("", "sending the request"),
        "http11.send_request_body": ("", "sending the request"),
        "http11.receive_response_headers": ("", "waiting for the response"),
        "http11.receive_response_body": ("", "reading the body"),
    }

    def __init__(self) -> None:
        self.phases = dict.fromkeys(PHASES, 0.0)
        self.step = "resolving"
        self.ssl_object: Any = None
        self._started: dict[str, float] = {}
        self._request_at = 0.0

    async def __call__(self, event: str, info: dict[str, Any]) -> None:
        now = time.monotonic()
        base, _, state = event.rpartition(".")
        phase, step = self._STEP.get(base, ("", ""))
        if state == "started":
            if step:
                self.step = step
            self._started[base] = now
            if base == "http11.send_request_headers":
                self._request_at = now
        elif state == "complete":
            began = self._started.pop(base, now)
            if phase:
                self.phases[phase] += now - began
            if base == "connection.start_tls":
                stream = info.get("return_value")
                if stream is not None:
                    self.ssl_object = stream.get_extra_info("ssl_object")
            if base == "http11.receive_response_headers" and self._request_at:
                self.phases["first_byte"] += now - self._request_at


def _root_cause(e: BaseException) -> BaseException:
    """httpx wraps httpcore wraps the OSError/SSLError that says what happened; find it."""
    seen = 0
    cur: BaseException | None = e
    while cur is not None and seen < 10:
        seen += 1
        if isinstance(cur, BaseExceptionGroup) and cur.exceptions:
            cur = cur.exceptions[0]
            continue
        specific = isinstance(cur, ssl.SSLError | ProbeError) or (
            isinstance(cur, OSError) and cur.errno is not None)
        if specific and not isinstance(cur, httpx.HTTPError):
            return cur
        cur = cur.__cause__ or cur.__context__
    return e


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


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
        trace = _Trace()
        samples: list[Sample] = []
        details: dict[str, Any] = {}
        try:
            if self._ssl_ctx is None:  # shared (net.py); its CA store at the first https URL
                self._ssl_ctx = probe_tls_context(cfg.tls_config, "http")
            ssl_ctx = self._ssl_ctx
            async with (
                asyncio.timeout(dl.remaining()),
                httpx.AsyncClient(verify=ssl_ctx, trust_env=False, follow_redirects=False,
                                  timeout=dl.remaining()) as client,
            ):
                reason = await self._run(dl, client, trace, samples, details)
        except Exception as e:
            cause = _root_cause(e)
            if isinstance(e, httpx.TimeoutException):
                cause = TimeoutError()
            if not any(x.name == "pantau_http_status_code" for x in samples):
                samples.append(Sample.of("pantau_http_status_code", 0))  # no response
            if isinstance(cause, ssl.SSLCertVerificationError):
                samples.append(Sample.of(TLS_CHAIN_VALID.name, 0))
            if isinstance(cause, httpx.ProtocolError):
                reason = f"HTTP protocol error while {trace.step}: {cause}"
            else:
                reason = error_reason(cause, phase=trace.step, budget=budget)
        duration = time.monotonic() - started
        trace.phases["total"] = duration
        samples.extend(Sample.of("pantau_http_phase_seconds", v, phase=p)
                       for p, v in trace.phases.items())
        success = not reason
        samples.extend(probe_samples(self.type, cfg.target, success, duration))
        return Observation(success, samples, reason=reason, duration=duration, details=details)

    async def _run(self, dl: Deadline, client: httpx.AsyncClient, trace: _Trace,
                   samples: list[Sample], details: dict[str, Any]) -> str:
        cfg = self.config
        url = httpx.URL(cfg.target)
        method = cfg.method
        body = cfg.body.get_secret_value() if cfg.body is not None else None
        redirects = 0
        while True:
            if url.scheme not in ("http", "https"):
                return f"redirect to unsupported URL {url}"
            port = url.port or (443 if url.scheme == "https" else 80)
            if url.scheme == "https":
                assert self._ssl_ctx is not None  # the client was made with it
                with_system_ca(self._ssl_ctx)
            trace.step = "resolving"
            res = await resolve(url.host, port, cfg.preferred_ip_protocol,
                                cfg.ip_protocol_fallback, dl.remaining())
            trace.phases["dns"] += res.seconds
            details.update(address=res.address, family=res.family)
            headers = httpx.Headers({k: v.get_secret_value() for k, v in cfg.headers.items()})
            if redirects and _origin(url) != _origin(httpx.URL(cfg.target)):
                # Like browsers and httpx: credentials never follow a redirect elsewhere.
                for name in ("authorization", "cookie", "proxy-authorization"):
                    headers.pop(name, None)
            headers["Host"] = url.netloc.decode("ascii")
            headers.setdefault("User-Agent", USER_AGENT)
            headers.setdefault("Accept-Encoding", "gzip, deflate")  # what _BoundedDecoder reads
            request = client.build_request(
                method, url.copy_with(host=res.address), headers=headers,
                content=body.encode() if body is not None else None,
                extensions={"trace": trace, "sni_hostname": cfg.tls_config.server_name or url.host},
                timeout=httpx.Timeout(max(0.001, dl.remaining())),
            )
            response = await client.send(request, stream=True)
            try:
                location = response.headers.get("location")
                if (cfg.follow_redirects and response.status_code in _REDIRECTS
                        and location is not None):
                    redirects += 1
                    if redirects > cfg.max_redirects:
                        return f"too many redirects (more than {cfg.max_redirects})"
                    url = url.join(location)
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

    async def _final(self, response: httpx.Response, family: int, redirects: int,
                     trace: _Trace, samples: list[Sample], details: dict[str, Any],
                     url: httpx.URL) -> str:
        import socket

        cfg = self.config
        status = response.status_code
        samples.append(Sample.of("pantau_http_status_code", status))
        samples.append(Sample.of("pantau_http_redirects", redirects))
        samples.append(Sample.of("pantau_http_ip_protocol",
                                 6 if family == socket.AF_INET6 else 4))
        length = response.headers.get("content-length", "")
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
        encoding = response.headers.get("content-encoding", "")
        try:
            decoder = _BoundedDecoder(encoding)
            # our own decoder, not httpx's: that one inflates a whole network chunk at once,
            # and 64 KiB of a gzip bomb is 64 MiB
            async for raw in response.aiter_raw():
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
            text = b"".join(chunks).decode(response.encoding or "utf-8", "replace")
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
