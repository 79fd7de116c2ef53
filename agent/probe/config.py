"""A `probe_modules:` entry: which check type /probe runs, its options, and the only targets
a request may name."""

from __future__ import annotations

import fnmatch
import ipaddress
import re
import socket
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator

from agent.probe.blackbox import BlackboxJudge
from collectors import CHECK_TYPES, REGISTRY
from collectors.common.hostport import join_host_port, split_host_port
from collectors.common.url import URL, InvalidURL
from collectors.config import CheckConfig, Duration, StrictModel


class ProbeModule(StrictModel):
    """A probe module for /probe: a check type, its options and the targets it may probe."""

    type: str = Field(description="A check type: icmp, tcp, dns, http.")
    timeout: Duration = Field(10.0, description="Upper bound; the scrape timeout may lower it.")
    targets: list[str] = Field(
        min_length=1, description="Allowed targets: exact, CIDR (10.0.0.0/24) or *.suffix.")
    options: dict[str, Any] = Field(
        default_factory=dict, description="Type-specific check options (e.g. query_name).")
    names: Literal["pantau", "blackbox"] = Field(
        "pantau", description="Answer with pantau_* names, or with blackbox_exporter's "
        "(probe_success, probe_http_*...), as modules from probe_modules_file do.")
    # blackbox.yml's own judgements (fail_if_ssl, validate_answer_rrs...), set for modules
    # read from probe_modules_file
    _judge: BlackboxJudge | None = PrivateAttr(None)
    # The check's TLS client context, built by the first request and shared by the next:
    # loading the CA store costs ~10 ms of CPU, more than the probe itself on a LAN
    _tls_context: Any = PrivateAttr(None)

    @property
    def judge(self) -> BlackboxJudge:
        return self._judge or BlackboxJudge(self.type)

    @field_validator("type")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in CHECK_TYPES:
            raise ValueError(f"unknown check type {v!r} (known: {', '.join(sorted(CHECK_TYPES))})")
        return v

    @field_validator("targets")
    @classmethod
    def _patterns(cls, v: list[str]) -> list[str]:
        for t in v:
            if "*" in t and not (t.startswith("*.") and "*" not in t[2:]):
                raise ValueError(f"target pattern {t!r}: only a leading '*.' is allowed")
        return v

    @model_validator(mode="after")
    def _options_valid(self) -> ProbeModule:
        # the options are otherwise only read at the first request: check them now, with a
        # stand-in target, so check-config and the start refuse what a request would
        try:
            self.check_config(_STAND_IN[self.type], self.timeout)
        except ValidationError as e:
            problems = []
            for err in e.errors():
                where = ".".join(str(p) for p in err["loc"] if not str(p)[:1].isupper())
                msg = err["msg"].removeprefix("Value error, ")
                if err["type"] == "extra_forbidden":
                    msg = "unknown option"
                problems.append(f"options.{where}: {msg}" if where else f"options: {msg}")
            raise ValueError("; ".join(problems)) from None
        return self

    def allows(self, target: str) -> bool:
        return self.admit(target) is not None

    def admit(self, target: str) -> ProbeTarget | None:
        """The parsed target when the allow-list admits it, else None.

        The check is then built from `ProbeTarget.target`, which re-parses to the same host
        and port, so what was checked is what gets connected to."""
        try:
            parsed = parse_target(self.type, target)
        except ValueError:
            return None
        ip = parsed.ip
        if ip is not None and ip.version == 6 and ip.ipv4_mapped is not None:
            # a dual-stack socket connects to the IPv4 address inside: judge that one
            ip = ip.ipv4_mapped
        for allowed in self.targets:
            if target == allowed:
                return parsed
            if allowed.startswith("*."):
                if ip is None and fnmatch.fnmatchcase(parsed.host, allowed.lower()):
                    return parsed
                continue
            if "/" not in allowed or ip is None:
                continue
            try:
                net = ipaddress.ip_network(allowed, strict=False)
            except ValueError:
                continue
            if ip.version == net.version and ip in net:
                return parsed
        return None

    def check_config(self, target: str, timeout: float) -> CheckConfig:
        data = {**self.options, "name": "probe", "type": self.type, "target": target,
                "timeout": timeout, "interval": timeout + 1}
        model = REGISTRY[self.type].Config
        return model.model_validate(data)  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class ProbeTarget:
    """One parse of a /probe target: `target` is the text the check is built from, `host`
    the host the connection goes to (lower case), `ip` that host when it is an address."""

    target: str
    host: str
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None


_HOSTNAME = re.compile(r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*")
_DEFAULT_PORT = {"tcp": None, "dns": 53, "ssh": 22}
_STAND_IN = {"http": "http://probe.invalid/", "tcp": "probe.invalid:1", "dns": "127.0.0.1",
             "icmp": "127.0.0.1", "ssh": "probe.invalid"}


def parse_target(check_type: str, target: str) -> ProbeTarget:
    """Parse a target the way its collector will (URL.parse for http, split_host_port for
    host:port), and refuse any spelling whose meaning depends on who reads it."""
    if check_type == "http":
        try:
            url = URL.parse(target)
        except InvalidURL as e:
            raise ValueError(f"invalid URL: {e}") from None
        if url.userinfo:
            raise ValueError("credentials in the URL")
        text = str(url)
        again = URL.parse(text)
        if again.origin != url.origin:
            raise ValueError("the URL does not parse the same way twice")
        return ProbeTarget(text, *_host(url.host))
    if check_type == "icmp":
        host, port = split_host_port(target, default_port=0, what="target")
        if port:
            raise ValueError("icmp targets have no port")
        host, ip = _host(host)
        return ProbeTarget(str(ip) if ip else host, host, ip)
    host, port = split_host_port(target, default_port=_DEFAULT_PORT.get(check_type),
                                 what="target")
    host, ip = _host(host)
    return ProbeTarget(join_host_port(str(ip) if ip else host, port), host, ip)


def _host(host: str) -> tuple[str, ipaddress.IPv4Address | ipaddress.IPv6Address | None]:
    h = host.lower()
    try:
        ip = ipaddress.ip_address(h)
    except ValueError:
        ip = None
    if ip is not None:
        if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
            raise ValueError("scoped IPv6 address")
        return str(ip), ip
    bare = h.rstrip(".")
    try:
        # glibc's resolver reads 2130706433, 0x7f.1, 0177.0.0.1 and 127.1 as addresses
        socket.inet_aton(bare)
        numeric = True
    except OSError:
        numeric = False
    if numeric or (bare != h and _is_ip(bare)):
        raise ValueError(f"ambiguous address spelling {host!r}")
    if not _HOSTNAME.fullmatch(h):
        raise ValueError(f"not a host name: {host!r}")
    return h, None


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
