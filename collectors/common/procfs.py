"""Parsers of the Linux /proc files that both the host collector (read locally) and the
agentless SSH collector (read over SSH from another machine) need, with one set of rules.

Every parser raises ValueError naming the file and quoting the offending text; callers turn
that into their own error type.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_OCTAL_ESCAPE_RE = re.compile(r"\\([0-7]{3})")


def loadavg(text: str) -> tuple[float, float, float]:
    """/proc/loadavg: the 1, 5 and 15 minute load averages."""
    parts = text.split()
    try:
        return float(parts[0]), float(parts[1]), float(parts[2])
    except (IndexError, ValueError):
        raise ValueError(f"/proc/loadavg: expected three numbers, got {text.strip()[:60]!r}")\
            from None


def uptime(text: str) -> float:
    """/proc/uptime: seconds since boot."""
    try:
        return float(text.split()[0])
    except (IndexError, ValueError):
        raise ValueError(f"/proc/uptime: expected a number, got {text.strip()[:60]!r}") from None


@dataclass(frozen=True, slots=True)
class MeminfoField:
    key: str  # as the kernel prints it, e.g. "Active(anon)"
    value: float  # in bytes when the kernel gave a unit (kB = KiB), else a count
    has_unit: bool


def meminfo(text: str) -> list[MeminfoField]:
    """/proc/meminfo, in the kernel's order."""
    out: list[MeminfoField] = []
    for line in text.splitlines():
        key, sep, rest = line.partition(":")
        fields = rest.split()
        if not sep or not fields:
            continue
        try:
            value = float(int(fields[0]))
        except ValueError:
            raise ValueError(f"/proc/meminfo: bad value in line {line.strip()[:60]!r}") from None
        has_unit = len(fields) > 1
        out.append(MeminfoField(key.strip(), value * 1024 if has_unit else value, has_unit))
    return out


def mem_available(fields: list[MeminfoField]) -> tuple[float, float]:
    """MemTotal and MemAvailable in bytes (MemFree+Buffers+Cached before Linux 3.14)."""
    values = {f.key: f.value for f in fields}
    if "MemTotal" not in values:
        raise ValueError("/proc/meminfo: MemTotal missing")
    avail = values.get("MemAvailable")
    if avail is None:
        avail = sum(values.get(k, 0.0) for k in ("MemFree", "Buffers", "Cached"))
    return values["MemTotal"], avail


@dataclass(frozen=True, slots=True)
class Mount:
    device: str
    mountpoint: str
    fstype: str
    options: str

    @property
    def labels(self) -> tuple[tuple[str, str], ...]:
        return (("device", self.device), ("fstype", self.fstype), ("mountpoint", self.mountpoint))

    @property
    def readonly(self) -> float:
        return 1.0 if "ro" in self.options.split(",") else 0.0


def unescape_mount(s: str) -> str:
    """The kernel writes space, tab, newline and backslash in mount points as \\ooo."""
    return _OCTAL_ESCAPE_RE.sub(lambda m: chr(int(m.group(1), 8)), s)


def mounts(text: str) -> list[Mount]:
    """/proc/mounts (or /proc/1/mounts) lines in order; a line of 1-3 fields is an error."""
    out: list[Mount] = []
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 4:
            raise ValueError(f"/proc/mounts: malformed line {line[:60]!r}")
        out.append(Mount(parts[0], unescape_mount(parts[1]), parts[2], parts[3]))
    return out
