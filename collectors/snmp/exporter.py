"""snmp_exporter compatibility: read a snmp_exporter snmp.yml as it is (today's `auths:` +
`modules:`, or v0.21's with the auth inside each module) and turn one walk of a module into
snmp_exporter's series: the same names, label sets and values, so dashboards written for
snmp_exporter work unchanged. The walk is pantau's own v2c codec and bounded column walk.

Covered: walk / get lists; metric types gauge, counter, Float, Double, DisplayString,
OctetString, PhysAddress48, IpAddr, InetAddressIPv4, EnumAsInfo, EnumAsStateSet, Bits,
DateAndTime; regex_extracts; indexes of type gauge (with enum_values), PhysAddress48,
DisplayString (length-prefixed), OctetString / InetAddressIPv4 with fixed_size; lookups (and
lookups without labels, which drop a source index); max_repetitions, retries, timeout; v1/v2c
community auths through pantau's v2c codec, v3 auths (authNoPriv / authPriv) through pantau's
v3 client (`scrape_target` takes either). Anything else
(InetAddress indexes, filters, ...) is refused at load with the module and option: a series
silently missing or different is worse than a clear error.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import yaml

from collectors.base import Deadline
from collectors.snmp.v2c import Counter64, IpAddress, ObjectIdentifier, OctetString, V2cTarget

OID = tuple[int, ...]

_VALUE_TYPES = {"gauge", "counter", "Float", "Double", "DisplayString", "OctetString",
                "PhysAddress48", "IpAddr", "InetAddressIPv4", "EnumAsInfo", "EnumAsStateSet",
                "Bits", "DateAndTime", "ParseDateAndTime", "InetAddress", "InetAddressIPv6"}
_INDEX_TYPES = {"gauge", "PhysAddress48", "DisplayString", "OctetString", "InetAddressIPv4",
                "InetAddressIPv6", "InetAddress", "EnumAsInfo"}
_METRIC_KEYS = {"name", "oid", "type", "help", "indexes", "lookups", "enum_values",
                "regex_extracts", "scale", "offset", "datetime_pattern"}
# snmp_exporter's auth keys; only v1/v2c communities are used by /snmp, a v3 auth loads and
# is refused when a request names it
_AUTH_KEYS = {"community", "version", "security_level", "username", "password",
              "auth_protocol", "priv_protocol", "priv_password", "context_name"}
_V3_AUTH = {"MD5", "SHA", "SHA224", "SHA256", "SHA384", "SHA512"}
_V3_PRIV = {"DES", "AES", "AES192", "AES256"}  # AES192C / AES256C (Cisco keys): not in pantau
_MODULE_KEYS = {"walk", "get", "metrics", "version", "max_repetitions", "retries", "timeout",
                "auth"}


class SnmpYmlError(ValueError):
    """A snmp.yml problem: the file, the module and the option."""


@dataclass(frozen=True)
class Auth:
    """An auth of snmp.yml. v3 fields are snmp_exporter's (security_level, username,
    password = the auth password, auth/priv protocol, priv_password); they are answered by
    pantau's own v3 client (agent/probe/snmp.py)."""

    community: str = field(default="public", repr=False)
    version: int = 2
    security_level: str = "noAuthNoPriv"
    username: str = ""
    password: str = field(default="", repr=False)
    auth_protocol: str = "MD5"
    priv_protocol: str = "DES"
    priv_password: str = field(default="", repr=False)
    context_name: str = ""

    def v3_problem(self) -> str:
        """Why pantau's v3 client cannot use this auth, or "" when it can."""
        if self.security_level not in ("authNoPriv", "authPriv"):
            return (f"security_level {self.security_level!r}: pantau's SNMPv3 client needs "
                    "authNoPriv or authPriv")
        if not self.username or not self.password:
            return "SNMPv3 needs username and password"
        if self.auth_protocol not in _V3_AUTH:
            return f"auth_protocol {self.auth_protocol!r} is not supported"
        if self.security_level == "authPriv":
            if self.priv_protocol not in _V3_PRIV:
                return f"priv_protocol {self.priv_protocol!r} is not supported"
            if not self.priv_password:
                return "security_level authPriv needs priv_password"
        if self.context_name:
            return "context_name is not supported"
        return ""


@dataclass
class Index:
    labelname: str
    type: str
    fixed_size: int = 0
    enum_values: dict[int, str] = field(default_factory=dict)


@dataclass
class Lookup:
    labels: list[str]
    labelname: str
    oid: OID
    type: str
    enum_values: dict[int, str] = field(default_factory=dict)


@dataclass
class Metric:
    name: str
    oid: OID
    type: str
    help: str
    indexes: list[Index] = field(default_factory=list)
    lookups: list[Lookup] = field(default_factory=list)
    enum_values: dict[int, str] = field(default_factory=dict)
    # suffix -> [(regex, replacement in Python's spelling)]
    regex_extracts: dict[str, list[tuple[re.Pattern[str], str]]] = field(default_factory=dict)
    scale: float = 0.0  # 0: none (snmp_exporter's zero value)
    offset: float = 0.0
    datetime_pattern: str = ""


@dataclass
class ExporterModule:
    name: str
    walk: list[OID]
    get: list[OID]
    metrics: list[Metric]
    max_repetitions: int = 25
    retries: int = 3
    timeout: float = 5.0
    auth: Auth | None = None  # v0.21's format: the module's own


@dataclass
class SnmpYml:
    modules: dict[str, ExporterModule]
    auths: dict[str, Auth]


def _oid(text: Any, where: str) -> OID:
    try:
        return tuple(int(p) for p in str(text).strip(".").split("."))
    except ValueError:
        raise SnmpYmlError(f"{where}: {text!r} is not a numeric OID") from None


def _duration(v: Any, where: str) -> float:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)", str(v).strip())
    if not m:
        raise SnmpYmlError(f"{where}: invalid duration {v!r}")
    return float(m.group(1)) * {"ms": 0.001, "s": 1.0, "m": 60.0}[m.group(2)]


def _auth(data: Any, where: str) -> Auth:
    if not isinstance(data, dict):
        raise SnmpYmlError(f"{where}: expected a mapping")
    version = int(data.get("version", 2))
    for key in data:
        if key not in _AUTH_KEYS:
            raise SnmpYmlError(f"{where}.{key}: unknown auth option")
    if version not in (1, 2, 3):
        raise SnmpYmlError(f"{where}.version: unknown SNMP version {version}")
    return Auth(str(data.get("community", "public")), version,
                str(data.get("security_level", "noAuthNoPriv")), str(data.get("username", "")),
                str(data.get("password", "")), str(data.get("auth_protocol", "MD5")),
                str(data.get("priv_protocol", "DES")), str(data.get("priv_password", "")),
                str(data.get("context_name", "")))


def parse_snmp_yml(text: str, source: str = "snmp.yml") -> SnmpYml:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise SnmpYmlError(f"{source}: invalid YAML: {e}") from None
    if not isinstance(data, dict):
        raise SnmpYmlError(f"{source}: expected a mapping")
    auths: dict[str, Auth] = {}
    if "modules" in data:  # today's format
        for key in data:
            if key not in ("auths", "modules"):
                raise SnmpYmlError(f"{source}: {key}: unknown top-level key")
        for name, a in (data.get("auths") or {}).items():
            auths[str(name)] = _auth(a, f"{source}: auths.{name}")
        raw_modules = data["modules"] or {}
    else:
        raw_modules = data
    modules = {}
    for name, mod in raw_modules.items():
        where = f"{source}: {name}"
        if not isinstance(mod, dict):
            raise SnmpYmlError(f"{where}: expected a mapping")
        for key in mod:
            if key not in _MODULE_KEYS:
                raise SnmpYmlError(f"{where}.{key}: not supported by pantau's /snmp")
        metrics = [_metric(m, f"{where}.metrics.{i}") for i, m in enumerate(mod.get("metrics")
                                                                             or [])]
        module = ExporterModule(
            str(name), [_oid(o, f"{where}.walk") for o in mod.get("walk") or []],
            [_oid(o, f"{where}.get") for o in mod.get("get") or []], metrics,
            int(mod.get("max_repetitions", 25)), int(mod.get("retries", 3)),
            _duration(mod.get("timeout", "5s"), f"{where}.timeout"),
            _auth(mod["auth"], f"{where}.auth") if "auth" in mod else None)
        if "version" in mod:
            if int(mod["version"]) not in (1, 2, 3):
                raise SnmpYmlError(f"{where}.version: unknown SNMP version {mod['version']}")
            module.auth = dataclasses.replace(module.auth or Auth(),
                                              version=int(mod["version"]))
        modules[str(name)] = module
    return SnmpYml(modules, auths)


def _metric(m: Any, where: str) -> Metric:
    if not isinstance(m, dict):
        raise SnmpYmlError(f"{where}: expected a mapping")
    for key in m:
        if key not in _METRIC_KEYS:
            raise SnmpYmlError(f"{where}.{key}: not supported by pantau's /snmp")
    if m.get("type") not in _VALUE_TYPES:
        raise SnmpYmlError(f"{where}.type: {m.get('type')!r} is not supported by pantau's /snmp")
    indexes = []
    for i, ix in enumerate(m.get("indexes") or []):
        unknown = set(ix) - {"labelname", "type", "fixed_size", "enum_values"}
        if unknown:
            raise SnmpYmlError(f"{where}.indexes.{i}.{sorted(unknown)[0]}: not supported")
        if ix.get("type") not in _INDEX_TYPES:
            raise SnmpYmlError(f"{where}.indexes.{i}.type: {ix.get('type')!r} is not supported")
        if ix["type"] in ("OctetString", "InetAddressIPv4") and not ix.get("fixed_size") \
                and ix["type"] == "OctetString":
            raise SnmpYmlError(f"{where}.indexes.{i}: OctetString index needs fixed_size")
        size = int(ix.get("fixed_size")
                   or {"InetAddressIPv4": 4, "InetAddressIPv6": 16}.get(ix["type"], 0))
        indexes.append(Index(str(ix["labelname"]), str(ix["type"]), size,
                             {int(k): str(v) for k, v in (ix.get("enum_values") or {}).items()}))
    lookups = []
    for i, lk in enumerate(m.get("lookups") or []):
        unknown = set(lk) - {"labels", "labelname", "oid", "type", "enum_values"}
        if unknown:
            raise SnmpYmlError(f"{where}.lookups.{i}.{sorted(unknown)[0]}: not supported")
        labels = [str(x) for x in lk.get("labels") or []]
        if labels and lk.get("type") not in _VALUE_TYPES:
            raise SnmpYmlError(f"{where}.lookups.{i}.type: {lk.get('type')!r} is not supported")
        lookups.append(Lookup(labels, str(lk["labelname"]),
                              _oid(lk["oid"], f"{where}.lookups.{i}.oid") if labels else (),
                              str(lk.get("type", "")),
                              {int(k): str(v) for k, v in (lk.get("enum_values") or {}).items()}))
    enums = {int(k): str(v) for k, v in (m.get("enum_values") or {}).items()}
    extracts: dict[str, list[tuple[re.Pattern[str], str]]] = {}
    for suffix, rules in (m.get("regex_extracts") or {}).items():
        out = []
        for i, rule in enumerate(rules or []):
            try:
                pattern = re.compile(str(rule.get("regex", "")))
            except re.error as e:
                raise SnmpYmlError(f"{where}.regex_extracts.{suffix}.{i}.regex: {e}") from None
            # Go's $1 / ${1} are Python's \g<1>
            value = re.sub(r"\$\{?(\w+)\}?", r"\\g<\1>", str(rule.get("value", "")))
            out.append((pattern, value))
        extracts[str(suffix)] = out
    return Metric(str(m["name"]), _oid(m["oid"], f"{where}.oid"), str(m["type"]),
                  str(m.get("help", "")), indexes, lookups, enums, extracts,
                  float(m.get("scale") or 0.0), float(m.get("offset") or 0.0),
                  str(m.get("datetime_pattern", "")))


# --------------------------------------------------------------------------------------------
# One scrape


Series = tuple[str, str, str, dict[str, str], float]  # name, type, help, labels, value


async def scrape(module: ExporterModule, auth: Auth, host: str, port: int,
                 deadline: Deadline) -> tuple[list[Series], dict[str, float]]:
    """Walk the module's subtrees and gets over v1/v2c: its series, and snmp_exporter's
    scrape figures (pdus, packets sent and retried, walk seconds)."""
    target = V2cTarget(host, port, auth.community, module.timeout, module.retries,
                       module.max_repetitions)
    try:
        return await scrape_target(module, target, deadline, v1=auth.version == 1)
    finally:
        target.close()


class Walker(Protocol):
    """What a scrape needs of a target: pantau's v2c codec and its v3 client both offer it."""

    async def get(self, oids: Sequence[OID], deadline: Deadline) -> dict[OID, Any]: ...

    async def walk_columns(self, roots: Sequence[OID],
                           deadline: Deadline) -> dict[OID, dict[OID, Any]]: ...


async def scrape_target(module: ExporterModule, target: Walker, deadline: Deadline,
                        v1: bool = False) -> tuple[list[Series], dict[str, float]]:
    """One scrape of `module` through an open target (v2c or v3, the caller's)."""
    started = time.perf_counter()
    pdus: dict[OID, Any] = {}
    if module.get:
        got = await target.get(module.get, deadline)
        for oid, value in got.items():
            v = plain(value)
            if v is not None:
                pdus[tuple(oid)] = v
    if module.walk:
        cols = await target.walk_columns(module.walk, deadline)
        for root, values in cols.items():
            for suffix, value in values.items():
                v = plain(value)
                if v is not None:
                    pdus[root + tuple(suffix)] = v
    if v1:
        # the walk itself is v2c; a v1 agent never returns Counter64 (RFC 3584 4.2.2.1),
        # and snmp_exporter's v1 modules are written for what such a walk returns
        pdus = {k: v for k, v in pdus.items() if not isinstance(v, Counter64)}
    walked = time.perf_counter() - started
    return series_of(module, pdus), {"pdus": len(pdus), "sent": getattr(target, "sent", 0),
                                     "retried": getattr(target, "retried", 0), "walk": walked}


_PLAIN_BYTES = {"OctetString": OctetString, "Opaque": OctetString, "Bits": OctetString,
                "IpAddress": IpAddress}


def plain(value: Any) -> Any:
    """A value in the v2c codec's terms (int, Counter64, OctetString, IpAddress,
    ObjectIdentifier), whichever client read it; None for noSuch*/endOfMibView/Null."""
    if isinstance(value, int | bytes | ObjectIdentifier):
        return value  # the codec's own (Counter64 and IpAddress are int and bytes)
    name = type(value).__name__
    if name in ("NoSuchObject", "NoSuchInstance", "EndOfMibView", "Null") or value is None:
        return None
    if name == "Special":  # pysnmp's noSuch* / endOfMibView
        return None
    if name in _PLAIN_BYTES:
        return _PLAIN_BYTES[name](bytes(value))
    if name in ("ObjectIdentifier", "ObjectName"):
        return ObjectIdentifier(tuple(value))
    if name == "Counter64":
        return Counter64(int(value))
    try:
        return int(value)  # Integer32, Gauge32, Counter32, TimeTicks, Unsigned32
    except (TypeError, ValueError):
        return None


def series_of(module: ExporterModule, pdus: dict[OID, Any]) -> list[Series]:
    by_oid = {m.oid: m for m in module.metrics}
    out: list[Series] = []
    for oid in sorted(pdus):
        metric = None
        for n in range(len(oid) - 1, 0, -1):  # the longest metric OID that is a prefix
            metric = by_oid.get(oid[:n])
            if metric is not None:
                break
        if metric is None:
            continue
        out.extend(_pdu_series(metric, oid[len(metric.oid):], pdus[oid], pdus))
    return out


def _pdu_series(metric: Metric, index: OID, value: Any, pdus: dict[OID, Any]) -> list[Series]:
    labels: dict[str, str] = {}
    label_oids: dict[str, OID] = {}
    rest = index
    for ix in metric.indexes:
        part, rest = _split_index(ix, rest)
        labels[ix.labelname] = _index_text(ix, part)
        label_oids[ix.labelname] = part
    for lk in metric.lookups:
        if not lk.labels:
            labels.pop(lk.labelname, None)
            continue
        oid = lk.oid + tuple(x for label in lk.labels for x in label_oids.get(label, ()))
        if oid in pdus:
            labels[lk.labelname] = _text(pdus[oid], lk.type)
            if lk.type == "EnumAsInfo" and isinstance(pdus[oid], int):
                labels[lk.labelname] = lk.enum_values.get(pdus[oid], str(pdus[oid]))
            if isinstance(pdus[oid], int):
                label_oids[lk.labelname] = (pdus[oid],)
        else:
            labels[lk.labelname] = ""
    t, name, help_ = metric.type, metric.name, metric.help
    if metric.regex_extracts:
        return _extracted(metric, labels, _text(value, "DisplayString"))
    if t in ("counter", "gauge", "Float", "Double"):
        num = _number(value)
        if num is not None and metric.scale:
            num *= metric.scale
        if num is not None:
            num += metric.offset
        return [] if num is None else [(name, "counter" if t == "counter" else "gauge", help_,
                                        labels, num)]
    if t == "EnumAsInfo":
        num = _number(value)
        state = metric.enum_values.get(int(num), str(int(num))) if num is not None else ""
        return [(name + "_info", "gauge", help_ + " (EnumAsInfo)", {**labels, name: state}, 1.0)]
    if t == "EnumAsStateSet":
        num = _number(value)
        return [(name, "gauge", help_ + " (EnumAsStateSet)", {**labels, name: state},
                 1.0 if num is not None and k == int(num) else 0.0)
                for k, state in metric.enum_values.items()]
    if t == "Bits":
        raw = bytes(value) if isinstance(value, bytes) else b""
        return [(name, "gauge", help_ + " (Bits)", {**labels, name: state},
                 1.0 if k // 8 < len(raw) and raw[k // 8] & (0x80 >> (k % 8)) else 0.0)
                for k, state in metric.enum_values.items()]
    if t == "ParseDateAndTime":
        import datetime as dt

        try:
            when = dt.datetime.strptime(_text(value, "DisplayString"), metric.datetime_pattern)
        except ValueError:
            return []
        return [(name, "gauge", help_, labels, when.replace(tzinfo=dt.UTC).timestamp())]
    if t == "DateAndTime":
        stamp = _date_and_time(bytes(value) if isinstance(value, bytes) else b"")
        return [] if stamp is None else [(name, "gauge", help_, labels, stamp)]
    return [(name, "gauge", help_, {**labels, name: _text(value, t)}, 1.0)]


def _extracted(metric: Metric, labels: dict[str, str], text: str) -> list[Series]:
    """regex_extracts: one gauge per suffix, from the first rule whose result is a number."""
    out: list[Series] = []
    for suffix, rules in metric.regex_extracts.items():
        for pattern, replacement in rules:
            m = pattern.search(text)
            if m is None:
                continue
            try:
                number = float(m.expand(replacement))
            except (ValueError, re.error, IndexError):
                continue
            out.append((metric.name + suffix, "gauge", metric.help + " (regex extracted)",
                        labels, number))
            break
    return out


def _date_and_time(raw: bytes) -> float | None:
    """RFC 2579 DateAndTime (8 or 11 octets) as Unix time, normalised as Go's time.Date
    does: out-of-range fields roll over (an unset 00 00 01 01 ... is year 0, not an error)."""
    import datetime as dt

    if len(raw) not in (8, 11):
        return None
    year, month, day = int.from_bytes(raw[0:2], "big"), raw[2], raw[3]
    months = year * 12 + month - 1
    # Python's dates start at year 1: shift by whole 400-year cycles (146097 days each)
    cycles = 0
    while months // 12 < 1:
        months += 400 * 12
        cycles += 1
    base = dt.datetime(months // 12, months % 12 + 1, 1, tzinfo=dt.UTC)
    when = base + dt.timedelta(days=day - 1, hours=raw[4], minutes=raw[5], seconds=raw[6],
                               milliseconds=raw[7] * 100)
    stamp = when.timestamp() - cycles * 146097 * 86400
    if len(raw) == 11:
        offset = (raw[9] * 60 + raw[10]) * 60
        stamp -= offset if raw[8:9] == b"+" else -offset
    return float(int(stamp))


def _split_index(ix: Index, rest: OID) -> tuple[OID, OID]:
    if ix.type == "gauge":
        return rest[:1], rest[1:]
    if ix.type == "PhysAddress48":
        return rest[:6], rest[6:]
    if ix.type in ("DisplayString", "InetAddress"):
        n = rest[0] if rest else 0
        return rest[:n + 1], rest[n + 1:]
    return rest[:ix.fixed_size], rest[ix.fixed_size:]


def _index_text(ix: Index, part: OID) -> str:
    if ix.type == "InetAddress":
        return _inet(bytes(b & 0xFF for b in part[1:]))
    if ix.type == "InetAddressIPv6":
        return _inet(bytes(b & 0xFF for b in part))
    if ix.type in ("gauge", "EnumAsInfo"):
        return (ix.enum_values.get(part[0], str(part[0])) if ix.enum_values else str(part[0])) \
            if part else ""
    if ix.type == "PhysAddress48":
        return ":".join(f"{b:02X}" for b in part)
    if ix.type == "DisplayString":
        return bytes(b & 0xFF for b in part[1:]).decode("utf-8", "replace")
    if ix.type == "InetAddressIPv4":
        return ".".join(str(b) for b in part)
    return "0x" + "".join(f"{b:02X}" for b in part)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    return None


def _text(value: Any, t: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, ObjectIdentifier):  # an OID value reads as its dotted form
        return ".".join(str(p) for p in value)
    raw = bytes(value) if isinstance(value, OctetString | IpAddress | bytes) else b""
    if t == "DisplayString":
        return raw.decode("utf-8", "replace")
    if t == "PhysAddress48":
        # snmp_exporter shows an empty address (a loopback's) as six zero bytes
        return ":".join(f"{b:02X}" for b in raw.ljust(6, b"\0"))
    if not raw:
        return ""  # snmp_exporter shows an empty string as is, whatever its type
    if t in ("IpAddr", "InetAddressIPv4"):
        return ".".join(str(b) for b in raw)
    if t in ("InetAddress", "InetAddressIPv6"):
        return _inet(raw)
    return "0x" + raw.hex().upper()


def _inet(raw: bytes) -> str:
    import ipaddress

    if len(raw) == 4:
        return str(ipaddress.IPv4Address(raw))
    if len(raw) == 16:
        return str(ipaddress.IPv6Address(raw))
    return "0x" + raw.hex().upper()


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def render(series: list[Series], duration: float, figures: dict[str, float]) -> bytes:
    """Prometheus text, families in name order, with snmp_exporter's own scrape gauges."""
    fams: dict[str, tuple[str, str, list[tuple[dict[str, str], float]]]] = {}
    for name, kind, help_, labels, value in series:
        fams.setdefault(name, (kind, help_, []))[2].append((labels, value))
    for name, help_, value in (
            ("snmp_scrape_duration_seconds",
             "Total SNMP time scrape took (walk and processing).", duration),
            ("snmp_scrape_packets_retried", "Packets retried for get, bulkget, and walk.",
             figures["retried"]),
            ("snmp_scrape_packets_sent",
             "Packets sent for get, bulkget, and walk; including retries.", figures["sent"]),
            ("snmp_scrape_pdus_returned", "PDUs returned from get, bulkget, and walk.",
             figures["pdus"]),
            ("snmp_scrape_walk_duration_seconds", "Time SNMP walk/bulkwalk took.",
             figures["walk"])):
        fams[name] = ("gauge", help_, [({}, float(value))])
    lines = []
    for name in sorted(fams):
        kind, help_, rows = fams[name]
        lines.append(f"# HELP {name} {help_}")
        lines.append(f"# TYPE {name} {kind}")
        # client_golang's order: by label values, label names sorted
        rows.sort(key=lambda r: [v for _, v in sorted(r[0].items())])
        for labels, value in rows:
            text = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
            num = repr(value) if value != int(value) else str(int(value))
            lines.append(f"{name}{{{text}}} {num}" if text else f"{name} {num}")
    return ("\n".join(lines) + "\n").encode()

