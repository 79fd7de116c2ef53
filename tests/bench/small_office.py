"""Benchmark: a small office through the real `pantau run` against node_exporter +
blackbox_exporter + snmp_exporter doing the same work, driven by a real Prometheus.

The office (issue 16): this host, 20 icmp checks (loopback addresses 127.0.1.1-20, one echo
each), 5 http checks (GET, 2xx, a loopback HTTP server of tests/helpers/probe_peers.py), 3 tcp
checks (connect, loopback listeners), all every 15 s, and 5 SNMP devices (if_mib, every 30 s):
five net-snmp snmpd in one network namespace with 24 interfaces (tests/helpers/snmpd.py), so
both sides walk the same, stable tables (the root namespace's interfaces change with whatever
else runs on the machine).

- pantau: `pantau run` with that config; a Prometheus scrapes its /metrics every 15 s, as in
  an office where Prometheus (or Grafana Agent) collects it.
- the three exporters: prometheus-node-exporter (defaults), prometheus-blackbox-exporter
  (icmp, http_2xx, tcp_connect) and prometheus-snmp-exporter (tests/bench/snmp_poll.py's
  if_mib module: the same 15 columns), each target a Prometheus job at the same interval
  (15 s; the snmp job 30 s).

After a warm-up (every job up, then WARMUP seconds), RSS (VmRSS, RssAnon from
/proc/PID/status, sampled every 5 s over the window: the last sample and the peak) and
whole-process CPU (utime + stime from /proc/PID/stat, over the same WINDOW seconds) of pantau
and of the three exporters together. Prometheus itself is the driver, measured on neither side.

Run (root, ~4 min; --src DIR runs another tree's pantau, e.g. `git archive <commit> | tar -x
-C DIR`; the tree's packages are compiled to bytecode first, as an installed agent has them,
unless --no-bytecode):
    .venv/bin/python tests/bench/small_office.py [--write] [--src DIR] [--no-bytecode]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench.rss import compile_tree  # noqa: E402
from tests.bench.snmp_poll import exporter_yml, proc_cpu  # noqa: E402
from tests.helpers.agent import free_port  # noqa: E402
from tests.helpers.benchmarks import replace_section  # noqa: E402
from tests.helpers.probe_peers import probe_peers  # noqa: E402
from tests.helpers.procs import stop_process  # noqa: E402
from tests.helpers.prometheus import run_prometheus  # noqa: E402
from tests.helpers.snmpd import Snmpd, ports_namespace  # noqa: E402
from tests.helpers.waiting import wait_http  # noqa: E402

ICMP, HTTP, TCP, SNMP = 20, 5, 3, 5
INTERVAL, SNMP_INTERVAL = 15, 30
WARMUP, WINDOW, SAMPLE = 60.0, 120.0, 5.0
if "--quick" in sys.argv:  # a smoke run of the script itself, not for figures
    WARMUP, WINDOW = 5.0, 20.0
LAUNCH = ("import sys; sys.path.insert(0, {src!r}); sys.argv[0] = 'pantau'; "
          "import agent; print('pantau from', agent.__file__, flush=True); "
          "from agent.cli import main; main()")
SECTION = "### Small office against node_exporter + blackbox_exporter + snmp_exporter"


def status_kib(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


class _Closer(socketserver.BaseRequestHandler):
    def handle(self) -> None:  # accept and close: what a tcp connect check needs
        return


def tcp_listeners(n: int) -> list[socketserver.ThreadingTCPServer]:
    servers = []
    for _ in range(n):
        s = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Closer)
        s.daemon_threads = True
        threading.Thread(target=s.serve_forever, daemon=True).start()
        servers.append(s)
    return servers


def free_subnet() -> str:
    """A 10.x.0 /30 no interface here uses: other benches make namespaces on 10.8x.0 too,
    and two of them on one subnet answer each other's SNMP."""
    used = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True,
                          timeout=10).stdout
    for x in range(160, 250):
        if f" 10.{x}.0." not in used:
            return f"10.{x}.0"
    raise AssertionError("no free 10.x.0 subnet")


def pantau_config(state: Path, icmp: list[str], http: list[str], tcp: list[str],
                  snmp: list[str], ca: Path | None = None) -> dict[str, Any]:
    every = f"{INTERVAL}s"
    tls = {"tls_config": {"ca_file": str(ca)}} if ca is not None else {}
    checks: list[dict[str, Any]] = (
        [{"name": f"ping-{i}", "type": "icmp", "target": a, "interval": every,
          "timeout": "5s", "count": 1} for i, a in enumerate(icmp)]
        + [{"name": f"web-{i}", "type": "http", "target": u, "interval": every,
            "timeout": "5s", **tls} for i, u in enumerate(http)]
        + [{"name": f"port-{i}", "type": "tcp", "target": t, "interval": every,
            "timeout": "5s"} for i, t in enumerate(tcp)])
    return {"site": "bench", "state_dir": str(state), "host": {"interval": every},
            "checks": checks,
            "snmp": {"auths": {"v2c": {"community": "public"}},
                     "devices": [{"name": f"sw{i}", "address": a, "auth": "v2c",
                                  "profiles": ["if_mib"], "interval": f"{SNMP_INTERVAL}s",
                                  "timeout": "5s"} for i, a in enumerate(snmp)]}}


def probe_job(name: str, base: str, module: str, path: str, targets: list[str],
              interval: int) -> dict[str, Any]:
    return {"job_name": name, "metrics_path": path, "params": {"module": [module]},
            "scrape_interval": f"{interval}s", "scrape_timeout": "10s",
            "static_configs": [{"targets": targets}],
            "relabel_configs": [
                {"source_labels": ["__address__"], "target_label": "__param_target"},
                {"source_labels": ["__param_target"], "target_label": "instance"},
                {"target_label": "__address__", "replacement": base.split("//", 1)[1]}]}


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--write", action="store_true", help="put the table into BENCHMARKS.md")
    ap.add_argument("--src", type=Path, default=ROOT, help="the tree whose pantau runs")
    ap.add_argument("--quick", action="store_true", help="smoke run (no figures)")
    ap.add_argument("--https", action="store_true",
                    help="the 5 portals over https (the test CA as each side's ca_file): "
                         "OpenSSL is then mapped on both sides")
    ap.add_argument("--no-bytecode", action="store_true",
                    help="do not compile the tree first (its modules compiled at each start)")
    args = ap.parse_args()
    if not args.no_bytecode:
        compile_tree(args.src)  # as an installed agent has it (tests/bench/rss.py says why)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # cleanup through the ExitStack
    tmp = Path(tempfile.mkdtemp(prefix="pantau-office-"))
    icmp = [f"127.0.1.{i + 1}" for i in range(ICMP)]
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, tmp, True)
        ns, address = stack.enter_context(ports_namespace(24, free_subnet()))
        snmp = []
        for k in range(SNMP):
            work = tmp / f"snmpd{k}"
            work.mkdir()
            snmpd = Snmpd(work, ["rocommunity public default"], address=address,
                          port=161 + k, netns=ns)
            stack.callback(snmpd.stop)  # before start: a start that fails leaves none behind
            snmpd.start()
            snmp.append(snmpd.target)
        peers = stack.enter_context(probe_peers(tmp))
        web = peers.https if args.https else peers.http
        http = [f"{web}/office/{i}" for i in range(HTTP)]
        ca = peers.ca if args.https else None
        listeners = tcp_listeners(TCP)
        for s in listeners:
            stack.callback(s.server_close)
            stack.callback(s.shutdown)
        tcp = [f"127.0.0.1:{s.server_address[1]}" for s in listeners]

        # pantau
        cfg = tmp / "pantau.yml"
        cfg.write_text(yaml.safe_dump(pantau_config(tmp / "state", icmp, http, tcp, snmp,
                                                 ca)))
        pport = free_port()
        plog = (tmp / "agent.log").open("wb")
        agent = subprocess.Popen([sys.executable, "-c", LAUNCH.format(src=str(args.src)), "run",
                                  "--config", str(cfg), "--listen", f"127.0.0.1:{pport}"],
                                 stdout=plog, stderr=subprocess.STDOUT, cwd=tmp,
                                 start_new_session=True)
        stack.callback(stop_process, agent, group=True)
        # the three exporters
        (tmp / "blackbox.yml").write_text(yaml.safe_dump({"modules": {
            "icmp": {"prober": "icmp"},
            "http_2xx": {"prober": "http", **(
                {"http": {"tls_config": {"ca_file": str(ca)}}} if ca is not None else {})},
            "tcp_connect": {"prober": "tcp"}}}))
        (tmp / "snmp.yml").write_text(yaml.safe_dump(exporter_yml()))
        ports = {n: free_port() for n in ("node", "blackbox", "snmp")}
        cmds = {"node": ["prometheus-node-exporter"],
                "blackbox": ["prometheus-blackbox-exporter",
                             f"--config.file={tmp / 'blackbox.yml'}"],
                "snmp": ["prometheus-snmp-exporter", f"--config.file={tmp / 'snmp.yml'}"]}
        exporters: dict[str, subprocess.Popen[bytes]] = {}
        for name, cmd in cmds.items():
            exporters[name] = subprocess.Popen(
                [*cmd, f"--web.listen-address=127.0.0.1:{ports[name]}"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            stack.callback(stop_process, exporters[name], group=True)
        bases = {n: f"http://127.0.0.1:{p}" for n, p in ports.items()}
        for base in bases.values():
            wait_http(base + "/", 15.0)
        try:
            wait_http(f"http://127.0.0.1:{pport}/-/ready", 60.0)
        except AssertionError:
            raise AssertionError((tmp / "agent.log").read_text()[-3000:]) from None
        jobs = [
            {"job_name": "pantau", "scrape_interval": f"{INTERVAL}s", "scrape_timeout": "10s",
             "static_configs": [{"targets": [f"127.0.0.1:{pport}"]}]},
            {"job_name": "node", "scrape_interval": f"{INTERVAL}s", "scrape_timeout": "10s",
             "static_configs": [{"targets": [bases["node"].split("//")[1]]}]},
            probe_job("icmp", bases["blackbox"], "icmp", "/probe", icmp, INTERVAL),
            probe_job("http", bases["blackbox"], "http_2xx", "/probe", http, INTERVAL),
            probe_job("tcp", bases["blackbox"], "tcp_connect", "/probe", tcp, INTERVAL),
            probe_job("snmp", bases["snmp"], "if_mib", "/snmp", snmp, SNMP_INTERVAL)]
        prom = stack.enter_context(run_prometheus(tmp, jobs))
        targets = 2 + ICMP + HTTP + TCP + SNMP
        prom.wait_for("sum(up)", lambda r: r and float(r[0]["value"][1]) == targets,
                      timeout=SNMP_INTERVAL * 2 + 30)
        # the work is done on both sides: every probe and every device answers
        prom.wait_for('sum(probe_success{job=~"icmp|http|tcp"})',
                      lambda r: r and float(r[0]["value"][1]) == ICMP + HTTP + TCP, 60)
        prom.wait_for("count(pantau_check_up == 1)",
                      lambda r: r and float(r[0]["value"][1]) == ICMP + HTTP + TCP, 60)
        prom.wait_for("count(pantau_snmp_up == 1)",
                      lambda r: r and float(r[0]["value"][1]) == SNMP, 90)
        first = (tmp / "agent.log").read_text().splitlines()[0]
        assert first.startswith("pantau from " + str(args.src)), first
        time.sleep(WARMUP)

        pids = {"pantau": agent.pid, **{n: p.pid for n, p in exporters.items()}}
        cpu0 = {n: proc_cpu(p) for n, p in pids.items()}
        loads = [os.getloadavg()[0]]
        samples: dict[str, list[dict[str, int]]] = {n: [] for n in pids}
        t_end = time.monotonic() + WINDOW
        while True:
            for n, p in pids.items():
                samples[n].append(status_kib(p))
            if time.monotonic() >= t_end:
                break
            time.sleep(min(SAMPLE, max(0.0, t_end - time.monotonic())))
        cpu = {n: proc_cpu(p) - cpu0[n] for n, p in pids.items()}
        loads.append(os.getloadavg()[0])
        # still doing the work at the end of the window
        down = prom.query('count(up == 0 or probe_success == 0 or pantau_check_up == 0 '
                          'or pantau_snmp_up == 0)')
        body = urllib.request.urlopen(f"http://127.0.0.1:{pport}/metrics", timeout=10).read()
        series = sum(1 for ln in body.decode().splitlines() if ln and not ln.startswith("#"))

    mib = 1024.0

    def row(label: str, names: list[str]) -> tuple[str, float, float]:
        last = sum(samples[n][-1]["VmRSS"] for n in names) / mib
        anon = sum(samples[n][-1]["RssAnon"] for n in names) / mib
        peak = sum(max(s["VmRSS"] for s in samples[n]) for n in names) / mib
        c = sum(cpu[n] for n in names)
        return (f"| {label} | {last:.1f} | {anon:.1f} | {peak:.1f} | {c:.2f} | "
                f"{c / WINDOW * 100:.2f}% |", last, c)

    three = ["node", "blackbox", "snmp"]
    lines = ["| process | VmRSS MiB (end) | RssAnon MiB | VmRSS peak MiB | CPU s in window "
             "| CPU share of one core |", "|---|---|---|---|---|---|"]
    p_line, p_rss, p_cpu = row("`pantau run` (all of it)", ["pantau"])
    lines.append(p_line)
    for n, label in (("node", "prometheus-node-exporter"),
                     ("blackbox", "prometheus-blackbox-exporter"),
                     ("snmp", "prometheus-snmp-exporter")):
        lines.append(row(label, [n])[0])
    t_line, t_rss, t_cpu = row("the three exporters together", three)
    lines.append(t_line)
    verdict_rss = "met" if p_rss <= 45.0 and p_rss < t_rss else "NOT met"
    lines += ["", f"- RSS pantau / the three: **{p_rss / t_rss:.2f}x** ({p_rss:.1f} against "
              f"{t_rss:.1f} MiB; target <= 45 MiB and below the three: {verdict_rss})",
              f"- CPU pantau / the three: **{p_cpu / t_cpu:.2f}x** over the same "
              f"{WINDOW:.0f} s window",
              f"- pantau's /metrics: {series} series; targets or checks down at the end: "
              f"{(down[0]['value'][1] if down else '0')}; load average "
              f"{min(loads):.2f}-{max(loads):.2f} (2 cores, shared)"]
    report = "\n".join(lines)
    print(report)
    if args.write and args.https:
        print("--write records the plain-http office only; copy this table by hand")
    elif args.write and not args.quick:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        src = ("" if args.src == ROOT else f" --src {args.src}") + (
            " --https" if args.https else "") + (
            " --no-bytecode" if args.no_bytecode else "")
        section = (
            f"{SECTION}\n\nCommand: `.venv/bin/python tests/bench/small_office.py --write{src}` "
            f"({stamp}; root; host + {ICMP} icmp + {HTTP} http + {TCP} tcp checks every "
            f"{INTERVAL} s and {SNMP} SNMP devices (if_mib, 24 interfaces, 5 snmpd in a "
            f"namespace) every {SNMP_INTERVAL} s; a Prometheus scrapes pantau and drives the "
            "three exporters at the same intervals; RSS sampled every 5 s and CPU from /proc "
            f"over a {WINDOW:.0f} s window after {WARMUP:.0f} s of warm-up)\n\n{report}\n")
        _replace_subsection(section)
    return 0


def _replace_subsection(section: str) -> None:
    """Replace the ### subsection (up to the next heading), keeping the rest of its ##."""
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text(encoding="utf-8")
    start = text.find(SECTION)
    if start < 0:
        replace_section("## Whole agent at scale (issue 16): small office\n\n"
                        + section.split("\n", 1)[1])
        return
    end = min((i for i in (text.find("\n### ", start + 1), text.find("\n## ", start + 1))
               if i >= 0), default=len(text))
    path.write_text(text[:start] + section + text[end:], encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
