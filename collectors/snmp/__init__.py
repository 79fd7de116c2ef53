"""SNMP: the device collector, bounded walks (walk), the own codec for v2c (v2c) and v3 (v3,
usm: USM keys, HMAC, DES/AES) and the trap listener on pysnmp (traps)."""

from collectors.snmp.collector import SnmpCollector, SnmpSection
from collectors.snmp.traps import TrapCollector
from collectors.snmp.walk import SnmpError, convert, parse_oid

__all__ = ["SnmpCollector", "SnmpError", "SnmpSection", "TrapCollector", "convert", "parse_oid"]
