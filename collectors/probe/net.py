"""Network helpers the tcp, dns and http probes share: address resolution with an IP-protocol
preference, the per-run deadline, TLS contexts and certificate facts, and one-line error
reasons, so the three probes word the same failure the same way: "connection refused",
"timeout after 2.0s while connecting", "certificate expired".
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import socket
import time
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from collectors.base import Context, Deadline, MetricSpec, Sample
from collectors.common.tls import TLSConfig, is_cert_verification_error, is_ssl_error

if TYPE_CHECKING:
    import ssl

IpProtocol = Literal["ip4", "ip6"]

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


# --------------------------------------------------------------------------------------------
# TLS


# Client contexts shared by the checks with the same TLS settings: each holds its own copy of
# the CA store (~0.8 MiB of RSS with the system's), so 20 https checks held 16 MiB. Weak: a
# context goes with the last check using it; while one lives, a new check (a reload) with
# the same settings and unchanged files shares it.
_CONTEXTS: weakref.WeakValueDictionary[tuple[object, ...], ssl.SSLContext] = (
    weakref.WeakValueDictionary())


def _context_key(tls: TLSConfig, user: str) -> tuple[object, ...]:
    files: list[object] = [user]
    for path in (tls.ca_file, tls.cert_file, tls.key_file):
        try:  # a file changed in place (same path) gets a new context, as a new check did
            st = path.stat() if path is not None else None
            files.append((str(path), st.st_mtime_ns, st.st_size) if st else None)
        except OSError:
            files.append((str(path), None))
    return (*files, tls.insecure_skip_verify, tls.min_version)


# Contexts made without the system's CA store, which is loaded at their first handshake
# (with_system_ca): an http check of a plain http:// URL that never redirects to https never
# needs it, and it is ~1.3 MiB of RSS and ~10 ms of CPU to parse.
_CA_PENDING: weakref.WeakSet[ssl.SSLContext] = weakref.WeakSet()


def probe_tls_context(tls: TLSConfig, user: str) -> ssl.SSLContext:
    """The check's client context; a certificate that cannot be loaded is the check's reason.
    Checks of one `user` (the probe type) with the same settings share one (see _CONTEXTS):
    the SNI name is per connection, and what a user sets on it (httpcore sets ALPN
    http/1.1) stays within checks of that type. Call with_system_ca(ctx) before a handshake
    with it."""
    key = _context_key(tls, user)
    ctx = _CONTEXTS.get(key)
    if ctx is not None:
        return ctx
    try:
        ctx = _CONTEXTS[key] = tls.client_context(defer_system_ca=True)
    except ValueError as e:
        raise ProbeError(str(e)) from None
    if tls.ca_file is None and not tls.insecure_skip_verify:
        _CA_PENDING.add(ctx)
    return ctx


def with_system_ca(ctx: ssl.SSLContext) -> ssl.SSLContext:
    """`ctx` with the system's CA store loaded (once per context, before its first
    handshake)."""
    if ctx in _CA_PENDING:
        ctx.load_default_certs()
        _CA_PENDING.discard(ctx)
    return ctx


# The presented and verified chains as OpenSSL decodes them (`_ssl.Certificate.get_info()`,
# the dict getpeercert() gives): no X.509 library needed. cryptography's x509 module cost an
# https-checking agent 10.5 MiB of RSS for four fields (BENCHMARKS.md, "Small office").
_RDN_KEYS = {"commonName": "CN", "organizationName": "O", "organizationalUnitName": "OU",
             "countryName": "C", "stateOrProvinceName": "ST", "localityName": "L",
             "streetAddress": "STREET", "domainComponent": "DC", "userId": "UID"}


def _certificates(ssl_object: Any, name: str) -> list[dict[str, Any]]:
    """`name` ("get_unverified_chain", "get_verified_chain") of the handshake, each
    certificate decoded; [] when Python does not say. The private `_sslobj` methods come
    first: they hand certificate objects on 3.11 and 3.13 alike (3.13's public ones give DER
    bytes)."""
    import ssl  # loaded already: there is an ssl object

    inner = getattr(ssl_object, "_sslobj", None)
    getter = getattr(inner, name, None) or getattr(ssl_object, name, None)
    if getter is None:
        return []
    try:
        return [c.get_info() for c in getter() or [] if hasattr(c, "get_info")]
    except (ssl.SSLError, ValueError, AttributeError):
        return []


def _not_after(info: dict[str, Any]) -> float | None:
    import ssl

    try:
        return float(ssl.cert_time_to_seconds(info["notAfter"]))
    except (KeyError, ValueError):
        return None


def _rfc4514(name: Any) -> str:
    """A decoded subject or issuer (RDNs, each of (type, value) pairs) as RFC 4514 writes it:
    the last RDN first, as cryptography's rfc4514_string() and Go's pkix.Name.String() do."""
    return ",".join("+".join(f"{_RDN_KEYS.get(k, k)}={_escape_rdn(v)}" for k, v in rdn)
                    for rdn in reversed(name or ()))


def _escape_rdn(value: str) -> str:
    out = "".join("\\" + c if c in ',+"\\<>;' else c for c in value)
    if out[:1] in ("#", " "):
        out = "\\" + out
    if out.endswith(" ") and not out.endswith("\\ "):
        out = out[:-1] + "\\ "
    return out


def _chain_expiry(infos: list[dict[str, Any]]) -> float | None:
    stamps = [t for t in map(_not_after, infos) if t is not None]
    return min(stamps) if stamps else None


def earliest_expiry(ssl_object: Any) -> float | None:
    """Earliest notAfter of the chain the server presented (the verified leaf if the chain
    is hidden)."""
    presented = _certificates(ssl_object, "get_unverified_chain")
    return _chain_expiry(presented or [ssl_object.getpeercert() or {}])


def tls_facts(ssl_object: Any) -> dict[str, Any]:
    """What a finished handshake tells about the server, for the check's details: the TLS
    version, the presented chain's earliest expiry, the verified chain's earliest expiry
    (None when nothing was verified) and the leaf's fingerprint, subject, issuer and DNS names.
    """
    import hashlib

    presented = _certificates(ssl_object, "get_unverified_chain")
    facts: dict[str, Any] = {"version": ssl_object.version() or ""}
    facts["earliest_expiry"] = _chain_expiry(presented or [ssl_object.getpeercert() or {}])
    facts["verified_chain_expiry"] = _chain_expiry(
        _certificates(ssl_object, "get_verified_chain"))
    leaf = ssl_object.getpeercert(binary_form=True)
    if leaf:
        # getpeercert() decodes the leaf only when it was verified; the presented chain
        # starts with it either way
        info = ssl_object.getpeercert() or (presented[0] if presented else {})
        names = [v for k, v in info.get("subjectAltName", ()) if k == "DNS"]
        facts.update(fingerprint_sha256=hashlib.sha256(leaf).hexdigest(),
                     subject=_rfc4514(info.get("subject")),
                     issuer=_rfc4514(info.get("issuer")),
                     dns_names=",".join(names))
    return facts


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
    if is_cert_verification_error(e):
        return cert_reason(e)  # type: ignore[arg-type]
    if is_ssl_error(e):
        return f"TLS handshake failed: {getattr(e, 'reason', None) or e}"
    if isinstance(e, ConnectionRefusedError):
        return "connection refused"
    if isinstance(e, OSError) and e.errno in _ERRNO_TEXT:
        return _ERRNO_TEXT[e.errno]
    if isinstance(e, OSError):
        return f"{phase}: {e.strerror or e}"
    return f"{phase}: {type(e).__name__}: {e}"


def short(data: str, limit: int = 60) -> str:
    return repr(data if len(data) <= limit else data[:limit] + "…")
