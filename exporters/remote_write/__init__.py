"""Prometheus remote write: a disk-backed queue (queue), the protobuf/snappy wire format
(proto), the sender with retries and accounting of everything dropped (writer) and the
`remote_write:` config with the families it declares (config)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from collectors.common.lazy import lazy_exports

if TYPE_CHECKING:  # the real names for the type checker
    from exporters.remote_write.config import RemoteWriteConfig
    from exporters.remote_write.writer import RemoteWriter

__all__ = ["RemoteWriteConfig", "RemoteWriter"]

# Imported from their module on first use (collectors/common/lazy.py): the config is read by
# every agent, the writer (sqlite3, the HTTP client) only by one that pushes.
_LAZY = {
    "RemoteWriteConfig": "exporters.remote_write.config",
    "RemoteWriter": "exporters.remote_write.writer",
}


__getattr__ = lazy_exports(__name__, _LAZY, globals())
