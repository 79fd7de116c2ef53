"""Prometheus remote write: a disk-backed queue (queue), the protobuf/snappy wire format
(proto) and the sender with retries and accounting of everything dropped (writer)."""

from exporters.remote_write.writer import RemoteWriteConfig, RemoteWriter

__all__ = ["RemoteWriteConfig", "RemoteWriter"]
