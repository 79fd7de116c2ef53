"""One ICMP socket per address family for the whole agent, with an id/sequence matcher.

icmplib's multiping opens a socket per host: a sweep of 1,000 hosts x 3 pings cost 4.6 s of CPU
where fping needs 0.17 s. Here every echo request goes out of one shared socket, a single reader
registered with the event loop dispatches every reply to the waiting request by its sequence
number (and, on raw sockets, our identifier), so the cost per packet is a struct.pack, a sendto
and a dict lookup.

Two ways to ping, detected at start:
- raw: SOCK_RAW, needs root or CAP_NET_RAW; we pick the identifier and see all ICMP traffic,
  so replies are filtered by identifier.
- dgram: SOCK_DGRAM "ping sockets", allowed without privileges for the groups listed in
  net.ipv4.ping_group_range; the kernel rewrites the identifier to the socket's port and only
  delivers our own replies.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import socket
import struct
import time
import weakref
from dataclasses import dataclass, field
from typing import Literal

log = logging.getLogger(__name__)

Mode = Literal["raw", "dgram", "none"]
ICMP_ECHO: dict[int, tuple[int, int]] = {
    socket.AF_INET: (8, 0), socket.AF_INET6: (128, 129),
}  # (request, reply)
_PROTO: dict[int, int] = {
    socket.AF_INET: socket.IPPROTO_ICMP, socket.AF_INET6: socket.IPPROTO_ICMPV6,
}
_MAGIC = b"pantau\x00\x00"


class PingUnavailable(RuntimeError):
    """Neither a raw nor a datagram ICMP socket can be opened: say how to fix it."""


NO_ICMP_HELP = (
    "cannot open an ICMP socket: run pantau as root, give it CAP_NET_RAW "
    "(systemd: AmbientCapabilities=CAP_NET_RAW; or setcap cap_net_raw+ep on the python binary), "
    "or allow unprivileged ping sockets for its group with "
    "sysctl -w net.ipv4.ping_group_range='0 2147483647'"
)


def _open(family: int, mode: Mode) -> socket.socket:
    kind = socket.SOCK_RAW if mode == "raw" else socket.SOCK_DGRAM
    sock = socket.socket(family, kind, _PROTO[family])
    sock.setblocking(False)
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    return sock


def detect_mode(family: int = socket.AF_INET) -> Mode:
    """raw if we may, else dgram if the kernel allows it for us, else none."""
    for mode in ("raw", "dgram"):
        try:
            _open(family, mode).close()
            return mode
        except OSError:
            continue
    return "none"


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


@dataclass
class _Waiter:
    future: asyncio.Future[float]
    sent: float
    address: str


@dataclass
class _Family:
    family: int
    sock: socket.socket
    mode: Mode
    ident: int
    waiters: dict[int, _Waiter] = field(default_factory=dict)


class Pinger:
    """Shared echo engine for one event loop. Use `get_pinger()`."""

    def __init__(self, payload_size: int = 56) -> None:
        self.payload_size = max(len(_MAGIC) + 8, payload_size)
        self._families: dict[int, _Family] = {}
        self._seq = 0
        self.sent = 0
        self.received = 0
        self.stray = 0

    def mode(self, family: int = socket.AF_INET) -> Mode:
        fam = self._families.get(family)
        return fam.mode if fam else detect_mode(family)

    def _family(self, family: int) -> _Family:
        fam = self._families.get(family)
        if fam is not None:
            return fam
        last: OSError | None = None
        for mode in ("raw", "dgram"):
            try:
                sock = _open(family, mode)
            except OSError as e:
                last = e
                continue
            if mode == "dgram":
                sock.bind(("::", 0) if family == socket.AF_INET6 else ("0.0.0.0", 0))
                ident = sock.getsockname()[1] & 0xFFFF
            else:
                ident = os.getpid() & 0xFFFF
            fam = _Family(family, sock, mode, ident)
            asyncio.get_running_loop().add_reader(sock.fileno(), self._on_readable, fam)
            self._families[family] = fam
            log.info("ICMP%s: using %s sockets", "v6" if family == socket.AF_INET6 else "v4",
                     mode)
            return fam
        raise PingUnavailable(f"{NO_ICMP_HELP} ({last})")

    def _next_seq(self, fam: _Family) -> int:
        for _ in range(65536):
            self._seq = (self._seq + 1) & 0xFFFF
            if self._seq not in fam.waiters:
                return self._seq
        raise RuntimeError("65536 echo requests outstanding")

    def _packet(self, fam: _Family, seq: int) -> bytes:
        req, _ = ICMP_ECHO[fam.family]
        payload = (_MAGIC + struct.pack("!d", time.time())).ljust(self.payload_size, b"\x00")
        header = struct.pack("!BBHHH", req, 0, 0, fam.ident, seq)
        if fam.family == socket.AF_INET:
            csum = checksum(header + payload)
            header = struct.pack("!BBHHH", req, 0, csum, fam.ident, seq)
        return header + payload  # the kernel fills in the ICMPv6 checksum

    def _on_readable(self, fam: _Family) -> None:
        now = time.perf_counter()
        _, reply_type = ICMP_ECHO[fam.family]
        for _ in range(4096):  # bounded: drain what is queued, then yield to the loop
            try:
                data = fam.sock.recv(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if fam.family == socket.AF_INET and fam.mode == "raw":
                if len(data) < 20:
                    continue
                data = data[(data[0] & 0x0F) * 4:]
            if len(data) < 8:
                continue
            type_, _code, _csum, ident, seq = struct.unpack_from("!BBHHH", data)
            if type_ != reply_type or (fam.mode == "raw" and ident != fam.ident):
                continue
            if data[8:8 + len(_MAGIC)] != _MAGIC:
                self.stray += 1
                continue
            waiter = fam.waiters.pop(seq, None)
            if waiter is None or waiter.future.done():
                self.stray += 1
                continue
            self.received += 1
            waiter.future.set_result(now - waiter.sent)

    async def echo(self, address: str, family: int, timeout: float) -> float | None:
        """One echo request; the round-trip time in seconds, or None when none came back."""
        fam = self._family(family)
        loop = asyncio.get_running_loop()
        seq = self._next_seq(fam)
        fut: asyncio.Future[float] = loop.create_future()
        fam.waiters[seq] = _Waiter(fut, time.perf_counter(), address)
        try:
            fam.sock.sendto(self._packet(fam, seq), (address, 0))
            self.sent += 1
        except BlockingIOError:
            await asyncio.sleep(0.001)
            try:
                fam.sock.sendto(self._packet(fam, seq), (address, 0))
                self.sent += 1
            except OSError:
                fam.waiters.pop(seq, None)
                return None
        except OSError as e:
            fam.waiters.pop(seq, None)
            if e.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL):
                return None
            raise
        try:
            return await asyncio.wait_for(fut, max(0.0, timeout))
        except TimeoutError:
            return None
        finally:
            w = fam.waiters.get(seq)
            if w is not None and w.future is fut:
                del fam.waiters[seq]

    async def ping(self, address: str, family: int, count: int, interval: float,
                   deadline: float) -> list[float | None]:
        """`count` echoes `interval` apart, each waiting at most until `deadline`
        (loop time). Returns one RTT or None per echo, in order."""
        loop = asyncio.get_running_loop()
        tasks: list[asyncio.Task[float | None]] = []
        for i in range(count):
            if i:
                await asyncio.sleep(interval)
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            tasks.append(asyncio.create_task(self.echo(address, family, remaining)))
        results = list(await asyncio.gather(*tasks))
        return results + [None] * (count - len(results))

    def close(self) -> None:
        for fam in self._families.values():
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(fam.sock.fileno())
            fam.sock.close()
            for w in fam.waiters.values():
                if not w.future.done():
                    w.future.cancel()
        self._families.clear()


_PINGERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Pinger] = (
    weakref.WeakKeyDictionary()
)


def get_pinger() -> Pinger:
    """The shared pinger of the running event loop (sockets belong to one loop)."""
    loop = asyncio.get_running_loop()
    p = _PINGERS.get(loop)
    if p is None:
        p = _PINGERS[loop] = Pinger()
    return p
