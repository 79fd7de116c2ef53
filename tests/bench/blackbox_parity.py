"""The blackbox-exporter mixin dashboard against blackbox_exporter and pantau's /probe, and the
CPU each spends per probe.

Starts loopback targets (HTTP, HTTPS with a test CA and with an unknown one, a TLS banner, a
DNS server; tests/helpers/probe_peers.py), prometheus-blackbox-exporter and `pantau run` on the
same blackbox.yml, and a real Prometheus scraping both /probe endpoints every 5 s as jobs
`blackbox` and `pantau` for the same targets and modules (the usual relabelling:
__param_target, __param_module, instance = target; both with the same `cluster` label, the
mixin's first variable; see CLUSTER). After --wait seconds it runs every panel and variable
query of the yardstick (../shared/yardsticks/blackbox-exporter-mixin.json) with the counting tool
(../shared/tools/dashboard_parity.py). Then it sends --probes /probe requests per target to
each exporter, one at a time, and reports the CPU seconds (utime + stime from /proc) each
process spent per probe. Not part of the suite: the yardstick and the tool live outside the
repository.

    .venv/bin/python tests/bench/blackbox_parity.py [--wait 75] [--probes 200]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.helpers.agent import run_agent  # noqa: E402
from tests.helpers.probe_peers import blackbox_yml, probe_peers, run_blackbox  # noqa: E402
from tests.helpers.procs import cpu_seconds, pid_listening  # noqa: E402
from tests.helpers.prometheus import run_prometheus  # noqa: E402

SHARED = REPO.parent / "shared"
# The tool stands for every Grafana variable it does not know with ".+", and the mixin's
# queries match cluster="$cluster" with `=`, not `=~`: only a cluster label that is ".+"
# itself is selected by them. Both jobs carry the same one, so the comparison stays fair.
CLUSTER = ".+"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--wait", type=float, default=75.0)
    ap.add_argument("--probes", type=int, default=200)
    ap.add_argument("--dashboard", default=str(SHARED / "yardsticks/blackbox-exporter-mixin.json"))
    ap.add_argument("--tool", default=str(SHARED / "tools/dashboard_parity.py"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        with probe_peers(tmp) as p:
            bb_file = tmp / "blackbox.yml"
            bb_file.write_text(blackbox_yml(p.ca))
            targets = [("http_2xx", p.http + "/"), ("http_2xx", p.http + "/error"),
                       ("http_post_2xx", p.http + "/"), ("https_ca", p.https + "/"),
                       ("https_ca", p.https_bad + "/"), ("tcp_connect", p.pop3s),
                       ("pop3s_ok", p.pop3s), ("icmp", "127.0.0.1"), ("dns_a", p.dns)]
            cfg = {"site": "bench", "host": {"enabled": False},
                   "probe_modules_file": str(bb_file),
                   "probe_modules_file_targets": ["127.0.0.0/8"]}
            with run_blackbox(bb_file, tmp / "bb.log") as bb, \
                    run_agent(cfg, tmp / "agent") as agent:
                def job(name: str, base: str) -> dict[str, object]:
                    return {
                        "job_name": name, "metrics_path": "/probe", "scrape_interval": "5s",
                        "scrape_timeout": "4s",
                        "static_configs": [{"targets": [t], "labels": {
                            "__param_module": m, "cluster": CLUSTER}} for m, t in targets],
                        "relabel_configs": [
                            {"source_labels": ["__address__"], "target_label": "__param_target"},
                            {"source_labels": ["__param_target"], "target_label": "instance"},
                            {"target_label": "__address__",
                             "replacement": base.removeprefix("http://")}]}
                with run_prometheus(tmp, [job("blackbox", bb), job("pantau", agent.url)]) as prom:
                    print(f"waiting {args.wait:.0f} s for scrapes ...", flush=True)
                    time.sleep(args.wait)
                    res = subprocess.run([sys.executable, args.tool, args.dashboard, prom.url,
                                          "blackbox", "x", "pantau", "x"],
                                         capture_output=True, text=True)
                    print(res.stdout.strip() or res.stderr.strip())
                print(cpu_table(bb, agent.url, targets, args.probes))


def cpu_table(bb: str, pantau: str, targets: list[tuple[str, str]], n: int) -> str:
    pids = {"blackbox_exporter": pid_listening(int(bb.rsplit(":", 1)[1])),
            "pantau": pid_listening(int(pantau.rsplit(":", 1)[1]))}
    rows = []
    for name, base in (("blackbox_exporter", bb), ("pantau", pantau)):
        before = cpu_seconds(pids[name])
        t0 = time.monotonic()
        for i in range(n):
            m, t = targets[i % len(targets)]
            q = urllib.parse.urlencode({"module": m, "target": t})
            with urllib.request.urlopen(f"{base}/probe?{q}", timeout=30) as r:
                r.read()
        cpu = cpu_seconds(pids[name]) - before
        rows.append(f"{name}: {n} probes, {cpu * 1000 / n:.2f} ms CPU per probe, "
                    f"{(time.monotonic() - t0) * 1000 / n:.1f} ms wall per probe")
    return "\n".join(rows)


if __name__ == "__main__":
    main()
