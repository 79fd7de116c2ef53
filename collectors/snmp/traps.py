"""SNMP trap listener: linkDown/linkUp/coldStart/warmStart as counted events and link state.

Polling every 60 s means a port that flaps for 20 s is never seen; a trap arrives at once. The
listener is a job like any device: its first run binds the UDP socket in the agent's event loop
(pysnmp's receiver is callback-driven, so it costs nothing between traps), every later run
hands the counts and the latest link states to the store, so a short `interval` makes a trap
visible within seconds.

The receiver has its own SnmpEngine: it is the one engine that owns a server socket and USM
users keyed by the *senders'* engine IDs (a v3 trap is sent by an authoritative sender, so the
receiver must know each sender's engine ID, exactly like snmptrapd's `createUser -e`). The
pollers keep sharing the one client engine per loop.

Unknown senders are counted under device="unknown" (the address goes to the log only), so a
noisy or hostile network cannot create series without bound.
"""

from __future__ import annotations

import builtins
import logging
import time
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, Field, field_validator

from collectors.base import Context, JobSpec, MetricSpec, Observation, Sample
from collectors.common.hostport import split_host_port
from collectors.config import Duration, StrictModel

log = logging.getLogger(__name__)

SNMP_TRAP_OID = (1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0)
_TRAPS = (1, 3, 6, 1, 6, 3, 1, 1, 5)
TRAP_NAMES: dict[tuple[int, ...], str] = {
    (*_TRAPS, 1): "coldStart",
    (*_TRAPS, 2): "warmStart",
    (*_TRAPS, 3): "linkDown",
    (*_TRAPS, 4): "linkUp",
    (*_TRAPS, 5): "authenticationFailure",
}
_REJECT_COUNTERS = {
    "bad_community": ("__SNMPv2-MIB", "snmpInBadCommunityNames"),
    "wrong_digest": ("__SNMP-USER-BASED-SM-MIB", "usmStatsWrongDigests"),
    "unknown_user": ("__SNMP-USER-BASED-SM-MIB", "usmStatsUnknownUserNames"),
    "unknown_engine_id": ("__SNMP-USER-BASED-SM-MIB", "usmStatsUnknownEngineIDs"),
    "decryption_error": ("__SNMP-USER-BASED-SM-MIB", "usmStatsDecryptionErrors"),
}
IF_INDEX = (1, 3, 6, 1, 2, 1, 2, 2, 1, 1)
IF_OPER = (1, 3, 6, 1, 2, 1, 2, 2, 1, 8)
IF_NAME = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 1)
IF_DESCR = (1, 3, 6, 1, 2, 1, 2, 2, 1, 2)

METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("pantau_snmp_trap_listener_up", "gauge",
               "1 if the trap listener socket is bound.", ()),
    MetricSpec("pantau_snmp_traps_total", "counter",
               "Traps received and authenticated, by sender device and trap "
               "(coldStart, warmStart, linkDown, linkUp, authenticationFailure, other).",
               ("device", "trap")),
    MetricSpec("pantau_snmp_traps_rejected_total", "counter",
               "Traps dropped for bad credentials: bad_community, wrong_digest (v3 auth "
               "password), unknown_user, unknown_engine_id (sender's engine id not in "
               "engine_ids), decryption_error (v3 priv password).", ("reason",)),
    MetricSpec("pantau_snmp_trap_last_timestamp_seconds", "gauge",
               "Unix time of the last trap of this kind from the device.", ("device", "trap")),
    MetricSpec("pantau_snmp_trap_if_oper_up", "gauge",
               "Link state from the last linkUp (1) / linkDown (0) trap for the interface.",
               ("device", "ifindex", "ifname")),
)


class TrapsConfig(StrictModel):
    """`snmp.traps`: where to listen and which credentials (names in snmp.auths) to accept."""

    listen: str = Field("0.0.0.0:162", description="host:port or [v6]:port to listen on.")
    auths: list[str] = Field(min_length=1, description="Names in snmp.auths accepted for traps:"
                             " v2c communities and v3 users.")
    engine_ids: list[str] = Field(default_factory=list, description="Hex snmpEngineID of every"
                                  " device sending v3 traps (v3 traps are keyed by the sender).")
    interval: Duration = Field(5.0, description="How often counts and link states reach the"
                               " store (and /metrics).")

    @field_validator("listen")
    @classmethod
    def _listen(cls, v: str) -> str:
        split_host_port(v, 162, what="listen address")
        return v

    @field_validator("engine_ids")
    @classmethod
    def _engine_ids(cls, v: list[str]) -> list[str]:
        out = []
        for e in v:
            h = e.strip().lower().removeprefix("0x").replace(":", "")
            try:
                raw = bytes.fromhex(h)
            except ValueError:
                raise ValueError(f"invalid engine id {e!r}: give hex, e.g. 0x8000000001020304")\
                    from None
            if not 5 <= len(raw) <= 32:
                raise ValueError(f"invalid engine id {e!r}: must be 5 to 32 bytes")
            out.append(h)
        return out

    def check_refs(self, known_auths: Mapping[str, Any]) -> None:
        """Called by SnmpSection's validator: every named auth must exist."""
        for name in self.auths:
            if name not in known_auths:
                raise ValueError(f"traps: unknown auth {name!r} (known: "
                                 f"{', '.join(sorted(known_auths)) or 'none'})")

    def jobs(self, site: str, auths: Mapping[str, Any],
             devices: Mapping[str, str] | None = None) -> list[JobSpec]:
        """One job for the listener. `devices` maps a sender address (host) to a device name."""
        accepted = [auths[n] for n in self.auths]
        devmap = dict(devices or {})

        def factory() -> TrapCollector:
            return TrapCollector(self, accepted, devmap)

        # unchanged, the listener stays bound through a reload (no trap lost in a rebind,
        # no counter reset to 0)
        return [JobSpec("snmp-traps", "snmp-traps", "snmp_traps", self.interval,
                        max(1.0, self.interval * 0.9), factory, per_check=False,
                        identity=(self, accepted, devmap))]


class TrapCollector:
    """The listener as a job: first run binds, later runs report what arrived."""

    type: ClassVar[str] = "snmp_traps"
    Config: ClassVar[builtins.type[BaseModel]] = TrapsConfig
    per_check: ClassVar[bool] = False
    METRICS: ClassVar[tuple[MetricSpec, ...]] = METRICS

    def __init__(self, config: TrapsConfig, auths: list[Any],
                 devices: Mapping[str, str] | None = None) -> None:
        self.config = config
        self.auths = auths
        self.devices = dict(devices or {})
        self.engine: Any = None
        self._receiver: Any = None
        self.bind_error = ""
        self.counts: dict[tuple[str, str], int] = {}
        self.last_seen: dict[tuple[str, str], float] = {}
        self.links: dict[tuple[str, str], tuple[str, int]] = {}  # (device, ifindex)->(name, up)
        self._rejected_before: dict[str, int] = {}  # kept across a listener restart

    # -- listener ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Bind the socket and register credentials; raises OSError on a bad listen address."""
        import asyncio

        from pysnmp.carrier.asyncio.dgram import udp, udp6
        from pysnmp.entity import config, engine
        from pysnmp.entity.rfc3413 import ntfrcv
        from pysnmp.proto.api import v2c

        host, port = split_host_port(self.config.listen, 162, what="listen address")
        eng = engine.SnmpEngine()
        try:
            v6 = ":" in host
            transport = (udp6.Udp6Transport() if v6 else udp.UdpTransport()).open_server_mode(
                (host, port))
            config.add_transport(eng, (udp6.DOMAIN_NAME if v6 else udp.DOMAIN_NAME), transport)
            # the endpoint is created by a future: wait for it so a bind error surfaces here
            lport = getattr(transport, "_lport", None)
            if lport is not None:
                await asyncio.wait_for(asyncio.shield(lport), 5)
            for i, auth in enumerate(self.auths):
                data = auth.auth_data()
                if getattr(data, "communityName", None) is not None:
                    config.add_v1_system(eng, f"trap-area-{i}", data.communityName)
                    continue
                for eid in self.config.engine_ids:
                    config.add_v3_user(
                        eng, data.userName, data.authentication_protocol,
                        data.authentication_key, data.privacy_protocol,
                        getattr(data, "privacy_key", None),
                        securityEngineId=v2c.OctetString(hexValue=eid))
        except BaseException:
            await _close_engine(eng)
            raise
        self._receiver = ntfrcv.NotificationReceiver(eng, self._on_trap)
        self.engine = eng
        log.info("snmp trap listener on %s (%d credential sets)", self.config.listen,
                 len(self.auths))

    def _device(self, address: str) -> str:
        name = self.devices.get(address)
        if name is None:
            log.info("snmp trap from unknown sender %s (counted as device=unknown)", address)
            return "unknown"
        return name

    def _on_trap(self, eng: Any, state_ref: Any, _ctx_engine: Any, _ctx_name: Any,
                 varbinds: Any, _cb_ctx: Any) -> None:
        try:
            _, addr = eng.message_dispatcher.get_transport_info(state_ref)
            source = str(addr[0])
        except Exception:  # never let a malformed trap kill the listener
            source = "?"
        self.handle(source, [(tuple(o), v) for o, v in varbinds])

    def handle(self, source: str, varbinds: list[tuple[tuple[int, ...], Any]]) -> None:
        """Count one authenticated trap and update link state (pure: testable without sockets)."""
        device = self._device(source)
        values = dict(varbinds)
        trap_oid = values.get(SNMP_TRAP_OID)
        trap = TRAP_NAMES.get(tuple(trap_oid), "other") if trap_oid is not None else "other"
        key = (device, trap)
        self.counts[key] = self.counts.get(key, 0) + 1
        self.last_seen[key] = time.time()
        if trap in ("linkDown", "linkUp"):
            ifindex = name = ""
            for oid, v in varbinds:
                for col in (IF_INDEX, IF_OPER, IF_NAME, IF_DESCR):
                    if len(oid) > len(col) and oid[:len(col)] == col:
                        ifindex = ifindex or ".".join(map(str, oid[len(col):]))
                        if col == IF_NAME or (col == IF_DESCR and not name):
                            name = bytes(v).decode("utf-8", "replace")
            if ifindex:
                old = self.links.get((device, ifindex))
                self.links[(device, ifindex)] = (name or (old[0] if old else ifindex),
                                                 1 if trap == "linkUp" else 0)
        if trap in ("coldStart", "warmStart", "linkDown"):
            log.warning("snmp trap %s from %s (%s)", trap, device, source)
        else:
            log.info("snmp trap %s from %s (%s)", trap, device, source)

    def rejected(self) -> dict[str, int]:
        """The receiver engine's own drop counters: traps with wrong credentials never reach
        the callback, so this is the only place they show up."""
        if self.engine is None:
            return dict(self._rejected_before)
        builder = self.engine.get_mib_builder()
        out = dict(self._rejected_before)
        for reason, (mib, sym) in _REJECT_COUNTERS.items():
            try:
                (obj,) = builder.import_symbols(mib, sym)
                out[reason] = out.get(reason, 0) + int(obj.syntax)
            except Exception:  # a missing counter is not worth failing a run
                continue
        return out

    # -- collector --------------------------------------------------------------------------
    async def collect(self, ctx: Context) -> Observation:
        t0 = time.perf_counter()
        if self.engine is None:
            try:
                await self.start()
                self.bind_error = ""
            except (OSError, TimeoutError) as e:
                self.bind_error = f"cannot listen on {self.config.listen}: " \
                    f"{getattr(e, 'strerror', None) or e}"
                await self.aclose()
            except Exception as e:  # pysnmp wraps socket errors in its own
                self.bind_error = f"cannot listen on {self.config.listen}: {e}".splitlines()[0]
                await self.aclose()
        ok = self.engine is not None
        samples = [Sample.of("pantau_snmp_trap_listener_up", 1 if ok else 0)]
        for (device, trap), n in sorted(self.counts.items()):
            samples.append(Sample.of("pantau_snmp_traps_total", n, device=device, trap=trap))
            samples.append(Sample.of("pantau_snmp_trap_last_timestamp_seconds",
                                     self.last_seen[(device, trap)], device=device, trap=trap))
        for reason, n in sorted(self.rejected().items()):
            samples.append(Sample.of("pantau_snmp_traps_rejected_total", n, reason=reason))
        for (device, ifindex), (name, up) in sorted(self.links.items()):
            samples.append(Sample.of("pantau_snmp_trap_if_oper_up", up, device=device,
                                     ifindex=ifindex, ifname=name))
        if not ok:
            log.warning("snmp traps: %s", self.bind_error)
        return Observation(ok, samples, "" if ok else self.bind_error,
                           time.perf_counter() - t0,
                           details={"traps": sum(self.counts.values())})

    async def aclose(self) -> None:
        if self.engine is not None:
            self._rejected_before = self.rejected()
        eng, self.engine = self.engine, None
        if eng is not None:
            if self._receiver is not None:
                self._receiver.close(eng)
            await _close_engine(eng)
        self._receiver = None


async def _close_engine(eng: Any) -> None:
    """Close the socket and let the dispatcher's timer task see its cancellation."""
    import asyncio

    try:
        eng.close_dispatcher()
    except Exception:  # best effort on shutdown
        pass
    await asyncio.sleep(0)
