"""Parsers for what agentless SSH collection reads: Linux /proc + df, and RouterOS `print`.

Output comes from machines we don't control (old kernels, busybox, six RouterOS majors), so
each parser either returns plain values or raises ParseError with one line that says which
command, which line and what was expected. No parser ever lets an IndexError escape.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from collectors.common import procfs

T = TypeVar("T")

SECTION_MARK = "@@pantau@@"

# One session, one command: the Linux mode reads everything at once and splits on the marker.
LINUX_COMMAND = (
    "export LC_ALL=C; cat /proc/loadavg; echo " + SECTION_MARK + "; cat /proc/meminfo; echo "
    + SECTION_MARK + "; cat /proc/uptime; echo " + SECTION_MARK + "; cat /proc/mounts; echo "
    + SECTION_MARK + "; df -P -k 2>/dev/null; true"
)

# Pseudo and read-only image filesystems node_exporter also skips (overlay is kept: it is the
# root of every container host we watch).
_SKIP_FSTYPES = frozenset(
    "autofs binfmt_misc bpf cgroup cgroup2 configfs debugfs devpts devtmpfs fusectl hugetlbfs "
    "iso9660 mqueue nsfs proc procfs pstore rpc_pipefs securityfs selinuxfs squashfs erofs "
    "sysfs tracefs efivarfs ramfs nfsd".split()
)
_SKIP_MOUNT_RE = re.compile(r"^/(dev|proc|sys|run/credentials/.+|var/lib/docker/.+)($|/)")


class ParseError(ValueError):
    """Output we cannot read; str() is one line naming the source and the problem."""


# ------------------------------------------------------------------------------------------
# Linux


@dataclass
class Filesystem:
    mountpoint: str
    fstype: str
    device: str
    size_bytes: float
    avail_bytes: float


@dataclass
class LinuxStats:
    load1: float
    load5: float
    load15: float
    memory_total_bytes: float
    memory_available_bytes: float
    uptime_seconds: float
    filesystems: list[Filesystem] = field(default_factory=list)


def parse_loadavg(text: str) -> tuple[float, float, float]:
    return _proc(procfs.loadavg, text)


def parse_meminfo(text: str) -> tuple[float, float]:
    """MemTotal and MemAvailable in bytes (MemFree+Buffers+Cached before Linux 3.14)."""
    return _proc(lambda x: procfs.mem_available(procfs.meminfo(x)), text)


def parse_uptime(text: str) -> float:
    return _proc(procfs.uptime, text)


def parse_mounts(text: str) -> dict[str, str]:
    """mountpoint -> fstype (the last mount on a point wins, as the kernel shows it)."""
    return {m.mountpoint: m.fstype for m in _proc(procfs.mounts, text)}


def _proc(parse: Callable[[str], T], text: str) -> T:
    try:
        return parse(text)
    except ValueError as e:
        raise ParseError(str(e)) from None


def parse_df(text: str, fstypes: dict[str, str]) -> list[Filesystem]:
    """`df -P -k`: POSIX format, so GNU coreutils and busybox print the same columns."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return []
    if not lines[0].startswith("Filesystem"):
        raise ParseError(f"df -P: unexpected header {lines[0][:60]!r}")
    out: list[Filesystem] = []
    seen: set[str] = set()
    for n, line in enumerate(lines[1:], start=2):
        parts = line.split(None, 5)
        if len(parts) < 6:
            raise ParseError(f"df -P: line {n}: expected 6 columns, got {line.strip()[:60]!r}")
        device, blocks, _used, avail, _cap, mount = parts
        try:
            size_b, avail_b = float(blocks) * 1024, float(avail) * 1024
        except ValueError:
            raise ParseError(f"df -P: line {n}: non-numeric sizes in {line.strip()[:60]!r}")\
                from None
        fstype = fstypes.get(mount, "unknown")
        if (fstype in _SKIP_FSTYPES or _SKIP_MOUNT_RE.match(mount) or size_b <= 0
                or mount in seen):
            continue
        seen.add(mount)
        out.append(Filesystem(mount, fstype, device, size_b, max(0.0, avail_b)))
    return out


def parse_linux(output: str) -> LinuxStats:
    """Split the LINUX_COMMAND output on its markers and parse each section."""
    sections = output.split(SECTION_MARK + "\n")
    if len(sections) != 5:
        raise ParseError(
            f"linux: expected 5 sections in the output, got {len(sections)} "
            "(is this a Linux host with /proc?)"
        )
    load = parse_loadavg(sections[0])
    total, avail = parse_meminfo(sections[1])
    uptime = parse_uptime(sections[2])
    filesystems = parse_df(sections[4], parse_mounts(sections[3]))
    return LinuxStats(*load, total, avail, uptime, filesystems)


# ------------------------------------------------------------------------------------------
# RouterOS (MikroTik). Formats of 6.x and 7.x `print` as sent over a non-interactive exec.

ROUTEROS_COMMANDS = {
    "resource": "/system resource print without-paging",
    "stats": "/interface print stats without-paging",
    "detail": "/interface print detail without-paging",
}

_SIZE_UNITS = {"": 1, "B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4,
               "kB": 1000, "KB": 1024, "MB": 1000**2, "GB": 1000**3}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")
_WEEKS_RE = re.compile(
    r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$"
)
_CLOCK_RE = re.compile(r"^(?:(\d+)d)?\s*(\d+):(\d{2}):(\d{2})(?:\.\d+)?$")
_GROUPED_TAIL_RE = re.compile(r"(?<!\S)(\d{1,3}(?: \d{3})*)$")
_GROUPED_RE = re.compile(r"^\d{1,3}(?: \d{3})*$")


def parse_ros_duration(text: str) -> float:
    """RouterOS durations: 2w3d4h5m6s, 45m12s, 150ms, or the clock form 3d23:14:55."""
    t = text.strip()
    m = _WEEKS_RE.match(t)
    if t and m and any(m.groups()):
        w, d, h, mi, s, ms = (int(g) if g else 0 for g in m.groups())
        return w * 604800 + d * 86400 + h * 3600 + mi * 60 + s + ms / 1000
    m = _CLOCK_RE.match(t)
    if m:
        d, h, mi, s = (int(g) if g else 0 for g in m.groups())
        return d * 86400 + h * 3600 + mi * 60 + s
    raise ParseError(f"RouterOS: cannot read duration {text.strip()[:40]!r}")


def parse_ros_size(text: str) -> float:
    m = _SIZE_RE.match(text)
    if not m or m.group(2) not in _SIZE_UNITS:
        raise ParseError(f"RouterOS: cannot read size {text.strip()[:40]!r}")
    return float(m.group(1)) * _SIZE_UNITS[m.group(2)]


@dataclass
class RouterResource:
    uptime_seconds: float
    cpu_load_ratio: float
    memory_free_bytes: float
    memory_total_bytes: float
    version: str
    board: str


def _strip_prompt_noise(text: str) -> list[str]:
    # Some versions end lines with \r, and a terminal may add an empty first line.
    return [ln.rstrip("\r").rstrip() for ln in text.replace("\r\n", "\n").split("\n")]


def parse_ros_resource(text: str) -> RouterResource:
    """`/system resource print`: right-aligned `key: value` lines."""
    src = "/system resource print"
    if not text.strip():
        raise ParseError(f"{src}: empty output")
    kv: dict[str, str] = {}
    for n, line in enumerate(_strip_prompt_noise(text), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        if not sep or not re.fullmatch(r"\s*[a-z0-9-]+", key):
            if line.lstrip().startswith(("failure:", "bad command", "syntax error", "expected")):
                raise ParseError(f"{src}: router said {line.strip()[:80]!r}")
            raise ParseError(f"{src}: line {n}: expected 'key: value', got {line.strip()[:60]!r}")
        kv[key.strip()] = value.strip()
    missing = [k for k in ("uptime", "cpu-load", "free-memory", "total-memory") if k not in kv]
    if missing:
        raise ParseError(f"{src}: missing {', '.join(missing)}")
    load = kv["cpu-load"].rstrip("%").strip()
    if not load.isdigit():
        raise ParseError(f"{src}: cpu-load {kv['cpu-load']!r} is not a percentage")
    return RouterResource(
        uptime_seconds=parse_ros_duration(kv["uptime"]),
        cpu_load_ratio=int(load) / 100.0,
        memory_free_bytes=parse_ros_size(kv["free-memory"]),
        memory_total_bytes=parse_ros_size(kv["total-memory"]),
        version=kv.get("version", "").split(" ")[0],
        board=kv.get("board-name", ""),
    )


@dataclass
class RouterInterface:
    name: str
    flags: str
    rx_bytes: float | None = None
    tx_bytes: float | None = None
    rx_packets: float | None = None
    tx_packets: float | None = None
    type: str = ""
    link_downs: float | None = None

    @property
    def running(self) -> bool:
        return "R" in self.flags

    @property
    def disabled(self) -> bool:
        return "X" in self.flags


_ITEM_RE = re.compile(r"^\s*(\d+)\s+([A-Z]*)\s*(.*)$")


def _check_error(src: str, lines: list[str]) -> None:
    for line in lines:
        s = line.strip()
        if s.startswith(("bad command name", "syntax error", "expected end of command",
                         "failure:", "input does not match")):
            raise ParseError(f"{src}: router said {s[:80]!r}")


def parse_ros_interface_stats(text: str) -> list[RouterInterface]:
    """`/interface print stats`: a column table whose numbers are grouped by spaces.

    Numeric columns are right-aligned under their header in both 6.x and 7.x, and 7.x may
    leave a single space between columns ("1 925 146 217 16 030 744"), so values are cut at
    the header's right edge, never split on whitespace.
    """
    src = "/interface print stats"
    if not text.strip():
        raise ParseError(f"{src}: empty output")
    lines = _strip_prompt_noise(text)
    _check_error(src, lines)
    header_i = next((i for i, ln in enumerate(lines) if re.match(r"^\s*#\s+", ln)), None)
    if header_i is None:
        raise ParseError(f"{src}: no column header line (starting with '#') found")
    header = lines[header_i]
    name_at = header.find("NAME")
    cols = [(m.group(0), m.end()) for m in re.finditer(r"[A-Z][A-Z-]*[A-Z]", header)
            if m.start() > name_at]
    wanted = {"RX-BYTE": "rx_bytes", "TX-BYTE": "tx_bytes", "RX-PACKET": "rx_packets",
              "TX-PACKET": "tx_packets"}
    if name_at < 0 or not any(c in wanted for c, _ in cols):
        raise ParseError(f"{src}: header lacks NAME or RX-BYTE/TX-BYTE: {header.strip()[:80]!r}")
    out: list[RouterInterface] = []
    pending: str | None = None  # flags of an item whose first line held only its comment
    for n, line in enumerate(lines[header_i + 1:], start=header_i + 2):
        if not line.strip():
            continue
        m = _ITEM_RE.match(line[:name_at])
        if m and line[name_at:].lstrip().startswith(";;;"):
            pending = m.group(2)  # ` 6  R  ;;; comment`, the data follows on the next line
            continue
        if pending is not None and not line[:name_at].strip():
            flags, pending = pending, None
        elif m and not m.group(3).strip():
            flags = m.group(2)
        else:
            raise ParseError(f"{src}: line {n}: expected '<index> <flags> <name> ...', "
                             f"got {line.strip()[:60]!r}")
        first_end = cols[0][1]
        head = line[name_at:first_end].rstrip()
        tail = _GROUPED_TAIL_RE.search(head)
        if not tail:
            raise ParseError(f"{src}: line {n}: no {cols[0][0]} value after the name in "
                             f"{line.strip()[:60]!r}")
        name = head[: tail.start()].strip()
        if not name or "  " in name:
            raise ParseError(f"{src}: line {n}: cannot separate the name from {cols[0][0]} "
                             f"in {line.strip()[:60]!r}")
        iface = RouterInterface(name=name, flags=flags)
        values = {cols[0][0]: tail.group(1)}
        prev = first_end
        for col, end in cols[1:]:
            values[col] = line[prev:end].strip()
            prev = end
        if line[prev:].strip():
            raise ParseError(f"{src}: line {n}: unexpected text after the last column: "
                             f"{line[prev:].strip()[:40]!r}")
        for col, attr in wanted.items():
            if col not in values:
                continue
            raw = values[col]
            if not _GROUPED_RE.match(raw):
                raise ParseError(f"{src}: line {n} ({name}): {col} value {raw!r} "
                                 "is not a number")
            setattr(iface, attr, float(raw.replace(" ", "")))
        out.append(iface)
    return out


_KV_RE = re.compile(r'([a-z][a-z0-9-]*)=("(?:[^"\\]|\\.)*"|\S*)')


def parse_ros_interface_detail(text: str) -> list[RouterInterface]:
    """`/interface print detail`: one item per index, `key=value` pairs wrapped over lines.

    Unquoted values may contain a space (v6 dates: last-link-up-time=jan/02/2022 10:11:12),
    so a word without '=' continues the previous value.
    """
    src = "/interface print detail"
    lines = _strip_prompt_noise(text)
    _check_error(src, lines)
    items: list[tuple[int, str, str]] = []  # (line number, flags, text)
    for n, line in enumerate(lines, start=1):
        s = line.strip()
        if not s or s.startswith(("Flags:", ";;;", "Columns:")):
            continue
        m = _ITEM_RE.match(line)
        if items_continuation(line) or (items and line[:1].isspace() and not m):
            if not items:
                raise ParseError(f"{src}: line {n}: continuation before any item")
            ln, fl, body = items[-1]
            items[-1] = (ln, fl, body + " " + s)
        elif m and (re.match(r"[a-z][a-z0-9-]*=", m.group(3)) or m.group(3).startswith(";;;")):
            rest = m.group(3)
            items.append((n, m.group(2), "" if rest.startswith(";;;") else rest))
        else:
            raise ParseError(f"{src}: line {n}: expected '<index> <flags> name=...', "
                             f"got {s[:60]!r}")
    out: list[RouterInterface] = []
    for n, flags, body in items:
        kv = _parse_kv(body)
        name = kv.get("name")
        if not name:
            raise ParseError(f"{src}: item at line {n} has no name=")
        iface = RouterInterface(name=name, flags=flags, type=kv.get("type", ""))
        if "link-downs" in kv:
            if not kv["link-downs"].isdigit():
                raise ParseError(f"{src}: {name}: link-downs {kv['link-downs']!r} "
                                 "is not a number")
            iface.link_downs = float(kv["link-downs"])
        out.append(iface)
    if not out and any(ln.strip() for ln in lines if not ln.strip().startswith("Flags:")):
        raise ParseError(f"{src}: no interfaces found in the output")
    return out


def items_continuation(line: str) -> bool:
    """A wrapped line is indented past the flags column and starts with key=value."""
    return bool(re.match(r"^\s{5,}[a-z][a-z0-9-]*=", line))


def _parse_kv(body: str) -> dict[str, str]:
    out: dict[str, str] = {}
    last: str | None = None
    pos = 0
    for m in _KV_RE.finditer(body):
        gap = body[pos:m.start()].strip()
        if gap and last is not None and not out[last].startswith('"'):
            out[last] = (out[last] + " " + gap).strip()
        key, value = m.group(1), m.group(2)
        out[key] = value
        last = key
        pos = m.end()
    tail = body[pos:].strip()
    if tail and last is not None:
        out[last] = (out[last] + " " + tail).strip()
    return {k: v[1:-1] if v.startswith('"') and v.endswith('"') and len(v) >= 2 else v
            for k, v in out.items()}


def merge_interfaces(stats: list[RouterInterface],
                     detail: list[RouterInterface]) -> list[RouterInterface]:
    """Counters from `print stats`, type and link-downs from `print detail`, by name."""
    by_name = {i.name: i for i in detail}
    for s in stats:
        d = by_name.get(s.name)
        if d is not None:
            s.type = d.type
            s.link_downs = d.link_downs
    return stats
