"""What every SNMP path shares: SnmpError, OIDs, value conversion and the walk rules (bounded
by count and deadline, stop on endOfMibView / leaving the subtree / a non-increasing OID).

Target is the walk on pysnmp 7's asyncio API that v3 polls used before v3.py: no poll uses it
now; tests/bench/snmp_poll.py still measures it as the same-run "before". pysnmp 7.1's
bulk_walk_cmd against a dead device yields timeouts forever, so its walks are our own GETBULK
loop too, and tooBig is answered by halving max-repetitions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from collectors.base import Deadline

OID = tuple[int, ...]


class SnmpError(Exception):
    """A one-line reason a request failed (never contains a community or password)."""


def parse_oid(text: str) -> OID:
    try:
        parts = tuple(int(p) for p in text.strip().strip(".").split("."))
    except ValueError:
        raise ValueError(
            f"invalid OID {text!r}: use numbers and dots, e.g. 1.3.6.1.2.1.1"
        ) from None
    if len(parts) < 2:
        raise ValueError(f"invalid OID {text!r}")
    return parts


def _reason(indication: Any, version: str) -> str:
    text = str(indication)
    name = type(indication).__name__
    if name == "RequestTimedOut" or "timeout" in text.lower():
        if version == "2c":
            return "no response (device unreachable, or wrong community: agents stay silent)"
        return "no response (device unreachable or SNMPv3 user unknown)"
    if name == "WrongDigest" or "digest" in text.lower():
        return "SNMPv3 authentication failed (wrong auth password or protocol)"
    if "decrypt" in text.lower() or name == "DecryptionError":
        return "SNMPv3 decryption failed (wrong priv password or protocol)"
    if "unknownusername" in text.lower().replace(" ", ""):
        return "SNMPv3 user unknown to the device"
    return f"SNMP error: {text}"


def convert(value: Any) -> float | str | None:
    """Plain Python value of a pysnmp value: numbers as float, strings decoded, None for
    noSuchObject/noSuchInstance/endOfMibView."""
    if value is None:
        return None
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int):  # the v2c fast path hands out plain Python values
        return float(value)
    if isinstance(value, tuple):
        return ".".join(str(x) for x in value)
    if isinstance(value, bytes):
        if type(value).__name__ == "IpAddress":
            return ".".join(str(b) for b in value)
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value.hex(":")
    name = getattr(value, "name", None) if type(value).__name__ == "Special" else None
    name = name or type(value).__name__
    if name in ("NoSuchObject", "NoSuchInstance", "EndOfMibView", "Null"):
        return None
    if name in ("OctetString", "Bits", "Opaque"):
        raw = bytes(value)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.hex(":")
    if name in ("ObjectIdentifier", "ObjectName"):
        return ".".join(str(x) for x in tuple(value))
    if name == "IpAddress":
        return ".".join(str(b) for b in bytes(value))
    try:
        return float(int(value))
    except (TypeError, ValueError):
        return str(value)


@dataclass
class Target:
    """One device on pysnmp (engine, credentials, transport): the bench's "before" only."""

    engine: Any
    auth: Any
    transport: Any
    version: str
    max_repetitions: int = 25
    max_varbinds: int = 50_000

    async def get(self, oids: Sequence[OID], deadline: Deadline) -> dict[OID, Any]:
        from pysnmp.hlapi.v3arch.asyncio import ContextData, ObjectIdentity, ObjectType, get_cmd

        remaining = deadline.remaining()
        if remaining <= 0:
            raise SnmpError("deadline reached before the request")
        try:
            ei, es, eidx, vbs = await asyncio.wait_for(
                get_cmd(self.engine, self.auth, self.transport, ContextData(),
                        *[ObjectType(ObjectIdentity(o)) for o in oids], lookupMib=False),
                remaining)
        except TimeoutError:
            raise SnmpError("no response within the run's deadline") from None
        if ei:
            raise SnmpError(_reason(ei, self.version))
        if es:
            raise SnmpError(f"device answered {es.prettyPrint()} at index {int(eidx)}")
        return {tuple(o): v for o, v in vbs}

    async def walk(self, root: OID, deadline: Deadline) -> dict[OID, Any]:
        """Every (index suffix -> value) under `root`."""
        return (await self.walk_columns([root], deadline))[root]

    async def walk_columns(self, roots: Sequence[OID],
                           deadline: Deadline) -> dict[OID, dict[OID, Any]]:
        """Walk several table columns side by side, one GETBULK for all of them per round.

        Far fewer requests than column-by-column walks, which is where pysnmp spends most of
        its CPU (message building, security, dispatch) on a 48-port switch.
        """
        from pysnmp.hlapi.v3arch.asyncio import (
            ContextData,
            ObjectIdentity,
            ObjectType,
            bulk_cmd,
        )

        out: dict[OID, dict[OID, Any]] = {r: {} for r in roots}
        current: dict[OID, OID] = {r: r for r in roots}
        active = list(dict.fromkeys(roots))
        for _ in range(100_000):
            if not active:
                break
            remaining = deadline.remaining()
            if remaining <= 0:
                raise walk_timeout(roots)
            reps = max(1, self.max_repetitions)
            try:
                ei, es, _, vbs = await asyncio.wait_for(
                    bulk_cmd(self.engine, self.auth, self.transport, ContextData(), 0, reps,
                             *[ObjectType(ObjectIdentity(current[r])) for r in active],
                             lookupMib=False),
                    remaining)
            except TimeoutError:
                raise SnmpError("no response within the run's deadline") from None
            if ei:
                raise SnmpError(_reason(ei, self.version))
            if es:
                if es.prettyPrint() == "tooBig" and self.max_repetitions > 1:
                    self.max_repetitions = max(1, self.max_repetitions // 2)
                    continue
                raise SnmpError(f"device answered {es.prettyPrint()}")
            if not vbs:
                break
            active = absorb_round(active, vbs, out, current)
            check_size(out, self.max_varbinds)
        return out


def check_size(out: dict[OID, dict[OID, Any]], limit: int) -> None:
    """A walk holds every value until it ends: bound it by count as well as by time."""
    n = sum(len(v) for v in out.values())
    if n > limit:
        raise SnmpError(f"walk stopped after {n} values (max_varbinds {limit}): the device "
                        "keeps answering with new OIDs")


def walk_timeout(roots: Sequence[OID]) -> SnmpError:
    if len(roots) == 1:
        return SnmpError(f"walk of {'.'.join(map(str, roots[0]))} not finished in time")
    return SnmpError("table walk not finished in time")


def absorb_round(active: list[OID], vbs: Sequence[tuple[Any, Any]],
                 out: dict[OID, dict[OID, Any]], current: dict[OID, OID]) -> list[OID]:
    """Spread one GETBULK answer over the columns it asked for; return those not finished.

    The answer lists varbinds round-robin, one per requested column per repetition. A column
    ends when it leaves its subtree, stops increasing (a broken agent would otherwise be walked
    forever) or reaches endOfMibView: the same rules for the pysnmp and the v2c path.
    """
    k = len(active)
    # per column position, not per OID: hashing an 11-part OID three times per varbind was
    # most of this function's CPU (active holds each column once)
    lens = [len(r) for r in active]
    # t is in root's subtree exactly when root <= t < root with its last part + 1; and every
    # accepted OID is above the column's current one, which is root or in its subtree: so
    # current < t < upper is the whole test, with no slice made to compare
    uppers = [(*r[:-1], r[-1] + 1) for r in active]
    outs = [out[r] for r in active]
    cur = [current[r] for r in active]
    done = [False] * k
    j = 0
    for oid, value in vbs:
        if not done[j]:
            # pysnmp's ObjectName; the v2c codec's OIDs are tuples already
            t = oid if type(oid) is tuple else tuple(oid)
            if (t <= cur[j] or t >= uppers[j]
                    or (type(value) is not int and type(value).__name__ == "EndOfMibView")):
                done[j] = True
            else:
                outs[j][t[lens[j]:]] = value
                cur[j] = t
        j += 1
        if j == k:
            j = 0
    for j, r in enumerate(active):
        current[r] = cur[j]
    return [r for j, r in enumerate(active) if not done[j]]
