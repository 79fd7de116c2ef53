"""SNMP: the device collector, bounded walks (walk), the own codec for v2c (v2c) and v3 (v3,
usm: USM keys, HMAC, DES/AES) and the trap listener on pysnmp (traps)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from collectors.common.lazy import lazy_exports

if TYPE_CHECKING:  # the real names for the type checker
    from collectors.snmp.collector import SnmpCollector
    from collectors.snmp.config import SnmpSection
    from collectors.snmp.traps import TrapCollector
    from collectors.snmp.walk import SnmpError, convert, parse_oid


__all__ = ["SnmpCollector", "SnmpError", "SnmpSection", "TrapCollector", "convert", "parse_oid"]

# Imported from their module on first use (collectors/common/lazy.py).
_LAZY = {
    "SnmpCollector": "collectors.snmp.collector",
    "SnmpSection": "collectors.snmp.config",
    "TrapCollector": "collectors.snmp.traps",
    "SnmpError": "collectors.snmp.walk",
    "convert": "collectors.snmp.walk",
    "parse_oid": "collectors.snmp.walk",
}


__getattr__ = lazy_exports(__name__, _LAZY, globals())
