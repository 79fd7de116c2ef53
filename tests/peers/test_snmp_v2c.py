"""The pysnmp-free v2c path against a real net-snmp snmpd on loopback: same data as net-snmp's own
snmpbulkwalk, oversized replies answered by halving max-repetitions, dead and silent devices
bounded, many devices sharing one socket without waiting for each other."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest

from collectors.base import Deadline
from collectors.snmp import SnmpError, convert
from collectors.snmp.v2c import V2cTarget
from tests.helpers.snmpd import free_udp_port, running_snmpd

EXTEND_ROWS, EXTEND_BYTES = 30, 3000
NS_EXTEND_OUTPUT_FULL = (1, 3, 6, 1, 4, 1, 8072, 1, 3, 2, 3, 1, 2)
IF_TABLE = (1, 3, 6, 1, 2, 1, 2, 2, 1)


@pytest.fixture(scope="module")
def snmpd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    lines = ["rocommunity public 127.0.0.1", "maxGetbulkResponses -1", "maxGetbulkRepeats -1"]
    # 30 rows of 3000 bytes: a GETBULK for all of them needs ~90 kB, more than a datagram
    lines += [f"extend big{i} /usr/bin/printf %0{EXTEND_BYTES}d {i}"
              for i in range(EXTEND_ROWS)]
    with running_snmpd(tmp_path_factory.mktemp("snmpd-v2c"), lines) as s:
        yield s.port


def _netsnmp_walk(port: int, oid: str) -> dict[tuple[int, ...], str]:
    exe = shutil.which("snmpbulkwalk")
    assert exe, "snmpbulkwalk (Debian package snmp) missing"
    r = subprocess.run([exe, "-v2c", "-c", "public", "-On", "-Oq", "-Oe", "-Ot", "-M",
                        "/nonexistent", f"127.0.0.1:{port}", oid],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    out = {}
    for line in r.stdout.splitlines():
        oid_text, _, value = line.partition(" ")
        out[tuple(int(x) for x in oid_text.strip(".").split("."))] = value.strip().strip('"')
    return out


def test_if_table_same_as_net_snmp(snmpd: int) -> None:
    theirs = _netsnmp_walk(snmpd, "1.3.6.1.2.1.2.2.1")

    async def walk() -> dict[tuple[int, ...], object]:
        t = V2cTarget("127.0.0.1", snmpd, "public", 2.0, 1, 25)
        try:
            cols = [(*IF_TABLE, c) for c in range(1, 23)]
            got = await t.walk_columns(cols, Deadline(10))
            return {(*c, *idx): v for c, rows in got.items() for idx, v in rows.items()}
        finally:
            t.close()

    ours = asyncio.run(walk())
    assert set(ours) == set(theirs)
    assert len(ours) > 20
    for oid, value in ours.items():
        col = oid[len(IF_TABLE)]
        if col in (1, 2, 3, 4, 5, 7, 8):  # stable columns: index, descr, type, mtu, speed, status
            assert str(convert(value)).removesuffix(".0") == theirs[oid], oid


def test_oversized_reply_halves_max_repetitions(snmpd: int) -> None:
    async def walk() -> tuple[dict[tuple[int, ...], object], int, int]:
        t = V2cTarget("127.0.0.1", snmpd, "public", 1.0, 0, 30)
        try:
            await t.get([(1, 3, 6, 1, 2, 1, 1, 3, 0)], Deadline(5))  # the device is alive
            rows = await t.walk(NS_EXTEND_OUTPUT_FULL, Deadline(20))
            return rows, t.max_repetitions, t.shrunk
        finally:
            t.close()

    rows, reps, shrunk = asyncio.run(walk())
    assert shrunk >= 1 and reps <= 15  # 30 x 3 kB cannot be sent in one datagram
    assert len(rows) == EXTEND_ROWS
    assert sorted(str(convert(v)) for v in rows.values()) == sorted(
        f"{i:0{EXTEND_BYTES}d}" for i in range(EXTEND_ROWS))


def test_dead_and_wrong_community_fail_fast_without_halving(snmpd: int) -> None:
    dead_port = free_udp_port()  # nothing listens there

    async def run() -> list[tuple[str, float, int, int]]:
        out = []
        for port, community in ((dead_port, "public"), (snmpd, "not-public")):
            t = V2cTarget("127.0.0.1", port, community, 0.5, 1, 25)
            t0 = time.monotonic()
            try:
                await t.walk(IF_TABLE, Deadline(30))
                out.append(("ok", 0.0, 0, 0))
            except SnmpError as e:
                out.append((str(e), time.monotonic() - t0, t.max_repetitions, t.shrunk))
            finally:
                t.close()
        return out

    for reason, took, reps, shrunk in asyncio.run(run()):
        assert reason.startswith("no response"), reason
        assert (reps, shrunk) == (25, 0)
        assert took < 0.5 * 2 + 1.0  # timeout x (retries+1), plus scheduling slack


def test_one_dead_device_does_not_delay_the_others(snmpd: int) -> None:
    dead_port = free_udp_port()

    async def run() -> list[str]:
        targets = [V2cTarget("127.0.0.1", snmpd, "public", 2.0, 1, 25) for _ in range(20)]
        dead = V2cTarget("127.0.0.1", dead_port, "public", 2.0, 1, 25)
        order: list[str] = []

        async def poll(name: str, t: V2cTarget) -> None:
            try:
                rows = await t.walk((*IF_TABLE, 2), Deadline(10))
                order.append(f"ok:{len(rows)}" if rows else "empty")
            except SnmpError:
                order.append(name)
            finally:
                t.close()

        await asyncio.gather(poll("dead", dead), *(poll(f"t{i}", t)
                                                    for i, t in enumerate(targets)))
        return order

    order = asyncio.run(run())
    # the dead device (4 s of timeouts) finishes last; the 20 live ones all got their table
    assert order[-1] == "dead"
    assert len(set(order[:-1])) == 1 and order[0].startswith("ok:")
