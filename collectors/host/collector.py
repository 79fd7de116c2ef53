"""Host collector: the office server's own health under node_exporter's metric and label names.

Existing dashboards and alert rules (node-mixin, Grafana "Node Exporter Full") query
node_exporter's names, so this collector emits exactly those names, label names and units, and
reads the same kernel files node_exporter 1.5 reads (/proc/stat, /proc/meminfo, /proc/diskstats,
/proc/net/dev, /proc/1/mounts + statfs). psutil is deliberately not used on this path: its
per-CPU list drops the CPU number when a CPU is offline, and it leaves out fields node_exporter
exposes (forks, procs_running/blocked, io_now, weighted I/O time, discards, fifo/frame/carrier
...), so parity would need /proc anyway; not importing it also keeps the agent's RSS down.

Every part is read in a worker thread bounded by the run's deadline. A part that fails (an
unreadable file, a filesystem whose statfs hangs on a dead NFS server) is recorded in the
observation's reason/details and the rest is still returned; a hung statfs is remembered as
"stuck" (node_exporter does the same) so later runs don't pile up threads on it.
"""

from __future__ import annotations

import asyncio
import builtins
import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from collectors.base import Context, MetricKind, MetricSpec, Observation, Sample
from collectors.common import procfs
from collectors.common.procfs import Mount
from collectors.config import Duration, StrictModel
from collectors.host import (
    arp,
    conntrack,
    cpufreq,
    entropy,
    filefd,
    hwmon,
    netclass,
    netstat,
    os_release,
    pressure,
    processes,
    schedstat,
    selinux,
    sockstat,
    softnet,
    textfile,
    thermal_zone,
    timex,
    udp_queues,
    uname,
    vmstat,
)
from collectors.host.part import Absent, Env, Part, read_sys_value

# The parts in their own modules, one per node_exporter collector, in node_exporter's order of
# importance for dashboards. Adding a part means adding it here; `host.collectors` names them.
PARTS: tuple[Part, ...] = (
    uname.PART, os_release.PART, netstat.PART, sockstat.PART, vmstat.PART, filefd.PART,
    entropy.PART, pressure.PART, timex.PART, netclass.PART, softnet.PART, conntrack.PART,
    udp_queues.PART, schedstat.PART, arp.PART, cpufreq.PART, hwmon.PART, thermal_zone.PART,
    selinux.PART,
)
# node_exporter collectors implemented inside this module (they share its parsers).
BUILTIN_PARTS = (
    "cpu", "stat", "loadavg", "meminfo", "diskstats", "netdev", "filesystem", "time", "textfile",
)
COLLECTOR_NAMES: tuple[str, ...] = BUILTIN_PARTS + tuple(p.name for p in PARTS)

# node_exporter 1.5 upstream defaults (Debian's package patches some of them; we keep upstream's).
DEFAULT_MOUNT_POINTS_EXCLUDE = (
    r"^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)"
)
DEFAULT_FS_TYPES_EXCLUDE = (
    r"^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs"
    r"|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs"
    r"|sysfs|tracefs)$"
)
DEFAULT_DISK_DEVICES_EXCLUDE = r"^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$"
DEFAULT_NETWORK_DEVICES_EXCLUDE = ""  # node_exporter excludes no network device by default


def _compile(pattern: str, what: str) -> str:
    try:
        re.compile(pattern)
    except re.error as e:
        raise ValueError(f"{what}: invalid regular expression {pattern!r}: {e}") from None
    return pattern


class HostConfig(StrictModel):
    """The `host:` section. Exclude regexes are searched like node_exporter's (unanchored)."""

    type: Literal["host"] = "host"
    enabled: bool = True
    interval: Duration = 15.0
    timeout: Duration = 10.0
    mount_points_exclude: str = DEFAULT_MOUNT_POINTS_EXCLUDE
    fs_types_exclude: str = DEFAULT_FS_TYPES_EXCLUDE
    disk_devices_exclude: str = DEFAULT_DISK_DEVICES_EXCLUDE
    network_devices_exclude: str = DEFAULT_NETWORK_DEVICES_EXCLUDE
    # Like node_exporter's --path.procfs/--path.sysfs, for agents watching a host from a container.
    procfs: Path = Path("/proc")
    sysfs: Path = Path("/sys")
    textfile_directory: Path | None = Field(
        None, description="Directory of *.prom files to merge into /metrics, like node_exporter's "
        "--collector.textfile.directory (write them atomically: temporary file, then rename).",
    )
    processes: list[str] = Field(
        default_factory=list,
        description="Services to watch by process name (e.g. nginx, php-fpm, mysqld): "
        "pantau_host_process_up, CPU, memory, restarts seen.",
    )
    # Like --path.udev.data: udev's database, for node_disk_info's model/serial/path labels.
    udev_data: Path = Path("/run/udev/data")
    # Like --path.rootfs for the os collector: where etc/os-release and usr/lib/os-release live.
    rootfs: Path = Path("/")
    collectors: list[str] = Field(
        default_factory=lambda: list(COLLECTOR_NAMES),
        description="The parts to run, by node_exporter collector name (default: all of "
        + ", ".join(COLLECTOR_NAMES) + ").",
    )

    @field_validator("collectors")
    @classmethod
    def _known_collectors(cls, v: list[str]) -> list[str]:
        unknown = [c for c in v if c not in COLLECTOR_NAMES]
        if unknown:
            raise ValueError(
                f"unknown collector(s) {', '.join(unknown)}; known: {', '.join(COLLECTOR_NAMES)}"
            )
        return list(dict.fromkeys(v))

    @field_validator(
        "mount_points_exclude", "fs_types_exclude", "disk_devices_exclude",
        "network_devices_exclude",
    )
    @classmethod
    def _regex_valid(cls, v: str, info: ValidationInfo) -> str:
        return _compile(v, info.field_name or "regex")


# --------------------------------------------------------------------------------------------
# The metric catalogue. HELP texts are node_exporter 1.5's, word for word.

_CPU_JUMP_BACK_SECONDS = 3.0
_CPU_MODES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")

# Every /proc/meminfo key a 6.x kernel may print (fs/proc/meminfo.c + arch hooks). The families
# must be declared up front; a key not listed here is skipped and named in details.
_MEMINFO_KEYS = (
    "MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached", "SwapCached", "Active",
    "Inactive", "Active(anon)", "Inactive(anon)", "Active(file)", "Inactive(file)",
    "Unevictable", "Mlocked", "HighTotal", "HighFree", "LowTotal", "LowFree", "MmapCopy",
    "SwapTotal", "SwapFree", "Zswap", "Zswapped", "Dirty", "Writeback", "AnonPages", "Mapped",
    "Shmem", "KReclaimable", "Slab", "SReclaimable", "SUnreclaim", "KernelStack",
    "ShadowCallStack", "PageTables", "SecPageTables", "NFS_Unstable", "Bounce", "WritebackTmp",
    "CommitLimit", "Committed_AS", "VmallocTotal", "VmallocUsed", "VmallocChunk", "Percpu",
    "HardwareCorrupted", "AnonHugePages", "ShmemHugePages", "ShmemPmdMapped", "FileHugePages",
    "FilePmdMapped", "CmaTotal", "CmaFree", "Unaccepted", "Balloon", "Quicklists",
    "GPUActive", "GPUReclaim", "Hugetlb", "Hugepagesize", "DirectMap4k", "DirectMap2M",
    "DirectMap4M", "DirectMap1G",
)
_MEMINFO_COUNTS = ("HugePages_Total", "HugePages_Free", "HugePages_Rsvd", "HugePages_Surp")
_PARENS_RE = re.compile(r"\((.*)\)")


def _meminfo_field(key: str, has_unit: bool) -> str:
    """node_exporter's naming: Active(anon) -> Active_anon, kB fields get _bytes."""
    key = _PARENS_RE.sub(r"_\1", key)
    return f"{key}_bytes" if has_unit else key


_MEMINFO_FIELDS = tuple(_meminfo_field(k, True) for k in _MEMINFO_KEYS) + _MEMINFO_COUNTS

# /proc/diskstats columns after major/minor/name: (metric, HELP, scale); None = not exported.
_DISK_SECTOR = 512.0
_DISK_FIELDS: tuple[tuple[str, str, float], ...] = (
    ("reads_completed_total", "The total number of reads completed successfully.", 1.0),
    ("reads_merged_total", "The total number of reads merged.", 1.0),
    ("read_bytes_total", "The total number of bytes read successfully.", _DISK_SECTOR),
    ("read_time_seconds_total", "The total number of seconds spent by all reads.", 0.001),
    ("writes_completed_total", "The total number of writes completed successfully.", 1.0),
    ("writes_merged_total", "The number of writes merged.", 1.0),
    ("written_bytes_total", "The total number of bytes written successfully.", _DISK_SECTOR),
    ("write_time_seconds_total", "This is the total number of seconds spent by all writes.",
     0.001),
    ("io_now", "The number of I/Os currently in progress.", 1.0),
    ("io_time_seconds_total", "Total seconds spent doing I/Os.", 0.001),
    ("io_time_weighted_seconds_total", "The weighted # of seconds spent doing I/Os.", 0.001),
    ("discards_completed_total", "The total number of discards completed successfully.", 1.0),
    ("discards_merged_total", "The total number of discards merged.", 1.0),
    ("discarded_sectors_total", "The total number of sectors discarded successfully.", 1.0),
    ("discard_time_seconds_total", "This is the total number of seconds spent by all discards.",
     0.001),
    ("flush_requests_total", "The total number of flush requests completed successfully", 1.0),
    ("flush_requests_time_seconds_total",
     "This is the total number of seconds spent by all flush requests.", 0.001),
)

# /proc/net/dev columns, in order, under node_exporter's legacy names.
_NETDEV_FIELDS = (
    "receive_bytes", "receive_packets", "receive_errs", "receive_drop", "receive_fifo",
    "receive_frame", "receive_compressed", "receive_multicast",
    "transmit_bytes", "transmit_packets", "transmit_errs", "transmit_drop", "transmit_fifo",
    "transmit_colls", "transmit_carrier", "transmit_compressed",
)

_FS_LABELS = ("device", "fstype", "mountpoint")
_FS_HELP = {
    "node_filesystem_size_bytes": "Filesystem size in bytes.",
    "node_filesystem_free_bytes": "Filesystem free space in bytes.",
    "node_filesystem_avail_bytes": "Filesystem space available to non-root users in bytes.",
    "node_filesystem_files": "Filesystem total file nodes.",
    "node_filesystem_files_free": "Filesystem total free file nodes.",
    "node_filesystem_readonly": "Filesystem read-only status.",
    "node_filesystem_device_error":
        "Whether an error occurred while getting statistics for the given device.",
}


def _metrics() -> tuple[MetricSpec, ...]:
    g: MetricKind = "gauge"
    c: MetricKind = "counter"
    specs: list[MetricSpec] = [
        MetricSpec("node_cpu_seconds_total", c, "Seconds the CPUs spent in each mode.",
                   ("cpu", "mode"), "seconds"),
        MetricSpec("node_cpu_guest_seconds_total", c,
                   "Seconds the CPUs spent in guests (VMs) for each mode.", ("cpu", "mode"),
                   "seconds"),
        MetricSpec("node_load1", g, "1m load average."),
        MetricSpec("node_load5", g, "5m load average."),
        MetricSpec("node_load15", g, "15m load average."),
        MetricSpec("node_boot_time_seconds", g, "Node boot time, in unixtime.", (), "seconds"),
        MetricSpec("node_context_switches_total", c, "Total number of context switches."),
        MetricSpec("node_forks_total", c, "Total number of forks."),
        MetricSpec("node_intr_total", c, "Total number of interrupts serviced."),
        MetricSpec("node_procs_running", g, "Number of processes in runnable state."),
        MetricSpec("node_procs_blocked", g,
                   "Number of processes blocked waiting for I/O to complete."),
        MetricSpec("node_time_seconds", g, "System time in seconds since epoch (1970).", (),
                   "seconds"),
        MetricSpec("node_time_zone_offset_seconds", g, "System time zone offset in seconds.",
                   ("time_zone",), "seconds"),
        MetricSpec("node_time_clocksource_available_info", "info",
                   "Available clocksources read from '/sys/devices/system/clocksource'.",
                   ("clocksource", "device")),
        MetricSpec("node_time_clocksource_current_info", "info",
                   "Current clocksource read from '/sys/devices/system/clocksource'.",
                   ("clocksource", "device")),
        MetricSpec("pantau_host_uptime_seconds", g,
                   "Seconds since the host booted (CLOCK_BOOTTIME, from /proc/uptime).", (),
                   "seconds"),
        MetricSpec("pantau_host_processes", g, "Number of processes on the host."),
        MetricSpec("node_scrape_collector_duration_seconds", g,
                   "node_exporter: Duration of a collector scrape.", ("collector",), "seconds"),
        MetricSpec("node_scrape_collector_success", g,
                   "node_exporter: Whether a collector succeeded.", ("collector",)),
    ]
    specs += [
        MetricSpec(f"node_memory_{f}", g, f"Memory information field {f}.", (),
                   "bytes" if f.endswith("_bytes") else "")
        for f in _MEMINFO_FIELDS
    ]
    specs += [MetricSpec(name, g, text, _FS_LABELS) for name, text in _FS_HELP.items()]
    specs += [
        MetricSpec(f"node_disk_{name}", c if name.endswith("_total") else g, text, ("device",))
        for name, text, _ in _DISK_FIELDS
    ]
    specs.append(MetricSpec("node_disk_info", "info", "Info of /sys/block/<block_device>.",
                            _DISK_INFO_LABELS))
    specs += [
        MetricSpec(f"node_network_{f}_total", c, f"Network device statistic {f}.", ("device",))
        for f in (*_NETDEV_FIELDS, "receive_nohandler")
    ]
    for part in PARTS:
        specs += part.metrics
    specs += textfile.METRICS
    specs += processes.METRICS
    return tuple(specs)


# --------------------------------------------------------------------------------------------
# Parsers: pure functions of the file text, so tests can feed them odd kernels' output.

try:
    _USER_HZ = float(os.sysconf("SC_CLK_TCK"))
except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
    _USER_HZ = 100.0


def parse_stat(text: str, user_hz: float = _USER_HZ) -> list[Sample]:
    """/proc/stat: the cpu collector (per-CPU lines) and the stat collector in one read."""
    out: list[Sample] = []
    scalars = {
        "ctxt": "node_context_switches_total",
        "btime": "node_boot_time_seconds",
        "processes": "node_forks_total",
        "procs_running": "node_procs_running",
        "procs_blocked": "node_procs_blocked",
        "intr": "node_intr_total",
    }
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        key = parts[0]
        if key.startswith("cpu") and key != "cpu":
            cpu = key[3:]
            if not cpu.isdigit():
                raise ValueError(f"unexpected line in stat: {line[:40]!r}")
            vals = [int(v) / user_hz for v in parts[1:11]]
            for mode, v in zip(_CPU_MODES, vals, strict=False):
                out.append(Sample("node_cpu_seconds_total", v, (("cpu", cpu), ("mode", mode))))
            if len(vals) >= 10:
                out.append(Sample("node_cpu_guest_seconds_total", vals[8],
                                  (("cpu", cpu), ("mode", "user"))))
                out.append(Sample("node_cpu_guest_seconds_total", vals[9],
                                  (("cpu", cpu), ("mode", "nice"))))
        elif key in scalars and len(parts) >= 2:
            out.append(Sample(scalars[key], float(int(parts[1]))))
    return out


def parse_loadavg(text: str) -> list[Sample]:
    one, five, fifteen = procfs.loadavg(text)
    return [Sample("node_load1", one), Sample("node_load5", five), Sample("node_load15", fifteen)]


_KNOWN_MEMINFO = frozenset(_MEMINFO_FIELDS)


def parse_meminfo(text: str) -> tuple[list[Sample], list[str]]:
    """Returns the samples and the fields this kernel printed that are not in the catalogue."""
    out: list[Sample] = []
    unknown: list[str] = []
    for f in procfs.meminfo(text):
        name = _meminfo_field(f.key, f.has_unit)
        if name in _KNOWN_MEMINFO:
            out.append(Sample(f"node_memory_{name}", f.value))
        else:
            unknown.append(name)
    return out, unknown


def parse_diskstats(text: str, exclude: re.Pattern[str] | None) -> list[Sample]:
    """/proc/diskstats: 14 columns on old kernels, 18 with discards (4.18), 20 with flush (5.5)."""
    out: list[Sample] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 14:
            continue
        device = parts[2]
        if exclude is not None and exclude.search(device):
            continue
        labels = (("device", device),)
        for (name, _, scale), raw in zip(_DISK_FIELDS, parts[3:], strict=False):
            out.append(Sample(f"node_disk_{name}", int(raw) * scale, labels))
    return out


_DISK_INFO_LABELS = ("device", "major", "minor", "path", "wwn", "model", "serial", "revision")


def udev_properties(text: str) -> dict[str, str]:
    """A udev database entry (/run/udev/data/b<major>:<minor>): its E:KEY=value lines."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("E:"):
            key, _, value = line[2:].partition("=")
            out[key] = value
    return out


def disk_info(text: str, exclude: re.Pattern[str] | None, udev: Path) -> list[Sample]:
    """node_disk_info per disk of /proc/diskstats; the udev labels stay empty without udev."""
    out: list[Sample] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 14 or (exclude is not None and exclude.search(parts[2])):
            continue
        major, minor, device = parts[0], parts[1], parts[2]
        try:
            props = udev_properties((udev / f"b{major}:{minor}").read_text(errors="replace"))
        except OSError:
            props = {}
        serial = props.get("SCSI_IDENT_SERIAL") or props.get("ID_SERIAL_SHORT", "")
        out.append(Sample("node_disk_info", 1.0, (
            ("device", device), ("major", major), ("minor", minor),
            ("path", props.get("ID_PATH", "")), ("wwn", props.get("ID_WWN", "")),
            ("model", props.get("ID_MODEL", "")), ("serial", serial),
            ("revision", props.get("ID_REVISION", "")),
        )))
    return out


def parse_netdev(text: str, exclude: re.Pattern[str] | None) -> list[Sample]:
    out: list[Sample] = []
    for line in text.splitlines()[2:]:
        name, sep, rest = line.partition(":")
        if not sep:
            continue
        device = name.strip()
        if exclude is not None and exclude.search(device):
            continue
        values = rest.split()
        if len(values) < len(_NETDEV_FIELDS):
            raise ValueError(f"unexpected net/dev line for {device!r}")
        labels = (("device", device),)
        for field, raw in zip(_NETDEV_FIELDS, values, strict=False):
            out.append(Sample(f"node_network_{field}_total", float(int(raw)), labels))
    return out


def parse_mounts(
    text: str, mount_exclude: re.Pattern[str] | None, fstype_exclude: re.Pattern[str] | None
) -> list[Mount]:
    """/proc/1/mounts, minus excluded mount points/types and duplicate lines."""
    seen: set[tuple[str, str, str]] = set()
    out: list[Mount] = []
    for m in procfs.mounts(text):
        if mount_exclude is not None and mount_exclude.search(m.mountpoint):
            continue
        if fstype_exclude is not None and fstype_exclude.search(m.fstype):
            continue
        key = (m.device, m.mountpoint, m.fstype)
        if key not in seen:
            seen.add(key)
            out.append(m)
    return out


def statfs_samples(m: Mount, st: os.statvfs_result) -> list[Sample]:
    """node_exporter multiplies by f_bsize (not f_frsize); same here so values match exactly."""
    labels = m.labels
    return [
        Sample("node_filesystem_device_error", 0.0, labels),
        Sample("node_filesystem_size_bytes", float(st.f_blocks * st.f_bsize), labels),
        Sample("node_filesystem_free_bytes", float(st.f_bfree * st.f_bsize), labels),
        Sample("node_filesystem_avail_bytes", float(st.f_bavail * st.f_bsize), labels),
        Sample("node_filesystem_files", float(st.f_files), labels),
        Sample("node_filesystem_files_free", float(st.f_ffree), labels),
        Sample("node_filesystem_readonly", m.readonly, labels),
    ]


def _opt_re(pattern: str) -> re.Pattern[str] | None:
    return re.compile(pattern) if pattern else None


# --------------------------------------------------------------------------------------------


class HostCollector:
    """The host job: every part read in a thread, filesystems statted each in its own thread."""

    type: ClassVar[str] = "host"
    Config: ClassVar[builtins.type[BaseModel]] = HostConfig
    per_check: ClassVar[bool] = False
    METRICS: ClassVar[tuple[MetricSpec, ...]] = _metrics()

    # Tests replace this to simulate a filesystem whose statfs hangs or fails.
    statvfs: Callable[[str], os.statvfs_result] = staticmethod(os.statvfs)

    def __init__(self, config: HostConfig) -> None:
        self.config = config
        self._proc = config.procfs
        self._sys = config.sysfs
        self._mount_exclude = _opt_re(config.mount_points_exclude)
        self._fstype_exclude = _opt_re(config.fs_types_exclude)
        self._disk_exclude = _opt_re(config.disk_devices_exclude)
        self._net_exclude = _opt_re(config.network_devices_exclude)
        # Mount points whose statfs is still running from an earlier run (dead NFS server...).
        self._stuck: set[str] = set()
        self._stuck_lock = threading.Lock()
        self._cpu_prev: dict[tuple[str, str, str], float] = {}
        self._cpu_lock = threading.Lock()
        self._textfile_specs: list[MetricSpec] = []
        self._textfile = (
            textfile.Textfile(config.textfile_directory, (m.name for m in _metrics()))
            if config.textfile_directory is not None else None
        )
        self._named = processes.NamedProcesses(config.processes) if config.processes else None
        self._env = Env(proc=config.procfs, sys=config.sysfs, etc=config.rootfs / "etc",
                        usr_lib=config.rootfs / "usr/lib")

    # ---- /proc and /sys parts (fast; one worker thread for all of them) -----------------

    def _read(self, rel: str) -> str:
        return (self._proc / rel).read_text(encoding="utf-8", errors="replace")

    def _clamp_cpu(self, samples: list[Sample]) -> list[Sample]:
        """Keep CPU counters monotonic as node_exporter 1.5 does.

        The kernel's per-CPU iowait (and on some hypervisors idle) can step backwards, which
        Prometheus would read as a counter reset and turn into a huge rate spike. A value that
        went down keeps the previous one; idle dropping by 3 s or more means the CPU was
        hot-plugged, so that CPU starts over.
        """
        new: dict[tuple[str, str, str], float] = {}
        for smp in samples:
            if smp.name.startswith("node_cpu_"):
                new[(smp.name, smp.labels[0][1], smp.labels[1][1])] = smp.value
        if not new:
            return samples
        with self._cpu_lock:
            prev = self._cpu_prev
            reset = {
                cpu for (name, cpu, mode), v in new.items()
                if name == "node_cpu_seconds_total" and mode == "idle"
                and prev.get((name, cpu, mode), 0.0) - v >= _CPU_JUMP_BACK_SECONDS
            }
            kept: dict[tuple[str, str, str], float] = {}
            for key, v in new.items():
                old = prev.get(key)
                kept[key] = v if old is None or key[1] in reset or v >= old else old
            self._cpu_prev = kept  # CPUs gone offline drop out, like node_exporter
        return [
            Sample(smp.name, kept[(smp.name, smp.labels[0][1], smp.labels[1][1])], smp.labels)
            if smp.name.startswith("node_cpu_") else smp
            for smp in samples
        ]

    def _part_meminfo(self, details: dict[str, Any]) -> list[Sample]:
        samples, unknown = parse_meminfo(self._read("meminfo"))
        if unknown:
            details["meminfo_unknown_fields"] = unknown
        return samples

    def _part_diskstats(self, details: dict[str, Any]) -> list[Sample]:
        text = self._read("diskstats")
        return (parse_diskstats(text, self._disk_exclude)
                + disk_info(text, self._disk_exclude, self.config.udev_data))

    def _part_textfile(self, details: dict[str, Any]) -> list[Sample]:
        if self._textfile is None:  # no directory: node_exporter reports "no error" too
            return [Sample("node_textfile_scrape_error", 0.0)]
        res = self._textfile.read()
        self._textfile_specs = res.specs
        if res.errors:
            details["textfile_errors"] = res.errors
        return res.samples

    def _part_netdev(self, details: dict[str, Any]) -> list[Sample]:
        samples = parse_netdev(self._read("net/dev"), self._net_exclude)
        # node_exporter reads the counters over netlink, which adds rx_nohandler (packets
        # dropped for lack of a protocol handler); /proc/net/dev lacks it, sysfs has it.
        devices = dict.fromkeys(smp.labels for smp in samples)
        for labels in devices:
            raw = read_sys_value(self._sys / "class/net" / labels[0][1] / "statistics/rx_nohandler")
            if raw is not None and raw.isdigit():
                samples.append(Sample("node_network_receive_nohandler_total", float(raw), labels))
        return samples

    def _part_time(self, details: dict[str, Any]) -> list[Sample]:
        now = time.time()
        lt = time.localtime(now)
        out = [
            Sample("node_time_seconds", now),
            Sample("node_time_zone_offset_seconds", float(lt.tm_gmtoff or 0),
                   (("time_zone", lt.tm_zone or ""),)),
        ]
        base = self._sys / "devices/system/clocksource"
        try:
            dirs = sorted(p for p in base.iterdir() if p.name.startswith("clocksource"))
        except OSError:
            return out  # no sysfs (containers): node_exporter logs and skips it too
        for d in dirs:
            device = d.name.removeprefix("clocksource")
            for fname, metric in (
                ("available_clocksource", "node_time_clocksource_available_info"),
                ("current_clocksource", "node_time_clocksource_current_info"),
            ):
                for cs in (d / fname).read_text().split():
                    out.append(Sample(metric, 1.0, (("clocksource", cs), ("device", device))))
        return out

    def _part_pantau(self, details: dict[str, Any]) -> list[Sample]:
        uptime = float(self._read("uptime").split()[0])
        procs = sum(1 for e in os.scandir(self._proc) if e.name.isdigit())
        return [
            Sample("pantau_host_uptime_seconds", uptime),
            Sample("pantau_host_processes", float(procs)),
        ]

    def _part_stat(self, details: dict[str, Any]) -> list[Sample]:
        return [smp for smp in parse_stat(self._read("stat"))
                if not smp.name.startswith("node_cpu_")]

    def _part_cpu(self, details: dict[str, Any]) -> list[Sample]:
        return self._clamp_cpu([smp for smp in parse_stat(self._read("stat"))
                                if smp.name.startswith("node_cpu_")])

    def _proc_parts(self) -> list[tuple[str, Callable[[dict[str, Any]], list[Sample]]]]:
        """The enabled parts in order; "processes" is pantau's own and always runs."""
        env = self._env
        builtin: dict[str, Callable[[dict[str, Any]], list[Sample]]] = {
            "cpu": self._part_cpu,
            "stat": self._part_stat,
            "loadavg": lambda d: parse_loadavg(self._read("loadavg")),
            "meminfo": self._part_meminfo,
            "diskstats": self._part_diskstats,
            "netdev": self._part_netdev,
            "time": self._part_time,
        }
        for part in PARTS:
            builtin[part.name] = lambda d, part=part: part.read(env, d)  # type: ignore[misc]
        builtin["textfile"] = self._part_textfile
        parts = [(name, builtin[name]) for name in self.config.collectors if name in builtin]
        if self._named is not None:
            parts.append(("named_processes", lambda d: self._named.read()))  # type: ignore[union-attr]
        return [*parts, ("processes", self._part_pantau)]

    def _read_proc_parts(self) -> tuple[list[Sample], dict[str, str], dict[str, Any]]:
        samples: list[Sample] = []
        errors: dict[str, str] = {}
        details: dict[str, Any] = {}
        for name, fn in self._proc_parts():
            started = time.perf_counter()
            ok = 1.0
            try:
                samples.extend(fn(details))
            except Absent as e:
                # node_exporter's ErrNoData: success 0, but nothing is wrong with the agent.
                ok = 0.0
                details.setdefault("absent_parts", {})[name] = str(e)
            except Exception as e:  # odd kernel output must cost only its own part
                ok = 0.0
                errors[name] = _one_line(e)
            if name not in ("processes", "named_processes"):  # not node_exporter collectors
                samples.extend(_scrape_samples(name, time.perf_counter() - started, ok))
        return samples, errors, details

    # ---- filesystems ----------------------------------------------------------------------

    def _read_mounts(self) -> list[Mount]:
        try:
            text = self._read("1/mounts")
        except FileNotFoundError:  # hidepid=2 hides PID 1: node_exporter falls back the same way
            text = self._read("mounts")
        return parse_mounts(text, self._mount_exclude, self._fstype_exclude)

    def _stat_in_thread(
        self, loop: asyncio.AbstractEventLoop, mountpoint: str
    ) -> asyncio.Future[os.statvfs_result]:
        """statfs in a daemon thread: a hung NFS statfs must never block the agent's exit."""
        fut: asyncio.Future[os.statvfs_result] = loop.create_future()

        def deliver(res: os.statvfs_result | None, err: BaseException | None) -> None:
            if fut.done():
                return
            if err is not None:
                fut.set_exception(err)
            else:
                assert res is not None
                fut.set_result(res)

        def run() -> None:
            res: os.statvfs_result | None = None
            err: BaseException | None = None
            try:
                res = self.statvfs(mountpoint)
            except BaseException as e:  # delivered to the awaiting coroutine
                err = e
            with self._stuck_lock:
                self._stuck.discard(mountpoint)
            try:
                loop.call_soon_threadsafe(deliver, res, err)
            except RuntimeError:
                pass  # the loop is gone (agent stopped while this statfs hung)

        threading.Thread(target=run, name=f"pantau-statfs {mountpoint}", daemon=True).start()
        return fut

    async def _filesystems(self, ctx: Context) -> tuple[list[Sample], dict[str, str]]:
        mounts = await asyncio.wait_for(
            asyncio.to_thread(self._read_mounts), timeout=ctx.deadline.remaining()
        )
        loop = asyncio.get_running_loop()
        samples: list[Sample] = []
        errors: dict[str, str] = {}
        # One statfs per mount point: the same path can be listed twice (rootfs and /dev/root,
        # stacked or bind mounts) and all its entries share the answer.
        pending: dict[asyncio.Future[os.statvfs_result], str] = {}
        results: dict[str, os.statvfs_result] = {}
        for mountpoint in dict.fromkeys(m.mountpoint for m in mounts):
            with self._stuck_lock:
                stuck = mountpoint in self._stuck
                if not stuck:
                    self._stuck.add(mountpoint)  # until its thread returns
            if stuck:
                errors[mountpoint] = "statfs still hanging from an earlier run (stuck mount)"
                continue
            pending[self._stat_in_thread(loop, mountpoint)] = mountpoint
        if pending:
            done, not_done = await asyncio.wait(pending, timeout=ctx.deadline.remaining())
            for fut in not_done:
                fut.cancel()
                errors[pending[fut]] = "statfs did not return before the deadline"
            for fut in done:
                exc = fut.exception()
                if exc is not None:
                    errors[pending[fut]] = f"statfs: {_one_line(exc)}"
                else:
                    results[pending[fut]] = fut.result()
        for m in mounts:
            if m.mountpoint in results:
                samples.extend(statfs_samples(m, results[m.mountpoint]))
            else:
                # node_exporter reports only device_error for a filesystem it could not stat.
                samples.append(Sample("node_filesystem_device_error", 1.0, m.labels))
        return samples, errors

    # ---- the run --------------------------------------------------------------------------

    async def collect(self, ctx: Context) -> Observation:
        started = time.monotonic()
        proc_task = asyncio.ensure_future(
            asyncio.wait_for(asyncio.to_thread(self._read_proc_parts),
                             timeout=ctx.deadline.remaining())
        )
        fs_started = time.perf_counter()
        fs_done: list[float] = []
        fs_task = asyncio.ensure_future(self._filesystems(ctx))
        fs_task.add_done_callback(lambda _: fs_done.append(time.perf_counter()))
        tasks: set[asyncio.Future[Any]] = {proc_task}
        fs_enabled = "filesystem" in self.config.collectors
        if fs_enabled:
            tasks.add(fs_task)
        else:
            fs_task.cancel()
        await asyncio.wait(tasks)

        samples: list[Sample] = []
        failed: dict[str, str] = {}
        details: dict[str, Any] = {}
        try:
            proc_samples, proc_errors, details = proc_task.result()
            samples.extend(proc_samples)
            failed.update(proc_errors)
        except TimeoutError:
            failed["proc"] = "reading /proc did not finish before the deadline"
        except Exception as e:  # a bug in one part must not lose the filesystems
            failed["proc"] = _one_line(e)
        if fs_enabled:
            try:
                fs_samples, fs_errors = fs_task.result()
                samples.extend(fs_samples)
                if fs_errors:
                    details["filesystem_errors"] = fs_errors
            except TimeoutError:
                failed["filesystem"] = "reading the mount table did not finish before the deadline"
            except Exception as e:  # e.g. no thread could be started: keep the /proc parts
                failed["filesystem"] = _one_line(e)
            fs_elapsed = (fs_done[0] if fs_done else time.perf_counter()) - fs_started
            samples.extend(_scrape_samples("filesystem", fs_elapsed,
                                           0.0 if "filesystem" in failed else 1.0))

        if failed:
            details["failed_parts"] = failed
        reason = "; ".join(f"{part}: {err}" for part, err in sorted(failed.items()))
        return Observation(
            success=not failed,
            samples=samples,
            reason=reason,
            duration=time.monotonic() - started,
            details=details,
            specs=list(self._textfile_specs),
        )

    async def aclose(self) -> None:
        """Nothing to close: statfs threads are daemons and end (or not) on their own."""
        return None


def _scrape_samples(part: str, seconds: float, ok: float) -> list[Sample]:
    labels = (("collector", part),)
    return [Sample("node_scrape_collector_duration_seconds", seconds, labels),
            Sample("node_scrape_collector_success", ok, labels)]


def _one_line(e: BaseException) -> str:
    text = str(e).splitlines()[0] if str(e) else ""
    return f"{type(e).__name__}: {text}" if text else type(e).__name__
