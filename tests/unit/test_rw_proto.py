"""The hand-encoded remote write protobuf and its snappy framing.

Wire compatibility with a real receiver is proven in tests/peers/test_remote_write.py; here the
encoder's own rules: sorted labels with __name__, empty labels left out, int64 timestamps
(also negative), doubles bit-exact, and that concatenated payloads form one valid WriteRequest
(the property the queue relies on to send many rows without re-encoding).
"""

from __future__ import annotations

import math

import pytest

from collectors.base import Sample
from exporters.remote_write import proto as rw_proto


def test_roundtrip_labels_sorted_with_name() -> None:
    enc = rw_proto.Encoder()
    s = Sample("pantau_check_up", 1.0, (("site", "kab-bogor"), ("check", "portal"), ("Zone", "a")))
    series = rw_proto.decode_write_request(enc.write_request([(1_700_000_000_123, [s])]))
    assert len(series) == 1
    labels, samples = series[0]
    assert labels == {"__name__": "pantau_check_up", "site": "kab-bogor", "check": "portal",
                      "Zone": "a"}
    assert samples == [(1.0, 1_700_000_000_123)]
    # the spec requires labels sorted by name, byte-wise: uppercase < "__name__" < lowercase
    raw = enc.write_request([(1, [s])])
    order = [raw.index(k.encode()) for k in ("Zone", "__name__", "check", "site")]
    assert order == sorted(order)


def test_empty_label_values_are_left_out() -> None:
    s = Sample("m", 2.0, (("site", "x"), ("device", "")))
    [(labels, _)] = rw_proto.decode_write_request(rw_proto.Encoder().write_request([(5, [s])]))
    assert labels == {"__name__": "m", "site": "x"}


@pytest.mark.parametrize("value", [0.0, -1.5, 1e300, float("inf"), 123456789.123456789])
@pytest.mark.parametrize("ts", [0, 1, 127, 128, 2**40, -1, -(2**62)])
def test_values_and_timestamps_exact(value: float, ts: int) -> None:
    raw = rw_proto.Encoder().write_request([(ts, [Sample("m", value)])])
    [(_, [(v, t)])] = rw_proto.decode_write_request(raw)
    assert t == ts
    assert v == value


def test_nan_survives() -> None:
    raw = rw_proto.Encoder().write_request([(1, [Sample("m", float("nan"))])])
    [(_, [(v, _)])] = rw_proto.decode_write_request(raw)
    assert math.isnan(v)


def test_varint_known_bytes() -> None:
    assert rw_proto.varint(0) == b"\x00"
    assert rw_proto.varint(300) == b"\xac\x02"
    assert rw_proto.varint(-1) == b"\xff" * 9 + b"\x01"


def test_concatenated_payloads_are_one_request_in_order() -> None:
    enc = rw_proto.Encoder()
    a = enc.write_request([(10, [Sample("m", 1.0, (("k", "a"),))])])
    b = enc.write_request([(20, [Sample("m", 2.0, (("k", "a"),)), Sample("n", 3.0)])])
    body = rw_proto.compress(rw_proto.decompress(rw_proto.compress(a)) + b)
    series = rw_proto.decode_write_request(rw_proto.decompress(body))
    assert [(ls["__name__"], smp) for ls, smp in series] == [
        ("m", [(1.0, 10)]), ("m", [(2.0, 20)]), ("n", [(3.0, 20)])
    ]


def test_snappy_is_block_format() -> None:
    data = b"pantau" * 1000
    comp = rw_proto.compress(data)
    assert len(comp) < len(data) // 10
    # block format starts with the uncompressed length as a varint, no stream identifier
    assert comp.startswith(rw_proto.varint(len(data)))
    assert not comp.startswith(b"\xff\x06\x00\x00sNaPpY")
    assert rw_proto.decompress(comp) == data


def test_truncated_payload_is_an_error() -> None:
    raw = rw_proto.Encoder().write_request([(1, [Sample("m", 1.0, (("a", "b"),))])])
    with pytest.raises(ValueError, match="truncated"):
        rw_proto.decode_write_request(raw[:-3])


def test_headers() -> None:
    assert rw_proto.HEADERS == {
        "Content-Encoding": "snappy",
        "Content-Type": "application/x-protobuf",
        "X-Prometheus-Remote-Write-Version": "0.1.0",
    }
