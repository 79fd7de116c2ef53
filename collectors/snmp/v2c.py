"""SNMP v2c without pysnmp: hand-written BER for GET/GETBULK, one shared UDP socket per loop.

Why: polling a 48-port switch through pysnmp costs ~13x snmp_exporter's CPU per value; nearly
all of it is pysnmp's message machinery and pyasn1 decoding, not the network. A v2c message is
a handful of TLVs, so encoding the request and decoding the response by hand is short, and a
malformed reply can only ever raise SnmpError (every length is bounds-checked). v3.py wraps the
same PDUs in the SNMPv3 message and USM.

Values come back as the small types below, named like pysnmp's, so snmp_walk.convert() and the
profile code treat both paths alike. The walks keep the same safety rules as snmp_walk.Target:
bounded by the deadline, stop on endOfMibView / leaving the subtree / a non-increasing OID,
halve max-repetitions on tooBig.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import socket
from collections.abc import Sequence
from typing import Any, cast

from collectors.base import Deadline
from collectors.snmp.walk import OID, SnmpError, absorb_round, check_size, walk_timeout

log = logging.getLogger(__name__)

# -- value types, named like pysnmp's so convert() needs no second code path ------------------


class OctetString(bytes):
    __slots__ = ()


class Counter64(int):
    """A Counter64 value: SNMPv1 has no such type, so a v1 view of a device leaves it out."""


class IpAddress(bytes):
    __slots__ = ()


class Opaque(bytes):
    __slots__ = ()


class ObjectIdentifier(tuple[int, ...]):
    __slots__ = ()


class _Marker:
    __slots__ = ()

    def __repr__(self) -> str:
        return type(self).__name__


class Null(_Marker):
    __slots__ = ()


class NoSuchObject(_Marker):
    __slots__ = ()


class NoSuchInstance(_Marker):
    __slots__ = ()


class EndOfMibView(_Marker):
    __slots__ = ()


NULL, NO_SUCH_OBJECT, NO_SUCH_INSTANCE, END_OF_MIB_VIEW = (
    Null(), NoSuchObject(), NoSuchInstance(), EndOfMibView())
ERROR_NAMES = ("noError", "tooBig", "noSuchName", "badValue", "readOnly", "genErr",
               "noAccess", "wrongType", "wrongLength", "wrongEncoding", "wrongValue",
               "noCreation", "inconsistentValue", "resourceUnavailable", "commitFailed",
               "undoFailed", "authorizationError", "notWritable", "inconsistentName")

# -- BER encoding --------------------------------------------------------------------------


def _len(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(raw),)) + raw


def _tlv(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes((tag, n)) + body
    return bytes((tag,)) + _len(n) + body


def _int(v: int) -> bytes:
    return _tlv(0x02, v.to_bytes(max(1, (v.bit_length() + 8) // 8), "big", signed=True))


def _oid(oid: OID) -> bytes:
    if len(oid) < 2 or oid[0] > 2 or oid[1] >= 40:
        raise SnmpError(f"cannot encode OID {'.'.join(map(str, oid))}")
    rest = oid[2:]
    if not rest or max(rest) < 0x80:  # one byte per sub-identifier, as in most OIDs
        return _tlv(0x06, bytes((oid[0] * 40 + oid[1], *rest)))
    out = bytearray((oid[0] * 40 + oid[1],))
    for sub in oid[2:]:
        if sub < 0x80:
            out.append(sub)
            continue
        chunk = []
        while sub:
            chunk.append(sub & 0x7F)
            sub >>= 7
        chunk.reverse()
        out += bytes(c | 0x80 for c in chunk[:-1]) + bytes((chunk[-1],))
    return _tlv(0x06, bytes(out))


# A poll asks for the same OIDs every interval (the columns, then the same rows of them), and
# so do devices with the same tables: their encoded varbinds are kept, a bounded number.
_VARBINDS: dict[OID, bytes] = {}
_VARBINDS_MAX = 20_000


def _null_varbind(oid: OID) -> bytes:
    """SEQUENCE { oid, NULL }: a request's varbind."""
    got = _VARBINDS.get(oid)
    if got is None:
        if len(_VARBINDS) >= _VARBINDS_MAX:
            _VARBINDS.clear()
        got = _VARBINDS[oid] = _encode_null_varbind(oid)
    return got


def _encode_null_varbind(oid: OID) -> bytes:
    rest = oid[2:]
    # 1.3.x with one-byte sub-identifiers (every OID a poll asks for here) in one step
    if oid[:2] == (1, 3) and len(rest) < 120 and (not rest or max(rest) < 0x80):
        n = len(rest) + 1
        return bytes((0x30, n + 4, 0x06, n, 43, *rest, 0x05, 0x00))
    return _tlv(0x30, _oid(oid) + b"\x05\x00")


def encode_pdu(request_id: int, oids: Sequence[OID], bulk_repetitions: int = 0) -> bytes:
    """A GetRequest PDU, or a GetBulkRequest (non-repeaters 0) when bulk_repetitions > 0."""
    vbs = b"".join([_null_varbind(o) for o in oids])
    if bulk_repetitions > 0:
        return _tlv(0xA5, _int(request_id) + _int(0) + _int(bulk_repetitions) + _tlv(0x30, vbs))
    return _tlv(0xA0, _int(request_id) + _int(0) + _int(0) + _tlv(0x30, vbs))


def encode_request(community: bytes, request_id: int, oids: Sequence[OID], *,
                   bulk_repetitions: int = 0) -> bytes:
    """A v2c GetRequest, or a GetBulkRequest (non-repeaters 0) when bulk_repetitions > 0."""
    return _tlv(0x30, _int(1) + _tlv(0x04, community)
                + encode_pdu(request_id, oids, bulk_repetitions))


# -- BER decoding (every length checked against the buffer) ---------------------------------


class _Malformed(Exception):
    pass


def _header(buf: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, start of value, end of value) of the TLV at pos."""
    if pos + 2 > end:
        raise _Malformed
    tag = buf[pos]
    n = buf[pos + 1]
    pos += 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0 or k > 4 or pos + k > end:
            raise _Malformed
        n = int.from_bytes(buf[pos:pos + k], "big")
        pos += k
    if pos + n > end:
        raise _Malformed
    return tag, pos, pos + n


def _dec_int(buf: bytes, start: int, stop: int) -> int:
    if stop <= start:
        raise _Malformed
    return int.from_bytes(buf[start:stop], "big", signed=True)


def _dec_oid(buf: bytes, start: int, stop: int) -> OID:
    if stop <= start:
        raise _Malformed
    first = buf[start]
    out = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    rest = buf[start + 1:stop]
    if rest.isascii():  # every sub-identifier below 128, as in most table indexes: one byte each
        out.extend(rest)
        return tuple(out)
    sub = 0
    for b in rest:
        sub = (sub << 7) | (b & 0x7F)
        if not b & 0x80:
            out.append(sub)
            sub = 0
    return tuple(out)


def _dec_value(buf: bytes, tag: int, start: int, stop: int) -> Any:
    if tag == 0x46:
        return Counter64(int.from_bytes(buf[start:stop], "big"))
    if tag in (0x41, 0x42, 0x43, 0x47):  # Counter32 Gauge32 TimeTicks UInt32
        return int.from_bytes(buf[start:stop], "big")
    if tag == 0x02:
        return _dec_int(buf, start, stop)
    if tag == 0x04:
        return OctetString(buf[start:stop])
    if tag == 0x06:
        return ObjectIdentifier(_dec_oid(buf, start, stop))
    if tag == 0x40:
        return IpAddress(buf[start:stop])
    if tag == 0x44:
        return Opaque(buf[start:stop])
    if tag == 0x05:
        return NULL
    if tag == 0x80:
        return NO_SUCH_OBJECT
    if tag == 0x81:
        return NO_SUCH_INSTANCE
    if tag == 0x82:
        return END_OF_MIB_VIEW
    raise _Malformed


def decode_response(buf: bytes) -> tuple[int, int, int, list[tuple[OID, Any]]]:
    """(request id, error status, error index, varbinds) of a v2c Response; SnmpError if the
    datagram is not one."""
    try:
        end = len(buf)
        tag, pos, end = _header(buf, 0, end)
        if tag != 0x30:
            raise _Malformed
        tag, _, e = _header(buf, pos, end)  # version
        if tag != 0x02:
            raise _Malformed
        tag, _, pos = _header(buf, e, end)  # community
        if tag != 0x04:
            raise _Malformed
        tag, request_id, status, index, varbinds = decode_pdu(buf, pos, end)
        if tag != 0xA2:
            raise _Malformed
        return request_id, status, index, varbinds
    except (_Malformed, IndexError):
        raise SnmpError("malformed SNMP response from the device") from None


def decode_pdu(buf: bytes, pos: int,
               end: int) -> tuple[int, int, int, int, list[tuple[OID, Any]]]:
    """(PDU tag, request id, error status, error index, varbinds) of the PDU at pos; raises
    _Malformed (the callers turn it into SnmpError)."""
    tag, pos, pdu_end = _header(buf, pos, end)
    if tag not in (0xA2, 0xA8):  # Response, Report
        raise _Malformed
    pdu_tag = tag
    tag, s, pos = _header(buf, pos, pdu_end)
    request_id = _dec_int(buf, s, pos)
    tag, s, pos = _header(buf, pos, pdu_end)
    status = _dec_int(buf, s, pos)
    tag, s, pos = _header(buf, pos, pdu_end)
    index = _dec_int(buf, s, pos)
    tag, pos, vbl_end = _header(buf, pos, pdu_end)
    if tag != 0x30:
        raise _Malformed
    varbinds: list[tuple[OID, Any]] = []
    append = varbinds.append
    # The loop below is _header, _dec_oid and _dec_value inlined for what nearly every
    # varbind is (one-byte lengths, OID 1.3.x with one-byte sub-identifiers, a number): a
    # 48-port poll decodes ~720 of them and the calls were a third of its CPU. Every bound is
    # still checked; anything else goes through the general functions.
    while pos < vbl_end:
        if pos + 2 > vbl_end or buf[pos] != 0x30:
            raise _Malformed
        n = buf[pos + 1]
        if n < 0x80:
            vs, ve = pos + 2, pos + 2 + n
            if ve > vbl_end:
                raise _Malformed
        else:
            _, vs, ve = _header(buf, pos, vbl_end)
        if vs + 2 > ve or buf[vs] != 0x06:
            raise _Malformed
        n = buf[vs + 1]
        e = vs + 2 + n
        if 0 < n < 0x80 and e <= ve and buf[vs + 2] == 43:  # 1.3: every OID polled here
            rest = buf[vs + 3:e]
            oid = (1, 3, *rest) if rest.isascii() else _dec_oid(buf, vs + 2, e)
        else:
            _, s, e = _header(buf, vs, ve)
            oid = _dec_oid(buf, s, e)
        if e + 2 > ve:
            raise _Malformed
        tag, n = buf[e], buf[e + 1]
        if n < 0x80:
            s, e = e + 2, e + 2 + n
            if e > ve:
                raise _Malformed
        else:
            tag, s, e = _header(buf, e, ve)
        if tag == 0x46:
            append((oid, Counter64(int.from_bytes(buf[s:e], "big"))))
        elif tag == 0x41 or tag == 0x42 or tag == 0x43 or tag == 0x47:
            append((oid, int.from_bytes(buf[s:e], "big")))
        elif tag == 0x02 and e > s:
            append((oid, int.from_bytes(buf[s:e], "big", signed=True)))
        else:
            append((oid, _dec_value(buf, tag, s, e)))
        pos = ve
    return pdu_tag, request_id, status, index, varbinds


# -- transport: one socket per loop and address family, replies matched by request id --------


def peek_id(data: bytes) -> int:
    """The id a reply is matched by: v1/v2c request-id, v3 msgID."""
    end = len(data)
    _, pos, end = _header(data, 0, end)
    _, s, pos = _header(data, pos, end)  # version
    if _dec_int(data, s, pos) == 3:
        _, pos, gd_end = _header(data, pos, end)  # msgGlobalData
        _, s, e = _header(data, pos, gd_end)
        return _dec_int(data, s, e)
    _, _, pos = _header(data, pos, end)  # community
    _, pos, pdu_end = _header(data, pos, end)
    _, s, e = _header(data, pos, pdu_end)
    return _dec_int(data, s, e)


class _Mux(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.waiting: dict[int, tuple[tuple[str, int], asyncio.Future[bytes]]] = {}
        self.transport: asyncio.DatagramTransport | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.users = 0
        # datagrams from a device we are waiting on that answer nothing we asked (garbage,
        # another request id): "silent" would blame the community, which sends admins astray
        self.stray: dict[tuple[str, int], int] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        # the request id (v2c) or msgID (v3) sits at a fixed depth: peek it without decoding
        # the whole message (a v3 request id may be encrypted, its msgID never is)
        try:
            rid = peek_id(data)
        except (_Malformed, IndexError):
            self._stray(addr)
            return
        entry = self.waiting.get(rid)
        if entry is None:
            self._stray(addr)
            return
        (host, port), fut = entry
        if addr[1] != port or addr[0] != host or fut.done():
            return  # only the device we asked may answer
        fut.set_result(data)


    def _stray(self, addr: tuple[Any, ...]) -> None:
        key = (str(addr[0]), int(addr[1]))
        if any(a == key for a, _ in self.waiting.values()):  # only devices being asked
            self.stray[key] = self.stray.get(key, 0) + 1


_MUXES: dict[tuple[int, int], _Mux] = {}
_IDS = itertools.count(int.from_bytes(os.urandom(3), "big"))


async def _acquire(family: int) -> _Mux:
    """The loop's shared socket for this family; targets hold a reference and release it in
    close(), the last one closes the socket (a 700-device agent uses 1 socket, not 700)."""
    loop = asyncio.get_running_loop()
    key = (id(loop), family)
    mux = _MUXES.get(key)
    if (mux is None or mux.transport is None or mux.transport.is_closing()
            or mux.loop is not loop):  # a new loop can get the id of a closed one
        host = "::" if family == socket.AF_INET6 else "0.0.0.0"
        _, mux = await loop.create_datagram_endpoint(_Mux, local_addr=(host, 0), family=family)
        mux.loop = loop
        _MUXES[key] = mux
    mux.users += 1
    return mux


def _release(mux: _Mux) -> None:
    mux.users -= 1
    if mux.users <= 0 and mux.transport is not None:
        try:
            mux.transport.close()
        except RuntimeError:  # its loop is closed already (one asyncio.run per CLI poll):
            pass  # the socket goes with the transport object
        for key, m in list(_MUXES.items()):
            if m is mux:
                del _MUXES[key]


def _expire(fut: asyncio.Future[bytes]) -> None:
    if not fut.done():
        fut.set_exception(TimeoutError())


class _Silent(SnmpError):
    """No answer within timeout x (retries+1)."""


class Resend(Exception):
    """The reply asks for the request again at once (an SNMPv3 report: engine discovered,
    clock re-synchronised): not a retry, the device did answer."""


class V2cTarget:
    """One v2c device. Same interface as snmp_walk.Target."""

    version = "2c"
    silent = "no response (device unreachable, or wrong community: agents stay silent)"

    def __init__(self, host: str, port: int, community: str, timeout: float, retries: int,
                 max_repetitions: int = 25, max_varbinds: int = 50_000) -> None:
        self.community = community.encode()
        self.max_varbinds = max_varbinds
        self.timeout = timeout
        self.retries = retries
        self.max_repetitions = max_repetitions
        self.host, self.port = host, port
        self._resolved: tuple[str, int] | None = None
        self._family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._mux: _Mux | None = None
        self.answered = False  # the device has answered at least once
        self.shrunk = 0  # times max-repetitions was halved (tooBig or silence)
        self.sent = 0  # requests sent, retries included (snmp_scrape_packets_sent)
        self.retried = 0

    def close(self) -> None:
        if self._mux is not None:
            _release(self._mux)
            self._mux = None

    async def _addr(self) -> tuple[str, int]:
        if self._resolved is None:
            loop = asyncio.get_running_loop()
            try:
                infos = await loop.getaddrinfo(self.host, self.port, family=self._family,
                                               type=socket.SOCK_DGRAM)
            except OSError as e:
                raise SnmpError(f"cannot resolve {self.host}: {e.strerror or e}") from None
            sa = infos[0][4]
            self._resolved = (str(sa[0]), int(sa[1]))
        return self._resolved

    async def _request(self, oids: Sequence[OID], deadline: Deadline,
                       reps: int = 0) -> tuple[int, int, list[tuple[OID, Any]]]:
        addr = await self._addr()
        if self._mux is None or self._mux.transport is None or self._mux.transport.is_closing():
            self._mux = await _acquire(self._family)
        mux = self._mux
        loop = asyncio.get_running_loop()
        strays = mux.stray.pop(addr, 0)
        for attempt in range(self.retries + 1):
            remaining = deadline.remaining()
            if remaining <= 0:
                break
            self.retried += 1 if attempt else 0
            for _ in range(4):  # re-sends asked for by the device (SNMPv3 discovery, sync)
                self.sent += 1
                rid = next(_IDS) & 0x7FFFFFFF
                fut: asyncio.Future[bytes] = loop.create_future()
                mux.waiting[rid] = (addr, fut)
                # the timeout is a timer on the reply's own future: asyncio.wait_for made a
                # second future and callbacks around it for each of a poll's ~10 requests
                timer = loop.call_later(min(self.timeout, remaining), _expire, fut)
                try:
                    assert mux.transport is not None
                    mux.transport.sendto(self._encode(rid, oids, reps), addr)
                    data = await fut
                except TimeoutError:
                    break
                finally:
                    timer.cancel()
                    mux.waiting.pop(rid, None)
                try:
                    status, index, vbs = self._decode(data, rid)
                except Resend:
                    remaining = deadline.remaining()
                    if remaining <= 0:
                        break
                    continue
                self.answered = True
                return status, index, vbs
            else:
                raise SnmpError("the device keeps asking to re-synchronise (SNMPv3 engine id "
                                "or time changing on every request)")
        if mux.stray.pop(addr, 0) > 0 or strays:
            raise SnmpError("the device answered, but not to our requests (garbage or a wrong "
                            "request id): a broken agent or something else on that port, "
                            "not a community problem")
        raise _Silent(self.silent)

    def _encode(self, rid: int, oids: Sequence[OID], reps: int) -> bytes:
        return encode_request(self.community, rid, oids, bulk_repetitions=reps)

    def _decode(self, data: bytes, rid: int) -> tuple[int, int, list[tuple[OID, Any]]]:
        got_rid, status, index, vbs = decode_response(data)
        if got_rid != rid:
            raise SnmpError("malformed SNMP response from the device")
        return status, index, vbs

    async def get(self, oids: Sequence[OID], deadline: Deadline) -> dict[OID, Any]:
        status, index, vbs = await self._request(oids, deadline)
        if status:
            raise SnmpError(f"device answered {_err(status)} at index {index}")
        return dict(vbs)

    async def walk(self, root: OID, deadline: Deadline) -> dict[OID, Any]:
        """Every (index suffix -> value) under `root`."""
        return (await self.walk_columns([root], deadline))[root]

    async def walk_columns(self, roots: Sequence[OID],
                           deadline: Deadline) -> dict[OID, dict[OID, Any]]:
        """Walk table columns side by side: one GETBULK carries every unfinished column."""
        out: dict[OID, dict[OID, Any]] = {r: {} for r in roots}
        current: dict[OID, OID] = {r: r for r in roots}
        active = list(dict.fromkeys(roots))
        for _ in range(100_000):  # bounded; a real walk ends far sooner
            if not active:
                break
            if deadline.remaining() <= 0:
                raise walk_timeout(roots)
            try:
                status, _, vbs = await self._request([current[r] for r in active], deadline,
                                                     max(1, self.max_repetitions))
            except _Silent:
                # A device that answered before and now stays silent most likely could not
                # send the reply: net-snmp drops a response larger than a UDP datagram
                # ("send response: Failure in sendto") instead of answering tooBig, and
                # firewalls/VPNs drop fragmented replies. Smaller GETBULKs get through.
                if self.answered and self.max_repetitions > 1 and deadline.remaining() > 0:
                    self.max_repetitions = max(1, self.max_repetitions // 2)
                    self.shrunk += 1
                    log.info("snmp %s: no reply to a GETBULK, max-repetitions now %d",
                             self.host, self.max_repetitions)
                    continue
                raise
            if status == 1 and self.max_repetitions > 1:  # tooBig
                self.max_repetitions = max(1, self.max_repetitions // 2)
                self.shrunk += 1
                continue
            if status:
                raise SnmpError(f"device answered {_err(status)}")
            if not vbs:
                break
            active = absorb_round(active, vbs, out, current)
            check_size(out, self.max_varbinds)
        return out


def _err(status: int) -> str:
    return ERROR_NAMES[status] if 0 <= status < len(ERROR_NAMES) else f"error {status}"
