"""The SNMPv3 codec (v3.py, usm.py) offline: RFC 3414's key vectors, and replies that are
malformed, forged or garbled raise SnmpError with a reason, never anything else.

Interoperability (every auth x priv combination against net-snmp's snmpd) is in
tests/peers/test_snmp_v3.py; the agent-side messages here are built with the codec's own
helpers, the way an agent builds them (a Response PDU in place of the request)."""

from __future__ import annotations

import random
import time

import pytest

from collectors.snmp import SnmpError
from collectors.snmp.usm import User, localize, password_to_key
from collectors.snmp.v2c import Resend, _int, _oid, _tlv
from collectors.snmp.v3 import (
    FLAG_AUTH,
    FLAG_PRIV,
    UNKNOWN_ENGINE_IDS,
    UNKNOWN_USER_NAMES,
    WRONG_DIGESTS,
    Engine,
    V3Target,
    _message,
    _scoped,
    parse_message,
)

ENGINE = bytes.fromhex("80001f88807c2f5d1ba0b5e76400000000")
SYS_NAME = (1, 3, 6, 1, 2, 1, 1, 5, 0)


def test_rfc3414_a3_key_localisation_vectors() -> None:
    engine = bytes.fromhex("000000000000000000000002")
    ku = password_to_key(b"maplesyrup", "md5")
    assert ku.hex() == "9faf3283884e92834ebc9847d8edd963"
    assert localize(ku, engine, "md5").hex() == "526f5eed9fcce26f8964c2930787d82b"
    ku = password_to_key(b"maplesyrup", "sha1")
    assert ku.hex() == "9fb5cc0381497b3793528939ff788d5d79145211"
    assert localize(ku, engine, "sha1").hex() == "6695febc9288e36282235fc7151f128497b38f3f"


def _pdu(tag: int, rid: int, vbs: list[tuple[tuple[int, ...], bytes]]) -> bytes:
    body = b"".join(_tlv(0x30, _oid(o) + v) for o, v in vbs)
    return _tlv(tag, _int(rid) + _int(0) + _int(0) + _tlv(0x30, body))


def _target(priv: str = "AES") -> V3Target:
    user = User.make("pantauv3", "SHA256", "authpass-123", priv, "privpass-123")
    t = V3Target("127.0.0.1", 161, user, 1.0, 0)
    t.engine = Engine(ENGINE, 7, 1000, time.monotonic(), user.keys(ENGINE))
    return t


def _reply(t: V3Target, rid: int, pdu: bytes, *, flags: int | None = None,
           engine: bytes = ENGINE, boots: int = 7, mac: bytes | None = None,
           cipher: bytes | None = None) -> bytes:
    """What an agent sends back: authenticated (and encrypted for a priv user) unless told."""
    assert t.engine is not None
    keys = t.engine.keys
    if flags is None:
        flags = FLAG_AUTH | (FLAG_PRIV if keys.priv != "none" else 0)
    data = _scoped(engine, pdu)
    salt = b""
    if flags & FLAG_PRIV:
        salt, enc = keys.encrypt(data, boots, 1001)
        data = _tlv(0x04, cipher if cipher is not None else enc)
    auth = b"\x00" * keys.mac_len if flags & FLAG_AUTH else b""
    msg = _message(rid, flags, engine, boots, 1001, t.user.name, auth, salt, data)
    if not flags & FLAG_AUTH:
        return msg
    at = len(msg) - len(data) - len(_tlv(0x04, salt)) - keys.mac_len
    return msg[:at] + (mac if mac is not None else keys.mac(msg)) + msg[at + keys.mac_len:]


GOOD_VBS = [(SYS_NAME, _tlv(0x04, b"sw-lantai1")),
            ((1, 3, 6, 1, 2, 1, 1, 3, 0), b"\x43\x02\x10\x00")]


@pytest.mark.parametrize("priv", ["none", "DES", "AES", "AES256"])
def test_authentic_reply_decodes_and_moves_the_clock(priv: str) -> None:
    t = _target(priv)
    status, index, vbs = t._decode(_reply(t, 42, _pdu(0xA2, 42, GOOD_VBS), boots=8), 42)
    assert (status, index) == (0, 0)
    assert vbs[0] == (SYS_NAME, b"sw-lantai1") and vbs[1][1] == 0x1000
    assert t.engine is not None and t.engine.boots == 8  # RFC 3414 3.2.7 b


def test_requests_carry_a_valid_mac_and_encrypted_pdu() -> None:
    t = _target()
    raw = t._encode(9, [SYS_NAME], 0)
    m = parse_message(raw)
    assert t.engine is not None
    keys = t.engine.keys
    zeroed = raw[:m.auth_start] + b"\x00" * keys.mac_len + raw[m.auth_end:]
    assert (m.msg_id, m.flags, m.engine_id, m.user) == (9, 0x07, ENGINE, b"pantauv3")
    assert raw[m.auth_start:m.auth_end] == keys.mac(zeroed)
    plain = keys.decrypt(m.priv_params, raw[m.data_start:m.data_end], m.boots, m.time)
    assert _oid(SYS_NAME) in plain and _oid(SYS_NAME) not in raw


def test_forged_or_broken_replies_give_distinct_reasons() -> None:
    t = _target()
    good = _pdu(0xA2, 5, GOOD_VBS)
    cases = {
        "failed its authentication check": _reply(t, 5, good, mac=b"\x01" * 24),
        "unauthenticated SNMPv3 response": _reply(t, 5, good, flags=0),
        "priv without auth": _reply(t, 5, good, flags=FLAG_PRIV),
        "engine id we did not ask": _reply(t, 5, good, engine=b"\x80\x00\x00\x00\x01"),
        "cannot decrypt": _reply(t, 5, good, cipher=b"\x13" * 64),
        "msgID": _reply(t, 6, good),
        "request id": _reply(t, 5, _pdu(0xA2, 6, GOOD_VBS)),
        "SNMPv3 report 1.3.6.1.6.3.15.1.1.9.0": _reply(
            t, 5, _pdu(0xA8, 5, [((1, 3, 6, 1, 6, 3, 15, 1, 1, 9, 0), b"\x41\x01\x01")])),
        "empty SNMPv3 report": _reply(t, 5, _pdu(0xA8, 5, [])),
        "user unknown": _reply(t, 5, _pdu(0xA8, 0, [(UNKNOWN_USER_NAMES, b"\x41\x01\x01")]),
                               flags=0),
        "authentication failed (wrong auth password": _reply(
            t, 5, _pdu(0xA8, 0, [(WRONG_DIGESTS, b"\x41\x01\x01")]), flags=0),
        "malformed SNMPv3 message": _reply(t, 5, good)[:-3] + b"\x00",
    }
    for reason, raw in cases.items():
        with pytest.raises(SnmpError) as e:
            t._decode(raw, 5)
        assert reason in str(e.value), (reason, str(e.value))
        assert "privpass" not in str(e.value) and "authpass" not in str(e.value)


def test_unknown_engine_id_report_rekeys_and_asks_to_resend() -> None:
    t = _target()
    new = bytes.fromhex("80001f8880aabbccdd")
    report = _reply(t, 8, _pdu(0xA8, 0, [(UNKNOWN_ENGINE_IDS, b"\x41\x01\x03")]), flags=0,
                    engine=new, boots=1)
    old_key = t.engine.keys.auth_key if t.engine else b""
    with pytest.raises(Resend):
        t._decode(report, 8)
    assert t.engine is not None and t.engine.engine_id == new and t.engine.boots == 1
    assert t.engine.keys.auth_key != old_key and t.discoveries == 1
    with pytest.raises(SnmpError, match="report"):  # the same id again: no endless resend
        t._decode(report, 8)


def test_truncated_and_garbled_v3_replies_raise_snmp_error_only() -> None:
    t = _target()
    good = _reply(t, 77, _pdu(0xA2, 77, GOOD_VBS * 20))
    assert len(t._decode(good, 77)[2]) == 40
    for cut in range(len(good)):
        with pytest.raises(SnmpError):
            t._decode(good[:cut], 77)
    rng = random.Random(16)
    for _ in range(2000):  # bounded fuzz: any outcome but a non-SnmpError is fine
        buf = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            buf[rng.randrange(len(buf))] = rng.randrange(256)
        try:
            t._decode(bytes(buf), 77)
        except (SnmpError, Resend):
            pass
