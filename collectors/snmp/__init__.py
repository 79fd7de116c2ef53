"""SNMP: the device collector, bounded walks (walk), the own codec for v2c (v2c) and v3 (v3,
usm: USM keys, HMAC, DES/AES) and the trap listener on pysnmp (traps)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the real names for the type checker
    from collectors.snmp.collector import SnmpCollector, SnmpSection
    from collectors.snmp.traps import TrapCollector
    from collectors.snmp.walk import SnmpError, convert, parse_oid


__all__ = ["SnmpCollector", "SnmpError", "SnmpSection", "TrapCollector", "convert", "parse_oid"]

# Names are imported from their module on first use (PEP 562): importing one submodule (the
# registry's entry, a section's config model) must not load the whole package.
_LAZY = {
    "SnmpCollector": "collectors.snmp.collector",
    "SnmpSection": "collectors.snmp.collector",
    "TrapCollector": "collectors.snmp.traps",
    "SnmpError": "collectors.snmp.walk",
    "convert": "collectors.snmp.walk",
    "parse_oid": "collectors.snmp.walk",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
