"""RemoteWriter against a scripted HTTP receiver on 127.0.0.1, for the answers a real
Prometheus can't be made to give on demand (500, 429, 400 for a batch, auth checks).

The real receiver (Prometheus with --web.enable-remote-write-receiver) is in
tests/peers/test_remote_write.py.
"""

from __future__ import annotations

import asyncio
import base64
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from agent import __version__
from collectors.base import Sample
from exporters.remote_write import RemoteWriteConfig, RemoteWriter
from exporters.remote_write import proto as rw_proto


class Receiver:
    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], list[rw_proto.DecodedSeries]]] = []
        self.script: list[int] = []  # status codes to answer, then 204 forever
        self.poison: float | None = None  # answer 400 to any request holding this value
        self.lock = threading.Lock()

    def delivered(self) -> list[tuple[str, float, int]]:
        """(series, value, ts) of every sample in every request answered 2xx."""
        out = []
        for headers, series in self.requests:
            if headers.get("x-answer", "204").startswith("2"):
                for labels, samples in series:
                    out += [(labels.get("s", ""), v, t) for v, t in samples]
        return out


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with rec.lock:
                status = rec.script.pop(0) if rec.script else 204
                series = rw_proto.decode_write_request(rw_proto.decompress(body))
                if any(v == rec.poison for _, smp in series for v, _ in smp):
                    status = 400
                headers = {k.lower(): v for k, v in self.headers.items()}
                headers["x-answer"] = str(status)
                rec.requests.append((headers, series))
            self.send_response(status)
            self.send_header("Content-Length", "19")
            self.end_headers()
            self.wfile.write(b"out of order sample")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield rec, f"http://127.0.0.1:{server.server_address[1]}/api/v1/write"
    finally:
        server.shutdown()
        server.server_close()


def _config(url: str, **extra: Any) -> RemoteWriteConfig:
    return RemoteWriteConfig.model_validate({
        "url": url, "flush_interval": "100ms", "timeout": "2s",
        "queue": {"sync_interval": "50ms"}, "backoff": {"min": "50ms", "max": "200ms"},
        **extra,
    })


async def _until(cond: Any, limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if cond():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


def _s(series: str, value: float) -> list[Sample]:
    return [Sample("rw_test", value, (("site", "lab"), ("s", series)))]


def test_headers_auth_and_order(receiver: tuple[Receiver, str], tmp_path: Path) -> None:
    rec, url = receiver

    async def main() -> RemoteWriter:
        w = RemoteWriter(_config(url, basic_auth={"username": "kab", "password": "pw"},
                                 headers={"X-Scope-OrgID": "jabar"}), tmp_path, "lab")
        await w.start()
        t0 = time.time()
        for i in range(50):
            w.enqueue(t0 + i, _s("a", i) + _s("b", -i))
        await _until(lambda: w.counts["sent"] == 100)
        await w.stop()
        return w

    w = asyncio.run(main())
    headers = rec.requests[0][0]
    assert headers["content-encoding"] == "snappy"
    assert headers["content-type"] == "application/x-protobuf"
    assert headers["x-prometheus-remote-write-version"] == "0.1.0"
    assert headers["x-scope-orgid"] == "jabar"
    assert headers["user-agent"] == f"pantau/{__version__}"
    assert headers["authorization"] == "Basic " + base64.b64encode(b"kab:pw").decode()
    got = rec.delivered()
    assert [v for s, v, _ in got if s == "a"] == list(range(50))
    ts_a = [t for s, _, t in got if s == "a"]
    assert ts_a == sorted(ts_a)
    assert w.samples()  # self metrics render
    assert w.counts == {"queued": 100, "sent": 100, "rejected": 0}


def test_5xx_and_429_are_retried_until_delivered_once(
    receiver: tuple[Receiver, str], tmp_path: Path
) -> None:
    rec, url = receiver
    rec.script = [500, 503, 429]

    async def main() -> RemoteWriter:
        w = RemoteWriter(_config(url, bearer_token="tok"), tmp_path, "lab")
        await w.start()
        t0 = time.time()
        for i in range(10):
            w.enqueue(t0 + i, _s("a", i))
        await _until(lambda: w.counts["sent"] == 10)
        await w.stop()
        return w

    w = asyncio.run(main())
    assert w.requests["retry"] == 3 and w.requests["rejected"] == 0
    assert sorted(v for _, v, _ in rec.delivered()) == list(range(10))  # once each
    assert rec.requests[0][0]["authorization"] == "Bearer tok"


def test_400_is_rejected_counted_and_not_retried(
    receiver: tuple[Receiver, str], tmp_path: Path
) -> None:
    rec, url = receiver
    rec.script = [400]

    async def main() -> RemoteWriter:
        w = RemoteWriter(_config(url), tmp_path, "lab")
        await w.start()
        t0 = time.time()
        for i in range(5):
            w.enqueue(t0 + i, _s("a", i))
        await _until(lambda: w.counts["rejected"] == 5)
        w.enqueue(t0 + 10, _s("a", 10))
        await _until(lambda: w.counts["sent"] == 1)
        await w.stop()
        return w

    w = asyncio.run(main())
    assert w.requests == {"success": 1, "retry": 0, "rejected": 1}
    assert [v for _, v, _ in rec.delivered()] == [10]


def test_a_refused_chunk_does_not_take_its_batch_down(
    receiver: tuple[Receiver, str], tmp_path: Path
) -> None:
    rec, url = receiver
    rec.poison = 666.0

    async def main() -> RemoteWriter:
        w = RemoteWriter(_config(url, flush_interval="2s"), tmp_path, "lab")
        await w.start()
        t0 = time.time()
        for i, v in enumerate([1, 2, 3, 666, 5, 6, 7]):
            w.enqueue(t0 + i, _s("a", v))
            await asyncio.sleep(0.12)  # one disk row each, all sent in one first request
        await _until(lambda: w.counts["sent"] + w.counts["rejected"] == 7)
        await w.stop()
        return w

    w = asyncio.run(main())
    assert len(rec.requests[0][1]) == 7  # the first request carried all seven
    assert w.counts["rejected"] == 1 and w.counts["sent"] == 6
    assert [v for _, v, _ in rec.delivered()] == [1, 2, 3, 5, 6, 7]


def test_out_of_order_samples_dropped_and_counted(
    receiver: tuple[Receiver, str], tmp_path: Path
) -> None:
    rec, url = receiver

    async def main() -> RemoteWriter:
        w = RemoteWriter(_config(url), tmp_path, "lab")
        await w.start()
        t0 = time.time()
        w.enqueue(t0, _s("a", 1))
        w.enqueue(t0 - 5, _s("a", 2) + _s("b", 2))  # clock stepped back for series a
        await _until(lambda: w.counts["sent"] == 2)
        await w.stop()
        return w

    w = asyncio.run(main())
    assert w.dropped["out_of_order"] == 1
    assert sorted((s, v) for s, v, _ in rec.delivered()) == [("a", 1.0), ("b", 2.0)]


def test_a_newer_value_in_the_same_millisecond_is_kept_1_ms_later(
    receiver: tuple[Receiver, str], tmp_path: Path
) -> None:
    """Two values of a series stamped in the same millisecond (the alerting engine publishes
    pantau_check_up twice when a change is committed, the first time still with the old
    state): the newer one must reach the receiver, not be dropped as out of order. A receiver
    would refuse two samples at one timestamp, so it goes 1 ms later; a third, 2 ms later."""
    rec, url = receiver

    async def main() -> RemoteWriter:
        w = RemoteWriter(_config(url), tmp_path, "lab")
        await w.start()
        t0 = round(time.time(), 3)
        w.enqueue(t0, _s("a", 0))
        w.enqueue(t0, _s("a", 1))  # the same millisecond: the newer value
        await w._commit()  # a commit in between must not change the outcome
        w.enqueue(t0, _s("a", 2))
        w.enqueue(t0 + 0.005, _s("a", 3))  # later than the shifted ones: as it came
        await _until(lambda: w.counts["sent"] == 4)
        await w.stop()
        return w

    w = asyncio.run(main())
    assert w.dropped["out_of_order"] == 0
    got = sorted((t, v) for s, v, t in rec.delivered() if s == "a")
    t0_ms = got[0][0]
    assert got == [(t0_ms, 0.0), (t0_ms + 1, 1.0), (t0_ms + 2, 2.0), (t0_ms + 5, 3.0)], got


def test_stop_keeps_unsent_on_disk_for_the_next_writer(
    receiver: tuple[Receiver, str], tmp_path: Path
) -> None:
    rec, url = receiver

    async def offline() -> None:
        # port 9 on loopback: nothing listens, connections are refused at once
        w = RemoteWriter(_config("http://127.0.0.1:9/api/v1/write"), tmp_path, "lab")
        await w.start()
        t0 = time.time()
        for i in range(20):
            w.enqueue(t0 + i, _s("a", i))
        await asyncio.sleep(0.3)
        assert w.counts["sent"] == 0
        await w.stop()  # commits whatever is still in memory

    async def online() -> RemoteWriter:
        w = RemoteWriter(_config(url), tmp_path, "lab")
        await w.start()
        assert w.queue is not None and w.queue.samples == 20
        await _until(lambda: w.counts["sent"] == 20)
        await w.stop()
        return w

    asyncio.run(offline())
    asyncio.run(online())
    assert [v for _, v, _ in rec.delivered()] == list(range(20))


def test_unwritable_state_dir_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    w = RemoteWriter(_config("http://127.0.0.1:9/w"), blocker / "state", "lab")
    with pytest.raises(ValueError, match="remote_write: cannot open the queue"):
        asyncio.run(w.start())
