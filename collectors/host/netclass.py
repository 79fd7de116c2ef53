"""netclass: /sys/class/net/<iface> attributes (link state, carrier, MTU, speed, ...).

node_exporter 1.5 emits a property only when the kernel answers it (speed and carrier give
EINVAL on a link that is down) and reports every interface, loopback included.
"""

from __future__ import annotations

from typing import Any

from collectors.base import MetricSpec, Sample
from collectors.host.part import Absent, Env, Part, read_sys_value

# sysfs attribute -> (node_exporter property, scale). Values are integers, hex (0x..) allowed.
_PROPERTIES = (
    ("addr_assign_type", "address_assign_type", 1.0),
    ("carrier", "carrier", 1.0),
    ("carrier_changes", "carrier_changes_total", 1.0),
    ("carrier_up_count", "carrier_up_changes_total", 1.0),
    ("carrier_down_count", "carrier_down_changes_total", 1.0),
    ("dev_id", "device_id", 1.0),
    ("dormant", "dormant", 1.0),
    ("flags", "flags", 1.0),
    ("ifindex", "iface_id", 1.0),
    ("iflink", "iface_link", 1.0),
    ("link_mode", "iface_link_mode", 1.0),
    ("mtu", "mtu_bytes", 1.0),
    ("name_assign_type", "name_assign_type", 1.0),
    ("netdev_group", "net_dev_group", 1.0),
    ("type", "protocol_type", 1.0),
    ("speed", "speed_bytes", 1000.0 * 1000.0 / 8.0),  # Mbit/s -> bytes/s
    ("tx_queue_len", "transmit_queue_length", 1.0),
)
_INFO_LABELS = ("address", "broadcast", "device", "duplex", "ifalias", "operstate")

METRICS = (
    MetricSpec("node_network_info", "info",
               "Non-numeric data from /sys/class/net/<iface>, value is always 1.", _INFO_LABELS),
    MetricSpec("node_network_up", "gauge", "Value is 1 if operstate is 'up', 0 otherwise.",
               ("device",)),
    *(MetricSpec(f"node_network_{prop}", "counter" if prop.endswith("_total") else "gauge",
                 f"Network device property: {prop}", ("device",))
      for _, prop, _ in _PROPERTIES),
)


def _int(text: str) -> int:
    return int(text, 0)


def device_samples(device: str, attrs: dict[str, str | None]) -> list[Sample]:
    """One interface from its attribute texts (None = the kernel refused to answer)."""
    dev = (("device", device),)
    out = [
        Sample("node_network_info", 1.0, (
            ("address", attrs.get("address") or ""),
            ("broadcast", attrs.get("broadcast") or ""),
            ("device", device), ("duplex", attrs.get("duplex") or ""),
            ("ifalias", attrs.get("ifalias") or ""),
            ("operstate", attrs.get("operstate") or ""),
        )),
        Sample("node_network_up", 1.0 if attrs.get("operstate") == "up" else 0.0, dev),
    ]
    for attr, prop, scale in _PROPERTIES:
        raw = attrs.get(attr)
        if raw is None or raw == "":
            continue
        try:
            value = _int(raw)
        except ValueError:
            continue
        out.append(Sample(f"node_network_{prop}", value * scale, dev))
    return out


_ATTRS = ("address", "broadcast", "duplex", "ifalias", "operstate",
          *(a for a, _, _ in _PROPERTIES))


def read(env: Env, details: dict[str, Any]) -> list[Sample]:
    base = env.sys / "class/net"
    try:
        devices = sorted(p for p in base.iterdir())
    except FileNotFoundError:
        raise Absent(f"{base} does not exist") from None
    out: list[Sample] = []
    for d in devices:
        if not d.is_dir():
            continue  # bonding_masters is a file in the same directory
        prefix = f"{d}/"
        out.extend(device_samples(d.name, {a: read_sys_value(prefix + a) for a in _ATTRS}))
    return out


PART = Part("netclass", METRICS, read)
