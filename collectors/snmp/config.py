"""The `snmp:` section's config: credential sets, devices, user profiles and the snmp.yml
taken over from snmp_exporter.

Apart from the poller (collector.py) and its codecs (v2c, v3, usm, exporter) so an agent that
polls no device loads none of them just to validate its config (BENCHMARKS.md, "RSS of
host-only `pantau run`"): the codec modules are imported where a device, a v3 user or an
snmp.yml needs them.
"""

from __future__ import annotations

import importlib
import ipaddress
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator

from collectors.base import JobSpec, MetricSpec
from collectors.common.hostport import split_host_port
from collectors.config import Duration, Secret, StrictModel, resolve_secret
from collectors.snmp.traps import TrapsConfig
from collectors.snmp.walk import parse_oid

if TYPE_CHECKING:
    from collectors.snmp.collector import SnmpCollector
    from collectors.snmp.exporter import SnmpYml
    from collectors.snmp.usm import User

BUILTIN_PROFILES = ("system", "if_mib", "ucd", "host_resources", "mikrotik")


class SnmpAuth(StrictModel):
    """A named credential set: a v2c community, or a v3 user (authNoPriv or authPriv)."""

    version: Literal["2c", "3"] = "2c"
    community: Secret | None = None
    community_file: Path | None = None
    username: str | None = None
    auth_protocol: Literal["MD5", "SHA", "SHA224", "SHA256", "SHA384", "SHA512"] = "SHA"
    auth_password: Secret | None = None
    auth_password_file: Path | None = None
    priv_protocol: Literal["none", "DES", "AES", "AES192", "AES256"] = "AES"
    priv_password: Secret | None = None
    priv_password_file: Path | None = None

    @model_validator(mode="after")
    def _complete(self) -> SnmpAuth:
        if self.version == "2c":
            if resolve_secret(self.community, self.community_file, "community") is None:
                raise ValueError("version 2c needs community (or community_file)")
        else:
            if not self.username:
                raise ValueError("version 3 needs username")
            if resolve_secret(self.auth_password, self.auth_password_file,
                              "auth_password") is None:
                raise ValueError("version 3 needs auth_password (or auth_password_file)")
            priv = resolve_secret(self.priv_password, self.priv_password_file, "priv_password")
            if self.priv_protocol != "none" and priv is None:
                raise ValueError("priv_protocol set: give priv_password (or priv_password_file)"
                                 " or priv_protocol: none")
        return self

    def usm_user(self) -> User:
        """The v3 user with its passwords made into keys (the poller's own USM, v3.py)."""
        from collectors.snmp.usm import User

        assert self.version == "3" and self.username
        auth = resolve_secret(self.auth_password, self.auth_password_file, "auth_password")
        priv = resolve_secret(self.priv_password, self.priv_password_file, "priv_password")
        assert auth is not None
        return User.make(self.username, self.auth_protocol, auth.get_secret_value(),
                         self.priv_protocol,
                         priv.get_secret_value() if priv is not None else None)

    def auth_data(self) -> Any:
        """pysnmp's form of these credentials: the trap listener (traps.py) keeps pysnmp."""
        from pysnmp.hlapi.v3arch import asyncio as h

        if self.version == "2c":
            secret = resolve_secret(self.community, self.community_file, "community")
            assert secret is not None
            return h.CommunityData(secret.get_secret_value(), mpModel=1)
        auth_proto = {
            "MD5": h.usmHMACMD5AuthProtocol, "SHA": h.usmHMACSHAAuthProtocol,
            "SHA224": h.usmHMAC128SHA224AuthProtocol, "SHA256": h.usmHMAC192SHA256AuthProtocol,
            "SHA384": h.usmHMAC256SHA384AuthProtocol, "SHA512": h.usmHMAC384SHA512AuthProtocol,
        }[self.auth_protocol]
        priv_proto = {
            "none": h.usmNoPrivProtocol, "DES": h.usmDESPrivProtocol,
            # net-snmp's AES-192/256 key extension (pysnmp's plain AES192/256 is Reeder's)
            "AES": h.usmAesCfb128Protocol, "AES192": h.usmAesBlumenthalCfb192Protocol,
            "AES256": h.usmAesBlumenthalCfb256Protocol,
        }[self.priv_protocol]
        auth = resolve_secret(self.auth_password, self.auth_password_file, "auth_password")
        priv = resolve_secret(self.priv_password, self.priv_password_file, "priv_password")
        assert auth is not None
        return h.UsmUserData(
            self.username, auth.get_secret_value(),
            priv.get_secret_value() if priv is not None and self.priv_protocol != "none"
            else None,
            authProtocol=auth_proto, privProtocol=priv_proto)


class ProfileMetric(StrictModel):
    """One metric of a user profile: a scalar (OID ending in .0) or a table column."""

    name: str = Field(pattern=r"^pantau_snmp_[a-z0-9_]+$")
    oid: str
    type: Literal["gauge", "counter"] = "gauge"
    help: str = "User-defined SNMP metric."
    index_label: str = Field("index", pattern=r"^[a-z_][a-z0-9_]*$")
    scale: float = 1.0

    @field_validator("oid")
    @classmethod
    def _oid(cls, v: str) -> str:
        parse_oid(v)
        return v

    @model_validator(mode="after")
    def _counter_name(self) -> ProfileMetric:
        if self.type == "counter" and not self.name.endswith("_total"):
            raise ValueError(f"counter {self.name} must end in _total")
        return self


class Profile(StrictModel):
    """A user profile: OIDs to read and the metrics to make of them, no Python needed."""

    metrics: list[ProfileMetric] = Field(min_length=1)


class SnmpDevice(StrictModel):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
    address: str = Field(description="host, host:port or [v6]:port; port 161 by default.")
    auth: str = Field(description="Name of an entry in snmp.auths.")
    profiles: list[str] = Field(
        default_factory=lambda: ["system", "if_mib"],
        description="pantau's own profiles; none by default when `modules` is given.")
    modules: list[str] = Field(
        default_factory=list,
        description="Modules of the snmp.yml named by snmp.exporter_modules, polled with this "
        "device's auth: their series in snmp_exporter's names, with device and labels.")
    interval: Duration = 60.0
    timeout: Duration = Field(5.0, description="Per request; a poll gets timeout x (retries+1)"
                              " x 4 at most.")
    retries: int = Field(1, ge=0, le=5)
    max_repetitions: int = Field(25, ge=1, le=100)
    max_varbinds: int = Field(
        50_000, ge=100, le=10_000_000,
        description="A table walk stops (and the poll fails) after this many values: a "
        "device answering an endless walk cannot grow the agent's memory.")
    labels: dict[str, str] = Field(default_factory=dict)

    def host_port(self) -> tuple[str, int]:
        return split_host_port(self.address, 161, what="SNMP address")

    @model_validator(mode="after")
    def _modules_alone(self) -> SnmpDevice:
        # a device taken over from snmp_exporter serves its module series, not pantau's
        # profiles too, unless profiles are asked for
        if self.modules and "profiles" not in self.model_fields_set:
            self.profiles = []
        return self


class SnmpSection(StrictModel):
    """The `snmp:` section: credential sets, devices and optional user profiles."""

    auths: dict[str, SnmpAuth] = Field(default_factory=dict)
    devices: list[SnmpDevice] = Field(default_factory=list)
    profiles: dict[str, Profile] = Field(default_factory=dict)
    traps: TrapsConfig | None = Field(None, description="Optional trap listener (v2c and v3).")
    exporter_modules: Path | None = Field(
        None, description="A snmp_exporter snmp.yml (either format), read as it is: "
        "GET /snmp?module=&target=&auth= answers with snmp_exporter's names.")
    exporter_targets: list[str] = Field(
        default_factory=list, description="The devices /snmp may poll: addresses or CIDR "
        "networks (10.0.0.0/24); required with exporter_modules.")
    _exporter: SnmpYml | None = PrivateAttr(None)

    @property
    def exporter(self) -> SnmpYml | None:
        return self._exporter

    @model_validator(mode="after")
    def _exporter_file(self) -> SnmpSection:
        if self.exporter_modules is None:
            return self
        if not self.exporter_targets:
            # /snmp must never poll what the config does not allow
            raise ValueError("exporter_modules needs exporter_targets (the devices /snmp may "
                             "poll)")
        for t in self.exporter_targets:
            try:
                ipaddress.ip_network(t, strict=False)
            except ValueError:
                raise ValueError(f"exporter_targets: {t!r} is not an address or network") \
                    from None
        try:
            text = self.exporter_modules.read_text(encoding="utf-8")
        except OSError as e:
            raise ValueError(f"exporter_modules: cannot read {self.exporter_modules}: "
                             f"{e.strerror or e}") from None
        from collectors.snmp.exporter import parse_snmp_yml

        self._exporter = parse_snmp_yml(text, str(self.exporter_modules))
        return self

    @model_validator(mode="after")
    def _refs(self) -> SnmpSection:
        if self.traps is not None:
            self.traps.check_refs(self.auths)
        names: set[str] = set()
        for i, d in enumerate(self.devices):
            for j, m in enumerate(d.modules):
                if self._exporter is None or m not in self._exporter.modules:
                    mods = sorted(self._exporter.modules) if self._exporter else []
                    known = (", ".join(mods[:8]) + (", ..." if len(mods) > 8 else "")
                             if mods else "none: set snmp.exporter_modules")
                    raise ModuleRefError(f"device {d.name!r}: unknown snmp.yml module {m!r} "
                                         f"(known: {known})", ("snmp", "devices", i, "modules", j))
            if d.name in names:
                raise ValueError(f"duplicate device name {d.name!r}")
            names.add(d.name)
            if d.auth not in self.auths:
                raise ValueError(f"device {d.name!r}: unknown auth {d.auth!r} "
                                 f"(known: {', '.join(sorted(self.auths)) or 'none'})")
            for p in d.profiles:
                if p not in BUILTIN_PROFILES and p not in self.profiles:
                    raise ValueError(f"device {d.name!r}: unknown profile {p!r}")
            d.host_port()
            if d.timeout * (d.retries + 1) >= d.interval:
                raise ValueError(f"device {d.name!r}: timeout x (retries+1) must be below "
                                 "interval")
        return self

    def metric_specs(self) -> list[MetricSpec]:
        """Families of user profiles, declared at load time (the builtins are in METRICS)."""
        out = []
        for prof in self.profiles.values():
            for m in prof.metrics:
                out.append(MetricSpec(m.name, m.type, m.help, ("device", m.index_label)))
        return out

    def jobs(self, site: str) -> list[JobSpec]:
        out = []
        for d in self.devices:
            def factory(dev: SnmpDevice = d) -> SnmpCollector:
                # by name: the poller imports this module, and is loaded only when a device
                # is polled
                poller = importlib.import_module("collectors.snmp.collector").SnmpCollector
                mods = self._exporter.modules if self._exporter else {}
                return poller(dev, self.auths[dev.auth], self.profiles,
                              [mods[m] for m in dev.modules])

            # a poll walks several tables: allow a few request timeouts, but stay below interval
            budget = min(d.interval * 0.9, d.timeout * (d.retries + 1) * 4)
            # What the poll is built from: an unchanged device keeps polling through a
            # reload, with its schedule, counter state (32-bit wrap offsets, reboots) and
            # last result; a changed device, auth or user profile restarts it.
            used = {p: self.profiles[p] for p in d.profiles if p in self.profiles}
            out.append(JobSpec(f"snmp:{d.name}", d.name, "snmp", d.interval, budget, factory,
                               per_check=False, labels=dict(d.labels),
                               identity=(d, self.auths[d.auth], used)))
        if self.traps is not None:
            senders = {d.host_port()[0]: d.name for d in self.devices}
            out += self.traps.jobs(site, self.auths, senders)
        return out


class ModuleRefError(ValueError):
    """A device names a module the snmp.yml lacks; `loc` is where, for the error's line."""

    def __init__(self, message: str, loc: tuple[str | int, ...]) -> None:
        super().__init__(message)
        self.loc = loc
