"""Memory of `pantau run` (host collector only) against prometheus-node-exporter, same moment.

Three processes are started on 127.0.0.1, waited for until they serve host series on /metrics,
scraped 3 times each, and then VmRSS (split into RssAnon = private heap and RssFile = mapped
binaries/libraries), peak VmHWM and CPU seconds used are read from /proc/PID/status:

- `pantau run --config <host-only config>`: the real agent;
- a stand-in: the same host collector + exposition behind http.server, importing nothing else
  (what pantau would weigh if only the host path were loaded: the floor for this design);
- `prometheus-node-exporter` with its default collectors.

Target: pantau's RSS no larger than node_exporter's.

    .venv/bin/python tests/bench/rss.py            # print the figures
    .venv/bin/python tests/bench/rss.py --append   # ... and append them to BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PANTAU = Path(sys.executable).with_name("pantau")
NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
SCRAPES = 3
CONFIG = """site: bench
state_dir: {state}
host:
  interval: 1s
  timeout: 500ms
"""

# The host path alone: collector + exposition + a plain HTTP server, no CLI/config/scheduler.
STAND_IN = r"""
import asyncio, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import types
pkg = types.ModuleType("collectors"); pkg.__path__ = [sys.argv[1] + "/collectors"]
sys.modules["collectors"] = pkg  # skip collectors/__init__ (the registry imports every collector)
from collectors.base import Context, Deadline
from collectors.host import HostCollector, HostConfig
from exporters.exposition import CONTENT_TYPE, Exposition

exp = Exposition(HostCollector.METRICS)

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = exp.body()
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass

async def main():
    collector = HostCollector(HostConfig())
    while True:
        obs = await collector.collect(Context(Deadline(0.5), "bench", "host"))
        exp.update("host", obs.samples)
        exp.refresh()
        await asyncio.sleep(1)

server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
asyncio.run(main())
"""


@dataclass
class Figures:
    rss: int  # KiB
    anon: int
    file: int
    hwm: int
    cpu: float
    body: int


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def measure(pid: int, body: int) -> Figures:
    st: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
            st[key] = int(value.split()[0])
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return Figures(st["VmRSS"], st["RssAnon"], st["RssFile"] + st.get("RssShmem", 0),
                   st["VmHWM"], cpu, body)


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as r:
        return str(r.read().decode())


def wait_serving(url: str, proc: subprocess.Popen[bytes], what: str) -> str | None:
    """None when serving host series; else why not."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            last = err.strip().splitlines()[-1] if err.strip() else ""
            return f"{what} exited with {proc.returncode}: {last}"
        try:
            if "node_cpu_seconds_total" in get(url):
                return None
        except OSError:
            pass
        time.sleep(0.2)
    return f"{what} did not serve host series on {url} within 30 s"


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--append", action="store_true", help="append the figures to BENCHMARKS.md")
    args = ap.parse_args()

    results: dict[str, Figures | str] = {}
    with tempfile.TemporaryDirectory(prefix="pantau-rss-") as tmp:
        cfg = Path(tmp) / "pantau.yml"
        cfg.write_text(CONFIG.format(state=Path(tmp) / "state"))
        ports = {name: free_port() for name in ("pantau", "stand-in", "node_exporter")}
        cmds = {
            "pantau": [str(PANTAU), "run", "--config", str(cfg),
                       "--listen", f"127.0.0.1:{ports['pantau']}"],
            "stand-in": [sys.executable, "-c", STAND_IN, str(REPO), str(ports["stand-in"])],
            "node_exporter": [NODE_EXPORTER,
                              f"--web.listen-address=127.0.0.1:{ports['node_exporter']}"],
        }
        procs: dict[str, subprocess.Popen[bytes]] = {}
        try:
            for name, cmd in cmds.items():
                procs[name] = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                               stderr=subprocess.PIPE, cwd=REPO)
            urls = {n: f"http://127.0.0.1:{p}/metrics" for n, p in ports.items()}
            for name, proc in procs.items():
                why = wait_serving(urls[name], proc, name)
                if why:
                    results[name] = why
            live = [n for n in procs if n not in results]
            sizes = dict.fromkeys(live, 0)
            for _ in range(SCRAPES):
                for name in live:
                    sizes[name] = len(get(urls[name]))
                time.sleep(1.0)
            for name in live:
                results[name] = measure(procs[name].pid, sizes[name])
        finally:
            for proc in procs.values():
                proc.kill()
                proc.wait(timeout=10)

    labels = {
        "pantau": "`pantau run` (host only)",
        "stand-in": "host collector alone (stand-in, floor)",
        "node_exporter": "prometheus-node-exporter 1.5 (defaults)",
    }
    mib = 1024.0
    lines = [
        "| process | VmRSS MiB | RssAnon MiB | RssFile MiB | VmHWM MiB | CPU s | /metrics bytes |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        if isinstance(r, str):
            lines.append(f"| {labels[name]} | failed: {r} | | | | | |")
        else:
            lines.append(f"| {labels[name]} | {r.rss / mib:.1f} | {r.anon / mib:.1f} "
                         f"| {r.file / mib:.1f} | {r.hwm / mib:.1f} | {r.cpu:.2f} | {r.body} |")
    ne = results.get("node_exporter")
    lines.append("")
    for name in ("pantau", "stand-in"):
        got = results.get(name)
        if isinstance(got, Figures) and isinstance(ne, Figures):
            r = got
            ratio = r.rss / ne.rss
            verdict = "met" if ratio <= 1.0 else "NOT met"
            lines.append(f"- RSS ratio {name} / node_exporter: **{ratio:.2f}** "
                         f"(anon only: {r.anon / ne.anon:.2f}; target <= 1.00: {verdict})")
    report = "\n".join(lines)
    print(report)
    if args.append:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        block = (
            f"\n### Host metrics: RSS against node_exporter ({stamp})\n\n"
            "Command: `.venv/bin/python tests/bench/rss.py --append` (starts `pantau run "
            "--config <host-only, interval 1s> --listen 127.0.0.1:<port>`, the stand-in and "
            f"`prometheus-node-exporter --web.listen-address=127.0.0.1:<port>`; scrapes each "
            f"{SCRAPES} times; reads /proc/PID/status).\n\n{report}\n"
        )
        with (REPO / "BENCHMARKS.md").open("a", encoding="utf-8") as f:
            f.write(block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
