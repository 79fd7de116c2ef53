"""Remote write throughput and cost, against a real Prometheus receiver on loopback.

    .venv/bin/python tests/bench/remote_write.py [--offices 20] [--series 2000] [--ticks 25]

N RemoteWriter instances (one per simulated office, each with its own disk queue and 2000
series with a `site` label) queue ticks of samples and push them to one Prometheus 2.42 with
--web.enable-remote-write-receiver until every queue is empty. Reported: samples/s pushed, our
CPU seconds per 1M samples (encode + SQLite queue + snappy + HTTP), and the anchor measured in
the same run: the receiving Prometheus' CPU per 1M samples and its memory per active series.
From those, the central side for a province (300 offices x 2000 series every 30 s).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from collectors.base import Sample
from exporters.remote_write import RemoteWriteConfig, RemoteWriter

TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def proc_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def query(base: str, q: str) -> float:
    import json
    import urllib.parse

    with urllib.request.urlopen(f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": q}),
                                timeout=30) as r:
        res = json.loads(r.read())["data"]["result"]
    return float(res[0]["value"][1]) if res else 0.0


async def push(url: str, tmp: Path, offices: int, series: int, ticks: int) -> tuple[float, int]:
    writers = []
    for o in range(offices):
        cfg = RemoteWriteConfig.model_validate(
            {"url": url, "flush_interval": "200ms", "queue": {"sync_interval": "200ms"}})
        w = RemoteWriter(cfg, tmp / f"office{o}", f"office-{o}")
        await w.start()
        writers.append(w)
    base_ts = time.time() - ticks * 30
    names = [[(f"pantau_bench_metric_{k % 50}",
               (("site", f"office-{o}"), ("check", f"check-{k // 50}"), ("k", str(k))))
              for k in range(series)] for o in range(offices)]
    t0 = time.monotonic()
    for t in range(ticks):
        for o, w in enumerate(writers):
            w.enqueue(base_ts + t * 30, [Sample(n, float(t * k), ls)
                                         for k, (n, ls) in enumerate(names[o])])
        await asyncio.sleep(0)
    total = offices * series * ticks
    deadline = time.monotonic() + 600
    while sum(w.counts["sent"] for w in writers) < total and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    elapsed = time.monotonic() - t0
    sent = sum(w.counts["sent"] for w in writers)
    for w in writers:
        await w.stop()
    return elapsed, sent if sent == total else -sent


def head_series(base: str) -> float:
    with urllib.request.urlopen(f"{base}/metrics", timeout=30) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("prometheus_tsdb_head_series "):
                return float(line.split()[1])
    return 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--offices", type=int, default=20)
    ap.add_argument("--series", type=int, default=2000)
    ap.add_argument("--ticks", type=int, default=25)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="pantau-rw-bench-"))
    port = free_port()
    (tmp / "prom.yml").write_text("global: {}\n")
    prom = subprocess.Popen(
        ["/usr/bin/prometheus", f"--config.file={tmp / 'prom.yml'}",
         f"--storage.tsdb.path={tmp / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}",
         "--web.enable-remote-write-receiver"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                urllib.request.urlopen(f"{base}/-/ready", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        prom_cpu0, prom_rss0, cpu0 = proc_cpu(prom.pid), proc_rss(prom.pid), self_cpu()
        elapsed, sent = asyncio.run(push(f"{base}/api/v1/write", tmp, args.offices,
                                         args.series, args.ticks))
        cpu = self_cpu() - cpu0
        prom_cpu = proc_cpu(prom.pid) - prom_cpu0
        prom_rss = proc_rss(prom.pid) - prom_rss0
        if sent <= 0:
            sys.exit(f"only {-sent} samples delivered")
        head = head_series(base)
        stored = query(base, "count(count_over_time({__name__=~'pantau_bench_.*'}[1d]))")
        per_m, prom_per_m = cpu / sent * 1e6, prom_cpu / sent * 1e6
        rss_series = prom_rss / max(head, 1)
        print(f"offices={args.offices} series/office={args.series} ticks={args.ticks} "
              f"samples={sent} (series in receiver: {int(stored)})")
        print(f"pantau push: {sent / elapsed:,.0f} samples/s wall, "
              f"{per_m:.2f} CPU s per 1M samples")
        print(f"anchor prometheus receive: {prom_per_m:.2f} CPU s per 1M samples, "
              f"{rss_series:,.0f} B RSS per head series")
        print(f"ratio pantau/prometheus CPU per sample: {per_m / prom_per_m:.2f}x")
        rate = 300 * 2000 / 30
        print(f"province 300 offices x 2000 series / 30 s = {rate:,.0f} samples/s:")
        print(f"  one office: {2000 / 30 * per_m / 1e6 * 100:.3f}% of a core "
              f"({2000 / 30 * per_m / 1e6 * 86400:.0f} CPU s/day)")
        print(f"  central receive: {rate * prom_per_m / 1e6:.2f} cores (ingest only), "
              f"{600_000 * rss_series / 2**30:.1f} GiB RSS for 600k head series")
    finally:
        prom.kill()
        prom.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
