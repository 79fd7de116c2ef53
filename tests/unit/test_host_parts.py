"""The host parts of issue 14 on sample kernel text: netstat, sockstat, vmstat, pressure, ...

Texts are copied from real kernels (6.x unless said otherwise); each parser is fed odd cases
the kernel really produces (missing IPv6, hex columns, EINVAL attributes).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from collectors.base import Context, Deadline, Sample
from collectors.host import (
    HostCollector,
    HostConfig,
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
    schedstat,
    selinux,
    sockstat,
    softnet,
    thermal_zone,
    timex,
    udp_queues,
    uname,
    vmstat,
)
from collectors.host.collector import COLLECTOR_NAMES, PARTS
from collectors.host.part import Absent, Env


def by_key(samples: list[Sample]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, s.labels): s.value for s in samples}


def plain(samples: list[Sample]) -> dict[str, float]:
    return {s.name: s.value for s in samples if not s.labels}


NETSTAT = """TcpExt: SyncookiesSent SyncookiesRecv SyncookiesFailed ListenOverflows ListenDrops TCPTimeouts TCPSynRetrans TCPOFOQueue
TcpExt: 1 2 3 4 5 6 7 8
IpExt: InNoRoutes InOctets OutOctets
IpExt: 0 123456 654321
"""  # noqa: E501
SNMP = """Ip: Forwarding DefaultTTL InReceives InHdrErrors
Ip: 2 64 1000 0
Icmp: InMsgs InErrors OutMsgs
Icmp: 10 1 12
Tcp: RtoAlgorithm MaxConn ActiveOpens PassiveOpens CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts
Tcp: 1 -1 100 50 3 9000 8000 7 0 11
Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors
Udp: 40 2 0 41 0 0 0
UdpLite: InDatagrams NoPorts InErrors OutDatagrams
UdpLite: 0 0 0 0
"""  # noqa: E501
SNMP6 = """Ip6InReceives                   \t10
Ip6InOctets                     \t2048
Ip6OutOctets                    \t4096
Icmp6InMsgs                     \t3
Icmp6InErrors                   \t0
Udp6InDatagrams                 \t5
UdpLite6InErrors                \t0
"""


def test_netstat_keeps_node_exporters_default_fields_only() -> None:
    stats = netstat.parse_pairs(NETSTAT) | netstat.parse_pairs(SNMP) | netstat.parse_snmp6(SNMP6)
    details: dict[str, Any] = {}
    got = plain(netstat.samples(stats, details))
    assert got["node_netstat_Ip_Forwarding"] == 2
    assert got["node_netstat_TcpExt_ListenDrops"] == 5
    assert got["node_netstat_TcpExt_SyncookiesFailed"] == 3
    assert got["node_netstat_IpExt_InOctets"] == 123456
    assert got["node_netstat_Tcp_CurrEstab"] == 3
    assert got["node_netstat_Tcp_OutRsts"] == 11
    assert got["node_netstat_Icmp_InErrors"] == 1
    assert got["node_netstat_Ip6_OutOctets"] == 4096
    assert got["node_netstat_UdpLite6_InErrors"] == 0
    assert got["node_netstat_Udp6_InDatagrams"] == 5
    # Not in the default field set: TCPOFOQueue, MaxConn, InReceives, InCsumErrors.
    assert "node_netstat_TcpExt_TCPOFOQueue" not in got
    assert "node_netstat_Tcp_MaxConn" not in got
    assert "node_netstat_Ip6_InReceives" not in got
    assert not details
    declared = {m.name for m in netstat.METRICS}
    assert set(got) <= declared


def test_netstat_mismatched_lines_are_an_error() -> None:
    with pytest.raises(ValueError, match="mismatched"):
        netstat.parse_pairs("Tcp: A B\nTcp: 1\n")


def test_netstat_unknown_matching_field_is_named() -> None:
    details: dict[str, Any] = {}
    out = netstat.samples({"Foo_InErrors": 1.0, "Tcp_InSegs": 2.0}, details)
    assert [s.name for s in out] == ["node_netstat_Tcp_InSegs"]
    assert details["netstat_unknown_fields"] == ["Foo_InErrors"]


SOCKSTAT = """sockets: used 229
TCP: inuse 7 orphan 0 tw 3 alloc 12 mem 2
UDP: inuse 4 mem 1
UDPLITE: inuse 0
RAW: inuse 0
FRAG: inuse 0 memory 0
"""
SOCKSTAT6 = """TCP6: inuse 2
UDP6: inuse 1
UDPLITE6: inuse 0
RAW6: inuse 1
FRAG6: inuse 0 memory 0
"""


def test_sockstat_pages_become_bytes() -> None:
    stats = sockstat.parse_sockstat(SOCKSTAT, page_size=4096)
    stats |= sockstat.parse_sockstat(SOCKSTAT6, page_size=4096)
    got = plain(sockstat.samples(stats, {}))
    assert got["node_sockstat_sockets_used"] == 229
    assert got["node_sockstat_TCP_tw"] == 3
    assert got["node_sockstat_TCP_mem"] == 2
    assert got["node_sockstat_TCP_mem_bytes"] == 8192
    assert got["node_sockstat_UDP_mem_bytes"] == 4096
    assert got["node_sockstat_RAW6_inuse"] == 1
    assert got["node_sockstat_FRAG6_memory"] == 0
    assert set(got) == {m.name for m in sockstat.METRICS}


def test_vmstat_default_fields() -> None:
    text = "nr_free_pages 100\npgpgin 5\npgpgout 6\npswpin 0\npswpout 1\npgfault 99\n" \
           "pgmajfault 3\noom_kill 2\npgsteal_kswapd 8\nworkingset_refault_anon 4\n"
    got = plain(vmstat.parse_vmstat(text, {}))
    assert got == {"node_vmstat_pgpgin": 5, "node_vmstat_pgpgout": 6, "node_vmstat_pswpin": 0,
                   "node_vmstat_pswpout": 1, "node_vmstat_pgfault": 99,
                   "node_vmstat_pgmajfault": 3, "node_vmstat_oom_kill": 2}


def test_filefd() -> None:
    assert plain(filefd.parse_file_nr("1184\t0\t9223372036854775807\n")) == {
        "node_filefd_allocated": 1184, "node_filefd_maximum": float(2**63 - 1)}
    with pytest.raises(ValueError):
        filefd.parse_file_nr("1 2\n")


def test_pressure_microseconds_to_seconds() -> None:
    cpu = "some avg10=0.00 avg60=0.10 avg300=0.05 total=23859589\n" \
          "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
    io = "some avg10=0.00 avg60=0.00 avg300=0.00 total=3330283\n" \
         "full avg10=0.00 avg60=0.00 avg300=0.00 total=2986165\n"
    got = plain(pressure.parse_psi("cpu", cpu) + pressure.parse_psi("io", io))
    assert got == {"node_pressure_cpu_waiting_seconds_total": 23.859589,
                   "node_pressure_io_waiting_seconds_total": 3.330283,
                   "node_pressure_io_stalled_seconds_total": 2.986165}


def test_pressure_absent_without_psi(tmp_path: Path) -> None:
    with pytest.raises(Absent):
        pressure.read(Env(proc=tmp_path), {})


def test_softnet_hex_columns_per_line() -> None:
    text = "0000d5d8 00000002 0000000a 00000000 00000000 00000000 00000000 00000000 00000000 " \
           "00000000 00000000 00000000 00000000\n" \
           "000117d4 00000000 00000001 00000000 00000000 00000000 00000000 00000000 00000000 " \
           "00000000 00000000 00000000 00000001\n"
    got = by_key(softnet.parse_softnet(text))
    assert got[("node_softnet_processed_total", (("cpu", "0"),))] == 0xD5D8
    assert got[("node_softnet_dropped_total", (("cpu", "0"),))] == 2
    assert got[("node_softnet_times_squeezed_total", (("cpu", "0"),))] == 10
    assert got[("node_softnet_processed_total", (("cpu", "1"),))] == 0x117D4


CONNTRACK_STAT = """entries  clashres found new invalid ignore delete chainlength insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart
00000010  00000000 00000003 00000000 00000001 00000005 00000000 00000000 00000002 00000000 00000000 00000000 00000000  00000000 00000000 00000000 0000000a
00000010  00000000 00000001 00000000 00000001 00000005 00000000 00000000 00000002 00000001 00000004 00000000 00000000  00000000 00000000 00000000 00000001
"""  # noqa: E501


def test_conntrack_stat_sums_cpus() -> None:
    got = plain(conntrack.parse_stat(CONNTRACK_STAT))
    assert got == {"node_nf_conntrack_stat_found": 4, "node_nf_conntrack_stat_invalid": 2,
                   "node_nf_conntrack_stat_ignore": 10, "node_nf_conntrack_stat_insert": 4,
                   "node_nf_conntrack_stat_insert_failed": 1, "node_nf_conntrack_stat_drop": 4,
                   "node_nf_conntrack_stat_early_drop": 0,
                   "node_nf_conntrack_stat_search_restart": 11}


def test_conntrack_absent_without_module(tmp_path: Path) -> None:
    with pytest.raises(Absent):
        conntrack.read(Env(proc=tmp_path), {})


UDP = """   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  118: 00000000:0044 00000000:0000 07 00000010:00000200 00:00000000 00000000     0        0 16512 2 0000000000000000 0
  200: 0100007F:0035 00000000:0000 07 00000000:00000001 00:00000000 00000000     0        0 16513 2 0000000000000000 0
"""  # noqa: E501


def test_udp_queues_sum_hex_columns(tmp_path: Path) -> None:
    assert udp_queues.parse_udp(UDP) == (16.0, 0x201)
    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "udp").write_text(UDP)  # IPv6 disabled: no udp6
    got = by_key(udp_queues.read(Env(proc=tmp_path), {}))
    assert got == {("node_udp_queues", (("ip", "v4"), ("queue", "tx"))): 16.0,
                   ("node_udp_queues", (("ip", "v4"), ("queue", "rx"))): 513.0}


def test_schedstat() -> None:
    text = "version 15\ntimestamp 4297299139\ncpu0 0 0 0 0 0 0 2000000000 500000000 77\n" \
           "domain0 00000003 1 2 3\ncpu1 0 0 0 0 0 0 1 2 3\n"
    got = by_key(schedstat.parse_schedstat(text))
    assert got[("node_schedstat_running_seconds_total", (("cpu", "0"),))] == 2.0
    assert got[("node_schedstat_waiting_seconds_total", (("cpu", "0"),))] == 0.5
    assert got[("node_schedstat_timeslices_total", (("cpu", "0"),))] == 77
    assert len(got) == 6


def test_arp_counts_per_device() -> None:
    text = "IP address       HW type     Flags       HW address            Mask     Device\n" \
           "10.0.0.1         0x1         0x2         02:fc:00:00:00:01     *        eth0\n" \
           "10.0.0.2         0x1         0x2         02:fc:00:00:00:02     *        eth0\n" \
           "192.168.1.1      0x1         0x2         02:fc:00:00:00:03     *        wlan0\n"
    assert by_key(arp.parse_arp(text)) == {("node_arp_entries", (("device", "eth0"),)): 2.0,
                                           ("node_arp_entries", (("device", "wlan0"),)): 1.0}


def test_os_release_quoting_and_version() -> None:
    fields = os_release.parse_os_release(
        'PRETTY_NAME="Ubuntu 22.04.4 LTS"\nNAME="Ubuntu"\nVERSION_ID="22.04"\n'
        "VERSION='22.04.4 LTS (Jammy Jellyfish)'\nID=ubuntu\nID_LIKE=debian\n# comment\njunk\n")
    got = by_key(os_release.samples(fields))
    info = dict(next(k for n, k in got if n == "node_os_info"))
    assert info["pretty_name"] == "Ubuntu 22.04.4 LTS" and info["id_like"] == "debian"
    assert info["version"] == "22.04.4 LTS (Jammy Jellyfish)" and info["build_id"] == ""
    assert tuple(info) == os_release._INFO_LABELS
    assert got[("node_os_version", (("id", "ubuntu"), ("id_like", "debian"),
                                    ("name", "Ubuntu")))] == 22.04
    # Rolling releases have no VERSION_ID: node_exporter reports version 0.
    arch = by_key(os_release.samples({"ID": "arch", "NAME": "Arch Linux"}))
    assert arch[("node_os_version", (("id", "arch"), ("id_like", ""),
                                     ("name", "Arch Linux")))] == 0.0


def test_os_release_falls_back_to_usr_lib(tmp_path: Path) -> None:
    (tmp_path / "usr/lib").mkdir(parents=True)
    (tmp_path / "usr/lib/os-release").write_text("ID=alpine\nVERSION_ID=3.19.1\n")
    env = Env(etc=tmp_path / "etc", usr_lib=tmp_path / "usr/lib")
    got = {s.name: s for s in os_release.read(env, {})}
    assert got["node_os_version"].value == 3.19
    with pytest.raises(Absent):
        os_release.read(Env(etc=tmp_path / "x", usr_lib=tmp_path / "y"), {})


def test_uname_labels() -> None:
    (s,) = uname.read(Env(), {})
    labels = dict(s.labels)
    assert tuple(labels) == ("domainname", "machine", "nodename", "release", "sysname",
                             "version")
    assert labels["sysname"] == "Linux" and labels["nodename"] and s.value == 1.0


def test_entropy_and_timex_on_this_kernel() -> None:
    got = plain(entropy.read(Env(), {}))
    assert got["node_entropy_pool_size_bits"] >= 256
    tx = plain(timex.read(Env(), {}))
    assert tx["node_timex_tick_seconds"] > 0
    assert tx["node_timex_sync_status"] in (0.0, 1.0)


def test_timex_arithmetic_matches_node_exporter() -> None:
    tx = timex.Timex(offset=1500, freq=65536 * 12, maxerror=250000, esterror=1000,
                     status=0x2001, constant=7, tick=10000, ppsfreq=0, jitter=2000,
                     tai=37, calcnt=4)
    got = plain(timex.samples(0, tx))
    assert got["node_timex_offset_seconds"] == 1500 / 1e9  # STA_NANO set
    assert got["node_timex_frequency_adjustment_ratio"] == 1 + 12 / 1e6
    assert got["node_timex_maxerror_seconds"] == 0.25
    assert got["node_timex_pps_jitter_seconds"] == 2e-6
    assert got["node_timex_sync_status"] == 1.0
    assert got["node_timex_tai_offset_seconds"] == 37
    assert got["node_timex_pps_calibration_total"] == 4
    assert plain(timex.samples(5, tx))["node_timex_sync_status"] == 0.0


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_netclass_skips_attributes_the_kernel_refuses(tmp_path: Path) -> None:
    eth = tmp_path / "class/net/eth0"
    for name, value in {"address": "02:fc:00:00:00:01", "broadcast": "ff:ff:ff:ff:ff:ff",
                        "duplex": "full", "ifalias": "", "operstate": "up", "mtu": "1500",
                        "speed": "1000", "carrier": "1", "carrier_changes": "3",
                        "flags": "0x1003", "dev_id": "0x0", "ifindex": "2", "type": "1",
                        "tx_queue_len": "1000"}.items():
        write(eth / name, value + "\n")
    lo = tmp_path / "class/net/lo"
    write(lo / "operstate", "unknown\n")
    write(lo / "mtu", "65536\n")
    (lo / "speed").mkdir()  # unreadable like EINVAL: skipped
    write(tmp_path / "class/net/bonding_masters", "bond0\n")
    got = by_key(netclass.read(Env(sys=tmp_path), {}))
    dev = (("device", "eth0"),)
    assert got[("node_network_up", dev)] == 1.0
    assert got[("node_network_speed_bytes", dev)] == 125_000_000
    assert got[("node_network_flags", dev)] == 0x1003
    assert got[("node_network_carrier_changes_total", dev)] == 3
    assert got[("node_network_transmit_queue_length", dev)] == 1000
    assert got[("node_network_up", (("device", "lo"),))] == 0.0
    assert ("node_network_speed_bytes", (("device", "lo"),)) not in got
    assert ("node_network_carrier", (("device", "lo"),)) not in got
    info = [dict(k) for n, k in got if n == "node_network_info"]
    assert {"address": "02:fc:00:00:00:01", "broadcast": "ff:ff:ff:ff:ff:ff", "device": "eth0",
            "duplex": "full", "ifalias": "", "operstate": "up"} in info
    assert len(info) == 2  # bonding_masters is not an interface


def test_cpufreq_and_thermal_zone_from_sysfs(tmp_path: Path) -> None:
    write(tmp_path / "devices/system/cpu/cpu0/cpufreq/scaling_cur_freq", "2400000\n")
    write(tmp_path / "devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", "3000000\n")
    (tmp_path / "devices/system/cpu/cpu1").mkdir()  # no cpufreq: VM-style CPU
    got = by_key(cpufreq.read(Env(sys=tmp_path), {}))
    assert got == {("node_cpu_scaling_frequency_hertz", (("cpu", "0"),)): 2.4e9,
                   ("node_cpu_frequency_max_hertz", (("cpu", "0"),)): 3e9}
    write(tmp_path / "class/thermal/thermal_zone0/temp", "45500\n")
    write(tmp_path / "class/thermal/thermal_zone0/type", "x86_pkg_temp\n")
    write(tmp_path / "class/thermal/cooling_device0/type", "Processor\n")
    write(tmp_path / "class/thermal/cooling_device0/cur_state", "0\n")
    write(tmp_path / "class/thermal/cooling_device0/max_state", "3\n")
    got = by_key(thermal_zone.read(Env(sys=tmp_path), {}))
    assert got[("node_thermal_zone_temp", (("zone", "0"), ("type", "x86_pkg_temp")))] == 45.5
    assert got[("node_cooling_device_max_state", (("name", "0"), ("type", "Processor")))] == 3
    with pytest.raises(Absent):
        thermal_zone.read(Env(sys=tmp_path / "none"), {})


def test_every_part_is_registered_and_declared() -> None:
    names = [p.name for p in PARTS]
    assert len(set(names)) == len(names)
    assert set(names) <= set(COLLECTOR_NAMES)
    declared = {m.name for m in HostCollector.METRICS}
    for p in PARTS:
        assert {m.name for m in p.metrics} <= declared, p.name


def run(cfg: HostConfig) -> Any:
    return asyncio.run(HostCollector(cfg).collect(Context(Deadline(5), "s", "host")))


def test_collectors_switch_parts_off() -> None:
    obs = run(HostConfig(collectors=["uname", "loadavg"]))
    names = {s.name for s in obs.samples}
    assert "node_uname_info" in names and "node_load1" in names
    assert not any(n.startswith(("node_cpu_", "node_netstat_", "node_filesystem_"))
                   for n in names)
    parts = {dict(s.labels)["collector"] for s in obs.samples
             if s.name == "node_scrape_collector_success"}
    assert parts == {"uname", "loadavg"}


def test_unknown_collector_name_is_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown collector.*netstatt"):
        HostConfig(collectors=["netstatt"])


def test_missing_kernel_files_are_quietly_absent(tmp_path: Path) -> None:
    """A kernel without PSI, conntrack, IPv6, sysfs...: success 0 per part, run still ok."""
    proc = tmp_path / "proc"
    write(proc / "loadavg", "0.50 0.25 0.10 1/100 1234\n")
    write(proc / "uptime", "1.0 1.0\n")
    parts = [p.name for p in PARTS
             if p.name not in ("uname", "os", "timex", "cpufreq", "selinux")]
    obs = run(HostConfig(procfs=proc, sysfs=tmp_path / "nosys", rootfs=tmp_path,
                         collectors=["loadavg", *parts]))
    assert obs.success, obs.reason
    ok = {dict(s.labels)["collector"]: s.value for s in obs.samples
          if s.name == "node_scrape_collector_success"}
    assert ok["loadavg"] == 1.0
    assert all(ok[p] == 0.0 for p in parts), ok
    assert set(obs.details["absent_parts"]) == set(parts)


def test_hwmon_chip_names_and_elements(tmp_path: Path) -> None:
    """A coretemp chip (platform device) and an ACPI chip with only a name file."""
    dev = tmp_path / "devices/platform/coretemp.0"
    hw0 = dev / "hwmon/hwmon1"
    for name, value in {"name": "coretemp", "temp1_input": "48000", "temp1_crit": "100000",
                        "temp1_crit_alarm": "0", "temp1_label": "Package id 0",
                        "temp1_max": "84000", "temp1_weird": "1"}.items():
        write(hw0 / name, value + "\n")
    (hw0 / "device").symlink_to(dev)
    hw1 = tmp_path / "class/hwmon/hwmon0"
    write(hw1 / "name", "acpitz\n")
    write(hw1 / "temp1_input", "27800\n")
    write(hw1 / "fan1_input", "1200\n")
    write(hw1 / "in0_input", "1100\n")
    (tmp_path / "class/hwmon/hwmon1").symlink_to(hw0)
    details: dict[str, Any] = {}
    got = by_key(hwmon.read(Env(sys=tmp_path), details))
    core = (("chip", "platform_coretemp_0"), ("sensor", "temp1"))
    assert got[("node_hwmon_temp_celsius", core)] == 48.0
    assert got[("node_hwmon_temp_crit_celsius", core)] == 100.0
    assert got[("node_hwmon_temp_crit_alarm_celsius", core)] == 0.0
    assert got[("node_hwmon_temp_max_celsius", core)] == 84.0
    assert got[("node_hwmon_sensor_label", (("chip", "platform_coretemp_0"), ("sensor", "temp1"),
                                            ("label", "Package id 0")))] == 1.0
    assert got[("node_hwmon_chip_names", (("chip", "platform_coretemp_0"),
                                          ("chip_name", "coretemp")))] == 1.0
    acpi = (("chip", "acpitz"), ("sensor", "temp1"))
    assert got[("node_hwmon_temp_celsius", acpi)] == 27.8
    assert got[("node_hwmon_fan_rpm", (("chip", "acpitz"), ("sensor", "fan1")))] == 1200
    assert got[("node_hwmon_in_volts", (("chip", "acpitz"), ("sensor", "in0")))] == 1.1
    assert details["hwmon_undeclared"] == ["platform_coretemp_0/temp1_weird"]
    with pytest.raises(Absent):
        hwmon.read(Env(sys=tmp_path / "none"), {})


def test_named_processes_up_count_and_restarts(tmp_path: Path) -> None:
    """A real service binary (a copy of sleep under a unique name) started, stopped, restarted."""
    import shutil
    import subprocess
    import uuid

    name = f"svc{uuid.uuid4().hex[:10]}"  # /proc/PID/comm keeps 15 characters
    binary = tmp_path / name
    shutil.copy("/bin/sleep", binary)
    cfg = HostConfig(collectors=["loadavg"], processes=[name, "no-such-daemon"])
    collector = HostCollector(cfg)

    def values() -> dict[tuple[str, str], float]:
        obs = asyncio.run(collector.collect(Context(Deadline(5), "s", "host")))
        assert obs.success, obs.reason
        return {(s.name, dict(s.labels)["process"]): s.value for s in obs.samples
                if s.name.startswith("pantau_host_process_")}

    procs = [subprocess.Popen([str(binary), "60"]) for _ in range(2)]
    try:
        got = values()
        assert got[("pantau_host_process_up", name)] == 1.0
        assert got[("pantau_host_process_count", name)] == 2.0
        assert got[("pantau_host_process_resident_memory_bytes", name)] > 0
        assert got[("pantau_host_process_restarts_total", name)] == 0.0
        assert got[("pantau_host_process_up", "no-such-daemon")] == 0.0
        assert ("pantau_host_process_cpu_seconds_total", "no-such-daemon") not in got
        for p in procs:
            p.kill()
            p.wait()
        got = values()
        assert got[("pantau_host_process_up", name)] == 0.0
        procs = [subprocess.Popen([str(binary), "60"])]
        got = values()
        assert got[("pantau_host_process_up", name)] == 1.0
        assert got[("pantau_host_process_restarts_total", name)] == 1.0
    finally:
        for p in procs:
            p.kill()
            p.wait()


def test_selinux_modes(tmp_path: Path) -> None:
    assert plain(selinux.read(Env(sys=tmp_path, etc=tmp_path), {})) == {
        "node_selinux_enabled": 0.0}
    write(tmp_path / "fs/selinux/enforce", "0\n")
    write(tmp_path / "selinux/config", "# comment\nSELINUX=enforcing\nSELINUXTYPE=targeted\n")
    assert plain(selinux.read(Env(sys=tmp_path, etc=tmp_path), {})) == {
        "node_selinux_enabled": 1.0, "node_selinux_current_mode": 0.0,
        "node_selinux_config_mode": 1.0}


def test_disk_info_with_and_without_udev(tmp_path: Path) -> None:
    from collectors.host.collector import disk_info

    text = " 254 0 vda 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n" \
           "   7 0 loop0 1 2 3 4 5 6 7 8 9 10 11\n" \
           "   8 0 sda 1 2 3 4 5 6 7 8 9 10 11\n"
    write(tmp_path / "b8:0", "S:disk/by-id/ata-X\nE:ID_MODEL=Samsung_SSD_870\n"
          "E:ID_SERIAL_SHORT=S5Y1\nE:ID_PATH=pci-0000:00:17.0-ata-1\nE:ID_WWN=0x5002538\n"
          "E:ID_REVISION=SVT01B6Q\n")
    import re

    got = [dict(s.labels) for s in disk_info(text, re.compile(r"^loop\d+$"), tmp_path)]
    assert got == [
        {"device": "vda", "major": "254", "minor": "0", "path": "", "wwn": "", "model": "",
         "serial": "", "revision": ""},
        {"device": "sda", "major": "8", "minor": "0", "path": "pci-0000:00:17.0-ata-1",
         "wwn": "0x5002538", "model": "Samsung_SSD_870", "serial": "S5Y1",
         "revision": "SVT01B6Q"},
    ]
