"""A device that answers a walk with ever-increasing OIDs forever cannot grow the agent's
memory: the walk stops at max_varbinds with a reason saying so."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator

import pytest

from collectors.base import Deadline
from collectors.snmp.v2c import V2cTarget, encode_request
from collectors.snmp.walk import SnmpError

COMMUNITY = b"public"
ROOT = (1, 3, 6, 1, 2, 1, 2, 2, 1, 10)


def _request_id(msg: bytes) -> int:
    prefix = b"\x02\x01\x01\x04" + bytes([len(COMMUNITY)]) + COMMUNITY
    pos = msg.index(prefix) + len(prefix) + 1  # past the PDU tag
    length = msg[pos]
    pos += 1 + (length & 0x7F if length & 0x80 else 0)
    assert msg[pos] == 0x02
    n = msg[pos + 1]
    return int.from_bytes(msg[pos + 2:pos + 2 + n], "big", signed=True)


def _response(rid: int, oids: list[tuple[int, ...]]) -> bytes:
    msg = bytearray(encode_request(COMMUNITY, rid, oids))  # a GetRequest with NULL values
    prefix = b"\x02\x01\x01\x04" + bytes([len(COMMUNITY)]) + COMMUNITY
    pos = bytes(msg).index(prefix) + len(prefix)
    assert msg[pos] == 0xA0
    msg[pos] = 0xA2  # ...turned into a Response
    return bytes(msg)


@pytest.fixture
def endless_agent() -> Iterator[int]:
    """An SNMP agent whose ifInOctets column never ends: every answer brings 25 new rows."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()
    counter = [0]

    def serve() -> None:
        while not stop.is_set():
            try:
                data, addr = sock.recvfrom(65535)
            except OSError:
                continue
            rows = [(*ROOT, counter[0] + i) for i in range(1, 26)]
            counter[0] += 25
            sock.sendto(_response(_request_id(data), rows), addr)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield int(sock.getsockname()[1])
    stop.set()
    t.join(5)
    sock.close()


def test_endless_walk_stops_at_max_varbinds(endless_agent: int) -> None:
    target = V2cTarget("127.0.0.1", endless_agent, COMMUNITY.decode(), 1.0, 0, 25)
    target.max_varbinds = 2000  # SnmpDevice.max_varbinds in a config

    async def walk() -> None:
        try:
            await target.walk(ROOT, Deadline(8.0))
        finally:
            target.close()

    tracemalloc.start()
    t0 = time.monotonic()
    try:
        with pytest.raises(SnmpError, match="max_varbinds 2000"):
            asyncio.run(walk())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.monotonic() - t0 < 5
    assert peak < 16 << 20


@pytest.mark.parametrize("answer", ["garbage", "wrong-id"])
def test_garbage_is_not_called_wrong_community(answer: str) -> None:
    """A device that answers, but with garbage or to another request id, is not a device that
    stays silent: the reason must not send the admin to check the community."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, addr = sock.recvfrom(65535)
            except OSError:
                continue
            if answer == "garbage":
                sock.sendto(b"\x30\x03\x02\x01", addr)
            else:
                sock.sendto(_response(_request_id(data) + 1, [ROOT]), addr)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    target = V2cTarget("127.0.0.1", int(sock.getsockname()[1]), COMMUNITY.decode(), 0.5, 1)

    async def get() -> None:
        try:
            await target.get([ROOT], Deadline(3.0))
        finally:
            target.close()

    try:
        with pytest.raises(SnmpError) as e:
            asyncio.run(get())
    finally:
        stop.set()
        t.join(5)
        sock.close()
    assert "community" not in str(e.value).split("not a community")[0], str(e.value)
    assert "garbage or a wrong request id" in str(e.value)
