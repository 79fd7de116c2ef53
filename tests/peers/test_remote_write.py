"""Remote write against a real Prometheus 2.42 (--web.enable-remote-write-receiver).

Lab: two network namespaces the test creates, the writer in one, Prometheus in the other, joined
by a veth pair whose Prometheus end is set down to cut the link. The writer is a subprocess using
exporters.remote_write.writer.RemoteWriter that emits `rwtest_seq{series=k}` = n at exactly
T0 + n * STEP, so Prometheus' raw data says precisely which samples arrived: every value must be
there once, in order, at its own timestamp.

The outage lasts PANTAU_RW_OUTAGE_S seconds, split around a kill -9 of the writer (default 30;
`PANTAU_RW_OUTAGE_S=180` for "several minutes"). Nothing in the writer depends on the length:
while the link is down each attempt fails on a timeout and the retry waits at most backoff.max,
so a longer outage only adds rows to the queue. 30 s already holds everything the assertions
need: several timed-out attempts at backoff.max (3 s timeout, 2 s max) before the kill and after
the restart, and a backlog of several batches (2400 samples, batch_size 500) to drain in order.
What happens when the queue is full is the second test.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from exporters.remote_write import proto as rw_proto
from exporters.remote_write.queue import DiskQueue
from exporters.remote_write.writer import QUEUE_FILE
from tests.helpers.agent import free_port, pick, run_agent
from tests.helpers.waiting import wait_until
from tests.lab.netns import NetnsLab

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS = "/usr/bin/prometheus"
OUTAGE_S = float(os.environ.get("PANTAU_RW_OUTAGE_S", "30"))
STEP_MS = 250
SERIES = 20
FAST_STEP_MS = 25  # 800 samples/s: fills the 64 KiB queue of the full-queue test in seconds

WRITER = r'''
import asyncio, json, os, signal, sys, time
from pathlib import Path
from collectors.base import Sample
from exporters.remote_write import RemoteWriteConfig, RemoteWriter

url, state, t0_ms, step_ms, n_series, status_path, extra = sys.argv[1:8]
t0_ms, step_ms, n_series = int(t0_ms), int(step_ms), int(n_series)
cfg = {"url": url, "timeout": "3s", "flush_interval": "500ms", "batch_size": 500,
       "queue": {"sync_interval": "200ms"}, "backoff": {"min": "200ms", "max": "2s"}}
cfg.update(json.loads(extra))

async def main():
    w = RemoteWriter(RemoteWriteConfig.model_validate(cfg), Path(state), "lab")
    await w.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    n = (int(time.time() * 1000) - t0_ms) // step_ms
    first, generated, last_status = n, 0, 0.0
    while not stop.is_set():
        due = (t0_ms + n * step_ms) / 1000
        if time.time() < due:
            await asyncio.sleep(min(due - time.time(), 0.05))
            continue
        w.enqueue(due, [Sample("rwtest_seq", n, (("site", "lab"), ("series", str(k))))
                        for k in range(n_series)])
        generated += n_series
        n += 1
        if time.monotonic() - last_status > 0.25:
            last_status = time.monotonic()
            q = w.queue
            st = {"first": first, "next": n, "generated": generated, "counts": w.counts,
                  "dropped": w.dropped, "requests": w.requests,
                  "queue_samples": q.samples if q else -1, "pid": os.getpid()}
            Path(status_path + ".tmp").write_text(json.dumps(st))
            os.replace(status_path + ".tmp", status_path)
    await w.drain(15)  # deliver what is still queued, so the test knows exactly what went out
    await w.stop()
    st = {"first": first, "next": n, "generated": generated, "counts": w.counts,
          "dropped": w.dropped, "requests": w.requests, "queue_samples": 0, "stopped": True}
    Path(status_path).write_text(json.dumps(st))

asyncio.run(main())
'''


class _Lab(NetnsLab):
    """Namespaces w (writer) and p (Prometheus) and a veth `rw` between them; the writer's end
    stays up through the outage, so its attempts time out rather than fail at once."""

    def __init__(self) -> None:
        super().__init__("prw", ("w", "p"), {"rw": ("w", "p")})

    def _build(self) -> None:
        self._add_namespaces([])
        self._add_links()
        for role, cidr in (("w", "10.77.0.1/30"), ("p", "10.77.0.2/30")):
            self.exec(role, ["ip", "addr", "add", cidr, "dev", "rw"])
            self.exec(role, ["ip", "link", "set", "rw", "up"])

    def _routes(self) -> None:
        pass  # one /30: nothing beyond the connected route

    def prometheus_end(self, state: str) -> None:
        self.exec("p", ["ip", "link", "set", "rw", state])


def _kill(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=10)


@contextlib.contextmanager
def prometheus(tmp_path: Path, listen: str, netns: str | None = None
               ) -> Iterator[subprocess.Popen[bytes]]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    cfg = tmp_path / "prometheus.yml"
    cfg.write_text("global:\n  scrape_interval: 1m\n")
    cmd = [PROMETHEUS, f"--config.file={cfg}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
           f"--web.listen-address={listen}", "--web.enable-remote-write-receiver",
           "--storage.tsdb.retention.time=1d"]
    if netns:
        cmd = ["ip", "netns", "exec", netns, *cmd]
    log = (tmp_path / "prometheus.log").open("wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        _kill(proc)
        log.close()


def _get(url: str, netns: str | None, timeout: float = 10) -> bytes:
    if netns:
        r = subprocess.run(["ip", "netns", "exec", netns, "curl", "-sf", "--max-time",
                            str(timeout), url], capture_output=True, timeout=timeout + 5)
        if r.returncode != 0:
            raise OSError(f"curl {url} failed ({r.returncode})")
        return r.stdout
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return bytes(resp.read())


def _wait(cond: Any, timeout: float, what: str) -> Any:
    # every poll of the namespace side is a curl subprocess: 0.2 s apart is often enough
    return wait_until(cond, timeout, what, interval=0.2)


def _raw_series(base: str, netns: str | None, at: float) -> dict[str, list[tuple[int, int]]]:
    """series -> [(timestamp_ms, value)] of every raw sample Prometheus holds."""
    q = urllib.parse.urlencode({"query": "rwtest_seq[30m]", "time": f"{at:.3f}"})
    data = json.loads(_get(f"{base}/api/v1/query?{q}", netns))
    assert data["status"] == "success", data
    out: dict[str, list[tuple[int, int]]] = {}
    for r in data["data"]["result"]:
        out[r["metric"]["series"]] = [(round(float(t) * 1000), int(float(v)))
                                      for t, v in r["values"]]
    return out


def _half_step(t: float, t0_ms: int) -> int:
    """t in ms, moved to half-way between two sample timestamps: no sample sits on the edge."""
    ms = int(t * 1000)
    return ms + (STEP_MS // 2 - (ms - t0_ms) % STEP_MS) % STEP_MS


def _count_over_time(base: str, netns: str | None, start_ms: int, end_ms: int
                     ) -> dict[str, int]:
    q = urllib.parse.urlencode({"query": f"count_over_time(rwtest_seq[{end_ms - start_ms}ms])",
                                "time": f"{end_ms / 1000:.3f}"})
    data = json.loads(_get(f"{base}/api/v1/query?{q}", netns))
    assert data["status"] == "success", data
    return {r["metric"]["series"]: int(r["value"][1]) for r in data["data"]["result"]}


def _status(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def _start_writer(url: str, state: Path, t0_ms: int, status: Path, log: Path,
                  netns: str | None = None, extra: dict[str, Any] | None = None,
                  step_ms: int = STEP_MS) -> subprocess.Popen[bytes]:
    script = state.parent / "writer.py"
    script.write_text(WRITER)
    cmd = [sys.executable, str(script), url, str(state), str(t0_ms), str(step_ms),
           str(SERIES), str(status), json.dumps(extra or {})]
    if netns:
        cmd = ["ip", "netns", "exec", netns, *cmd]
    with log.open("ab") as f:
        return subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=REPO,
                                env={**os.environ, "PYTHONPATH": str(REPO)})


def _queued_on_disk(state: Path) -> set[tuple[str, int]]:
    """(series, seq) of every sample committed to the writer's disk queue."""
    q = DiskQueue(state / QUEUE_FILE, 10**12, 1e12)
    try:
        out: set[tuple[str, int]] = set()
        for row in q.peek(10**9):
            for labels, samples in rw_proto.decode_write_request(rw_proto.decompress(row.payload)):
                out.update((labels["series"], int(v)) for v, _ in samples)
        return out
    finally:
        q.close()


def _assert_exact(raw: dict[str, list[tuple[int, int]]], t0_ms: int,
                  step_ms: int = STEP_MS) -> None:
    """Each sample sits at its own timestamp; per series strictly increasing, never twice."""
    assert sorted(raw) == sorted(str(k) for k in range(SERIES)), sorted(raw)
    for series, samples in raw.items():
        values = [v for _, v in samples]
        assert len(values) == len(set(values)), f"series {series}: duplicated samples"
        assert values == sorted(values), f"series {series}: out of order"
        bad = [(t, v) for t, v in samples if t != t0_ms + v * step_ms]
        assert not bad, f"series {series}: samples at the wrong time {bad[:3]}"


def test_outage_and_kill_9_lose_nothing(tmp_path: Path) -> None:
    state = tmp_path / "state"
    status = tmp_path / "status.json"
    wlog = tmp_path / "writer.log"
    half = OUTAGE_S / 2
    with _Lab() as lab, prometheus(tmp_path, "10.77.0.2:9090", lab.ns["p"]):
        ns_w, ns_p = lab.ns["w"], lab.ns["p"]
        base = "http://10.77.0.2:9090"
        _wait(lambda: _get(f"{base}/-/ready", ns_p, 2), 30, "Prometheus ready")
        t0_ms = int(time.time() * 1000)
        url = f"{base}/api/v1/write"
        w1 = _start_writer(url, state, t0_ms, status, wlog, ns_w)
        w2: subprocess.Popen[bytes] | None = None
        try:
            _wait(lambda: _status(status)["counts"]["sent"] >= 10 * SERIES, 30,
                  "first samples delivered")
            # -- cut the link ------------------------------------------------------------
            lab.prometheus_end("down")
            cut = time.time()
            time.sleep(half)
            st1 = _status(status)
            assert st1["requests"]["retry"] > 0, st1
            # -- kill -9 the writer in the middle of the outage ------------------------
            os.kill(w1.pid, signal.SIGKILL)
            w1.wait(timeout=10)
            on_disk = _queued_on_disk(state)
            assert len(on_disk) >= half * 1000 / STEP_MS * SERIES * 0.8, len(on_disk)
            last_committed = max(v for _, v in on_disk)
            w2 = _start_writer(url, state, t0_ms, status, wlog, ns_w)
            _wait(lambda: _status(status).get("pid") == w2.pid, 30, "restarted writer")
            time.sleep(max(0.0, cut + OUTAGE_S - time.time()))
            # -- restore ------------------------------------------------------------------
            lab.prometheus_end("up")
            restored = time.time()
            _wait(lambda: _status(status)["queue_samples"] == 0
                  and _status(status)["counts"]["sent"] > 0, 60, "backlog drained")
            w2.send_signal(signal.SIGTERM)
            w2.wait(timeout=20)
            st2 = _status(status)
        finally:
            _kill(w1)
            if w2 is not None:
                _kill(w2)
        end = time.time()
        raw = _wait(lambda: _raw_series(base, ns_p, end), 20, "query")
        win_start, win_end = _half_step(cut, t0_ms), _half_step(restored, t0_ms)
        counts = _count_over_time(base, ns_p, win_start, win_end)

    log = wlog.read_text()
    assert "Traceback" not in log, log
    _assert_exact(raw, t0_ms)
    first2, next2 = st2["first"], st2["next"]
    for series, samples in raw.items():
        values = {v for _, v in samples}
        # everything on disk at the kill arrived
        missing = {v for s, v in on_disk if s == series} - values
        assert not missing, f"series {series}: queued on disk but lost: {sorted(missing)[:5]}"
        # the only hole is the time the writer was dead (kill -9 -> restart), nothing else
        expect = set(range(min(values), last_committed + 1)) | set(range(first2, next2))
        assert values == expect, (
            f"series {series}: missing {sorted(expect - values)[:5]}, "
            f"extra {sorted(values - expect)[:5]}"
        )
        # and count_over_time over the outage window agrees with the raw data
        in_window = [v for t, v in samples if win_start < t <= win_end]
        assert counts[series] == len(in_window)
    outage_samples = sum(counts.values())
    expected_outage = (win_end - win_start) // STEP_MS * SERIES
    dead = (first2 - last_committed - 1) * SERIES
    # every sample of the outage window arrived, except those never queued while the writer
    # was dead (kill -9 -> restart) and the < sync_interval it held in memory when killed
    assert outage_samples == expected_outage - dead, (outage_samples, expected_outage, dead)
    assert st2["dropped"] == {"queue_full": 0, "too_old": 0, "out_of_order": 0, "disk_error": 0}
    print(f"outage {restored - cut:.0f}s: {outage_samples} samples in the window delivered, "
          f"{len(on_disk)} were on disk at kill -9; writer dead for {dead // SERIES} steps")


def test_full_queue_drops_oldest_counts_and_keeps_running(tmp_path: Path) -> None:
    state = tmp_path / "state"
    status = tmp_path / "status.json"
    wlog = tmp_path / "writer.log"
    port = free_port()
    url = f"http://127.0.0.1:{port}/api/v1/write"
    t0_ms = int(time.time() * 1000)
    # 64 KiB queue: the receiver isn't up yet (connection refused), the queue overflows
    w = _start_writer(url, state, t0_ms, status, wlog, step_ms=FAST_STEP_MS,
                      extra={"queue": {"max_bytes": 65536, "sync_interval": "200ms"}})
    try:
        _wait(lambda: _status(status)["dropped"]["queue_full"] >= 40 * SERIES, 60,
              "queue overflow")
        assert w.poll() is None, wlog.read_text()
        with prometheus(tmp_path, f"127.0.0.1:{port}"):
            base = f"http://127.0.0.1:{port}"
            _wait(lambda: _get(f"{base}/-/ready", None, 2), 30, "Prometheus ready")
            _wait(lambda: _status(status)["requests"]["success"] > 0
                  and _status(status)["queue_samples"] < SERIES * 8, 60, "queue drained")
            w.send_signal(signal.SIGTERM)
            w.wait(timeout=20)
            st = _status(status)
            end = time.time()
            raw = _wait(lambda: _raw_series(base, None, end), 20, "query")
    finally:
        _kill(w)
    assert "Traceback" not in wlog.read_text()
    _assert_exact(raw, t0_ms, FAST_STEP_MS)
    dropped = st["dropped"]["queue_full"]
    delivered = sum(len(s) for s in raw.values())
    assert st["counts"]["rejected"] == 0
    # every sample generated is either delivered or counted as dropped: nothing vanished
    assert delivered + dropped == st["generated"], (delivered, dropped, st)
    assert delivered == st["counts"]["sent"]
    for series, samples in raw.items():
        values = [v for _, v in samples]
        # oldest first: what survives is one unbroken run up to the newest sample
        assert values == list(range(values[0], values[-1] + 1)), f"series {series} has holes"
        assert values[0] > st["first"], "nothing was dropped from the front"
        assert values[-1] == st["next"] - 1
    print(f"queue full: dropped {dropped} oldest samples, delivered {delivered}")


def test_agent_pulls_and_pushes_together(tmp_path: Path) -> None:
    """`pantau run` with remote_write: /metrics keeps serving while every series is pushed."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = {"site": "kab-bogor", "host": {"interval": "1s", "timeout": "500ms"},
              "remote_write": {"url": f"{base}/api/v1/write?tenant=secret-token",
                               "flush_interval": "500ms"}}
    with prometheus(tmp_path / "p", f"127.0.0.1:{port}") as _, \
            run_agent(config, tmp_path / "a") as agent:
        _wait(lambda: _get(f"{base}/-/ready", None, 2), 30, "Prometheus ready")

        def pushed(query: str) -> bool:
            q = urllib.parse.urlencode({"query": query})
            return bool(json.loads(_get(f"{base}/api/v1/query?{q}", None))["data"]["result"])

        _wait(lambda: pushed('node_load1{site="kab-bogor"}'), 30, "node_load1 pushed")
        # each run's own pantau_collector_* samples are pushed beside its result
        _wait(lambda: pushed('pantau_collector_runs_total{site="kab-bogor",collector="host"}'
                             ' > 1'), 30, "the host collector's self metrics pushed")
        m = agent.wait_for(lambda m: pick(m, "pantau_remote_write_samples_total", result="sent")
                           and pick(m, "pantau_remote_write_samples_total",
                                    result="sent")[0] > 0 and m, timeout=30)
        assert pick(m, "node_load1", site="kab-bogor")  # pull still works
        assert pick(m, "pantau_remote_write_queue_bytes", site="kab-bogor")
        log = agent.log_text()
    assert "secret-token" not in log
    assert "Traceback" not in log


@pytest.fixture(autouse=True)
def _need_root_and_prometheus() -> None:
    assert os.geteuid() == 0, "the remote write lab needs root for network namespaces"
    assert Path(PROMETHEUS).exists(), "prometheus is missing: run tests/install-deps.sh"
