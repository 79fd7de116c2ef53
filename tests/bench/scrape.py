"""Benchmark: /metrics latency with 25,000 series in the store, beside node_exporter.

pantau's MetricsServer serves an Exposition holding 25,000 SNMP-interface-like series (what a
site with ~40 switches of 48 ports produces); prometheus-node-exporter, started in the same run,
serves its default collectors. Both are scraped sequentially over keep-alive connections by the
same client; median and p99 latency, plain and gzip.

Run: .venv/bin/python tests/bench/scrape.py [--write]   (--write appends to BENCHMARKS.md)
"""

from __future__ import annotations

import asyncio
import http.client
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from collectors.base import MetricSpec, Sample  # noqa: E402
from exporters.exposition import Exposition  # noqa: E402
from exporters.prometheus import MetricsServer  # noqa: E402
from tests.helpers.agent import free_port  # noqa: E402

SERIES = 25_000
SCRAPES = 1000
FAMILIES = ["pantau_if_in_octets_total", "pantau_if_out_octets_total",
            "pantau_if_in_errors_total", "pantau_if_out_errors_total", "pantau_if_oper_up"]


def build_exposition() -> Exposition:
    specs = [MetricSpec(f, "gauge" if f.endswith("_up") else "counter", f"{f} help",
                        ("device", "ifindex", "ifname", "ifalias")) for f in FAMILIES]
    expo = Exposition(specs)
    per_family = SERIES // len(FAMILIES)
    for dev in range(per_family // 48 + 1):
        samples = []
        for fam in FAMILIES:
            for port in range(48):
                if dev * 48 + port >= per_family:
                    break
                samples.append(Sample(fam, float(dev * 1_000_003 + port * 7919), (
                    ("site", "dpmptsp-kab-contoh"), ("device", f"sw-{dev:03d}"),
                    ("ifindex", str(port + 1)), ("ifname", f"ge-0/0/{port}"),
                    ("ifalias", f"ruang pelayanan {port}"))))
        expo.update(f"snmp:sw-{dev}", samples)
    expo.refresh()
    return expo


def measure(port: int, use_gzip: bool) -> tuple[float, float, int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Accept-Encoding": "gzip"} if use_gzip else {}
    times, size = [], 0
    for _ in range(SCRAPES):
        t0 = time.perf_counter()
        conn.request("GET", "/metrics", headers=headers)
        r = conn.getresponse()
        body = r.read()
        times.append(time.perf_counter() - t0)
        size = len(body)
    conn.close()
    times.sort()
    return statistics.median(times) * 1000, times[int(len(times) * 0.99) - 1] * 1000, size


def serve_pantau(expo: Exposition, port: int, ready: threading.Event,
                 stop: threading.Event) -> None:
    async def main() -> None:
        server = MetricsServer(expo, "127.0.0.1", port)
        await server.start()
        ready.set()
        await asyncio.to_thread(stop.wait)
        await server.stop()

    asyncio.run(main())


def main() -> int:
    expo = build_exposition()
    n = expo.body().count(b"\n") - 2 * len(FAMILIES)
    port = free_port()
    ready, stop = threading.Event(), threading.Event()
    t = threading.Thread(target=serve_pantau, args=(expo, port, ready, stop), daemon=True)
    t.start()
    ready.wait(10)
    exe = shutil.which("prometheus-node-exporter")
    assert exe, "prometheus-node-exporter missing: run tests/install-deps.sh"
    ne_port = free_port()
    ne = subprocess.Popen([exe, f"--web.listen-address=127.0.0.1:{ne_port}"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)
        rows = {
            f"pantau, {n} series": measure(port, False),
            f"pantau, {n} series, gzip": measure(port, True),
            "node_exporter (anchor), defaults": measure(ne_port, False),
            "node_exporter (anchor), defaults, gzip": measure(ne_port, True),
        }
    finally:
        ne.terminate()
        ne.wait(10)
        stop.set()
        t.join(10)
    lines = ["| endpoint | median ms | p99 ms | body bytes |", "| --- | --- | --- | --- |"]
    for name, (med, p99, size) in rows.items():
        lines.append(f"| {name} | {med:.2f} | {p99:.2f} | {size} |")
    table = "\n".join(lines)
    print(table)
    p99 = max(rows[f"pantau, {n} series"][1], rows[f"pantau, {n} series, gzip"][1])
    anchor = rows["node_exporter (anchor), defaults"][1]
    print(f"\npantau p99 {p99:.2f} ms (target < 20 ms): {'OK' if p99 < 20 else 'MISSED'}; "
          f"{p99 / anchor:.2f}x node_exporter's p99")
    if "--write" in sys.argv:
        with (ROOT / "BENCHMARKS.md").open("a") as f:
            f.write("\n## Scrape latency (issue 2)\n\nCommand: `.venv/bin/python "
                    f"tests/bench/scrape.py --write` ({SCRAPES} sequential keep-alive scrapes "
                    "each, loopback, same run)\n\n"
                    f"{table}\n\nTarget: p99 under 20 ms at 25k series -> measured "
                    f"{p99:.2f} ms ({p99 / anchor:.2f}x node_exporter's p99 for its own "
                    "~1k series).\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
