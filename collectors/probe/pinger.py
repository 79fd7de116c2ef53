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

Path probes (collectors/probe/path.py) go out of the same socket with a per-packet TTL (the
IP_TTL / IPV6_HOPLIMIT ancillary datum of sendmsg, so no socket option is ever shared state
between two probes) and their ICMP Time Exceeded / Destination Unreachable answers are matched
by the identifier and sequence of the original echo request the router quotes back (RFC 792
guarantees the first 8 bytes of it). On raw sockets those answers arrive like any ICMP packet;
on datagram sockets the kernel queues them on the socket's error queue (IP_RECVERR) with the
router's address as the offender.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import logging
import os
import platform
import socket
import struct
import time
import weakref
from collections.abc import Callable, Sequence
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
# ICMP errors that quote our echo request: (time exceeded, destination unreachable)
ICMP_ERRORS: dict[int, tuple[int, int]] = {socket.AF_INET: (11, 3), socket.AF_INET6: (3, 1)}
_IP_RECVERR = 11
_IPV6_RECVERR = 25
_IPV6_HOPLIMIT = 52
_TTL_CMSG: dict[int, tuple[int, int]] = {
    socket.AF_INET: (socket.IPPROTO_IP, socket.IP_TTL),
    socket.AF_INET6: (socket.IPPROTO_IPV6, _IPV6_HOPLIMIT),
}
_SO_EE_ORIGIN_ICMP: dict[int, int] = {socket.AF_INET: 2, socket.AF_INET6: 3}
# Raw sockets see every ICMP packet of the host, on loopback our own echo requests too: the
# kernel drops all but echo replies and the two errors path probes read (ICMP_FILTER,
# ICMP6_FILTER: a set bit blocks that type), which halves the packets read on loopback.
_SOL_RAW = 255
_ICMP_FILTER = 1
_ICMP6_FILTER = 1
_WANTED_TYPES: dict[int, tuple[int, ...]] = {socket.AF_INET: (0, 3, 11),
                                             socket.AF_INET6: (1, 3, 129)}
# SO_TIMESTAMPNS: the kernel's receive time of each packet, so the round-trip time does not
# include how long the packet waited for the event loop (a round sending to hundreds of targets
# reads the first reply only after the last send). 35 on the architectures using the generic
# socket.h; elsewhere (sparc, alpha, parisc, mips) it is another number: not used there.
_SO_TIMESTAMPNS: int | None = 35 if platform.machine() in (
    "x86_64", "i386", "i686", "aarch64", "arm64", "armv6l", "armv7l", "armv8l", "riscv64",
    "s390x", "loongarch64") else None
_TIMESPEC = struct.Struct("=qq")
_ANC_SPACE = socket.CMSG_SPACE(_TIMESPEC.size)
# Replies read per readable callback: bounded so a burst of replies does not hold the event
# loop (a scrape waits for it) for more than about a millisecond.
_DRAIN = 256
_RECV_SIZE = 4096  # echo replies are <= 1,448 bytes; a quote never needs more than its start
# What answered a probe: the target itself, a router on the way whose TTL ran out, or a
# router saying it cannot go on.
ReplyKind = Literal["echo", "ttl_exceeded", "unreachable"]


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
    if mode == "dgram":
        # ping sockets only hear about time-exceeded / unreachable through the error queue
        with contextlib.suppress(OSError):
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, _IPV6_RECVERR, 1)
            else:
                sock.setsockopt(socket.IPPROTO_IP, _IP_RECVERR, 1)
    else:
        with contextlib.suppress(OSError):
            _set_type_filter(sock, family)
    return sock


def _set_type_filter(sock: socket.socket, family: int) -> None:
    if family == socket.AF_INET:
        mask = 0xFFFFFFFF
        for t in _WANTED_TYPES[family]:
            mask &= ~(1 << t)
        sock.setsockopt(_SOL_RAW, _ICMP_FILTER, struct.pack("=I", mask))
    else:
        words = [0xFFFFFFFF] * 8
        for t in _WANTED_TYPES[family]:
            words[t >> 5] &= ~(1 << (t & 31))
        sock.setsockopt(socket.IPPROTO_ICMPV6, _ICMP6_FILTER, struct.pack("=8I", *words))


# A raw socket is handed every echo reply of the host: another pinger's (fping, a second
# agent, smokeping) each cost a read, a parse and a drop by identifier in Python, as many as
# our own on a host that pings as much. A classic BPF filter on the IPv4 raw socket drops an
# echo reply with another identifier in the kernel; everything else (the errors path probes
# read, which quote the identifier deeper down) passes as before, and the identifier is still
# checked in _dispatch (the filter is an optimisation: without it nothing changes but the CPU).
_SO_ATTACH_FILTER = 26
_BPF = struct.Struct("=HBBI")  # struct sock_filter: code, jt, jf, k


def _ident_filter(ident: int) -> bytes:
    """The program: X = IP header length; A = ICMP type; not an echo reply -> accept;
    A = identifier; ours -> accept, else drop."""
    return b"".join(_BPF.pack(*ins) for ins in (
        (0xB1, 0, 0, 0),            # ldxb 4*([0] & 0xf)
        (0x50, 0, 0, 0),            # ldb [x + 0]        ICMP type
        (0x15, 0, 2, ICMP_ECHO[socket.AF_INET][1]),  # jeq echo reply ? next : accept
        (0x48, 0, 0, 4),            # ldh [x + 4]        identifier
        (0x15, 0, 1, ident),        # jeq ident ? accept : drop
        (0x06, 0, 0, 0x40000),      # ret accept (whole packet)
        (0x06, 0, 0, 0),            # ret drop
    ))


def _set_ident_filter(sock: socket.socket, family: int, ident: int) -> bool:
    """Attach _ident_filter to an IPv4 raw socket; False where the kernel refuses it (then
    _dispatch alone drops the others' replies, as before)."""
    if family != socket.AF_INET:
        return False
    import ctypes

    prog = _ident_filter(ident)
    buf = ctypes.create_string_buffer(prog, len(prog))
    fprog = struct.pack("@HP", len(prog) // _BPF.size, ctypes.addressof(buf))
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, fprog)
    except OSError:
        return False
    return True


def _set_timestamps(sock: socket.socket) -> bool:
    """Ask for kernel receive timestamps; False where this platform cannot."""
    if _SO_TIMESTAMPNS is None:
        return False
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
    except OSError:
        return False
    return True


def detect_mode(family: int = socket.AF_INET) -> Mode:
    """raw if we may, else dgram if the kernel allows it for us, else none."""
    for mode in ("raw", "dgram"):
        try:
            _open(family, mode).close()
            return mode
        except OSError:
            continue
    return "none"


_HEADER = struct.Struct("!BBHHH")
_STAMP = struct.Struct("!d")
_STAMP_WORDS = struct.Struct("!4H")
_PAYLOAD_HEAD = len(_MAGIC) + _STAMP.size
_MAGIC_SUM = sum(struct.unpack(f"!{len(_MAGIC) // 2}H", _MAGIC))


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


@dataclass(frozen=True, slots=True)
class Reply:
    """One answer to one probe: who answered, how, and after how long."""

    kind: ReplyKind
    responder: str
    rtt: float
    # TTL / hop limit of the answering IP packet, -1 where the socket does not show it
    # (datagram sockets, IPv6 raw sockets without ancillary data)
    hop_limit: int = -1


class _Waiter:
    """One echo request waiting for its answer: resolves `future` (probe), calls `on_reply`
    (ping) or counts the answer into `owner` (a PingRound), whichever is set."""

    __slots__ = ("address", "echo", "future", "index", "on_reply", "owner", "sent", "sent_wall")

    def __init__(self, future: asyncio.Future[Reply] | None, sent: float, address: str,
                 on_reply: Callable[[Reply], None] | None = None,
                 owner: PingRound | None = None, index: int = 0, echo: int = 0,
                 sent_wall: float | None = None) -> None:
        self.future = future
        self.sent = sent  # perf_counter
        # against the kernel's receive timestamp
        self.sent_wall = time.time() if sent_wall is None else sent_wall
        self.address = address
        self.on_reply = on_reply
        self.owner = owner
        self.index = index
        self.echo = echo


@dataclass
class _Family:
    family: int
    sock: socket.socket
    mode: Mode
    ident: int
    waiters: dict[int, _Waiter] = field(default_factory=dict)
    stamps: bool = False  # the kernel adds a receive timestamp to each packet


class Pinger:
    """Shared echo engine for one event loop. Use `get_pinger()`."""

    def __init__(self, payload_size: int = 56) -> None:
        self.payload_size = max(len(_MAGIC) + 8, payload_size)
        self._families: dict[int, _Family] = {}
        self._seq = 0
        self.sent = 0
        self.received = 0
        self.stray = 0
        self.errors = 0  # time-exceeded / unreachable answers matched to a probe
        self._ttl_cmsg = True  # cleared if this kernel refuses the ancillary TTL
        self._pad = b""

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
                _set_ident_filter(sock, family, ident)
            fam = _Family(family, sock, mode, ident, stamps=_set_timestamps(sock))
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

    def _packet(self, fam: _Family, seq: int, wall: float | None = None) -> bytes:
        """Header, magic, send time (`wall`, default now), zero padding. The ICMP checksum is
        summed from parts: the padding's share is zero and the magic's is a constant, so only
        the header words and the time are added per packet (the kernel fills in the ICMPv6
        one)."""
        req, _ = ICMP_ECHO[fam.family]
        stamp = _STAMP.pack(time.time() if wall is None else wall)
        pad = self._pad
        if len(pad) != self.payload_size - _PAYLOAD_HEAD:
            pad = self._pad = bytes(max(0, self.payload_size - _PAYLOAD_HEAD))
        csum = 0
        if fam.family == socket.AF_INET:
            s = (_MAGIC_SUM + (req << 8) + fam.ident + seq + sum(_STAMP_WORDS.unpack(stamp)))
            s = (s >> 16) + (s & 0xFFFF)
            s += s >> 16
            csum = ~s & 0xFFFF
        return _HEADER.pack(req, 0, csum, fam.ident, seq) + _MAGIC + stamp + pad

    def _on_readable(self, fam: _Family) -> None:
        now = time.perf_counter()
        sock = fam.sock
        stamps = fam.stamps
        wall: float | None = None
        for _ in range(_DRAIN):  # bounded: drain what is queued, then yield to the loop
            try:
                if stamps:
                    data, anc, _flags, addr = sock.recvmsg(_RECV_SIZE, _ANC_SPACE)
                    wall = None
                    for level, ctype, cdata in anc:
                        if level == socket.SOL_SOCKET and ctype == _SO_TIMESTAMPNS \
                                and len(cdata) >= _TIMESPEC.size:
                            sec, nsec = _TIMESPEC.unpack_from(cdata)
                            wall = sec + nsec * 1e-9
                else:
                    data, addr = sock.recvfrom(_RECV_SIZE)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                # a datagram socket reports a queued ICMP error here once; it is read
                # from the error queue below
                if fam.mode == "dgram":
                    continue
                break
            self._dispatch(fam, data, str(addr[0]), now, wall)
        if fam.mode == "dgram":
            self._drain_errors(fam, now)

    def _dispatch(self, fam: _Family, data: bytes, source: str, now: float,
                  wall: float | None = None) -> None:
        _, reply_type = ICMP_ECHO[fam.family]
        hop_limit = -1
        if fam.family == socket.AF_INET and fam.mode == "raw":
            if len(data) < 20:
                return
            hop_limit = data[8]
            data = data[(data[0] & 0x0F) * 4:]
        if len(data) < 8:
            return
        type_, _code, _csum, ident, seq = struct.unpack_from("!BBHHH", data)
        if type_ in ICMP_ERRORS[fam.family] and fam.mode == "raw":
            self._quoted(fam, data[8:], source, type_, now)
            return
        if type_ != reply_type or (fam.mode == "raw" and ident != fam.ident):
            return
        if data[8:8 + len(_MAGIC)] != _MAGIC:
            self.stray += 1
            return
        self._resolve(fam, seq, "echo", source, hop_limit, now, wall)

    def _quoted(self, fam: _Family, inner: bytes, source: str, type_: int,
                now: float) -> None:
        """A raw-socket ICMP error: find our echo request in the packet it quotes."""
        if fam.family == socket.AF_INET:
            if len(inner) < 20 or inner[9] != socket.IPPROTO_ICMP:
                return
            inner = inner[(inner[0] & 0x0F) * 4:]
        else:
            if len(inner) < 40 or inner[6] != socket.IPPROTO_ICMPV6:
                return  # extension headers in the quote: not one of ours
            inner = inner[40:]
        if len(inner) < 8:
            return
        req, _ = ICMP_ECHO[fam.family]
        q_type, _c, _s, ident, seq = struct.unpack_from("!BBHHH", inner)
        if q_type != req or ident != fam.ident:
            return
        kind: ReplyKind = "ttl_exceeded" if type_ == ICMP_ERRORS[fam.family][0] \
            else "unreachable"
        self._resolve(fam, seq, kind, source, -1, now)

    def _drain_errors(self, fam: _Family, now: float) -> None:
        """Datagram sockets: ICMP errors about our requests wait on the error queue."""
        for _ in range(4096):
            try:
                data, ancdata, _flags, _addr = fam.sock.recvmsg(
                    512, 512, socket.MSG_ERRQUEUE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if len(data) < 8:
                continue
            seq = struct.unpack_from("!H", data, 6)[0]
            for _level, ctype, cdata in ancdata:
                if ctype not in (_IP_RECVERR, _IPV6_RECVERR) or len(cdata) < 16:
                    continue
                _errno, origin, ee_type = struct.unpack_from("=IBB", cdata)
                if origin != _SO_EE_ORIGIN_ICMP[fam.family]:
                    continue
                offender = _sockaddr(cdata[16:], fam.family)
                if offender is None or ee_type not in ICMP_ERRORS[fam.family]:
                    continue
                kind: ReplyKind = "ttl_exceeded" \
                    if ee_type == ICMP_ERRORS[fam.family][0] else "unreachable"
                self._resolve(fam, seq, kind, offender, -1, now)

    def _resolve(self, fam: _Family, seq: int, kind: ReplyKind, responder: str,
                 hop_limit: int, now: float, wall: float | None = None) -> None:
        waiter = fam.waiters.pop(seq, None)
        if waiter is None or (waiter.future is not None and waiter.future.done()):
            self.stray += 1
            return
        if kind == "echo":
            self.received += 1
        else:
            self.errors += 1
        rtt = now - waiter.sent  # when we read it: an upper bound
        if wall is not None:
            # the kernel's receive time; a wall clock step between send and receive makes it
            # wrong, which the bound catches
            kernel = wall - waiter.sent_wall
            if 0.0 < kernel < rtt:
                rtt = kernel
        if waiter.owner is not None:
            waiter.owner.reply(waiter.index, waiter.echo, kind, rtt, hop_limit)
            return
        answer = Reply(kind, responder, rtt, hop_limit)
        if waiter.on_reply is not None:
            waiter.on_reply(answer)
        elif waiter.future is not None:
            waiter.future.set_result(answer)

    def _send(self, fam: _Family, packet: bytes, address: str, ttl: int | None) -> None:
        """Send one request; with `ttl`, limited to that many hops."""
        # A datagram socket with queued ICMP errors fails the next call once with that
        # error (EHOSTUNREACH for a time-exceeded): try again, a real one stays.
        tries = 3 if fam.mode == "dgram" else 1
        for attempt in range(tries):
            try:
                if ttl is None:
                    fam.sock.sendto(packet, (address, 0))
                elif self._ttl_cmsg:
                    level, opt = _TTL_CMSG[fam.family]
                    fam.sock.sendmsg([packet], [(level, opt, struct.pack("i", ttl))], 0,
                                     (address, 0))
                else:
                    self._send_setsockopt(fam, packet, address, ttl)
                return
            except OSError as e:
                if ttl is not None and self._ttl_cmsg and e.errno in (errno.EINVAL,
                                                                      errno.ENOPROTOOPT):
                    self._ttl_cmsg = False
                    log.info("no per-packet TTL on this kernel: setting it per send")
                    self._send_setsockopt(fam, packet, address, ttl)
                    return
                if attempt + 1 < tries and e.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
                    continue
                raise

    @staticmethod
    def _send_setsockopt(fam: _Family, packet: bytes, address: str, ttl: int) -> None:
        # Set, send, restore with no await in between: on one event loop no other probe
        # can send from this socket while the option holds this packet's TTL.
        level, opt = _TTL_CMSG[fam.family]
        if fam.family == socket.AF_INET6:
            opt = socket.IPV6_UNICAST_HOPS
        old = fam.sock.getsockopt(level, opt)
        fam.sock.setsockopt(level, opt, ttl)
        try:
            fam.sock.sendto(packet, (address, 0))
        finally:
            fam.sock.setsockopt(level, opt, old)

    async def echo(self, address: str, family: int, timeout: float) -> float | None:
        """One echo request; the round-trip time in seconds, or None when none came back."""
        reply = await self.probe(address, family, timeout)
        return reply.rtt if reply is not None and reply.kind == "echo" else None

    async def probe(self, address: str, family: int, timeout: float,
                    ttl: int | None = None) -> Reply | None:
        """One echo request, limited to `ttl` hops when given: the echo reply, or the
        time-exceeded / unreachable answer of the router where it stopped; None if nothing
        came back in time."""
        fam = self._family(family)
        loop = asyncio.get_running_loop()
        seq = self._next_seq(fam)
        fut: asyncio.Future[Reply] = loop.create_future()
        fam.waiters[seq] = _Waiter(fut, time.perf_counter(), address)
        packet = self._packet(fam, seq)
        try:
            self._send(fam, packet, address, ttl)
            self.sent += 1
        except BlockingIOError:
            await asyncio.sleep(0.001)
            try:
                again = fam.waiters[seq]
                again.sent, again.sent_wall = time.perf_counter(), time.time()
                self._send(fam, packet, address, ttl)
                self.sent += 1
            except (OSError, KeyError):
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
        (loop time). Returns one RTT or None per echo, in order.

        The hot path of every icmp check: one future and one deadline timer per run, the
        later echoes sent from timer callbacks and the replies counted in place, rather
        than a task, a wait_for and a future per echo (which cost more than the pinging)."""
        fam = self._family(family)
        loop = asyncio.get_running_loop()
        run = _PingRun(self, fam, loop, address, count, interval, deadline)
        timer = loop.call_at(deadline, run.finish)
        try:
            run.send(0)
            return await run.done
        finally:
            timer.cancel()
            run.close()

    def round(self, targets: Sequence[tuple[str, int]], count: int, interval: float,
              deadline: float) -> PingRound:
        """Start pinging every (address, family) of `targets`: `count` echoes `interval` apart,
        none waited for after `deadline` (loop time). Close the round when done with it."""
        return PingRound(self, targets, count, interval, deadline)

    def close(self) -> None:
        for fam in self._families.values():
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(fam.sock.fileno())
            fam.sock.close()
            for w in fam.waiters.values():
                if w.future is not None and not w.future.done():
                    w.future.cancel()
        self._families.clear()


class _PingRun:
    """The echoes of one `Pinger.ping`: sent on timers, answered through `_Waiter.on_reply`."""

    __slots__ = (
        "address",
        "answered",
        "count",
        "deadline",
        "done",
        "fam",
        "handle",
        "interval",
        "loop",
        "pinger",
        "rtts",
        "sent",
        "seqs",
    )

    def __init__(self, pinger: Pinger, fam: _Family, loop: asyncio.AbstractEventLoop,
                 address: str, count: int, interval: float, deadline: float) -> None:
        self.pinger, self.fam, self.loop, self.address = pinger, fam, loop, address
        self.count, self.interval, self.deadline = count, interval, deadline
        self.rtts: list[float | None] = [None] * count
        self.done: asyncio.Future[list[float | None]] = loop.create_future()
        self.seqs: list[tuple[int, _Waiter]] = []
        self.sent = 0  # echoes sent or given up on
        self.answered = 0
        self.handle: asyncio.TimerHandle | None = None

    def send(self, i: int, retry: bool = False) -> None:
        self.handle = None
        if self.done.done():
            return
        if not retry and self.deadline - self.loop.time() <= 0:
            self.finish()  # no time left for the rest: they count as lost
            return
        p, fam = self.pinger, self.fam
        if retry:
            seq = self.seqs[-1][0]
        else:
            seq = p._next_seq(fam)
            waiter = _Waiter(None, time.perf_counter(), self.address,
                             functools.partial(self.reply, i))
            self.seqs.append((seq, waiter))
            fam.waiters[seq] = waiter
        packet = p._packet(fam, seq)
        try:
            if retry:
                w = fam.waiters[seq]
                w.sent, w.sent_wall = time.perf_counter(), time.time()
            p._send(fam, packet, self.address, None)
            p.sent += 1
        except BlockingIOError:
            if not retry:  # the socket buffer is full: once more in a millisecond
                self.handle = self.loop.call_later(0.001, self.send, i, True)
                return
            fam.waiters.pop(seq, None)
            self.answered += 1
        except KeyError:
            self.answered += 1
        except OSError as e:
            fam.waiters.pop(seq, None)
            if e.errno not in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL):
                self.done.set_exception(e)
                return
            self.answered += 1
        self.sent += 1
        if self.sent < self.count:
            self.handle = self.loop.call_later(self.interval, self.send, self.sent)
        self._check()

    def reply(self, i: int, reply: Reply) -> None:
        if reply.kind == "echo":
            self.rtts[i] = reply.rtt
        self.answered += 1
        self._check()

    def _check(self) -> None:
        if self.sent == self.count and self.answered == self.count and not self.done.done():
            self.done.set_result(self.rtts)

    def finish(self) -> None:
        if not self.done.done():
            self.done.set_result(self.rtts)

    def close(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
        waiters = self.fam.waiters
        for seq, waiter in self.seqs:
            if waiters.get(seq) is waiter:  # unanswered; a reused sequence is someone else's
                del waiters[seq]


# Echo requests sent per callback of a round: a round of 1,000 targets sends in pieces, one
# event loop iteration each, so a scrape waiting in between is served after ~0.5 ms, not 10.
_SEND_CHUNK = 50
_UNREACHABLE = (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL)


class PingRound:
    """`count` echo requests `interval` apart to each of many targets, as one round.

    What batched icmp checks share (one round per tick for checks with the same count and
    packet interval): echo k goes out to every target from one callback instead of a timer per
    target, answers are counted in place, one timer ends the round at its deadline. A target is
    finished as soon as each of its echoes is answered or given up, so a silent target holds
    back no result but its own; `results()` hands out the targets finished since its last call.
    Per target afterwards: `rtts` (None for a lost echo), `hop_limits` (of the last echo reply),
    `errors` (why it could not be pinged at all) and `ended` (perf_counter when it finished).
    """

    def __init__(self, pinger: Pinger, targets: Sequence[tuple[str, int]], count: int,
                 interval: float, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        self.pinger, self.loop, self.targets = pinger, loop, targets
        self.count, self.interval, self.deadline = count, interval, deadline
        n = len(targets)
        self.rtts: list[list[float | None]] = [[None] * count for _ in range(n)]
        self.hop_limits = [-1] * n
        self.errors: list[Exception | None] = [None] * n
        self.ended = [0.0] * n
        self.left = n  # targets not finished yet
        self._open = [count] * n  # echoes per target neither answered nor given up
        self._done = [False] * n
        self._finished: list[int] = []  # since the last results()
        self._wake: asyncio.Future[None] | None = None
        self._sent: list[tuple[_Family, int, _Waiter]] = []
        self._timers: list[asyncio.Handle] = []
        self._started = loop.time()
        self._dests = [(address, 0) for address, _ in targets]  # sendto's, once per round
        self._fams: list[_Family | None] = []
        fams: dict[int, _Family | PingUnavailable] = {}
        failed = []
        for i, (_address, family) in enumerate(targets):
            fam = fams.get(family)
            if fam is None:
                try:
                    fam = pinger._family(family)
                except PingUnavailable as e:
                    fam = e
                fams[family] = fam
            if isinstance(fam, PingUnavailable):
                self.errors[i] = fam
                self._fams.append(None)
                failed.append(i)
            else:
                self._fams.append(fam)
        for i in failed:
            self._finish(i)
        self._timers.append(loop.call_at(deadline, self._expire))
        self._send_step(0, 0)

    async def results(self) -> list[int]:
        """Targets finished since the last call; waits for one unless all are finished."""
        if not self._finished and self.left:
            self._wake = self.loop.create_future()
            try:
                await self._wake
            finally:
                self._wake = None
        out, self._finished = self._finished, []
        return out

    def _send_step(self, k: int, start: int) -> None:
        """Echo `k` to targets[start:start + _SEND_CHUNK]; then the next piece or echo."""
        if not self.left:
            return
        if self.deadline - self.loop.time() <= 0:
            self._expire()  # no time left for the rest: they count as lost
            return
        p = self.pinger
        n = len(self.targets)
        end = min(n, start + _SEND_CHUNK)
        retry: list[tuple[int, _Family, int, bytes, _Waiter]] = []
        fams, done, targets, sent = self._fams, self._done, self.targets, self._sent
        dests = self._dests
        perf, wall = time.perf_counter, time.time
        for i in range(start, end):
            fam = fams[i]
            if fam is None or done[i]:
                continue
            address = targets[i][0]
            seq = p._next_seq(fam)
            now = wall()  # the packet's stamp and the waiter's send time: one clock read
            packet = p._packet(fam, seq, now)
            w = _Waiter(None, perf(), address, None, self, i, k, now)
            fam.waiters[seq] = w
            sent.append((fam, seq, w))
            try:
                if fam.mode == "raw":  # Pinger._send without its datagram-socket retries
                    fam.sock.sendto(packet, dests[i])
                else:
                    p._send(fam, packet, address, None)
                p.sent += 1
            except BlockingIOError:  # the socket buffer is full: once more in a millisecond
                retry.append((i, fam, seq, packet, w))
            except OSError as e:
                self._send_failed(i, fam, seq, e)
        if retry:
            self._timers.append(self.loop.call_later(0.001, self._resend, retry))
        if end < n:
            self._timers.append(self.loop.call_soon(self._send_step, k, end))
        elif k + 1 < self.count:
            self._timers.append(self.loop.call_at(self._started + (k + 1) * self.interval,
                                                  self._send_step, k + 1, 0))

    def _resend(self, items: list[tuple[int, _Family, int, bytes, _Waiter]]) -> None:
        p = self.pinger
        for i, fam, seq, packet, w in items:
            if self._done[i] or fam.waiters.get(seq) is not w:
                continue
            w.sent, w.sent_wall = time.perf_counter(), time.time()
            try:
                p._send(fam, packet, w.address, None)
                p.sent += 1
            except BlockingIOError:
                fam.waiters.pop(seq, None)
                self._lost(i)
            except OSError as e:
                self._send_failed(i, fam, seq, e)

    def _send_failed(self, i: int, fam: _Family, seq: int, e: OSError) -> None:
        fam.waiters.pop(seq, None)
        if e.errno in _UNREACHABLE:
            self._lost(i)  # no route (yet): that echo is lost, as ping says
        else:
            self.errors[i] = e
            self._finish(i)

    def _lost(self, i: int) -> None:
        self._open[i] -= 1
        if self._open[i] == 0 and not self._done[i]:
            self._finish(i)

    def reply(self, i: int, echo: int, kind: ReplyKind, rtt: float, hop_limit: int) -> None:
        if self._done[i]:
            return
        if kind == "echo":
            self.rtts[i][echo] = rtt
            self.hop_limits[i] = hop_limit
        self._open[i] -= 1
        if self._open[i] == 0:
            self._finish(i)

    def _finish(self, i: int) -> None:
        self._done[i] = True
        self.ended[i] = time.perf_counter()
        self.left -= 1
        self._finished.append(i)
        wake = self._wake
        if wake is not None and not wake.done():
            wake.set_result(None)

    def _expire(self) -> None:
        for i in range(len(self.targets)):
            if not self._done[i]:
                self._finish(i)

    def close(self) -> None:
        for t in self._timers:
            t.cancel()
        self._timers.clear()
        for fam, seq, w in self._sent:
            if fam.waiters.get(seq) is w:  # unanswered; a reused sequence is someone else's
                del fam.waiters[seq]
        self._sent.clear()


def _sockaddr(raw: bytes, family: int) -> str | None:
    """The address in a struct sockaddr_in / sockaddr_in6 (SO_EE_OFFENDER)."""
    if family == socket.AF_INET and len(raw) >= 8:
        return socket.inet_ntop(socket.AF_INET, raw[4:8])
    if family == socket.AF_INET6 and len(raw) >= 24:
        return socket.inet_ntop(socket.AF_INET6, raw[8:24])
    return None


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
