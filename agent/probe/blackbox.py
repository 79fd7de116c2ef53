"""blackbox_exporter compatibility: read a blackbox.yml as it is, and answer /probe with
blackbox_exporter 0.23's metric names, labels and meanings.

Each module of the file becomes a ProbeModule of pantau's own check types (http, tcp, dns,
icmp) with blackbox's options translated onto the check's config; what the check does not
report itself (fail_if_ssl, valid_http_versions, validate_*_rrs) is judged here from the
run's details. An option pantau cannot honour is refused at load with its name and line:
a silently ignored option would make a probe pass that blackbox_exporter fails.

Series carry no `site` label: existing dashboards and alert rules select on blackbox's own
label sets, and Prometheus adds `instance` and `job` from the scrape.
"""

from __future__ import annotations

import base64
import ipaddress
import math
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from collectors.base import Observation

# Known per prober: the options translated (or judged here), and those refused unless at
# their default value (the value that is accepted).
_HTTP = {"valid_status_codes", "valid_http_versions", "method", "headers", "body",
         "follow_redirects", "fail_if_ssl", "fail_if_not_ssl", "fail_if_body_matches_regexp",
         "fail_if_body_not_matches_regexp", "tls_config", "basic_auth", "bearer_token",
         "bearer_token_file", "preferred_ip_protocol", "ip_protocol_fallback",
         "enable_http2", "compression"}
_TCP = {"query_response", "tls", "tls_config", "preferred_ip_protocol", "ip_protocol_fallback"}
_ICMP = {"preferred_ip_protocol", "ip_protocol_fallback", "payload_size", "dont_fragment"}
_DNS = {"query_name", "query_type", "query_class", "valid_rcodes", "validate_answer_rrs",
        "validate_authority_rrs", "validate_additional_rrs", "transport_protocol",
        "preferred_ip_protocol", "ip_protocol_fallback", "recursion_desired", "dns_over_tls"}
_KNOWN = {"http": _HTTP, "tcp": _TCP, "icmp": _ICMP, "dns": _DNS}
_TLS = {"ca_file", "cert_file", "key_file", "server_name", "insecure_skip_verify",
        "min_version"}
_RR_CHECKS = {"fail_if_matches_regexp", "fail_if_not_matches_regexp",
              "fail_if_all_match_regexp", "fail_if_none_matches_regexp"}
# accepted only at these values (blackbox's defaults)
_ONLY = {("http", "enable_http2"): (False,), ("http", "compression"): ("",),
         ("icmp", "dont_fragment"): (False,), ("dns", "dns_over_tls"): (False,),
         ("dns", "query_class"): ("IN", "in")}
_TLS_VERSIONS = {"TLS10": "TLSv1", "TLS11": "TLSv1.1", "TLS12": "TLSv1.2", "TLS13": "TLSv1.3"}


class BlackboxConfigError(ValueError):
    """A blackbox.yml problem, worded with the file, the line and the option."""


@dataclass
class BlackboxJudge:
    """What a module asks of a run beyond the check's own verdict."""

    prober: str
    fail_if_ssl: bool = False
    fail_if_not_ssl: bool = False
    valid_http_versions: list[str] = field(default_factory=list)
    rr_checks: dict[str, dict[str, list[re.Pattern[str]]]] = field(default_factory=dict)


@dataclass
class BlackboxModule:
    """One translated module: pantau's check type, its options, timeout and the judge."""

    name: str
    type: str
    timeout: float
    options: dict[str, Any]
    judge: BlackboxJudge


def load_blackbox_file(path: Path) -> list[BlackboxModule]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise BlackboxConfigError(f"{path}: cannot read: {e.strerror or e}") from None
    return parse_blackbox(text, str(path))


def parse_blackbox(text: str, source: str = "blackbox.yml") -> list[BlackboxModule]:
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise BlackboxConfigError(f"{source}{where}: invalid YAML") from None

    def fail(loc: tuple[str | int, ...], msg: str) -> BlackboxConfigError:
        line = _line(root, loc)
        where = f" line {line}" if line else ""
        return BlackboxConfigError(f"{source}{where}: {'.'.join(map(str, loc))}: {msg}")

    if not isinstance(data, dict) or not isinstance(data.get("modules"), dict):
        raise fail((), "expected a mapping with `modules:`")
    for key in data:
        if key != "modules":
            raise fail((key,), "unknown top-level key")
    out = []
    for name, mod in data["modules"].items():
        loc: tuple[str | int, ...] = ("modules", name)
        if not isinstance(mod, dict):
            raise fail(loc, "expected a mapping")
        prober = mod.get("prober")
        if prober not in _KNOWN:
            raise fail((*loc, "prober"),
                       f"prober {prober!r} is not supported by pantau (http, tcp, dns, icmp)")
        for key in mod:
            if key not in ("prober", "timeout", prober):
                raise fail((*loc, key), "option not supported by pantau"
                           if key in _KNOWN or key == "grpc" else "unknown option")
        opts = mod.get(prober) or {}
        if not isinstance(opts, dict):
            raise fail((*loc, prober), "expected a mapping")
        for key, value in opts.items():
            if key not in _KNOWN[prober]:
                raise fail((*loc, prober, key), "option not supported by pantau")
            allowed = _ONLY.get((prober, key))
            if allowed is not None and value not in allowed:
                raise fail((*loc, prober, key),
                           f"only {allowed[0]!r} is supported by pantau, not {value!r}")
        timeout = _duration(mod.get("timeout", "10s"))
        if timeout is None:
            raise fail((*loc, "timeout"), f"invalid duration {mod.get('timeout')!r}")
        try:
            check_type, options, judge = _TRANSLATE[prober](opts)
        except _OptionError as e:
            raise fail((*loc, prober, *e.loc), e.msg) from None
        out.append(BlackboxModule(str(name), check_type, timeout, options, judge))
    return out


class _OptionError(Exception):
    def __init__(self, loc: tuple[str | int, ...], msg: str) -> None:
        super().__init__(msg)
        self.loc, self.msg = loc, msg


def _duration(v: Any) -> float | None:
    if isinstance(v, int | float):
        return float(v)
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)", str(v).strip())
    if not m:
        return None
    return float(m.group(1)) * {"ms": 0.001, "s": 1.0, "m": 60.0}[m.group(2)]


def _line(root: yaml.Node | None, loc: tuple[str | int, ...]) -> int | None:
    node = root
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key, val in node.value:
                if key.value == str(part):
                    line, node = key.start_mark.line + 1, val
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) \
                and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _tls(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _OptionError((where,), "expected a mapping")
    out: dict[str, Any] = {}
    for key, v in value.items():
        if key not in _TLS:
            raise _OptionError((where, key), "option not supported by pantau")
        if key == "min_version":
            if v not in _TLS_VERSIONS:
                raise _OptionError((where, key), f"unknown TLS version {v!r}")
        out[key] = v
    return out


def _ip(opts: dict[str, Any], out: dict[str, Any]) -> None:
    if "preferred_ip_protocol" in opts:
        v = str(opts["preferred_ip_protocol"])
        if v not in ("ip4", "ip6"):
            raise _OptionError(("preferred_ip_protocol",), f"expected ip4 or ip6, not {v!r}")
        out["preferred_ip_protocol"] = v
    else:
        out["preferred_ip_protocol"] = "ip6"  # blackbox's default
    if "ip_protocol_fallback" in opts:
        out["ip_protocol_fallback"] = bool(opts["ip_protocol_fallback"])


def go_regex(pattern: str) -> str:
    """A Go (RE2) regex as Python's re reads it. RE2 takes a repeated anchor (`^+OK`, in
    Debian's example pop3s_banner) where re refuses it, and spells end-of-text `\\z`."""
    pattern = re.sub(r"^\^\+", "^", pattern)
    return re.sub(r"(?<!\\)((?:\\\\)*)\\z", r"\1\\Z", pattern)


def _regexes(value: Any, loc: tuple[str | int, ...]) -> list[str]:
    if not isinstance(value, list):
        raise _OptionError(loc, "expected a list of regexes")
    out = []
    for i, pattern in enumerate(value):
        text = go_regex(str(pattern))
        try:
            re.compile(text)
        except re.error as e:
            raise _OptionError((*loc, i), f"invalid regex: {e}") from None
        out.append(text)
    return out


def _http(opts: dict[str, Any]) -> tuple[str, dict[str, Any], BlackboxJudge]:
    out: dict[str, Any] = {}
    judge = BlackboxJudge("http", fail_if_ssl=bool(opts.get("fail_if_ssl", False)),
                          fail_if_not_ssl=bool(opts.get("fail_if_not_ssl", False)))
    codes = opts.get("valid_status_codes") or []
    if codes:
        out["valid_status_codes"] = [int(c) for c in codes]
    judge.valid_http_versions = [str(v) for v in opts.get("valid_http_versions") or []]
    if "method" in opts:
        out["method"] = str(opts["method"]).upper()
    headers = {str(k): str(v) for k, v in (opts.get("headers") or {}).items()}
    if "basic_auth" in opts:
        auth = opts["basic_auth"] or {}
        unknown = set(auth) - {"username", "password", "password_file"}
        if unknown:
            raise _OptionError(("basic_auth", sorted(unknown)[0]),
                               "option not supported by pantau")
        password = str(auth.get("password", ""))
        if "password_file" in auth:
            try:
                password = Path(auth["password_file"]).read_text().strip()
            except OSError as e:
                raise _OptionError(("basic_auth", "password_file"),
                                   f"cannot read: {e.strerror or e}") from None
        token = base64.b64encode(f"{auth.get('username', '')}:{password}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    if "bearer_token" in opts:
        headers["Authorization"] = f"Bearer {opts['bearer_token']}"
    if "bearer_token_file" in opts:
        try:
            token_text = Path(opts["bearer_token_file"]).read_text().strip()
        except OSError as e:
            raise _OptionError(("bearer_token_file",), f"cannot read: {e.strerror or e}") \
                from None
        headers["Authorization"] = f"Bearer {token_text}"
    if headers:
        out["headers"] = headers
    if "body" in opts:
        out["body"] = str(opts["body"])
    if "follow_redirects" in opts:
        out["follow_redirects"] = bool(opts["follow_redirects"])
    if "fail_if_body_matches_regexp" in opts:
        out["body_must_not_match"] = _regexes(opts["fail_if_body_matches_regexp"],
                                              ("fail_if_body_matches_regexp",))
    if "fail_if_body_not_matches_regexp" in opts:
        out["body_must_match"] = _regexes(opts["fail_if_body_not_matches_regexp"],
                                          ("fail_if_body_not_matches_regexp",))
    if "tls_config" in opts:
        out["tls_config"] = _tls(opts["tls_config"], "tls_config")
    _ip(opts, out)
    return "http", out, judge


def _tcp(opts: dict[str, Any]) -> tuple[str, dict[str, Any], BlackboxJudge]:
    out: dict[str, Any] = {}
    sends: list[str] = []
    expect: str | None = None
    for i, step in enumerate(opts.get("query_response") or []):
        if not isinstance(step, dict):
            raise _OptionError(("query_response", i), "expected a mapping")
        for key in step:
            if key not in ("send", "expect"):
                raise _OptionError(("query_response", i, key), "option not supported by pantau")
        # pantau's tcp check sends first, then waits for one expected answer: any other
        # order of steps would be judged differently, so it is refused
        if "expect" in step:
            if expect is not None or "send" in step:
                raise _OptionError(("query_response", i), "pantau supports send steps "
                                   "followed by at most one expect, and nothing after it")
            expect = _regexes([step["expect"]], ("query_response", i))[0]
        elif "send" in step:
            if expect is not None:
                raise _OptionError(("query_response", i, "send"), "pantau supports send "
                                   "steps followed by at most one expect, and nothing after it")
            sends.append(str(step["send"]) + "\n")  # blackbox ends each send with a newline
    if sends:
        out["send"] = "".join(sends)
    if expect is not None:
        out["expect"] = expect
    if opts.get("tls"):
        out["tls"] = True
    if "tls_config" in opts:
        out["tls_config"] = _tls(opts["tls_config"], "tls_config")
        if not opts.get("tls"):
            # blackbox ignores tls_config without tls: refusing is the honest choice
            raise _OptionError(("tls_config",), "tls_config needs tls: true")
    _ip(opts, out)
    return "tcp", out, BlackboxJudge("tcp")


def _icmp(opts: dict[str, Any]) -> tuple[str, dict[str, Any], BlackboxJudge]:
    out: dict[str, Any] = {"count": 1}
    if "payload_size" in opts:
        out["payload_size"] = max(16, int(opts["payload_size"]))
    ip: dict[str, Any] = {}
    _ip(opts, ip)
    fallback = ip.get("ip_protocol_fallback", True)
    out["ip_version"] = "auto" if fallback else ip["preferred_ip_protocol"][2:]
    return "icmp", out, BlackboxJudge("icmp")


def _dns(opts: dict[str, Any]) -> tuple[str, dict[str, Any], BlackboxJudge]:
    if "query_name" not in opts:
        raise _OptionError(("query_name",), "query_name is required")
    out: dict[str, Any] = {"query_name": str(opts["query_name"]),
                           "query_type": str(opts.get("query_type", "ANY")).upper()}
    if "valid_rcodes" in opts:
        out["valid_rcodes"] = [str(c).upper() for c in opts["valid_rcodes"]]
    if "transport_protocol" in opts:
        v = str(opts["transport_protocol"])
        if v not in ("udp", "tcp"):
            raise _OptionError(("transport_protocol",), f"expected udp or tcp, not {v!r}")
        out["transport"] = v
    if "recursion_desired" in opts:
        out["recursion_desired"] = bool(opts["recursion_desired"])
    judge = BlackboxJudge("dns")
    for section in ("answer", "authority", "additional"):
        key = f"validate_{section}_rrs"
        spec = opts.get(key)
        if spec is None:
            continue
        if not isinstance(spec, dict):
            raise _OptionError((key,), "expected a mapping")
        checks: dict[str, list[re.Pattern[str]]] = {}
        for kind, patterns in spec.items():
            if kind not in _RR_CHECKS:
                raise _OptionError((key, kind), "option not supported by pantau")
            checks[kind] = [re.compile(p) for p in _regexes(patterns, (key, kind))]
        judge.rr_checks[section] = checks
    ip: dict[str, Any] = {}
    _ip(opts, ip)  # the target is the server's address: validated, nothing to resolve
    return "dns", out, judge


_TRANSLATE = {"http": _http, "tcp": _tcp, "icmp": _icmp, "dns": _dns}


# --------------------------------------------------------------------------------------------
# The exposition


_HELP = {
    "probe_success": "Displays whether or not the probe was a success",
    "probe_duration_seconds": "Returns how long the probe took to complete in seconds",
    "probe_dns_lookup_time_seconds": "Returns the time taken for probe dns lookup in seconds",
    "probe_ip_protocol": "Specifies whether probe ip protocol is IP4 or IP6",
    "probe_ip_addr_hash": "Specifies the hash of IP address. It's useful to detect if the "
                          "IP address changes.",
    "probe_failed_due_to_regex": "Indicates if probe failed due to regex",
    "probe_http_duration_seconds": "Duration of http request by phase, summed over all "
                                   "redirects",
    "probe_http_content_length": "Length of http content response",
    "probe_http_uncompressed_body_length": "Length of uncompressed response body",
    "probe_http_redirects": "The number of redirects",
    "probe_http_ssl": "Indicates if SSL was used for the final redirect",
    "probe_http_status_code": "Response HTTP status code",
    "probe_http_version": "Returns the version of HTTP of the probe response",
    "probe_ssl_earliest_cert_expiry": "Returns last SSL chain expiry in unixtime",
    "probe_ssl_last_chain_expiry_timestamp_seconds": "Returns last SSL chain expiry in "
                                                     "timestamp",
    "probe_ssl_last_chain_info": "Contains SSL leaf certificate information",
    "probe_tls_version_info": "Returns the TLS version used or NaN when unknown",
    "probe_icmp_duration_seconds": "Duration of icmp request by phase",
    "probe_icmp_reply_hop_limit": "Replied packet hop limit (TTL for ipv4)",
    "probe_dns_duration_seconds": "Duration of DNS request by phase",
    "probe_dns_answer_rrs": "Returns number of entries in the answer resource record list",
    "probe_dns_authority_rrs": "Returns number of entries in the authority resource record "
                               "list",
    "probe_dns_additional_rrs": "Returns number of entries in the additional resource record "
                                "list",
    "probe_dns_query_succeeded": "Displays whether or not the query was executed successfully",
}
BLACKBOX_LABELS = {
    "probe_http_duration_seconds": ("phase",), "probe_icmp_duration_seconds": ("phase",),
    "probe_dns_duration_seconds": ("phase",), "probe_tls_version_info": ("version",),
    "probe_ssl_last_chain_info": ("fingerprint_sha256", "issuer", "subject",
                                  "subjectalternative"),
}


def blackbox_families() -> list[tuple[str, tuple[str, ...], str]]:
    """(name, labels, help) of every family /probe answers for blackbox modules."""
    return [(n, BLACKBOX_LABELS.get(n, ()), h) for n, h in sorted(_HELP.items())]


def ip_addr_hash(address: str) -> float:
    """blackbox's probe_ip_addr_hash: FNV-1a (32 bit) of the address bytes (4 for IPv4)."""
    h = 0x811C9DC5
    for b in ipaddress.ip_address(address).packed:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return float(h)


def _value(obs: Observation, name: str, **labels: str) -> float | None:
    want = tuple(labels.items())
    for s in obs.samples:
        if s.name == name and all(p in s.labels for p in want):
            return s.value
    return None


_TLS_NAMES = {"TLSv1": "TLS 1.0", "TLSv1.1": "TLS 1.1", "TLSv1.2": "TLS 1.2",
              "TLSv1.3": "TLS 1.3"}
_GO_ZERO_TIME = -62135596800.0  # Go's time.Time{}.Unix(): what blackbox shows for no chain


def blackbox_series(judge: BlackboxJudge, obs: Observation,
                    duration: float) -> tuple[bool, list[tuple[str, dict[str, str], float]]]:
    """The run as blackbox_exporter reports it: its verdict and its series."""
    d = obs.details
    success = obs.success
    out: list[tuple[str, dict[str, str], float]] = []

    def add(name: str, value: float, **labels: str) -> None:
        out.append((name, labels, float(value)))

    address = d.get("address")
    resolved = address is not None

    def ip_series(resolve_seconds: float) -> None:
        add("probe_dns_lookup_time_seconds", resolve_seconds)
        if resolved:
            add("probe_ip_protocol", 6 if d.get("family") == socket.AF_INET6 else 4)
            add("probe_ip_addr_hash", ip_addr_hash(str(address)))
        else:
            add("probe_ip_protocol", 0)
            add("probe_ip_addr_hash", 0)

    def tls_series(facts: dict[str, Any] | None) -> None:
        if not facts:
            return
        if facts.get("earliest_expiry") is not None:
            add("probe_ssl_earliest_cert_expiry", facts["earliest_expiry"])
        last = facts.get("verified_chain_expiry")
        add("probe_ssl_last_chain_expiry_timestamp_seconds",
            _GO_ZERO_TIME if last is None else last)
        if "fingerprint_sha256" in facts:
            add("probe_ssl_last_chain_info", 1, fingerprint_sha256=facts["fingerprint_sha256"],
                issuer=facts["issuer"], subject=facts["subject"],
                subjectalternative=facts["dns_names"])
        add("probe_tls_version_info", 1,
            version=_TLS_NAMES.get(facts.get("version", ""), facts.get("version", "")))

    if judge.prober == "http":
        resolve_s = _value(obs, "pantau_http_phase_seconds", phase="dns") or 0.0
        ip_series(resolve_s)
        add("probe_http_duration_seconds", resolve_s, phase="resolve")
        if resolved:
            for phase, ours in (("connect", "connect"), ("tls", "tls"),
                                ("processing", "first_byte"), ("transfer", "transfer")):
                add("probe_http_duration_seconds",
                    _value(obs, "pantau_http_phase_seconds", phase=ours) or 0.0, phase=phase)
        status = _value(obs, "pantau_http_status_code") or 0.0
        final = str(d.get("final_url", ""))
        ssl_used = bool(status) and final.startswith("https:") and "tls" in d
        version_text = str(d.get("http_version", ""))
        version = float(version_text.split("/")[-1]) if "/" in version_text else 0.0
        if status and success:
            if judge.fail_if_ssl and ssl_used:
                success = False
            if judge.fail_if_not_ssl and not ssl_used:
                success = False
            if judge.valid_http_versions and version_text not in judge.valid_http_versions:
                success = False
        add("probe_http_content_length", d.get("content_length", 0) if status else 0)
        add("probe_http_uncompressed_body_length", d.get("body_bytes", 0) if status else 0)
        add("probe_http_redirects", _value(obs, "pantau_http_redirects") or 0.0)
        add("probe_http_ssl", 1 if ssl_used else 0)
        add("probe_http_status_code", status)
        add("probe_http_version", version)
        add("probe_failed_due_to_regex", 1 if d.get("regex_failed") else 0)
        if ssl_used:
            tls_series(d.get("tls"))
    elif judge.prober == "tcp":
        ip_series(float(d.get("resolve_seconds", 0.0)))
        add("probe_failed_due_to_regex", 1 if d.get("regex_failed") else 0)
        tls_series(d.get("tls"))
    elif judge.prober == "icmp":
        resolve_s = float(d.get("resolve_seconds", 0.0))
        ip_series(resolve_s)
        add("probe_icmp_duration_seconds", resolve_s, phase="resolve")
        rtt = _value(obs, "pantau_icmp_rtt_seconds", stat="min")
        add("probe_icmp_duration_seconds", 0.0, phase="setup")
        add("probe_icmp_duration_seconds", rtt or 0.0, phase="rtt")
        hop = d.get("hop_limit", -1)
        if rtt is not None and hop is not None and hop >= 0:
            add("probe_icmp_reply_hop_limit", hop)
    elif judge.prober == "dns":
        # the target is the server's address: nothing to resolve, so the IP facts are those
        # of the target itself
        target_ip = str(d.get("server", ""))
        d = {**d, "address": target_ip or None}
        address = d["address"]
        resolved = address is not None
        if resolved:
            d["family"] = socket.AF_INET6 if ":" in target_ip else socket.AF_INET
        ip_series(0.0)
        lookup = _value(obs, "pantau_dns_lookup_seconds")
        sections: dict[str, list[str]] = d.get("sections") or {}
        add("probe_dns_duration_seconds", 0.0, phase="resolve")
        add("probe_dns_duration_seconds", 0.0, phase="connect")
        add("probe_dns_duration_seconds", lookup or 0.0, phase="request")
        for section in ("answer", "authority", "additional"):
            add(f"probe_dns_{section}_rrs", len(sections.get(section, [])))
        add("probe_dns_query_succeeded", 1 if lookup is not None else 0)
        if success:
            success = _rrs_valid(judge, sections)
    add("probe_duration_seconds", duration)
    add("probe_success", 1 if success else 0)
    return success, out


def _rrs_valid(judge: BlackboxJudge, sections: dict[str, list[str]]) -> bool:
    for section, checks in judge.rr_checks.items():
        rrs = sections.get(section, [])
        for pat in checks.get("fail_if_matches_regexp", []):
            if any(pat.search(rr) for rr in rrs):
                return False
        for pat in checks.get("fail_if_not_matches_regexp", []):
            if any(not pat.search(rr) for rr in rrs):
                return False
        for pat in checks.get("fail_if_all_match_regexp", []):
            if rrs and all(pat.search(rr) for rr in rrs):
                return False
        for pat in checks.get("fail_if_none_matches_regexp", []):
            if not any(pat.search(rr) for rr in rrs):
                return False
    return True


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _num(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def render(series: list[tuple[str, dict[str, str], float]]) -> bytes:
    """Prometheus text format, one family per name in name order, as client_golang does."""
    by_name: dict[str, list[tuple[dict[str, str], float]]] = {}
    for name, labels, value in series:
        by_name.setdefault(name, []).append((labels, value))
    lines = []
    for name in sorted(by_name):
        lines.append(f"# HELP {name} {_HELP.get(name, name)}")
        lines.append(f"# TYPE {name} gauge")
        for labels, value in sorted(by_name[name], key=lambda x: sorted(x[0].items())):
            text = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
            lines.append(f"{name}{{{text}}} {_num(value)}" if text else f"{name} {_num(value)}")
    return ("\n".join(lines) + "\n").encode()
