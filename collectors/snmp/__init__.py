"""SNMP: the device collector (v2c fast path, v3 through pysnmp), bounded walks (walk), the
v2c BER codec (v2c) and the trap listener (traps)."""

from collectors.snmp.collector import SnmpCollector, SnmpSection
from collectors.snmp.traps import TrapCollector
from collectors.snmp.walk import SnmpError, convert, parse_oid

__all__ = ["SnmpCollector", "SnmpError", "SnmpSection", "TrapCollector", "convert", "parse_oid"]
