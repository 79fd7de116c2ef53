"""SNMP for the office network gear: interfaces, uptime and health over v2c and v3 (both on
pantau's own codec: v2c.py, v3.py with usm.py).

Counter correctness, the part that makes graphs lie when done wrong:
- 64-bit ifX counters are exported raw; when a device reboots they start again from zero and
  Prometheus' rate() treats the drop as a counter reset.
- 32-bit ifTable counters (old gear without ifXTable) wrap every 34 s at 1 Gbit/s. pantau keeps
  the last raw value per interface and extends them into monotonic 64-bit values: a drop that
  fits the interface speed is a wrap (+2^32); a drop too large to be one is a reset.
- A reboot (sysUpTime going back, or snmpEngineBoots rising) drops all extension state, so the
  exported counters restart too and rate() sees one clean reset, never a spike.
Every wrap, reset and reboot is counted in pantau_snmp_counter_discontinuities_total.
"""

from __future__ import annotations

import builtins
import logging
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel

from collectors.base import (
    RESERVED_LABELS,
    Context,
    Deadline,
    MetricSpec,
    Observation,
    Sample,
)
from collectors.config import resolve_secret

# The section's models live in config.py (a host-only agent validates its config without this
# poller and its codecs); their names stay importable from here.
from collectors.snmp.config import BUILTIN_PROFILES as BUILTIN_PROFILES
from collectors.snmp.config import ModuleRefError as ModuleRefError
from collectors.snmp.config import Profile as Profile
from collectors.snmp.config import ProfileMetric as ProfileMetric
from collectors.snmp.config import SnmpAuth as SnmpAuth
from collectors.snmp.config import SnmpDevice as SnmpDevice
from collectors.snmp.config import SnmpSection as SnmpSection
from collectors.snmp.exporter import ExporterModule, scrape_target
from collectors.snmp.usm import User
from collectors.snmp.v2c import V2cTarget
from collectors.snmp.v3 import V3Target
from collectors.snmp.walk import OID, SnmpError, convert, parse_oid

AnyTarget = V2cTarget | V3Target

log = logging.getLogger(__name__)

WRAP32 = 2**32
SYS = (1, 3, 6, 1, 2, 1, 1)
SYS_DESCR, SYS_OBJECTID, SYS_UPTIME, SYS_NAME = (*SYS, 1, 0), (*SYS, 2, 0), (*SYS, 3, 0), (
    *SYS, 5, 0)
ENGINE_ID = (1, 3, 6, 1, 6, 3, 10, 2, 1, 1, 0)
ENGINE_BOOTS = (1, 3, 6, 1, 6, 3, 10, 2, 1, 2, 0)
IFX = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1)
IFT = (1, 3, 6, 1, 2, 1, 2, 2, 1)
DEV = ("device",)
IF_LABELS = ("device", "ifindex", "ifname", "ifalias")

# metric -> (64-bit ifX column, 32-bit ifTable column or None)
IF_COUNTERS: dict[str, tuple[OID | None, OID]] = {
    "pantau_if_in_octets_total": ((*IFX, 6), (*IFT, 10)),
    "pantau_if_out_octets_total": ((*IFX, 10), (*IFT, 16)),
    "pantau_if_in_packets_total": ((*IFX, 7), (*IFT, 11)),
    "pantau_if_out_packets_total": ((*IFX, 11), (*IFT, 17)),
    "pantau_if_in_errors_total": (None, (*IFT, 14)),
    "pantau_if_out_errors_total": (None, (*IFT, 20)),
    "pantau_if_in_discards_total": (None, (*IFT, 13)),
    "pantau_if_out_discards_total": (None, (*IFT, 19)),
}


def _m(name: str, kind: str, help_: str, labels: tuple[str, ...] = DEV) -> MetricSpec:
    return MetricSpec(name, kind, help_, labels)  # type: ignore[arg-type]


UP = _m("pantau_snmp_up", "gauge", "1 if the device answered the last poll, 0 if not.")
METRICS: tuple[MetricSpec, ...] = (
    UP,
    _m("pantau_snmp_scrape_duration_seconds", "gauge", "How long the last poll took."),
    _m("pantau_snmp_varbinds", "gauge", "Values read in the last poll."),
    _m("pantau_snmp_uptime_seconds", "gauge", "sysUpTime of the device."),
    _m("pantau_snmp_counter_discontinuities_total", "counter",
       "Counter discontinuities seen: reboot, 32-bit wrap, reset.", ("device", "reason")),
    _m("pantau_snmp_system_info", "info", "sysName, sysDescr and sysObjectID of the device.",
       ("device", "sysname", "sysdescr", "sysobjectid")),
    _m("pantau_if_oper_up", "gauge", "1 if ifOperStatus is up.", IF_LABELS),
    _m("pantau_if_admin_up", "gauge", "1 if ifAdminStatus is up.", IF_LABELS),
    _m("pantau_if_speed_bits", "gauge", "Interface speed in bits per second.", IF_LABELS),
    *(_m(n, "counter", f"Interface {n.split('_', 2)[2].removesuffix('_total').replace('_', ' ')}"
         " (64-bit where the device has ifXTable).", IF_LABELS) for n in IF_COUNTERS),
    _m("pantau_snmp_ucd_load", "gauge", "Load average (UCD-SNMP laLoadInt / 100).",
       ("device", "period")),
    _m("pantau_snmp_ucd_memory_total_bytes", "gauge", "Real memory (UCD-SNMP memTotalReal)."),
    _m("pantau_snmp_ucd_memory_available_bytes", "gauge",
       "Available real memory (UCD-SNMP memAvailReal)."),
    _m("pantau_snmp_hr_cpu_load_ratio", "gauge", "hrProcessorLoad / 100 per processor.",
       ("device", "cpu")),
    _m("pantau_snmp_hr_storage_size_bytes", "gauge", "hrStorageSize x allocation units.",
       ("device", "storage")),
    _m("pantau_snmp_hr_storage_used_bytes", "gauge", "hrStorageUsed x allocation units.",
       ("device", "storage")),
    _m("pantau_snmp_mikrotik_cpu_temperature_celsius", "gauge", "RouterOS CPU temperature."),
    _m("pantau_snmp_mikrotik_board_temperature_celsius", "gauge", "RouterOS board temperature."),
    _m("pantau_snmp_mikrotik_voltage_volts", "gauge", "RouterOS supply voltage."),
)

# ---------------------------------------------------------------------------------------------
# Collector


@dataclass
class _CounterState:
    last_uptime: float | None = None
    last_uptime_at: float = 0.0
    last_boots: float | None = None
    last_engine_id: str | None = None
    last_poll: float = 0.0
    # (ifindex, metric) -> (last raw 32-bit value, offset added)
    ext: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)
    restart: set[tuple[str, str]] = field(default_factory=set)
    discontinuities: dict[str, int] = field(default_factory=dict)


class SnmpCollector:
    type: ClassVar[str] = "snmp"
    Config: ClassVar[builtins.type[BaseModel]] = SnmpDevice
    per_check: ClassVar[bool] = False
    METRICS: ClassVar[tuple[MetricSpec, ...]] = METRICS

    def __init__(self, device: SnmpDevice, auth: SnmpAuth,
                 profiles: dict[str, Profile] | None = None,
                 modules: list[ExporterModule] | None = None) -> None:
        self.device = device
        self.auth = auth
        self.profiles = profiles or {}
        self.modules = modules or []
        self.state = _CounterState()
        self._target: AnyTarget | None = None
        self._v3_answered = False
        self._user: User | None = None
        self._target_loop: object = None
        self._module_specs: dict[str, MetricSpec] = {}
        # (index, raw ifName, ifDescr, ifAlias) -> (ifindex, the interface's label tuple), of
        # the last poll only
        self._if_labels: dict[tuple[Any, ...], tuple[str, tuple[tuple[str, str], ...]]] = {}
        self._if_last: list[Sample] = []  # the last poll's interface samples

    async def _get_target(self) -> AnyTarget:
        import asyncio

        loop = asyncio.get_running_loop()
        if self._target is not None and self._target_loop is not loop:
            # a target holds the shared socket of the loop it was made in (the CLI and tests
            # run one asyncio.run per poll): never reuse it in another loop
            self._target.close()
            self._target = None
        self._target_loop = loop
        if self._target is None:
            host, port = self.device.host_port()
            if self.auth.version == "2c":
                secret = resolve_secret(self.auth.community, self.auth.community_file,
                                        "community")
                assert secret is not None
                self._target = V2cTarget(host, port, secret.get_secret_value(),
                                         self.device.timeout, self.device.retries,
                                         self.device.max_repetitions, self.device.max_varbinds)
            else:
                if self._user is None:  # the 1 MiB password hashing, once per collector
                    self._user = self.auth.usm_user()
                self._target = V3Target(host, port, self._user, self.device.timeout,
                                        self.device.retries, self.device.max_repetitions,
                                        self.device.max_varbinds)
        return self._target

    def _count(self, reason: str) -> None:
        self.state.discontinuities[reason] = self.state.discontinuities.get(reason, 0) + 1

    async def collect(self, ctx: Context) -> Observation:
        started = time.perf_counter()
        dev = self.device.name
        samples: list[Sample] = []
        varbinds = 0
        try:
            target = await self._get_target()
            sys_oids = [SYS_UPTIME, SYS_NAME, SYS_DESCR, SYS_OBJECTID]
            try:
                sysvals = await target.get(sys_oids, ctx.deadline)
            except SnmpError:
                # a v3 device that answered before and is silent now has most likely
                # restarted: re-discover its engine boots/time and ask again in this poll
                if not (isinstance(target, V3Target) and self._v3_answered
                        and target.forget_peer()):
                    raise
                log.info("snmp %s: no answer, re-discovering the SNMPv3 engine", dev)
                sysvals = await target.get(sys_oids, ctx.deadline)
            self._v3_answered = self.auth.version == "3"
            varbinds += len(sysvals)
            uptime = convert(sysvals.get(SYS_UPTIME))
            boots: float | None = None
            engine_id: str | None = None
            if self.auth.version == "3":
                try:
                    usm = await target.get([ENGINE_BOOTS, ENGINE_ID], ctx.deadline)
                    b, e = convert(usm.get(ENGINE_BOOTS)), convert(usm.get(ENGINE_ID))
                    boots = b if isinstance(b, float) else None
                    engine_id = e if isinstance(e, str) and e else None
                except SnmpError:
                    boots = None
            self._detect_reboot(uptime if isinstance(uptime, float) else None, boots,
                                engine_id)
            if isinstance(uptime, float):
                samples.append(Sample.of("pantau_snmp_uptime_seconds", uptime / 100, device=dev))
            if "system" in self.device.profiles:
                samples.append(Sample.of(
                    "pantau_snmp_system_info", 1, device=dev,
                    sysname=str(convert(sysvals.get(SYS_NAME)) or ""),
                    sysdescr=str(convert(sysvals.get(SYS_DESCR)) or "")[:200],
                    sysobjectid=str(convert(sysvals.get(SYS_OBJECTID)) or "")))
            for prof in self.device.profiles:
                if prof == "if_mib":
                    got, n = await self._if_mib(target, ctx.deadline)
                elif prof == "system":
                    continue
                elif prof in ("ucd", "host_resources", "mikrotik"):
                    got, n = await getattr(self, f"_{prof}")(target, ctx.deadline)
                else:
                    got, n = await self._user_profile(target, self.profiles[prof], ctx.deadline)
                samples.extend(got)
                varbinds += n
            seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
            for module in self.modules:
                got, n = await self._exporter_module(target, module, ctx.deadline, seen)
                samples.extend(got)
                varbinds += n
        except SnmpError as e:
            if isinstance(self._target, V3Target):
                self._target.forget_peer()  # the next poll re-discovers the v3 engine
            return self._result(False, samples, str(e), started, varbinds)
        except (OSError, ValueError) as e:
            self._target = None
            return self._result(False, samples, f"cannot poll {self.device.address}: {e}",
                                started, varbinds)
        self.state.last_poll = time.time()
        result = self._result(True, samples, "", started, varbinds)
        result.specs = list(self._module_specs.values())
        return result

    def _result(self, ok: bool, samples: list[Sample], reason: str, started: float,
                varbinds: int) -> Observation:
        dev = self.device.name
        duration = time.perf_counter() - started
        if not ok:
            samples = []
        samples += [
            Sample.of("pantau_snmp_up", 1 if ok else 0, device=dev),
            Sample.of("pantau_snmp_scrape_duration_seconds", duration, device=dev),
            Sample.of("pantau_snmp_varbinds", varbinds, device=dev),
        ]
        for reason_name in ("reboot", "wrap", "reset"):
            samples.append(Sample.of("pantau_snmp_counter_discontinuities_total",
                                     self.state.discontinuities.get(reason_name, 0),
                                     device=dev, reason=reason_name))
        if not ok:
            log.warning("snmp %s (%s): %s", dev, self.device.address, reason)
        return Observation(ok, samples, reason, duration, details={"varbinds": varbinds})

    def _detect_reboot(self, uptime: float | None, boots: float | None,
                       engine_id: str | None = None) -> None:
        st = self.state
        rebooted = False
        # a new snmpEngineID: the agent lost its persistent state (or the box was replaced)
        if engine_id is not None and st.last_engine_id not in (None, engine_id):
            rebooted = True
        now = time.time()
        if uptime is not None and st.last_uptime is not None:
            # sysUpTime (centiseconds) should have grown by the wall time since we read it;
            # well short of that, the agent restarted, even if the new value is larger
            expected = st.last_uptime + (now - st.last_uptime_at) * 100
            if uptime + max(200.0, (now - st.last_uptime_at)) < expected:  # 2 s or 1 %
                rebooted = True
        if boots is not None and st.last_boots is not None and boots > st.last_boots:
            rebooted = True
        if rebooted:
            self._count("reboot")
            # Extended 32-bit series restart at 0 (a clean reset for rate()), whether or not
            # the device's own counters restarted: exporting the raw value instead would
            # count up to 4 GiB of phantom traffic when only the SNMP agent restarted.
            st.restart = set(st.ext)
            st.ext.clear()
            log.info("snmp %s: device restarted (uptime went back / engine boots rose)",
                     self.device.name)
        if uptime is not None:
            st.last_uptime, st.last_uptime_at = uptime, now
        st.last_boots = boots if boots is not None else st.last_boots
        st.last_engine_id = engine_id if engine_id is not None else st.last_engine_id

    def _extend32(self, ifindex: str, metric: str, raw: float, speed: float,
                  elapsed: float) -> float:
        key = (ifindex, metric)
        last = self.state.ext.get(key)
        if last is None:
            offset0 = -raw if key in self.state.restart else 0.0
            self.state.restart.discard(key)
            self.state.ext[key] = (raw, offset0)
            return raw + offset0
        last_raw, offset = last
        if raw < last_raw:
            delta_if_wrap = raw + WRAP32 - last_raw
            plausible = speed <= 0 or elapsed <= 0 or (
                delta_if_wrap * (8 if "octets" in metric else 1) / elapsed <= speed * 1.1)
            if plausible:
                offset += WRAP32
                self._count("wrap")
            else:  # cleared counters: restart the exported series, a reset for rate()
                offset = 0.0
                self._count("reset")
        self.state.ext[key] = (raw, offset)
        return raw + offset

    async def _if_mib(self, target: AnyTarget, deadline: Deadline) -> tuple[list[Sample], int]:
        dev = self.device.name
        base: dict[str, OID] = {
            "descr": (*IFT, 2), "speed": (*IFT, 5), "admin": (*IFT, 7), "oper": (*IFT, 8),
            "name": (*IFX, 1), "highspeed": (*IFX, 15), "alias": (*IFX, 18),
        }
        for metric, (col64, col32) in IF_COUNTERS.items():
            base[metric] = col64 if col64 is not None else col32
        walked = await target.walk_columns(list(base.values()), deadline)
        cols: dict[str, dict[OID, Any]] = {k: walked[o] for k, o in base.items()}
        counters: dict[str, dict[OID, Any]] = {}
        width: dict[str, int] = {}
        missing32 = []
        for metric, (col64, _) in IF_COUNTERS.items():
            if col64 is not None and cols[metric]:
                counters[metric], width[metric] = cols[metric], 64
            elif col64 is not None:
                missing32.append(metric)  # no ifXTable: fall back to 32-bit ifTable
            else:
                counters[metric], width[metric] = cols[metric], 32
        if missing32:
            fallback = await target.walk_columns([IF_COUNTERS[m][1] for m in missing32],
                                                 deadline)
            for m in missing32:
                counters[m], width[m] = fallback[IF_COUNTERS[m][1]], 32
        n = sum(len(v) for v in cols.values())
        now = time.time()
        elapsed = now - self.state.last_poll if self.state.last_poll else 0.0
        samples: list[Sample] = []
        # The last poll's samples, in the same order: a value that did not change keeps its
        # Sample object (most interfaces' status, speed, errors and discards, idle ports'
        # counters). No allocation, and nothing new for the garbage collector to walk: with
        # 200 devices its full collections were a sixth of the agent's CPU.
        last = self._if_last
        n_last = len(last)

        def add(name: str, value: float, labels: tuple[tuple[str, str], ...]) -> None:
            i = len(samples)
            if i < n_last:
                p = last[i]
                if p.value == value and p.labels is labels and p.name == name:
                    samples.append(p)
                    return
            samples.append(Sample(name, value, labels))

        names, descrs, aliases = cols.get("name", {}), cols["descr"], cols.get("alias", {})
        opers, admins = cols["oper"], cols["admin"]
        highs, speeds = cols.get("highspeed", {}), cols["speed"]
        columns = [(metric, vals, width[metric] == 32) for metric, vals in counters.items()]
        # The label tuple of an interface is the one of the last poll while its index, name
        # and alias (as the device sent them) stay: the store and the exposition then match
        # its series by identity, and nothing is decoded or joined again.
        last_labels = self._if_labels
        self._if_labels = {}
        for idx in sorted(opers):
            key = (idx, names.get(idx), descrs.get(idx), aliases.get(idx))
            known = last_labels.get(key)
            if known is None:
                ifindex = ".".join(map(str, idx))
                ifname = convert(key[1]) or convert(key[2])
                # one label tuple per interface, shared by its 11 samples (Sample.of per
                # sample was a fifth of a 48-port poll's CPU)
                known = (ifindex, (("device", dev), ("ifindex", ifindex),
                                   ("ifname", str(ifname or ifindex)),
                                   ("ifalias", str(convert(key[3]) or ""))))
            self._if_labels[key] = known
            ifindex, labels = known
            oper = convert(opers.get(idx))
            admin = convert(admins.get(idx))
            high = convert(highs.get(idx))
            speed = (high * 1_000_000 if isinstance(high, float) and high > 0
                     else convert(speeds.get(idx)))
            add("pantau_if_oper_up", 1.0 if oper == 1.0 else 0.0, labels)
            add("pantau_if_admin_up", 1.0 if admin == 1.0 else 0.0, labels)
            speed_f = speed if isinstance(speed, float) else 0.0
            add("pantau_if_speed_bits", speed_f, labels)
            for metric, vals, is32 in columns:
                v = vals.get(idx)
                # what convert() makes of a number, without the call (8 per interface)
                raw = float(v) if isinstance(v, int) else convert(v)
                if not isinstance(raw, float):
                    continue
                if is32:
                    key32 = (ifindex, metric)
                    ext = self.state.ext.get(key32)
                    if ext is not None and raw >= ext[0]:  # no wrap, no reset: the usual case
                        if raw != ext[0]:
                            self.state.ext[key32] = (raw, ext[1])
                        raw += ext[1]
                    else:
                        raw = self._extend32(ifindex, metric, raw, speed_f, elapsed)
                add(metric, raw, labels)
        self._if_last = samples
        return samples, n

    async def _ucd(self, target: AnyTarget, deadline: Deadline) -> tuple[list[Sample], int]:
        dev = self.device.name
        ucd = (1, 3, 6, 1, 4, 1, 2021)
        loads = await target.walk((*ucd, 10, 1, 5), deadline)
        mem = await target.get([(*ucd, 4, 5, 0), (*ucd, 4, 6, 0)], deadline)
        out = []
        for idx, v in loads.items():
            val = convert(v)
            if isinstance(val, float):
                period = {1: "1m", 2: "5m", 3: "15m"}.get(idx[0], str(idx[0]))
                out.append(Sample.of("pantau_snmp_ucd_load", val / 100, device=dev,
                                     period=period))
        for oid, name in (((*ucd, 4, 5, 0), "pantau_snmp_ucd_memory_total_bytes"),
                          ((*ucd, 4, 6, 0), "pantau_snmp_ucd_memory_available_bytes")):
            val = convert(mem.get(oid))
            if isinstance(val, float):
                out.append(Sample.of(name, val * 1024, device=dev))
        return out, len(loads) + len(mem)

    async def _host_resources(self, target: AnyTarget,
                              deadline: Deadline) -> tuple[list[Sample], int]:
        dev = self.device.name
        hr = (1, 3, 6, 1, 2, 1, 25)
        cpu = await target.walk((*hr, 3, 3, 1, 2), deadline)
        descr = await target.walk((*hr, 2, 3, 1, 3), deadline)
        units = await target.walk((*hr, 2, 3, 1, 4), deadline)
        size = await target.walk((*hr, 2, 3, 1, 5), deadline)
        used = await target.walk((*hr, 2, 3, 1, 6), deadline)
        out = []
        for idx, v in cpu.items():
            val = convert(v)
            if isinstance(val, float):
                out.append(Sample.of("pantau_snmp_hr_cpu_load_ratio", val / 100, device=dev,
                                     cpu=".".join(map(str, idx))))
        for idx in size:
            u, s, us = convert(units.get(idx)), convert(size.get(idx)), convert(used.get(idx))
            name = str(convert(descr.get(idx)) or ".".join(map(str, idx)))
            if isinstance(u, float) and isinstance(s, float) and isinstance(us, float):
                out.append(Sample.of("pantau_snmp_hr_storage_size_bytes", s * u, device=dev,
                                     storage=name))
                out.append(Sample.of("pantau_snmp_hr_storage_used_bytes", us * u, device=dev,
                                     storage=name))
        return out, len(cpu) + len(descr) + len(units) + len(size) + len(used)

    async def _mikrotik(self, target: AnyTarget, deadline: Deadline) -> tuple[list[Sample], int]:
        dev = self.device.name
        hl = (1, 3, 6, 1, 4, 1, 14988, 1, 1, 3)
        oids = {(*hl, 11, 0): ("pantau_snmp_mikrotik_cpu_temperature_celsius", 0.1),
                (*hl, 10, 0): ("pantau_snmp_mikrotik_board_temperature_celsius", 0.1),
                (*hl, 8, 0): ("pantau_snmp_mikrotik_voltage_volts", 0.1)}
        vals = await target.get(list(oids), deadline)
        out = []
        for oid, (name, scale) in oids.items():
            v = convert(vals.get(oid))
            if isinstance(v, float):
                out.append(Sample.of(name, v * scale, device=dev))
        return out, len(vals)

    async def _user_profile(self, target: AnyTarget, profile: Profile,
                            deadline: Deadline) -> tuple[list[Sample], int]:
        dev = self.device.name
        out, n = [], 0
        for m in profile.metrics:
            oid = parse_oid(m.oid)
            vals: dict[OID, Any]
            if oid[-1] == 0:
                got = await target.get([oid], deadline)
                vals = {(0,): got[oid]} if oid in got else {}
            else:
                vals = await target.walk(oid, deadline)
            n += len(vals)
            for idx, v in vals.items():
                val = convert(v)
                if isinstance(val, float):
                    out.append(Sample(m.name, val * m.scale, (
                        ("device", dev), (m.index_label, ".".join(map(str, idx))))))
        return out, n

    async def _exporter_module(self, target: AnyTarget, module: ExporterModule,
                               deadline: Deadline, seen: set[tuple[str, tuple[tuple[str, str],
                                                                              ...]]],
                               ) -> tuple[list[Sample], int]:
        """A snmp.yml module: snmp_exporter's series, with `device` added (the store adds
        site and the device's labels). Its families are declared as foreign: their names
        are snmp_exporter's, not pantau's. A series an earlier module of this device gave
        (sysUpTime is in most modules) is not repeated: one device, one series."""
        series, figures = await scrape_target(module, target, deadline)
        dev = self.device.name
        out = []
        for name, kind, help_, labels, value in series:
            if name not in self._module_specs:
                self._module_specs[name] = MetricSpec(
                    name, "counter" if kind == "counter" else "gauge", help_, foreign=True)
            sample = Sample(name, value, (("device", dev), *(
                (k, v) for k, v in sorted(labels.items())
                if k != "device" and k not in RESERVED_LABELS)))
            if (name, sample.labels) not in seen:
                seen.add((name, sample.labels))
                out.append(sample)
        return out, int(figures["pdus"])

    async def aclose(self) -> None:
        if self._target is not None:
            self._target.close()
        self._target = None
