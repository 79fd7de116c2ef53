"""This host under node_exporter's metric names, read from /proc and /sys."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the real names for the type checker
    from collectors.host.collector import HostCollector, HostConfig


__all__ = ["HostCollector", "HostConfig"]

# Names are imported from their module on first use (PEP 562): importing one submodule (the
# registry's entry, a section's config model) must not load the whole package.
_LAZY = {
    "HostCollector": "collectors.host.collector",
    "HostConfig": "collectors.host.collector",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
