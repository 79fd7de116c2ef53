"""Host collector: parsers on odd kernel output, config errors, partial failures, stuck mounts."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import pytest
from pydantic import ValidationError

from collectors import REGISTRY
from collectors.base import Context, Deadline, Observation, Sample
from collectors.host import HostCollector, HostConfig
from collectors.host.collector import (
    parse_diskstats,
    parse_meminfo,
    parse_mounts,
    parse_netdev,
    parse_stat,
)

STAT = """cpu  300 0 200 1000 10 0 5 0 7 1
cpu0 100 2 100 500 5 0 3 0 7 1
cpu2 200 0 100 500 5 0 2 0 0 0
intr 241668 0 0 1
ctxt 452979
btime 1795386948
processes 8850
procs_running 3
procs_blocked 1
softirq 1 2 3
"""

MEMINFO = """MemTotal:       24684092 kB
MemFree:        24392420 kB
Active(anon):      12345 kB
HugePages_Total:       4
Hugepagesize:       2048 kB
BrandNewField:        12 kB
"""

NETDEV = """Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:  154420     124    0    0    0     0          0         0   154420     124    0    0    0     0       0          0
  eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16
"""  # noqa: E501

DISKSTATS = """   7       0 loop0 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
   8       0 sda 1 2 3 4 5 6 7 8 9 10 11
   8       1 sda1 1 2 3 4 5 6 7 8 9 10 11
 254       0 vda 57838 15061 6152506 28981 12441 25965 3245824 9200 0 8924 38612 4441 10 103200 353 1782 77
 259       0 nvme0n1 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15
 259       1 nvme0n1p1 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15
"""  # noqa: E501

MOUNTS = """proc /proc proc rw,relatime 0 0
/dev/vda / ext4 rw,relatime 0 0
/dev/vdb /srv/my\\040data xfs ro,noatime 0 0
/dev/vda / ext4 rw,relatime 0 0
tmpfs /run/credentials/x.service tmpfs ro 0 0
overlay /merged overlay rw 0 0
cgroup2 /sys/fs/cgroup cgroup2 rw 0 0
server:/export /mnt/nfs nfs4 rw 0 0
"""


def by_key(samples: list[Sample]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, s.labels): s.value for s in samples}


def test_parse_stat_keeps_cpu_numbers_and_stat_fields() -> None:
    got = by_key(parse_stat(STAT, user_hz=100.0))
    assert got[("node_cpu_seconds_total", (("cpu", "0"), ("mode", "user")))] == 1.0
    assert got[("node_cpu_seconds_total", (("cpu", "0"), ("mode", "nice")))] == 0.02
    # cpu1 is offline: cpu2 keeps its number (psutil's per-cpu list would call it cpu1).
    assert got[("node_cpu_seconds_total", (("cpu", "2"), ("mode", "softirq")))] == 0.02
    assert not any(dict(ls).get("cpu") == "1" for _, ls in got)
    assert got[("node_cpu_guest_seconds_total", (("cpu", "0"), ("mode", "user")))] == 0.07
    assert got[("node_cpu_guest_seconds_total", (("cpu", "0"), ("mode", "nice")))] == 0.01
    assert got[("node_context_switches_total", ())] == 452979
    assert got[("node_boot_time_seconds", ())] == 1795386948
    assert got[("node_forks_total", ())] == 8850
    assert got[("node_intr_total", ())] == 241668
    assert got[("node_procs_running", ())] == 3
    assert got[("node_procs_blocked", ())] == 1
    # 8 modes x 2 cpus + 2 guest modes x 2 cpus + 6 scalars; the aggregate "cpu" line is skipped.
    assert len(got) == 16 + 4 + 6


def test_parse_meminfo_names_like_node_exporter() -> None:
    samples, unknown = parse_meminfo(MEMINFO)
    got = by_key(samples)
    assert got[("node_memory_MemTotal_bytes", ())] == 24684092 * 1024
    assert got[("node_memory_Active_anon_bytes", ())] == 12345 * 1024
    assert got[("node_memory_HugePages_Total", ())] == 4  # a count: no unit, no _bytes
    assert got[("node_memory_Hugepagesize_bytes", ())] == 2048 * 1024
    assert unknown == ["BrandNewField_bytes"]


def test_parse_netdev_legacy_names_and_exclude() -> None:
    import re

    got = by_key(parse_netdev(NETDEV, re.compile("^lo$")))
    labels = (("device", "eth0"),)
    assert got[("node_network_receive_bytes_total", labels)] == 1
    assert got[("node_network_receive_drop_total", labels)] == 4
    assert got[("node_network_receive_multicast_total", labels)] == 8
    assert got[("node_network_transmit_bytes_total", labels)] == 9
    assert got[("node_network_transmit_colls_total", labels)] == 14
    assert got[("node_network_transmit_compressed_total", labels)] == 16
    assert {dict(ls)["device"] for _, ls in got} == {"eth0"}
    assert len(parse_netdev(NETDEV, None)) == 32


def test_parse_diskstats_field_counts_and_default_exclude() -> None:
    import re

    from collectors.host.collector import DEFAULT_DISK_DEVICES_EXCLUDE

    got = by_key(parse_diskstats(DISKSTATS, re.compile(DEFAULT_DISK_DEVICES_EXCLUDE)))
    devices = {dict(ls)["device"] for _, ls in got}
    assert devices == {"sda", "vda", "nvme0n1"}  # partitions and loop devices are excluded
    vda = (("device", "vda"),)
    assert got[("node_disk_read_bytes_total", vda)] == 6152506 * 512
    assert got[("node_disk_read_time_seconds_total", vda)] == pytest.approx(28.981)
    assert got[("node_disk_io_time_weighted_seconds_total", vda)] == pytest.approx(38.612)
    assert got[("node_disk_flush_requests_total", vda)] == 1782
    sda = (("device", "sda"),)  # a 14-column (pre-4.18) line: no discard/flush series
    assert ("node_disk_discards_completed_total", sda) not in got
    assert got[("node_disk_io_now", sda)] == 9
    nvme = (("device", "nvme0n1"),)  # 18 columns: discards, no flush
    assert got[("node_disk_discard_time_seconds_total", nvme)] == pytest.approx(0.015)
    assert ("node_disk_flush_requests_total", nvme) not in got


def test_parse_mounts_excludes_dedups_and_unescapes() -> None:
    import re

    from collectors.host.collector import DEFAULT_FS_TYPES_EXCLUDE, DEFAULT_MOUNT_POINTS_EXCLUDE

    mounts = parse_mounts(
        MOUNTS, re.compile(DEFAULT_MOUNT_POINTS_EXCLUDE), re.compile(DEFAULT_FS_TYPES_EXCLUDE)
    )
    assert [m.mountpoint for m in mounts] == ["/", "/srv/my data", "/mnt/nfs"]
    assert [m.readonly for m in mounts] == [0.0, 1.0, 0.0]
    with pytest.raises(ValueError, match="mounts: malformed line"):
        parse_mounts("garbage line\n", None, None)


def test_config_defaults_and_durations() -> None:
    cfg = HostConfig.model_validate({"interval": "30s", "timeout": "2500ms"})
    assert (cfg.enabled, cfg.interval, cfg.timeout) == (True, 30.0, 2.5)
    assert HostConfig().interval == 15.0 and HostConfig().timeout == 10.0
    assert REGISTRY["host"] is HostCollector and HostCollector.per_check is False


@pytest.mark.parametrize(
    "field", ["mount_points_exclude", "fs_types_exclude", "disk_devices_exclude",
              "network_devices_exclude"],
)
def test_config_rejects_bad_regex_with_clear_message(field: str) -> None:
    with pytest.raises(ValidationError) as e:
        HostConfig.model_validate({field: "^(unclosed"})
    msg = str(e.value)
    assert field in msg and "invalid regular expression '^(unclosed'" in msg


def test_config_rejects_unknown_keys_and_bad_durations() -> None:
    with pytest.raises(ValidationError, match="extra"):
        HostConfig.model_validate({"intervall": "15s"})
    with pytest.raises(ValidationError, match="invalid duration"):
        HostConfig.model_validate({"interval": "soon"})


def test_metrics_catalogue_is_consistent() -> None:
    names = [m.name for m in HostCollector.METRICS]
    assert len(names) == len(set(names))
    assert all(n.startswith(("node_", "pantau_host_")) for n in names)


def run(collector: HostCollector, seconds: float = 5.0) -> Observation:
    return asyncio.run(collector.collect(Context(Deadline(seconds), "site", "host")))


def test_real_host_samples_are_declared_with_their_labels() -> None:
    obs = run(HostCollector(HostConfig()))
    assert obs.success, obs.reason
    specs = {m.name: m for m in HostCollector.METRICS}
    for s in obs.samples:
        assert s.name in specs, s.name
        assert tuple(k for k, _ in s.labels) == specs[s.name].labels, s
    names = {s.name for s in obs.samples}
    for must in ("node_cpu_seconds_total", "node_load1", "node_memory_MemAvailable_bytes",
                 "node_filesystem_avail_bytes", "node_disk_read_bytes_total",
                 "node_network_receive_bytes_total", "node_boot_time_seconds",
                 "node_time_seconds", "node_procs_running", "node_forks_total",
                 "pantau_host_uptime_seconds", "pantau_host_processes"):
        assert must in names, must
    (procs,) = [s.value for s in obs.samples if s.name == "pantau_host_processes"]
    # Processes come and go while other tests run: same order of magnitude as /proc's count.
    assert abs(procs - sum(1 for p in os.listdir("/proc") if p.isdigit())) < 50 and procs >= 2


def fake_proc(tmp_path: Path, mounts: str, *, meminfo: bool = True) -> HostConfig:
    proc = tmp_path / "proc"
    (proc / "1").mkdir(parents=True)
    (proc / "net").mkdir()
    (proc / "stat").write_text(STAT)
    (proc / "loadavg").write_text("0.50 0.25 0.10 1/100 1234\n")
    if meminfo:
        (proc / "meminfo").write_text(MEMINFO)
    (proc / "diskstats").write_text(DISKSTATS)
    (proc / "net" / "dev").write_text(NETDEV)
    (proc / "uptime").write_text("1827.33 3000.00\n")
    (proc / "1" / "mounts").write_text(mounts)
    return HostConfig(procfs=proc, sysfs=tmp_path / "nosys")


def test_failing_part_is_reported_and_the_rest_kept(tmp_path: Path) -> None:
    cfg = fake_proc(tmp_path, f"/dev/vda {tmp_path} ext4 rw 0 0\n", meminfo=False)
    obs = run(HostCollector(cfg))
    assert not obs.success
    assert obs.reason.startswith("meminfo: FileNotFoundError")
    assert obs.details["failed_parts"].keys() == {"meminfo"}
    names = {s.name for s in obs.samples}
    assert "node_memory_MemTotal_bytes" not in names
    assert {"node_cpu_seconds_total", "node_load15", "node_filesystem_size_bytes",
            "node_disk_reads_completed_total", "node_network_transmit_packets_total",
            "pantau_host_uptime_seconds", "node_time_seconds"} <= names
    assert by_key(obs.samples)[("node_load5", ())] == 0.25
    assert by_key(obs.samples)[("pantau_host_uptime_seconds", ())] == 1827.33


def test_hung_and_failing_filesystems_do_not_block_the_rest(tmp_path: Path) -> None:
    good, hung, broken = (tmp_path / n for n in ("good", "hung", "broken"))
    for d in (good, hung, broken):
        d.mkdir()
    cfg = fake_proc(
        tmp_path,
        f"/dev/a {good} ext4 rw 0 0\nnfs:/x {hung} nfs4 rw 0 0\n/dev/c {broken} xfs rw 0 0\n",
    )
    release = threading.Event()
    calls: list[str] = []

    def statvfs(path: str) -> os.statvfs_result:
        calls.append(path)
        if path == str(hung):
            release.wait(30)  # a dead NFS server
        if path == str(broken):
            raise OSError(5, "Input/output error")
        return os.statvfs(tmp_path)

    collector = HostCollector(cfg)
    collector.statvfs = statvfs
    try:
        obs = run(collector, seconds=0.5)
        assert obs.success, obs.reason  # like node_exporter: per-filesystem errors are series
        err = {dict(s.labels)["mountpoint"]: s.value for s in obs.samples
               if s.name == "node_filesystem_device_error"}
        assert err == {str(good): 0.0, str(hung): 1.0, str(broken): 1.0}
        sizes = {dict(s.labels)["mountpoint"] for s in obs.samples
                 if s.name == "node_filesystem_size_bytes"}
        assert sizes == {str(good)}
        fs_errors = obs.details["filesystem_errors"]
        assert "deadline" in fs_errors[str(hung)] and "Input/output" in fs_errors[str(broken)]
        assert "node_cpu_seconds_total" in {s.name for s in obs.samples}

        # The next run does not start another statfs on the stuck mount.
        calls.clear()
        obs = run(collector, seconds=0.5)
        assert str(hung) not in calls and str(good) in calls
        assert "stuck" in obs.details["filesystem_errors"][str(hung)]

        # Once the server answers again, the mount is measured again.
        release.set()
        for _ in range(50):
            with collector._stuck_lock:
                if str(hung) not in collector._stuck:
                    break
            threading.Event().wait(0.05)
        obs = run(collector, seconds=2)
        sizes = {dict(s.labels)["mountpoint"] for s in obs.samples
                 if s.name == "node_filesystem_size_bytes"}
        assert sizes == {str(good), str(hung)}
    finally:
        release.set()


def test_cpu_counters_never_go_backwards(tmp_path: Path) -> None:
    cfg = fake_proc(tmp_path, "")
    collector = HostCollector(cfg)
    stat = cfg.procfs / "stat"

    def cpu0(mode: str) -> float:
        obs = run(collector)
        return by_key(obs.samples)[("node_cpu_seconds_total", (("cpu", "0"), ("mode", mode)))]

    assert cpu0("iowait") == 0.05
    stat.write_text(STAT.replace("cpu0 100 2 100 500 5", "cpu0 100 2 100 501 4"))
    assert cpu0("iowait") == 0.05  # the kernel stepped iowait back: keep the old value
    assert cpu0("idle") == 5.01
    # idle dropping by >= 3 s means a hot-plugged CPU: start over from the kernel's values.
    stat.write_text(STAT.replace("cpu0 100 2 100 500 5", "cpu0 1 0 1 100 1"))
    assert cpu0("iowait") == 0.01
    assert cpu0("user") == 0.01


def test_same_mount_point_listed_twice_is_statted_once(tmp_path: Path) -> None:
    # Old kernels list "rootfs /" before "/dev/sda1 /"; node_exporter reports both.
    mounts = f"rootfs {tmp_path} rootfs rw 0 0\n/dev/sda1 {tmp_path} ext4 ro 0 0\n"
    cfg = fake_proc(tmp_path, mounts)
    calls: list[str] = []

    def statvfs(path: str) -> os.statvfs_result:
        calls.append(path)
        return os.statvfs(path)

    collector = HostCollector(cfg)
    collector.statvfs = statvfs
    obs = run(collector)
    assert obs.success, obs.reason
    assert calls == [str(tmp_path)]
    ro = {dict(s.labels)["fstype"]: s.value for s in obs.samples
          if s.name == "node_filesystem_readonly"}
    assert ro == {"rootfs": 0.0, "ext4": 1.0}
    assert all(s.value == 0.0 for s in obs.samples if s.name == "node_filesystem_device_error")


def test_garbled_file_fails_only_its_part(tmp_path: Path) -> None:
    cfg = fake_proc(tmp_path, "")
    (cfg.procfs / "loadavg").write_text("garbage\n")
    obs = run(HostCollector(cfg))
    assert not obs.success
    assert obs.reason == "loadavg: ValueError: /proc/loadavg: expected three numbers, got 'garbage'"
    assert "node_memory_MemTotal_bytes" in {s.name for s in obs.samples}
