"""Prometheus remote write 1.0 on the wire: a hand-encoded WriteRequest, snappy block-compressed.

The message is tiny (WriteRequest{repeated TimeSeries}, TimeSeries{repeated Label, repeated
Sample}), so encoding it by hand avoids a protobuf runtime and generated code. Because a
WriteRequest is nothing but repeated field 1, the encoded time series of many queue rows can be
concatenated as they are: the sender never re-encodes what the queue already holds.

Each series' label block is cached, so the steady state (the same few thousand series every
interval) costs one dict lookup plus a value and a timestamp per sample.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import TYPE_CHECKING

from collectors.base import Sample
from collectors.common.lazy import lazy_import

if TYPE_CHECKING:
    import cramjam
else:
    cramjam = lazy_import("cramjam")  # only offices that configure remote_write need it

HEADERS = {
    "Content-Encoding": "snappy",
    "Content-Type": "application/x-protobuf",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
}

_MASK64 = (1 << 64) - 1
_DOUBLE = struct.Struct("<d")
# A running agent sees a stable set of series; the cap only guards against label churn.
_LABEL_CACHE_MAX = 200_000


def varint(n: int) -> bytes:
    """Protobuf base-128 varint; negative int64 values take their two's complement (10 bytes)."""
    n &= _MASK64
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field_bytes(tag: int, data: bytes) -> bytes:
    return bytes((tag,)) + varint(len(data)) + data


def encode_labels(name: str, labels: Iterable[tuple[str, str]]) -> bytes:
    """The repeated Label fields of one series, sorted by name as the spec requires.

    Empty values are left out: to Prometheus an empty label is an absent label, and some
    receivers refuse empty values outright.
    """
    pairs = {k: v for k, v in labels if v != ""}
    pairs["__name__"] = name
    out = bytearray()
    for k in sorted(pairs):
        label = _field_bytes(0x0A, k.encode()) + _field_bytes(0x12, pairs[k].encode())
        out += _field_bytes(0x0A, label)
    return bytes(out)


class Encoder:
    """Turns samples into WriteRequest bytes, caching each series' encoded labels."""

    def __init__(self) -> None:
        self._labels: dict[tuple[str, tuple[tuple[str, str], ...]], bytes] = {}

    def timeseries(self, sample: Sample, timestamp_ms: int) -> bytes:
        """One WriteRequest field-1 entry: a TimeSeries holding this one sample."""
        key = (sample.name, sample.labels)
        labels = self._labels.get(key)
        if labels is None:
            if len(self._labels) >= _LABEL_CACHE_MAX:
                self._labels.clear()
            labels = self._labels[key] = encode_labels(sample.name, sample.labels)
        body = b"\x09" + _DOUBLE.pack(sample.value) + b"\x10" + varint(timestamp_ms)
        ts = labels + b"\x12" + varint(len(body)) + body
        return b"\x0a" + varint(len(ts)) + ts

    def write_request(self, items: Iterable[tuple[int, Iterable[Sample]]]) -> bytes:
        """Encode (timestamp_ms, samples) groups as one uncompressed WriteRequest."""
        parts = [self.timeseries(s, ts) for ts, samples in items for s in samples]
        return b"".join(parts)


def compress(data: bytes) -> bytes:
    """Snappy *block* format (not framed), as remote write requires."""
    return bytes(cramjam.snappy.compress_raw(data))


def decompress(data: bytes) -> bytes:
    return bytes(cramjam.snappy.decompress_raw(data))


# --------------------------------------------------------------------------------------------
# Decoding: for tests and for reading a queue back; strict, so a bad payload fails loudly.

DecodedSeries = tuple[dict[str, str], list[tuple[float, int]]]


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(buf: bytes) -> Iterable[tuple[int, int, bytes | int]]:
    """Yield (field number, wire type, payload) over one message."""
    pos = 0
    while pos < len(buf):
        key, pos = _read_varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _read_varint(buf, pos)
            yield field, wire, value
        elif wire == 1:
            if pos + 8 > len(buf):
                raise ValueError("truncated fixed64")
            yield field, wire, buf[pos:pos + 8]
            pos += 8
        elif wire == 2:
            length, pos = _read_varint(buf, pos)
            if pos + length > len(buf):
                raise ValueError("truncated length-delimited field")
            yield field, wire, buf[pos:pos + length]
            pos += length
        else:
            raise ValueError(f"unsupported wire type {wire}")


def decode_write_request(buf: bytes) -> list[DecodedSeries]:
    """Parse an uncompressed WriteRequest into (labels, [(value, timestamp_ms)]) per series."""
    out: list[DecodedSeries] = []
    for field, wire, ts_buf in _fields(buf):
        if field != 1 or wire != 2 or not isinstance(ts_buf, bytes):
            continue
        labels: dict[str, str] = {}
        samples: list[tuple[float, int]] = []
        for f, w, payload in _fields(ts_buf):
            if w != 2 or not isinstance(payload, bytes):
                continue
            if f == 1:
                kv = {n: v for n, _, v in _fields(payload) if isinstance(v, bytes)}
                labels[kv.get(1, b"").decode()] = kv.get(2, b"").decode()
            elif f == 2:
                value, ts = 0.0, 0
                for sf, _, sv in _fields(payload):
                    if sf == 1 and isinstance(sv, bytes):
                        value = _DOUBLE.unpack(sv)[0]
                    elif sf == 2 and isinstance(sv, int):
                        ts = sv - (1 << 64) if sv >= 1 << 63 else sv
                samples.append((value, ts))
        out.append((labels, samples))
    return out
