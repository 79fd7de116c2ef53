"""Collector registry: the one explicit dict from config `type` to collector class.

Adding a collector means adding its module and one line here; nothing is discovered by magic.
The entries name the class by module and attribute and are imported on first lookup: an agent
whose config uses only the host collector never loads the probes or SSH modules (and their
libraries).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping

# Before the first model is built (collectors.base): pydantic's plugin lookup without
# importlib.metadata when no plugin is installed (~1.7 MiB; collectors/common/pydantic_plugins.py).
from collectors.common import openssl_on_demand, pydantic_plugins

pydantic_plugins.install()
# Before asyncio's first import (collectors.base): OpenSSL (~4.5 MiB) is mapped only once
# something makes a TLS connection (collectors/common/openssl_on_demand.py).
openssl_on_demand.install()

from collectors.base import Collector  # noqa: E402

_ENTRIES: dict[str, tuple[str, str]] = {
    "host": ("collectors.host.collector", "HostCollector"),
    "icmp": ("collectors.probe.icmp", "IcmpCollector"),
    "path": ("collectors.probe.path", "PathCollector"),
    "snmp": ("collectors.snmp.collector", "SnmpCollector"),
    "snmp_traps": ("collectors.snmp.traps", "TrapCollector"),
    "ssh": ("collectors.ssh.collector", "SshCollector"),
    "playbook_runs": ("collectors.ssh.playbook_runs", "PlaybookRunsCollector"),
    "tcp": ("collectors.probe.tcp", "TcpCollector"),
    "dns": ("collectors.probe.dns", "DnsCollector"),
    "http": ("collectors.probe.http", "HttpCollector"),
}


class _Registry(Mapping[str, type[Collector]]):
    """A read-only dict of the entries above that imports a collector's module on lookup."""

    def __init__(self, entries: dict[str, tuple[str, str]]) -> None:
        self._entries = entries
        self._loaded: dict[str, type[Collector]] = {}

    def __getitem__(self, key: str) -> type[Collector]:
        cls = self._loaded.get(key)
        if cls is None:
            module, attr = self._entries[key]
            cls = self._loaded[key] = getattr(importlib.import_module(module), attr)
        return cls

    def __contains__(self, key: object) -> bool:  # answered without importing
        return key in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


REGISTRY: Mapping[str, type[Collector]] = _Registry(_ENTRIES)

# Types a user may put in `checks:` (the others are configured in their own sections): the
# entries whose class has per_check, written out so that knowing them imports nothing
# (tests/unit/test_lazy_imports.py checks it against the classes).
CHECK_TYPES: tuple[str, ...] = ("icmp", "path", "ssh", "tcp", "dns", "http")
