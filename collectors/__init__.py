"""Collector registry: the one explicit dict from config `type` to collector class.

Adding a collector means adding its module and one line here; nothing is discovered by magic.
"""

from __future__ import annotations

from collectors.base import Collector
from collectors.host import HostCollector
from collectors.probe import (
    DnsCollector,
    HttpCollector,
    IcmpCollector,
    PathCollector,
    TcpCollector,
)
from collectors.snmp import SnmpCollector, TrapCollector
from collectors.ssh import PlaybookRunsCollector, SshCollector

REGISTRY: dict[str, type[Collector]] = {
    "host": HostCollector,
    "icmp": IcmpCollector,
    "path": PathCollector,
    "snmp": SnmpCollector,
    "snmp_traps": TrapCollector,
    "ssh": SshCollector,
    "playbook_runs": PlaybookRunsCollector,
    "tcp": TcpCollector,
    "dns": DnsCollector,
    "http": HttpCollector,
}

# Types a user may put in `checks:` (the others are configured in their own sections).
CHECK_TYPES: tuple[str, ...] = tuple(t for t, c in REGISTRY.items() if c.per_check)
