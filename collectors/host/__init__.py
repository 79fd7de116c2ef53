"""This host under node_exporter's metric names, read from /proc and /sys."""

from collectors.host.collector import HostCollector, HostConfig

__all__ = ["HostCollector", "HostConfig"]
