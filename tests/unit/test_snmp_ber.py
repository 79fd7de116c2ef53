"""The hand-written v2c BER codec against pysnmp/pyasn1's own encoder and decoder."""

from __future__ import annotations

import random
from typing import Any

import pytest
from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto import rfc1902, rfc1905
from pysnmp.proto.api import v2c

from collectors.snmp import SnmpError, convert
from collectors.snmp.v2c import (
    END_OF_MIB_VIEW,
    NO_SUCH_INSTANCE,
    NO_SUCH_OBJECT,
    IpAddress,
    ObjectIdentifier,
    OctetString,
    decode_response,
    encode_request,
)

IF_HC_IN = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 6)


def _response(request_id: int, varbinds: list[tuple[tuple[int, ...], Any]],
              status: int = 0, index: int = 0) -> bytes:
    pdu = v2c.ResponsePDU()
    v2c.apiPDU.set_defaults(pdu)
    v2c.apiPDU.set_request_id(pdu, request_id)
    v2c.apiPDU.set_error_status(pdu, status)
    v2c.apiPDU.set_error_index(pdu, index)
    v2c.apiPDU.set_varbinds(pdu, varbinds)
    msg = v2c.Message()
    v2c.apiMessage.set_defaults(msg)
    v2c.apiMessage.set_community(msg, "public")
    v2c.apiMessage.set_pdu(msg, pdu)
    return bytes(encoder.encode(msg))


def test_every_value_type_decodes_like_pysnmp() -> None:
    vbs: list[tuple[tuple[int, ...], Any]] = [
        ((*IF_HC_IN, 1), rfc1902.Counter64(2**64 - 1)),
        ((*IF_HC_IN, 2), rfc1902.Counter32(2**32 - 1)),
        ((1, 3, 6, 1, 2, 1, 2, 2, 1, 5, 3), rfc1902.Gauge32(1_000_000_000)),
        ((1, 3, 6, 1, 2, 1, 1, 3, 0), rfc1902.TimeTicks(123456789)),
        ((1, 3, 6, 1, 4, 1, 2021, 13, 16, 2, 1, 3, 1), rfc1902.Integer32(-273)),
        ((1, 3, 6, 1, 2, 1, 1, 5, 0), rfc1902.OctetString("sw-lantai1")),
        ((1, 3, 6, 1, 2, 1, 2, 2, 1, 6, 3), rfc1902.OctetString(hexValue="0012abcdef01")),
        ((1, 3, 6, 1, 2, 1, 1, 2, 0), rfc1902.ObjectName("1.3.6.1.4.1.14988.1")),
        ((1, 3, 6, 1, 2, 1, 4, 20, 1, 1, 10, 0, 0, 1), rfc1902.IpAddress("10.0.0.1")),
        ((1, 3, 6, 1, 4, 1, 4294967295, 268435456), rfc1905.noSuchObject),
        ((1, 3, 6, 1, 2, 1, 99, 0), rfc1905.noSuchInstance),
        ((1, 3, 6, 1, 2, 1, 100), rfc1905.endOfMibView),
    ]
    rid, status, index, got = decode_response(_response(0x7FFFFFFE, vbs))
    assert (rid, status, index) == (0x7FFFFFFE, 0, 0)
    assert [o for o, _ in got] == [o for o, _ in vbs]
    values = [v for _, v in got]
    assert values[:5] == [2**64 - 1, 2**32 - 1, 1_000_000_000, 123456789, -273]
    assert isinstance(values[5], OctetString) and convert(values[5]) == "sw-lantai1"
    assert convert(values[6]) == "00:12:ab:cd:ef:01"  # not UTF-8: shown as hex
    assert isinstance(values[7], ObjectIdentifier)
    assert convert(values[7]) == "1.3.6.1.4.1.14988.1"
    assert isinstance(values[8], IpAddress) and convert(values[8]) == "10.0.0.1"
    assert values[9:] == [NO_SUCH_OBJECT, NO_SUCH_INSTANCE, END_OF_MIB_VIEW]
    assert [convert(v) for v in values[9:]] == [None, None, None]


def test_error_status_is_reported() -> None:
    _, status, index, _ = decode_response(_response(5, [((1, 3, 6, 1), rfc1902.Null(""))],
                                                    status=1, index=0))
    assert (status, index) == (1, 0)  # tooBig


@pytest.mark.parametrize("reps", [0, 25, 200])
def test_requests_decode_with_pyasn1(reps: int) -> None:
    oids = [(1, 3, 6, 1, 2, 1, 2, 2, 1, 10), (1, 3, 6, 1, 4, 1, 2**31 - 1, 300, 0)]
    raw = encode_request(b"s3cret", 123456, oids, bulk_repetitions=reps)
    msg, rest = decoder.decode(raw, asn1Spec=v2c.Message())
    assert rest == b""
    assert str(v2c.apiMessage.get_community(msg)) == "s3cret"
    pdu = v2c.apiMessage.get_pdu(msg)
    assert int(v2c.apiPDU.get_request_id(pdu)) == 123456
    if reps:
        assert pdu.tagSet == v2c.GetBulkRequestPDU.tagSet
        assert int(v2c.apiBulkPDU.get_max_repetitions(pdu)) == reps
        assert int(v2c.apiBulkPDU.get_non_repeaters(pdu)) == 0
    else:
        assert pdu.tagSet == v2c.GetRequestPDU.tagSet
    assert [tuple(o) for o, _ in v2c.apiPDU.get_varbinds(pdu)] == oids


def test_truncated_and_garbled_replies_raise_snmp_error_only() -> None:
    good = _response(77, [((*IF_HC_IN, i), rfc1902.Counter64(i * 10**12)) for i in range(40)])
    assert decode_response(good)[3][-1][1] == 39 * 10**12
    for cut in range(len(good)):
        with pytest.raises(SnmpError, match="malformed SNMP response"):
            decode_response(good[:cut])
    rng = random.Random(4)
    for _ in range(2000):  # bounded fuzz: flip bytes; any outcome but a non-SnmpError is fine
        buf = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            buf[rng.randrange(len(buf))] = rng.randrange(256)
        try:
            decode_response(bytes(buf))
        except SnmpError:
            pass
