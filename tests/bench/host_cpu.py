"""CPU per scrape: pantau's host collector (all default parts) against node_exporter's.

node_exporter (default collectors, started here on 127.0.0.1) is scraped N times and its CPU
seconds (utime+stime from /proc/PID/stat) are divided by N. pantau's host collector is run N
times in this process (a fresh interpreter: nothing else runs) and time.process_time() (all
threads) divided by N, plus rendering its exposition each time, which is what a scrape costs
pantau when the host result changed. Each part's own share comes from
node_scrape_collector_duration_seconds (wall clock).

    .venv/bin/python tests/bench/host_cpu.py [--runs 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from collectors.base import Context, Deadline  # noqa: E402
from collectors.host import HostCollector, HostConfig  # noqa: E402
from exporters.exposition import Exposition  # noqa: E402

NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def node_exporter_cpu(runs: int) -> float:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(url, timeout=2).read()
                break
            except OSError:
                time.sleep(0.1)
        for _ in range(3):  # warm up
            urllib.request.urlopen(url, timeout=10).read()
        before = cpu_seconds(proc.pid)
        for _ in range(runs):
            urllib.request.urlopen(url, timeout=10).read()
        return (cpu_seconds(proc.pid) - before) / runs
    finally:
        proc.kill()
        proc.wait()


def pantau_cpu(runs: int) -> tuple[float, dict[str, float]]:
    collector = HostCollector(HostConfig())
    exp = Exposition(HostCollector.METRICS)
    parts: dict[str, float] = defaultdict(float)

    async def go() -> float:
        for _ in range(3):  # warm up
            await collector.collect(Context(Deadline(10), "bench", "host"))
        start = time.process_time()
        for _ in range(runs):
            obs = await collector.collect(Context(Deadline(10), "bench", "host"))
            exp.update("host", obs.samples)
            exp.refresh()
            for s in obs.samples:
                if s.name == "node_scrape_collector_duration_seconds":
                    parts[s.labels[0][1]] += s.value / runs
        return (time.process_time() - start) / runs

    return asyncio.run(go()), dict(parts)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=200)
    a = ap.parse_args()
    ne = node_exporter_cpu(a.runs)
    ours, parts = pantau_cpu(a.runs)
    print(f"CPU per scrape over {a.runs} runs: node_exporter {ne * 1000:.2f} ms, "
          f"pantau host collector + render {ours * 1000:.2f} ms")
    top = sorted(parts.items(), key=lambda kv: -kv[1])
    print("pantau parts, wall ms per run: "
          + ", ".join(f"{k} {v * 1000:.2f}" for k, v in top))


if __name__ == "__main__":
    main()
