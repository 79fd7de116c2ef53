"""SNMPv3 on the v2c codec: the RFC 3412 message around the same PDUs, USM from usm.py.

Why not pysnmp: a 48-port poll through pysnmp cost 12.9x snmp_exporter's CPU per value (its
message machinery and pyasn1, not the crypto). A v3 message is the v2c PDU inside a few more
TLVs, one HMAC and, for authPriv, one AES/DES call.

The engine state is kept per device (per V3Target): engine id, boots and time, the keys
localised to that engine id. The device tells us when that state is wrong, and the request is
sent again at once, within the same poll (never a silent timeout):
- no engine id yet: a discovery request (reportable, noAuthNoPriv, empty engine id) draws a
  usmStatsUnknownEngineIDs report carrying the agent's engine id, boots and time (RFC 3414 4);
- usmStatsNotInTimeWindows (the agent restarted with the same engine id, boots + 1 and its
  clock from 0): take its boots/time and send again;
- usmStatsUnknownEngineIDs after discovery (the agent came back with a new engine id, as gear
  that lost its persistent storage does): localise the keys to the new id and send again.
The other reports become distinct errors: unknown user, wrong digest (auth password),
decryption error (priv password), unsupported security level. net-snmp sends no report for a
wrong priv password (the decrypted garbage is dropped as a parse error), so silence after a
successful discovery is checked with one authenticated, unencrypted GET: an authentic answer
to it means the auth key is right and the priv key is not.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from collectors.base import Deadline
from collectors.snmp.usm import Keys, PrivError, User
from collectors.snmp.v2c import (
    Resend,
    V2cTarget,
    _dec_int,
    _header,
    _int,
    _Malformed,
    _Silent,
    _tlv,
    decode_pdu,
    encode_pdu,
)
from collectors.snmp.walk import OID, SnmpError

log = logging.getLogger(__name__)

MAX_SIZE = 65507  # the largest UDP payload: let the agent send whole GETBULK answers
FLAG_AUTH, FLAG_PRIV, FLAG_REPORTABLE = 0x01, 0x02, 0x04
USM = 3
INT31 = 2**31 - 1

USM_STATS = (1, 3, 6, 1, 6, 3, 15, 1, 1)
UNSUPPORTED_SEC_LEVELS, NOT_IN_TIME_WINDOWS, UNKNOWN_USER_NAMES, UNKNOWN_ENGINE_IDS, \
    WRONG_DIGESTS, DECRYPTION_ERRORS = ((*USM_STATS, n, 0) for n in range(1, 7))
REPORT_REASONS = {
    UNKNOWN_USER_NAMES: "SNMPv3 user unknown to the device",
    WRONG_DIGESTS: "SNMPv3 authentication failed (wrong auth password or protocol)",
    DECRYPTION_ERRORS: "SNMPv3 decryption failed (wrong priv password or protocol)",
    UNSUPPORTED_SEC_LEVELS: "SNMPv3 security level not allowed for this user on the device "
                            "(authPriv vs authNoPriv)",
    NOT_IN_TIME_WINDOWS: "SNMPv3 time window: the device rejects our engine boots/time "
                         "although we took them from its own report",
}


@dataclass
class Engine:
    """What we know of the device's authoritative engine (RFC 3414 2.3)."""

    engine_id: bytes
    boots: int
    time: int
    at: float  # time.monotonic() when `time` was read
    keys: Keys

    def now(self) -> int:
        return min(INT31, self.time + int(time.monotonic() - self.at))


@dataclass
class Message:
    """A decoded v3 message, the PDU still undecoded (start/end in buf)."""

    msg_id: int
    flags: int
    engine_id: bytes
    boots: int
    time: int
    user: bytes
    auth_start: int
    auth_end: int
    priv_params: bytes
    data_tag: int
    data_start: int
    data_end: int


class V3Target(V2cTarget):
    """One SNMPv3 device. Same interface as V2cTarget (get, walk, walk_columns)."""

    version = "3"
    silent = "no response (device unreachable, or no SNMPv3 agent on that port)"

    def __init__(self, host: str, port: int, user: User, timeout: float, retries: int,
                 max_repetitions: int = 25, max_varbinds: int = 50_000) -> None:
        super().__init__(host, port, "", timeout, retries, max_repetitions, max_varbinds)
        self.user = user
        self.engine: Engine | None = None
        self.discoveries = 0  # engine ids learnt (1 normally; + 1 per engine-id change)
        self.resyncs = 0  # notInTimeWindow reports answered
        self._plain = False  # send authNoPriv (the wrong-priv-password check only)

    def forget_peer(self) -> bool:
        """Drop the engine state: the next request discovers the device again."""
        had = self.engine is not None
        self.engine = None
        return had

    async def _request(self, oids: Sequence[OID], deadline: Deadline,
                       reps: int = 0) -> tuple[int, int, list[tuple[OID, Any]]]:
        try:
            return await super()._request(oids, deadline, reps)
        except _Silent:
            if (self.engine is None or self.user.priv == "none" or self.answered
                    or self._plain or deadline.remaining() <= 0):
                raise
            self._plain = True
            try:  # sysUpTime.0, authNoPriv: any authentic answer proves the auth key right
                await super()._request([(1, 3, 6, 1, 2, 1, 1, 3, 0)], deadline)
            except SnmpError:
                pass
            else:
                raise SnmpError(
                    "SNMPv3 decryption failed: the device answers authenticated requests but "
                    "not encrypted ones (wrong priv password or protocol)") from None
            finally:
                self._plain = False
            raise

    # -- encoding ------------------------------------------------------------------------

    def _encode(self, rid: int, oids: Sequence[OID], reps: int) -> bytes:
        eng = self.engine
        if eng is None:  # discovery: no user, no keys, a GET without varbinds (RFC 3414 4)
            return _message(rid, FLAG_REPORTABLE, b"", 0, 0, b"", b"", b"",
                            _scoped(b"", encode_pdu(rid, [])))
        keys = eng.keys
        boots, now = eng.boots, eng.now()
        scoped = _scoped(eng.engine_id, encode_pdu(rid, oids, reps))
        flags = FLAG_REPORTABLE | FLAG_AUTH
        priv_params = b""
        if keys.priv != "none" and not self._plain:
            flags |= FLAG_PRIV
            priv_params, cipher = keys.encrypt(scoped, boots, now)
            scoped = _tlv(0x04, cipher)
        placeholder = b"\x00" * keys.mac_len
        msg = _message(rid, flags, eng.engine_id, boots, now, self.user.name, placeholder,
                       priv_params, scoped)
        # the MAC is over the whole message with the MAC field zeroed; that field's value
        # ends right before the msgPrivacyParameters TLV, which the scopedPDU follows
        at = len(msg) - len(scoped) - len(_tlv(0x04, priv_params)) - keys.mac_len
        return msg[:at] + keys.mac(msg) + msg[at + keys.mac_len:]

    # -- decoding ------------------------------------------------------------------------

    def _decode(self, data: bytes, rid: int) -> tuple[int, int, list[tuple[OID, Any]]]:
        try:
            m = parse_message(data)
        except (_Malformed, IndexError, ValueError):
            raise SnmpError("malformed SNMPv3 message from the device") from None
        if m.msg_id != rid:
            raise SnmpError("malformed SNMPv3 message from the device (msgID)")
        eng = self.engine
        authentic = False
        if m.flags & FLAG_AUTH:
            if eng is None or m.engine_id != eng.engine_id:
                raise SnmpError("SNMPv3 reply authenticated for an engine id we did not ask")
            given = data[m.auth_start:m.auth_end]
            zeroed = data[:m.auth_start] + b"\x00" * len(given) + data[m.auth_end:]
            if len(given) != eng.keys.mac_len or not hmac.compare_digest(
                    given, eng.keys.mac(zeroed)):
                raise SnmpError("SNMPv3 reply failed its authentication check (wrong auth "
                                "protocol, or the reply was altered on the way)")
            authentic = True
        elif m.flags & FLAG_PRIV:
            raise SnmpError("malformed SNMPv3 message from the device (priv without auth)")
        try:
            tag, prid, status, index, vbs = self._pdu(data, m, eng)
        except (_Malformed, IndexError, ValueError):
            if m.flags & FLAG_PRIV:
                raise SnmpError("cannot decrypt the device's SNMPv3 reply (wrong priv "
                                "protocol?)") from None
            raise SnmpError("malformed SNMPv3 message from the device") from None
        if tag == 0xA8:
            return self._report(m, vbs, authentic)
        if not authentic:
            raise SnmpError("unauthenticated SNMPv3 response to an authenticated request")
        if prid != rid:
            raise SnmpError("malformed SNMPv3 message from the device (request id)")
        assert eng is not None
        self._sync(eng, m)
        return status, index, vbs

    def _pdu(self, data: bytes, m: Message,
             eng: Engine | None) -> tuple[int, int, int, int, list[tuple[OID, Any]]]:
        if m.flags & FLAG_PRIV:
            assert eng is not None and m.data_tag == 0x04
            try:
                plain = eng.keys.decrypt(m.priv_params, data[m.data_start:m.data_end], m.boots,
                                         m.time)
            except PrivError as e:
                raise ValueError(str(e)) from None
            tag, pos, end = _header(plain, 0, len(plain))
            return _scoped_pdu(plain, tag, pos, end)
        return _scoped_pdu(data, m.data_tag, m.data_start, m.data_end)

    def _report(self, m: Message, vbs: list[tuple[OID, Any]],
                authentic: bool) -> tuple[int, int, list[tuple[OID, Any]]]:
        oid = vbs[0][0] if vbs else ()
        eng = self.engine
        if oid == UNKNOWN_ENGINE_IDS and m.engine_id and (eng is None
                                                           or m.engine_id != eng.engine_id):
            if eng is not None:
                log.info("snmp %s: SNMPv3 engine id changed (%s -> %s), keys localised again",
                         self.host, eng.engine_id.hex(), m.engine_id.hex())
            self.engine = Engine(m.engine_id, m.boots, m.time, time.monotonic(),
                                 self.user.keys(m.engine_id))
            self.discoveries += 1
            raise Resend
        if oid == NOT_IN_TIME_WINDOWS and eng is not None and m.engine_id == eng.engine_id \
                and (m.boots, m.time) != (eng.boots, eng.now()):
            # RFC 3414 sends this report authenticated; an unauthenticated one (some agents)
            # is taken too: a forged one could only make this request fail, bounded by Resend
            eng.boots, eng.time, eng.at = m.boots, m.time, time.monotonic()
            self.resyncs += 1
            log.debug("snmp %s: SNMPv3 time window re-synchronised (boots %d, authentic %s)",
                      self.host, m.boots, authentic)
            raise Resend
        if oid in REPORT_REASONS:
            raise SnmpError(REPORT_REASONS[oid])
        if not oid:
            raise SnmpError("the device sent an empty SNMPv3 report")
        raise SnmpError(f"the device sent SNMPv3 report {'.'.join(map(str, oid))}")

    def _sync(self, eng: Engine, m: Message) -> None:
        """RFC 3414 3.2.7 b: an authentic message with later boots/time moves our clock."""
        if m.boots > eng.boots or (m.boots == eng.boots and m.time > eng.now()):
            eng.boots, eng.time, eng.at = m.boots, m.time, time.monotonic()


def _scoped(context_engine_id: bytes, pdu: bytes) -> bytes:
    return _tlv(0x30, _tlv(0x04, context_engine_id) + _tlv(0x04, b"") + pdu)


def _message(msg_id: int, flags: int, engine_id: bytes, boots: int, engine_time: int,
             user: bytes, auth: bytes, priv: bytes, data: bytes) -> bytes:
    header = _tlv(0x30, _int(msg_id) + _int(MAX_SIZE) + _tlv(0x04, bytes((flags,)))
                  + _int(USM))
    sec = _tlv(0x30, _tlv(0x04, engine_id) + _int(boots) + _int(engine_time) + _tlv(0x04, user)
               + _tlv(0x04, auth) + _tlv(0x04, priv))
    return _tlv(0x30, _int(3) + header + _tlv(0x04, sec) + data)


def _octets(buf: bytes, pos: int, end: int) -> tuple[int, int, int]:
    tag, s, e = _header(buf, pos, end)
    if tag != 0x04:
        raise _Malformed
    return s, e, e


def _integer(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    tag, s, e = _header(buf, pos, end)
    if tag != 0x02:
        raise _Malformed
    return _dec_int(buf, s, e), e


def parse_message(buf: bytes) -> Message:
    """The v3 message around the (maybe encrypted) scopedPDU; _Malformed if it is not one."""
    tag, pos, end = _header(buf, 0, len(buf))
    if tag != 0x30:
        raise _Malformed
    version, pos = _integer(buf, pos, end)
    if version != 3:
        raise _Malformed
    tag, gpos, gend = _header(buf, pos, end)
    if tag != 0x30:
        raise _Malformed
    msg_id, gpos = _integer(buf, gpos, gend)
    _, gpos = _integer(buf, gpos, gend)  # msgMaxSize
    s, e, gpos = _octets(buf, gpos, gend)
    if e - s != 1:
        raise _Malformed
    flags = buf[s]
    model, gpos = _integer(buf, gpos, gend)
    if model != USM:
        raise _Malformed
    s, e, pos = _octets(buf, gend, end)  # msgSecurityParameters
    tag, spos, send = _header(buf, s, e)
    if tag != 0x30:
        raise _Malformed
    es, ee, spos = _octets(buf, spos, send)
    boots, spos = _integer(buf, spos, send)
    engine_time, spos = _integer(buf, spos, send)
    if not (0 <= boots <= INT31 and 0 <= engine_time <= INT31):
        raise _Malformed
    us, ue, spos = _octets(buf, spos, send)
    auth_start, auth_end, spos = _octets(buf, spos, send)
    ps, pe, spos = _octets(buf, spos, send)
    data_tag, data_start, data_end = _header(buf, pos, end)
    if data_tag not in (0x30, 0x04):
        raise _Malformed
    return Message(msg_id, flags, bytes(buf[es:ee]), boots, engine_time, bytes(buf[us:ue]),
                   auth_start, auth_end, bytes(buf[ps:pe]), data_tag, data_start, data_end)


def _scoped_pdu(buf: bytes, tag: int, pos: int,
                end: int) -> tuple[int, int, int, int, list[tuple[OID, Any]]]:
    """The PDU of a plaintext scopedPDU (SEQUENCE {contextEngineID, contextName, PDU})."""
    if tag != 0x30:
        raise _Malformed
    _, _, pos = _octets(buf, pos, end)
    _, _, pos = _octets(buf, pos, end)
    return decode_pdu(buf, pos, end)

