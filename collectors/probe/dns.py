"""`type: dns` checks: does a given resolver answer a given question the way it should?

The target is the resolver (`10.0.0.53`, `10.0.0.53:5353`, `[fd00::53]:53`), not the name: an
office cares whether *its* resolver (the ISP's, the router's) works, which the system resolver
with its caches and fallbacks would hide. dnspython's async API sends the query over UDP and
retries over TCP when the answer comes back truncated, all bounded by the run's deadline.
"""

from __future__ import annotations

import asyncio
import builtins
import re
import time
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import BaseModel, Field, field_validator

from collectors.base import Context, Deadline, MetricSpec, Observation, Sample
from collectors.common.hostport import split_host_port
from collectors.common.lazy import lazy_import
from collectors.config import CheckConfig, Regex
from collectors.probe.common import PROBE_METRICS, probe_samples
from collectors.probe.net import error_reason, own_deadline

if TYPE_CHECKING:
    import dns.asyncquery
    import dns.exception
    import dns.flags
    import dns.message
    import dns.name
    import dns.rcode
    import dns.rdatatype
    import dns.rrset
else:  # dnspython (~1.6 MiB) is loaded when a DNS check is first validated or run
    for _sub in ("asyncquery", "exception", "flags", "message", "name", "rcode", "rdatatype"):
        lazy_import(f"dns.{_sub}")
    import dns


class DnsConfig(CheckConfig):
    type: Literal["dns"]
    query_name: str = Field(min_length=1, description="Name to look up, e.g. oss.go.id.")
    query_type: str = Field("A", description="Record type: A, AAAA, MX, TXT, CNAME, NS, ...")
    transport: Literal["udp", "tcp"] = Field(
        "udp", description="udp retries over TCP when the answer is truncated.")
    recursion_desired: bool = True
    valid_rcodes: list[str] = Field(default_factory=lambda: ["NOERROR"])
    expected_answers: list[str] = Field(
        default_factory=list,
        description="Each must be among the answers (rdata text, e.g. 10.0.0.1).")
    answer_regex: Regex | None = Field(None, description="Every answer's rdata must match.")
    min_answers: int = Field(0, ge=0, description="Fewest answer records counted a success.")

    @field_validator("target")
    @classmethod
    def _target_valid(cls, v: str) -> str:
        import ipaddress

        host, _ = split_host_port(v, 53, what="target")
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(f"target {v!r}: the resolver must be an IP address[:port]") from None
        return v

    @field_validator("query_name")
    @classmethod
    def _name_valid(cls, v: str) -> str:
        try:
            dns.name.from_text(v)
        except dns.exception.DNSException as e:
            raise ValueError(f"invalid query_name {v!r}: {e}") from None
        return v

    @field_validator("query_type")
    @classmethod
    def _type_valid(cls, v: str) -> str:
        try:
            dns.rdatatype.from_text(v.upper())
        except dns.exception.DNSException:
            raise ValueError(f"unknown DNS record type {v!r}") from None
        return v.upper()

    @field_validator("valid_rcodes")
    @classmethod
    def _rcodes_valid(cls, v: list[str]) -> list[str]:
        out = []
        for code in v:
            try:
                dns.rcode.from_text(code.upper())
            except dns.exception.DNSException:
                raise ValueError(f"unknown DNS rcode {code!r}") from None
            out.append(code.upper())
        return out


def _norm(text: str) -> str:
    """Compare rdata case-insensitively and ignore the root dot, as admins write names."""
    return text.strip().rstrip(".").lower()


def _rr_lines(section: list[dns.rrset.RRset]) -> list[str]:
    """One line per record, tab-separated as miekg/dns prints them (name, TTL, class,
    type, data), so blackbox.yml's validate_*_rrs regexes match what they match there."""
    out = []
    for rrset in section:
        for line in rrset.to_text().splitlines():
            out.append("\t".join(line.split(" ", 4)))
    return out


class DnsCollector:
    type: ClassVar[str] = "dns"
    Config: ClassVar[builtins.type[BaseModel]] = DnsConfig
    per_check: ClassVar[bool] = True
    METRICS: ClassVar[tuple[MetricSpec, ...]] = (
        *PROBE_METRICS,
        MetricSpec("pantau_dns_lookup_seconds", "gauge",
                   "Time from sending the query to the answer (both tries if TCP fallback).",
                   unit="seconds"),
        MetricSpec("pantau_dns_rcode", "gauge",
                   "Numeric response code (0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED)."),
        MetricSpec("pantau_dns_answer_rrs", "gauge", "Number of records in the answer section."),
        MetricSpec("pantau_dns_expected_match", "gauge",
                   "1 if the answers met expected_answers/answer_regex/min_answers, else 0."),
        MetricSpec("pantau_dns_tcp_fallback", "gauge",
                   "1 if the UDP answer was truncated and the query was retried over TCP."),
    )

    def __init__(self, config: DnsConfig) -> None:
        self.config = config

    async def collect(self, ctx: Context) -> Observation:
        cfg = self.config
        started = time.monotonic()
        dl, budget = own_deadline(ctx)
        samples: list[Sample] = []
        details: dict[str, object] = {}
        try:
            host, port = split_host_port(cfg.target, 53, what="target")
            details["server"] = host
            query = dns.message.make_query(cfg.query_name, cfg.query_type)
            if not cfg.recursion_desired:
                query.flags &= ~dns.flags.RD
            t0 = time.monotonic()
            try:
                # The UDP try and the TCP retry each take dnspython's timeout: the outer
                # bound keeps the pair inside the run's deadline.
                async with asyncio.timeout(dl.remaining()):
                    resp, used_tcp = await self._query(query, host, port, dl)
            except dns.exception.Timeout:
                raise TimeoutError from None
            except dns.exception.DNSException as e:
                return self._done(started, samples, False, f"bad DNS reply: {e}", details)
            samples.append(Sample.of("pantau_dns_lookup_seconds", time.monotonic() - t0))
            samples.append(Sample.of("pantau_dns_tcp_fallback",
                                     1 if used_tcp and cfg.transport == "udp" else 0))
            rcode = resp.rcode()
            rname = dns.rcode.to_text(rcode)
            samples.append(Sample.of("pantau_dns_rcode", rcode))
            want_type = dns.rdatatype.from_text(cfg.query_type)
            answers = [_norm(rd.to_text()) for rrset in resp.answer if rrset.rdtype == want_type
                       for rd in rrset]
            n_rrs = sum(len(rrset) for rrset in resp.answer)
            samples.append(Sample.of("pantau_dns_answer_rrs", n_rrs))
            details["sections"] = {
                "answer": _rr_lines(resp.answer), "authority": _rr_lines(resp.authority),
                "additional": _rr_lines(resp.additional)}
            details.update(rcode=rname, answers=answers[:20])
            if rname not in cfg.valid_rcodes:
                return self._done(started, samples, False, f"DNS rcode {rname}", details)
            problem = self._check_answers(answers)
            samples.append(Sample.of("pantau_dns_expected_match", 0 if problem else 1))
            return self._done(started, samples, not problem, problem, details)
        except Exception as e:
            return self._done(started, samples, False,
                              error_reason(e, phase=f"querying {cfg.target}", budget=budget),
                              details)

    async def _query(self, query: dns.message.Message, host: str, port: int,
                     dl: Deadline) -> tuple[dns.message.Message, bool]:
        if self.config.transport == "tcp":
            resp = await dns.asyncquery.tcp(query, host, timeout=dl.remaining(),
                                            port=port)
            return resp, True
        return await dns.asyncquery.udp_with_fallback(
            query, host, timeout=dl.remaining(), port=port)

    def _check_answers(self, answers: list[str]) -> str:
        cfg = self.config
        shown = ", ".join(answers[:5]) or "no answers"
        if len(answers) < cfg.min_answers:
            return f"{len(answers)} {cfg.query_type} answers, expected at least {cfg.min_answers}"
        missing = [a for a in cfg.expected_answers if _norm(a) not in answers]
        if missing:
            return (f"answer mismatch: expected {', '.join(missing)} for {cfg.query_name} "
                    f"{cfg.query_type}, got {shown}")
        if cfg.answer_regex is not None:
            pat = re.compile(cfg.answer_regex, re.IGNORECASE)
            bad = [a for a in answers if not pat.search(a)]
            if bad:
                return f"answer {bad[0]} did not match {cfg.answer_regex!r}"
        return ""

    def _done(self, started: float, samples: list[Sample], success: bool, reason: str,
              details: dict[str, object]) -> Observation:
        duration = time.monotonic() - started
        samples.extend(probe_samples(self.type, self.config.target, success, duration))
        return Observation(success, samples, reason=reason, duration=duration, details=details)

    async def aclose(self) -> None:
        return None
