"""TTL-limited UDP and TCP SYN probes, for path checks towards targets that filter ICMP echo
(`protocol: udp|tcp` on a path check).

Both need no privileges: the router's ICMP Time Exceeded (and the target's Port Unreachable)
about our packet is matched by the kernel to the socket that sent it, from the UDP/TCP header
the router quotes back, and queued on that socket's error queue (IP_RECVERR), with the
router's address as the offender; no raw socket is opened (the way traceroute's `udp` and
`tcpconn` methods work unprivileged).

- udp: one unconnected UDP socket per address family for the whole agent; every probe goes to
  its own destination port (`port`, `port`+1, ... like traceroute), and the error queue gives
  back the original destination of the packet an error is about, so the port says which probe
  it answers. The target itself answers Port Unreachable (nothing listens that high).
- tcp: a SYN to `port` from a socket of its own (connect() with the TTL set), as many in
  flight as MAX_TCP_IN_FLIGHT allows; a router answers Time Exceeded, the target a SYN-ACK
  (the connect succeeds, and is reset at once) or a RST (connection refused): either says it
  was reached.
Every answer is a pinger Reply, so path.py summarises them as it does ICMP answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import resource
import socket
import struct
import time
import weakref
from dataclasses import dataclass, field

from collectors.probe.pinger import (
    _IP_RECVERR,
    _IPV6_RECVERR,
    _SO_EE_ORIGIN_ICMP,
    _TTL_CMSG,
    ICMP_ERRORS,
    Reply,
    ReplyKind,
    _sockaddr,
)

PORT_SPAN = 4096  # destination ports a UDP probe cycles through from its base port
_RECVERR: dict[int, tuple[int, int]] = {
    socket.AF_INET: (socket.IPPROTO_IP, _IP_RECVERR),
    socket.AF_INET6: (socket.IPPROTO_IPV6, _IPV6_RECVERR),
}
_HOPS_OPT: dict[int, tuple[int, int]] = {
    socket.AF_INET: (socket.IPPROTO_IP, socket.IP_TTL),
    socket.AF_INET6: (socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS),
}


def _max_tcp_in_flight() -> int:
    # each TCP probe holds a descriptor until its answer or timeout: leave most for the rest
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return max(16, min(1024, (soft if soft > 0 else 1024) // 4))


MAX_TCP_IN_FLIGHT = _max_tcp_in_flight()


def _error_reply(family: int, ancdata: list[tuple[int, int, bytes]]) -> Reply | None:
    """The Reply an error-queue message carries: Time Exceeded from a router, or an
    unreachable (from the target: reached)."""
    for _level, ctype, cdata in ancdata:
        if ctype not in (_IP_RECVERR, _IPV6_RECVERR) or len(cdata) < 16:
            continue
        _errno, origin, ee_type = struct.unpack_from("=IBB", cdata)
        if origin != _SO_EE_ORIGIN_ICMP[family] or ee_type not in ICMP_ERRORS[family]:
            continue
        offender = _sockaddr(cdata[16:], family)
        if offender is None:
            continue
        kind: ReplyKind = "ttl_exceeded" if ee_type == ICMP_ERRORS[family][0] \
            else "unreachable"
        return Reply(kind, offender, 0.0)
    return None


@dataclass
class _Udp:
    family: int
    sock: socket.socket
    waiters: dict[tuple[str, int], tuple[asyncio.Future[Reply], float]] = field(
        default_factory=dict)
    next_port: dict[int, int] = field(default_factory=dict)  # base port -> next offset


class UdpProber:
    """One UDP socket per address family; probes matched by their destination port."""

    def __init__(self) -> None:
        self._families: dict[int, _Udp] = {}
        self.sent = 0

    def _family(self, family: int) -> _Udp:
        fam = self._families.get(family)
        if fam is None:
            sock = socket.socket(family, socket.SOCK_DGRAM)
            sock.setblocking(False)
            level, opt = _RECVERR[family]
            sock.setsockopt(level, opt, 1)
            fam = self._families[family] = _Udp(family, sock)
            asyncio.get_running_loop().add_reader(sock.fileno(), self._drain, fam)
        return fam

    def _drain(self, fam: _Udp) -> None:
        now = time.perf_counter()
        for _ in range(4096):
            try:
                _data, ancdata, _flags, addr = fam.sock.recvmsg(
                    64, 512, socket.MSG_ERRQUEUE)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                break
            if not addr:
                continue
            waiter = fam.waiters.pop((str(addr[0]), int(addr[1])), None)
            reply = _error_reply(fam.family, ancdata)
            if waiter is None or reply is None or waiter[0].done():
                continue
            waiter[0].set_result(Reply(reply.kind, reply.responder, now - waiter[1]))
        with contextlib.suppress(BlockingIOError, InterruptedError, OSError):
            for _ in range(64):  # datagrams a target sent back to a probed port: not ours
                fam.sock.recv(64)

    async def probe(self, address: str, family: int, timeout: float, ttl: int,
                    base_port: int) -> Reply | None:
        fam = self._family(family)
        offset = fam.next_port.get(base_port, 0)
        span = min(PORT_SPAN, 65536 - base_port)
        fam.next_port[base_port] = (offset + 1) % span
        key = (address, base_port + offset)
        if key in fam.waiters:  # a probe PORT_SPAN probes ago still waits: this one is lost
            return None
        fut: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        fam.waiters[key] = (fut, time.perf_counter())
        level, opt = _TTL_CMSG[family]
        try:
            for attempt in range(3):
                try:
                    fam.sock.sendmsg([b"pantau-path"], [(level, opt, struct.pack("i", ttl))],
                                     0, key)
                    break
                except OSError as e:
                    # a queued error fails the next send once (EHOSTUNREACH): send again
                    if attempt < 2 and e.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH,
                                                   errno.ECONNREFUSED):
                        continue
                    if e.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EAGAIN):
                        return None
                    raise
            self.sent += 1
            return await asyncio.wait_for(fut, max(0.0, timeout))
        except TimeoutError:
            return None
        finally:
            w = fam.waiters.get(key)
            if w is not None and w[0] is fut:
                del fam.waiters[key]

    def close(self) -> None:
        for fam in self._families.values():
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(fam.sock.fileno())
            fam.sock.close()
        self._families.clear()


class TcpProber:
    """TCP SYN probes, one socket each, at most MAX_TCP_IN_FLIGHT at a time."""

    def __init__(self) -> None:
        self._slots = asyncio.Semaphore(MAX_TCP_IN_FLIGHT)
        self.sent = 0

    async def probe(self, address: str, family: int, timeout: float, ttl: int,
                    port: int) -> Reply | None:
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        try:
            await asyncio.wait_for(self._slots.acquire(), max(0.0, timeout))
        except TimeoutError:
            return None
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            level, opt = _RECVERR[family]
            sock.setsockopt(level, opt, 1)
            level, opt = _HOPS_OPT[family]
            sock.setsockopt(level, opt, ttl)
            # close() then resets instead of a FIN handshake with the target
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sent = time.perf_counter()
            self.sent += 1
            left = max(0.0, timeout - (sent - started))
            try:
                await asyncio.wait_for(loop.sock_connect(sock, (address, port)), left)
            except TimeoutError:
                return None
            except OSError as e:
                rtt = time.perf_counter() - sent
                reply = None
                with contextlib.suppress(OSError):  # an ICMP error about our SYN
                    _d, ancdata, _f, _a = sock.recvmsg(64, 512, socket.MSG_ERRQUEUE)
                    reply = _error_reply(family, ancdata)
                if reply is not None:
                    return Reply(reply.kind, reply.responder, rtt)
                if isinstance(e, ConnectionRefusedError):  # a RST from the target: reached
                    return Reply("unreachable", address, rtt)
                return None
            return Reply("echo", address, time.perf_counter() - sent)  # SYN-ACK
        finally:
            sock.close()
            self._slots.release()


@dataclass
class _Probers:
    udp: UdpProber = field(default_factory=UdpProber)
    tcp: TcpProber = field(default_factory=TcpProber)


_PROBERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Probers] = (
    weakref.WeakKeyDictionary()
)


def get_probers() -> _Probers:
    """The running event loop's UDP and TCP probers (sockets belong to one loop)."""
    loop = asyncio.get_running_loop()
    p = _PROBERS.get(loop)
    if p is None:
        p = _PROBERS[loop] = _Probers()
    return p
