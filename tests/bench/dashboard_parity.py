"""Node Exporter Full (the most used community node dashboard) against node_exporter and pantau.

Starts prometheus-node-exporter (its default collectors) and `pantau run` with a host-only
config on 127.0.0.1, a real Prometheus scraping both every 5 s as jobs `node` and `pantau` with
`instance: h`, waits until rate() over the dashboard's 1m interval has data, then runs every
panel and variable query of the yardstick dashboard with the counting tool
(../shared/tools/dashboard_parity.py; variables substituted as Grafana would: $job, $node,
$__rate_interval). Not part of the test suite: the yardstick and the tool live outside the repo.

    .venv/bin/python tests/bench/dashboard_parity.py [--dashboard D.json] [--tool T.py] [--list]
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
PANTAU = Path(sys.executable).with_name("pantau")
NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
PROMETHEUS = "/usr/bin/prometheus"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {timeout:.0f} s")


@contextlib.contextmanager
def started(args: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dashboard", type=Path,
                    default=SHARED / "yardsticks/node-exporter-full.json")
    ap.add_argument("--tool", type=Path, default=SHARED / "tools/dashboard_parity.py")
    ap.add_argument("--wait", type=float, default=75.0, help="seconds of scraping first")
    ap.add_argument("--list", action="store_true", help="name what pantau lacks")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="pantau-parity-") as tmp:
        d = Path(tmp)
        ne_port, our_port, prom_port = free_port(), free_port(), free_port()
        (d / "state").mkdir()
        (d / "pantau.yml").write_text(
            f"site: bench\nstate_dir: {d / 'state'}\nhost:\n  interval: 5s\n  timeout: 4s\n")
        (d / "prometheus.yml").write_text(f"""global:
  scrape_interval: 5s
  scrape_timeout: 4s
scrape_configs:
  - job_name: node
    static_configs: [{{targets: ["127.0.0.1:{ne_port}"], labels: {{instance: h}}}}]
  - job_name: pantau
    static_configs: [{{targets: ["127.0.0.1:{our_port}"], labels: {{instance: h}}}}]
""")
        with started([NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{ne_port}"],
                     d / "ne.log"), \
                started([str(PANTAU), "run", "--config", str(d / "pantau.yml"),
                         "--listen", f"127.0.0.1:{our_port}"], d / "pantau.log"), \
                started([PROMETHEUS, f"--config.file={d / 'prometheus.yml'}",
                         f"--storage.tsdb.path={d / 'tsdb'}",
                         f"--web.listen-address=127.0.0.1:{prom_port}"], d / "prom.log"):
            wait_http(f"http://127.0.0.1:{ne_port}/metrics")
            wait_http(f"http://127.0.0.1:{our_port}/metrics")
            wait_http(f"http://127.0.0.1:{prom_port}/-/ready")
            time.sleep(a.wait)
            cmd = [sys.executable, str(a.tool), str(a.dashboard), f"http://127.0.0.1:{prom_port}",
                   "node", "h", "pantau", "h", *(["--list"] if a.list else [])]
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
            sys.stdout.write(r.stdout)
            sys.stderr.write(r.stderr)
            if r.returncode:
                raise SystemExit(r.returncode)


if __name__ == "__main__":
    main()
