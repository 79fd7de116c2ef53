"""This host under node_exporter's metric names, read from /proc and /sys."""

from __future__ import annotations

from typing import TYPE_CHECKING

from collectors.common.lazy import lazy_exports

if TYPE_CHECKING:  # the real names for the type checker
    from collectors.host.collector import HostCollector, HostConfig


__all__ = ["HostCollector", "HostConfig"]

# Imported from their module on first use (collectors/common/lazy.py).
_LAZY = {
    "HostCollector": "collectors.host.collector",
    "HostConfig": "collectors.host.collector",
}


__getattr__ = lazy_exports(__name__, _LAZY, globals())
