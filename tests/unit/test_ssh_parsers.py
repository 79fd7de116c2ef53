"""Linux /proc + df and RouterOS `print` parsers, on recorded outputs (6.x and 7.x) and on
malformed ones: values exact, errors one clear line, never an unhandled exception."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.ssh.parsers import (
    SECTION_MARK,
    ParseError,
    merge_interfaces,
    parse_df,
    parse_linux,
    parse_meminfo,
    parse_mounts,
    parse_ros_duration,
    parse_ros_interface_detail,
    parse_ros_interface_stats,
    parse_ros_resource,
    parse_ros_size,
)

DATA = Path(__file__).resolve().parents[1] / "testdata" / "routeros"


def read(name: str) -> str:
    return (DATA / name).read_bytes().decode("utf-8", "replace")


# -- RouterOS: /system resource print ---------------------------------------------------------

RESOURCES = {
    "v6.40.9-system-resource-print.txt": (3 * 86400 + 14 * 3600 + 52 * 60 + 4, 0.12,
                                          29636 * 1024, 65536 * 1024, "6.40.9", "RB951Ui-2HnD"),
    "v6.48.6-system-resource-print.txt": (2 * 604800 + 3 * 86400 + 4 * 3600 + 5 * 60 + 6, 0.03,
                                          194.5 * 2**20, 256 * 2**20, "6.48.6", "hAP ac^2"),
    "v7.12.1-system-resource-print.txt": (604800 + 2 * 86400 + 3 * 3600 + 45 * 60 + 12, 0.01,
                                          855.1 * 2**20, 1024 * 2**20, "7.12.1", "RB5009UG+S+"),
    "v7.16-system-resource-print.txt": (6 * 3600 + 31 * 60 + 5, 1.0, 96.4 * 2**20, 256 * 2**20,
                                        "7.16", "hAP ax lite"),
}


@pytest.mark.parametrize("name", sorted(RESOURCES))
def test_resource_versions(name: str) -> None:
    r = parse_ros_resource(read(name))
    up, load, free, total, version, board = RESOURCES[name]
    assert r.uptime_seconds == up
    assert r.cpu_load_ratio == pytest.approx(load)
    assert r.memory_free_bytes == pytest.approx(free)
    assert r.memory_total_bytes == pytest.approx(total)
    assert (r.version, r.board) == (version, board)


# -- RouterOS: /interface print stats --------------------------------------------------------


def test_stats_v6_grouped_numbers_and_comment_rows() -> None:
    ifs = {i.name: i for i in parse_ros_interface_stats(read("v6.48.6-interface-print-stats.txt"))}
    assert list(ifs) == ["ether1-gateway", "ether2-master", "ether3", "ether4", "wlan1",
                         "bridge-local", "pppoe-out1"]
    assert ifs["ether1-gateway"].rx_bytes == 11_945_627_766
    assert ifs["ether1-gateway"].tx_packets == 5_093_618
    assert ifs["ether2-master"].tx_bytes == 2_155_611_004
    # the comment line ";;; ISP Telkom IndiHome" carries the flags; data is on the next line
    assert ifs["pppoe-out1"].rx_bytes == 11_598_325_411 and ifs["pppoe-out1"].running
    assert not ifs["ether3"].running and ifs["ether4"].disabled


def test_stats_v7_single_space_between_columns() -> None:
    ifs = {i.name: i for i in parse_ros_interface_stats(read("v7.12.1-interface-print-stats.txt"))}
    # "1 925 146 217 16 030 744 321" is two numbers: cut at the header's right edge
    assert ifs["ether2"].rx_bytes == 1_925_146_217
    assert ifs["ether2"].tx_bytes == 16_030_744_321
    assert ifs["ether1-wan"].rx_packets == 186_574_436
    assert ifs["ether1-wan"].tx_packets == 61_234_568
    assert ifs["sfp-sfpplus1"].rx_bytes == 18_538_279_393
    assert ifs["vlan100-cctv"].tx_packets == 88
    assert ifs["ether2"].flags == "RS"


@pytest.mark.parametrize("name,count", [("v6.40.9-interface-print-stats.txt", 3),
                                        ("v7.16-interface-print-stats.txt", 3)])
def test_stats_other_versions(name: str, count: int) -> None:
    ifs = parse_ros_interface_stats(read(name))
    assert len(ifs) == count
    assert all(i.rx_bytes is not None and i.tx_bytes is not None for i in ifs)


def test_detail_and_merge() -> None:
    for version, downs in (("v6.48.6", {"ether1-gateway": 3, "pppoe-out1": 1}),
                           ("v7.12.1", {"ether1-wan": 7, "sfp-sfpplus1": 2})):
        detail = parse_ros_interface_detail(read(f"{version}-interface-print-detail.txt"))
        stats = parse_ros_interface_stats(read(f"{version}-interface-print-stats.txt"))
        merged = {i.name: i for i in merge_interfaces(stats, detail)}
        assert set(merged) == {d.name for d in detail}
        for name, n in downs.items():
            assert merged[name].link_downs == n
        assert merged[next(iter(downs))].type == "ether"
    d6 = {i.name: i for i in parse_ros_interface_detail(read("v6.48.6-interface-print-detail.txt"))}
    assert d6["pppoe-out1"].type == "pppoe-out" and d6["ether4"].disabled


MALFORMED = {
    "malformed-bad-command.txt": (parse_ros_interface_stats, "router said 'bad command name"),
    "malformed-binary-garbage.txt": (parse_ros_interface_stats, "no column header"),
    "malformed-stats-no-header.txt": (parse_ros_interface_stats, "no column header"),
    "malformed-stats-truncated.txt": (parse_ros_interface_stats, "line 6"),
    "malformed-stats-garbage-number.txt": (parse_ros_interface_stats,
                                           "TX-BYTE value '2 155 6x1 004' is not a number"),
    "malformed-resource-no-cpu-load.txt": (parse_ros_resource, "missing cpu-load"),
    "malformed-resource-bad-uptime.txt": (parse_ros_resource, "cannot read duration 'soon'"),
    "malformed-detail-no-kv.txt": (parse_ros_interface_detail, "line 2"),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_gives_one_clear_line(name: str) -> None:
    fn, msg = MALFORMED[name]
    with pytest.raises(ParseError) as e:
        fn(read(name))
    assert msg in str(e.value)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("fn", [parse_ros_resource, parse_ros_interface_stats,
                                parse_ros_interface_detail])
@pytest.mark.parametrize("name", sorted(p.name for p in DATA.glob("*.txt")))
def test_every_parser_on_every_file_never_crashes(fn, name: str) -> None:  # type: ignore[no-untyped-def]
    """Feeding any recorded output to any parser returns or raises ParseError, nothing else."""
    text = read(name)
    for variant in (text, text[: len(text) // 2], text.replace("  ", " "), ""):
        try:
            fn(variant)
        except ParseError as e:
            assert str(e) and "\n" not in str(e)


def test_durations_and_sizes() -> None:
    assert parse_ros_duration("2w3d4h5m6s") == 1483506
    assert parse_ros_duration("45m12s") == 2712
    assert parse_ros_duration("150ms") == 0.15
    assert parse_ros_duration("3d23:14:55") == 3 * 86400 + 23 * 3600 + 14 * 60 + 55
    assert parse_ros_size("1052.0KiB") == 1052 * 1024
    with pytest.raises(ParseError):
        parse_ros_duration("")
    with pytest.raises(ParseError):
        parse_ros_size("12 parsecs")


# -- Linux ----------------------------------------------------------------------------------

LINUX = (
    "0.52 0.58 0.59 2/1000 12345\n" + SECTION_MARK + "\n"
    "MemTotal:        8041184 kB\nMemFree:          402112 kB\nMemAvailable:    5120000 kB\n"
    + SECTION_MARK + "\n" "12345.67 23456.78\n" + SECTION_MARK + "\n"
    "/dev/sda1 / ext4 rw,relatime 0 0\nproc /proc proc rw 0 0\n"
    "/dev/sdb1 /srv/data\\040arsip xfs rw 0 0\ntmpfs /run tmpfs rw 0 0\n"
    + SECTION_MARK + "\n"
    "Filesystem     1024-blocks     Used Available Capacity Mounted on\n"
    "/dev/sda1        100000000 40000000  55000000      43% /\n"
    "/dev/sdb1          2000000  1000000   1000000      50% /srv/data arsip\n"
    "tmpfs               819000     1000    818000       1% /run\n"
    "/dev/sda1        100000000 40000000  55000000      43% /\n"
)


def test_linux_full_output() -> None:
    st = parse_linux(LINUX)
    assert (st.load1, st.load5, st.load15) == (0.52, 0.58, 0.59)
    assert st.memory_total_bytes == 8041184 * 1024
    assert st.memory_available_bytes == 5120000 * 1024
    assert st.uptime_seconds == 12345.67
    fs = {f.mountpoint: f for f in st.filesystems}
    assert set(fs) == {"/", "/srv/data arsip", "/run"}  # duplicate / counted once
    assert fs["/"].size_bytes == 100000000 * 1024 and fs["/"].avail_bytes == 55000000 * 1024
    assert fs["/srv/data arsip"].fstype == "xfs" and fs["/run"].fstype == "tmpfs"


def test_linux_old_kernel_without_memavailable() -> None:
    total, avail = parse_meminfo("MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\n"
                                 "Cached: 200 kB\n")
    assert (total, avail) == (1000 * 1024, 350 * 1024)


@pytest.mark.parametrize("text,msg", [
    ("not linux at all", "expected 5 sections"),
    (LINUX.replace("0.52 0.58 0.59", "x y z"), "/proc/loadavg"),
    (LINUX.replace("MemTotal:        8041184 kB\n", ""), "MemTotal missing"),
    (LINUX.replace("12345.67 23456.78", ""), "/proc/uptime"),
    (LINUX.replace("Filesystem     1024", "Dateisystem 1K"), "unexpected header"),
    (LINUX.replace("40000000  55000000", "40000000  lots"), "non-numeric"),
])
def test_linux_malformed(text: str, msg: str) -> None:
    with pytest.raises(ParseError, match=msg):
        parse_linux(text)


def test_df_skips_pseudo_filesystems() -> None:
    mounts = parse_mounts("proc /proc proc rw 0 0\n/dev/sda1 / ext4 rw 0 0\n")
    out = parse_df("Filesystem 1024-blocks Used Available Capacity Mounted on\n"
                   "proc 0 0 0 - /proc\n/dev/sda1 10 5 5 50% /\n", mounts)
    assert [f.mountpoint for f in out] == ["/"]


def test_random_mutations_never_crash() -> None:
    """Seeded fuzz: drop/duplicate lines, flip characters; only ParseError may escape."""
    import random

    rng = random.Random(5)
    texts = [read(p.name) for p in sorted(DATA.glob("v*.txt"))] + [LINUX]
    parsers = [parse_ros_resource, parse_ros_interface_stats, parse_ros_interface_detail,
               parse_linux]
    for _ in range(1500):
        lines = rng.choice(texts).split("\n")
        op = rng.randrange(3)
        if op == 0 and lines:
            del lines[rng.randrange(len(lines))]
        elif op == 1 and lines:
            i = rng.randrange(len(lines))
            lines.insert(i, lines[i])
        text = "\n".join(lines)
        if text:
            i = rng.randrange(len(text))
            text = text[:i] + rng.choice("x9 =\"\t;#:") + text[i + 1:]
        for fn in parsers:
            try:
                fn(text)
            except ParseError as e:
                assert str(e) and "\n" not in str(e)
