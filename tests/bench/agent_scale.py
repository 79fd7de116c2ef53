"""Benchmark: the whole agent, end to end: `pantau run` with N icmp checks against fping.

The real `pantau run` process is started with a generated config (N icmp checks on loopback
addresses 127.a.b.c, count 3, interval 20 s, the host collector off unless asked), left to
settle for one whole cycle, and then its whole-process CPU (utime + stime from
/proc/PID/stat, every thread) is read over whole 20 s cycles. The anchor, in the same run: `fping
-c3 -q` sending the same 3 echo requests to the same addresses, median CPU of three runs (fping's
CPU varies a lot between runs on a shared machine).

Modes:
- `--checks 1000` (default): CPU per cycle vs fping; target <= 1.5x.
- `--scale 100,1000,5000`: the scaling table (CPU per cycle, CPU per check, RSS, RSS growth per
  1,000 checks) with the fping anchor at each size.
- `--render`: in-process CPU of bringing the body (and gzip) up to date after 1, 20 or all
  of 1,000 sources changed, the incremental exposition against the old full renderer.
- `--alerting`: in-process CPU per result of the alert state machine at 100/1,000/5,000
  checks.
- `--scrape`: /metrics latency (median, p99, plain and gzip) while 1,000 icmp checks run, with
  the host collector on and `--textfile-series` (5,000) series from a *.prom file of its
  textfile part, so the body holds ~25,000 series; target p99 <= 5 ms.

    .venv/bin/python tests/bench/agent_scale.py [--checks N] [--cycles K] [--write]
    .venv/bin/python tests/bench/agent_scale.py --scale 100,1000,5000 [--write]
    .venv/bin/python tests/bench/agent_scale.py --scrape [--write]

Run as root (the pinger needs a raw or datagram ICMP socket). --write puts the figures into
BENCHMARKS.md (section "Whole agent at scale (issue 16)", one sub-block per mode).
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.helpers.agent import free_port  # noqa: E402
from tests.helpers.procs import stop_process  # noqa: E402

PANTAU = Path(sys.executable).with_name("pantau")
INTERVAL = 20.0
CLK = os.sysconf("SC_CLK_TCK")
SRC: Path | None = None  # --src


def addresses(n: int) -> list[str]:
    """n distinct loopback addresses, 250 per /24, never x.y.z.0 or .255."""
    return [f"127.{2 + i // 62500}.{(i // 250) % 250}.{i % 250 + 1}" for i in range(n)]


def config(n: int, state: Path, *, host: bool, labels: int = 0,
           textfile: Path | None = None) -> str:
    lines = ["site: bench", f"state_dir: {state}", f"max_concurrency: {max(64, n)}",
             "host:", f"  enabled: {'true' if host else 'false'}", "  interval: 15s"]
    if textfile is not None:
        lines.append(f"  textfile_directory: {textfile}")
    lines.append("checks:")
    for i, a in enumerate(addresses(n)):
        lines += [f"  - name: ping-{i:05d}", "    type: icmp", f"    target: {a}",
                  "    interval: 20s", "    timeout: 5s", "    count: 3"]
        if labels:
            lines.append("    labels: {" + ", ".join(f"l{j}: v{i % 7}-{j}"
                                                     for j in range(labels)) + "}")
    return "\n".join(lines) + "\n"


def proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def proc_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def fping_cpu(addrs: list[str]) -> float:
    """CPU seconds (user + sys) of one `fping -c3 -q` over `addrs`."""
    exe = shutil.which("fping")
    assert exe, "fping missing: run tests/install-deps.sh"
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as f:
        f.write("\n".join(addrs) + "\n")
        f.flush()
        before = os.times()
        r = subprocess.run([exe, "-c3", "-q", "-i", "1", "-p", "10", "-f", f.name],
                           capture_output=True, text=True, timeout=600)
        after = os.times()
    got = sum(int(line.split("=")[1].split("/")[1]) for line in r.stderr.splitlines()
              if "xmt/rcv" in line)
    if got < 3 * len(addrs) * 0.95:
        raise RuntimeError(f"fping got only {got}/{3 * len(addrs)} replies")
    return (after.children_user - before.children_user
            + after.children_system - before.children_system)


def fping_median(addrs: list[str], runs: int = 3) -> tuple[float, list[float]]:
    cpus = [fping_cpu(addrs) for _ in range(runs)]
    return statistics.median(cpus), cpus


@dataclass
class Agent:
    proc: subprocess.Popen[bytes]
    port: int
    tmp: tempfile.TemporaryDirectory[str]

    def get(self, path: str) -> tuple[int, bytes]:
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            c.request("GET", path)
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def stop(self) -> None:
        stop_process(self.proc)
        self.tmp.cleanup()


def write_textfile(directory: Path, series: int) -> None:
    """A node_exporter-style *.prom file: `series` series of one gauge family, 48 per
    "device" like switch ports, so the host collector's textfile part serves them."""
    directory.mkdir()
    lines = ["# HELP bench_port_octets Octets per port (bench filler).",
             "# TYPE bench_port_octets gauge"]
    lines += [f'bench_port_octets{{device="sw-{i // 48:04d}",port="{i % 48}"}} {i * 7919}'
              for i in range(series)]
    (directory / "bench.prom").write_text("\n".join(lines) + "\n")


# --stall-log: a sitecustomize put first on the agent's PYTHONPATH (bench only, nothing of it
# in the agent) that logs every event-loop callback over 2 ms with what it ran, every GC pass
# over 1 ms, and the CPU of each /metrics body build (Exposition.body), to find where a
# scrape's time goes.
STALL_SITECUSTOMIZE = r"""
import asyncio.events, gc, importlib.abc, importlib.machinery, os, sys, time
_log = open(os.environ["PANTAU_BENCH_STALL_LOG"], "a", buffering=1)
_run = asyncio.events.Handle._run
def _timed_run(self):
    t0 = time.perf_counter()
    _run(self)
    dt = time.perf_counter() - t0
    if dt > 0.002:
        cb = getattr(self._callback, "__self__", None)
        what = repr(cb.get_coro()) if hasattr(cb, "get_coro") else repr(self._callback)
        _log.write(f"{time.time():.3f} step {dt * 1000:.2f} {what[:160]}\n")
asyncio.events.Handle._run = _timed_run
_gc_t = [0.0]
def _gc(phase, info):
    if phase == "start":
        _gc_t[0] = time.perf_counter()
    else:
        dt = time.perf_counter() - _gc_t[0]
        if dt > 0.001:
            _log.write(f"{time.time():.3f} gc{info['generation']} {dt * 1000:.2f}\n")
gc.callbacks.append(_gc)
def _patch(mod):
    cls = mod.Exposition
    body = cls.body
    def timed_body(self, use_gzip=False):
        fams = getattr(self, "_families", {}).values()
        dirty_f = sum(1 for f in fams if getattr(f, "raw", 1) is None)
        dirty_b = sum(1 for f in fams for b in f.blocks.values() if b.raw is None)
        t0 = time.thread_time()
        w0 = time.perf_counter()
        out = body(self, use_gzip)
        _log.write(f"{time.time():.3f} body {'gzip' if use_gzip else 'plain'} "
                   f"cpu {(time.thread_time() - t0) * 1000:.2f} "
                   f"wall {(time.perf_counter() - w0) * 1000:.2f} "
                   f"dirty families {dirty_f} blocks {dirty_b}\n")
        return out
    cls.body = timed_body
class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != "exporters.exposition":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module
        def patched(module):
            exec_module(module)
            _patch(module)
        spec.loader.exec_module = patched
        return spec
sys.meta_path.insert(0, _Finder())
"""
STALL_LOG: Path | None = None  # --stall-log


def start_agent(n: int, *, host: bool = False, labels: int = 0,
                textfile_series: int = 0) -> Agent:
    tmp = tempfile.TemporaryDirectory(prefix="pantau-scale-")
    cfg = Path(tmp.name) / "pantau.yml"
    textfile = None
    if textfile_series:
        textfile = Path(tmp.name) / "textfile"
        write_textfile(textfile, textfile_series)
    cfg.write_text(config(n, Path(tmp.name) / "state", host=host, labels=labels,
                          textfile=textfile))
    port = free_port()
    log = open(Path(tmp.name) / "agent.log", "wb")
    cmd = [str(PANTAU), "run", "--config", str(cfg), "--listen", f"127.0.0.1:{port}"]
    env = dict(os.environ)
    if SRC is not None:  # another checkout's code (a before/after in one run), same venv
        cmd[:1] = [sys.executable, "-c", "import sys; from agent.cli import main; sys.exit(main())"]
        env["PYTHONPATH"] = str(SRC)
    if STALL_LOG is not None:
        site = Path(tmp.name) / "site"
        site.mkdir()
        (site / "sitecustomize.py").write_text(STALL_SITECUSTOMIZE)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(site), env.get("PYTHONPATH", "")) if p)
        env["PANTAU_BENCH_STALL_LOG"] = str(STALL_LOG)
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=SRC or ROOT, env=env)
    agent = Agent(proc, port, tmp)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tmp_log = (Path(tmp.name) / "agent.log").read_text(errors="replace")
            raise RuntimeError(f"pantau exited {proc.returncode}: {tmp_log[-2000:]}")
        try:
            if agent.get("/-/ready")[0] == 200:
                return agent
        except OSError:
            pass
        time.sleep(0.5)
    agent.stop()
    raise RuntimeError("pantau not ready within 120 s")


def count_series(body: bytes) -> int:
    return sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))


@dataclass
class Run:
    checks: int
    cpu_per_cycle: float
    rss_mib: float
    fping: float
    fping_runs: list[float]
    series: int
    probes_ok: int
    load: str


def measure(n: int, cycles: int) -> Run:
    addrs = addresses(n)
    agent = start_agent(n)
    try:
        time.sleep(INTERVAL)  # one whole cycle to settle (first runs are spread over 2 s)
        c0, t0 = proc_cpu(agent.proc.pid), time.monotonic()
        time.sleep(cycles * INTERVAL)
        c1, t1 = proc_cpu(agent.proc.pid), time.monotonic()
        rss = proc_rss_mib(agent.proc.pid)
        body = agent.get("/metrics")[1]
        ok = sum(1 for line in body.splitlines()
                 if line.startswith(b"pantau_probe_success{") and line.endswith(b" 1"))
        load = loadavg()
    finally:
        agent.stop()
    per_cycle = (c1 - c0) * INTERVAL / (t1 - t0)
    med, runs = fping_median(addrs)
    return Run(n, per_cycle, rss, med, runs, count_series(body), ok, load)


def scrape_latency(scrapes: int, labels: int, textfile_series: int
                   ) -> tuple[int, dict[str, tuple[float, float]], str]:
    agent = start_agent(1000, host=True, labels=labels, textfile_series=textfile_series)
    try:
        time.sleep(INTERVAL)
        series = count_series(agent.get("/metrics")[1])
        out: dict[str, tuple[float, float]] = {}
        for mode, headers in (("plain", {}), ("gzip", {"Accept-Encoding": "gzip"})):
            c = http.client.HTTPConnection("127.0.0.1", agent.port, timeout=10)
            times: list[float] = []
            slow: list[str] = []
            for _ in range(scrapes):
                t0 = time.perf_counter()
                c.request("GET", "/metrics", headers=headers)
                r = c.getresponse()
                r.read()
                times.append(time.perf_counter() - t0)
                if times[-1] > 0.003:
                    slow.append(f"{time.time():.3f} scrape {mode} {times[-1] * 1000:.2f}\n")
                time.sleep(0.01)  # spread the scrapes over the cycle, between results
            c.close()
            if STALL_LOG is not None:
                with STALL_LOG.open("a") as f:
                    f.writelines(slow)
            times.sort()
            out[mode] = (statistics.median(times) * 1000,
                         times[int(len(times) * 0.99) - 1] * 1000)
        load = loadavg()
    finally:
        agent.stop()
    return series, out, load


def render_cpu() -> list[tuple[int, str, float, float]]:
    """CPU (this thread's, so a loaded machine does not inflate it) to bring the body up to
    date after `changed` of 1,000 sources (25 series each: 25,000) got a new result: the
    incremental exposition against the full renderer pantau had before (the reference kept in
    tests/unit/test_exposition_incremental.py, + gzip.compress level 1 as it did)."""
    import gzip

    from collectors.base import MetricSpec, Sample
    from exporters.exposition import Exposition
    from tests.unit.test_exposition_incremental import FullRenderer

    fams = [f"bench_family_{j}" for j in range(25)]
    specs = [MetricSpec(f, "gauge", "Bench.", ("stat",)) for f in fams]
    serial = [0]

    def samples(i: int) -> list[Sample]:
        serial[0] += 1
        return [Sample(f, float(serial[0] + j), (("site", "bench"), ("check", f"ping-{i:05d}"),
                                                 ("stat", "avg"))) for j, f in enumerate(fams)]

    out = []
    for changed in (1, 20, 1000):
        for mode in ("plain", "gzip"):
            new, old = Exposition(specs), FullRenderer(specs)
            for i in range(1000):
                ss = samples(i)
                new.update(f"check:{i}", ss)
                old.update(f"check:{i}", ss)
            new.body(mode == "gzip")
            t_new, t_old = [], []
            for r in range(30):
                for k in range(changed):
                    ss = samples((r * 37 + k) % 1000)
                    new.update(f"check:{(r * 37 + k) % 1000}", ss)
                    old.update(f"check:{(r * 37 + k) % 1000}", ss)
                t0 = time.thread_time()
                new.body(mode == "gzip")
                t1 = time.thread_time()
                body = old.body()
                if mode == "gzip":
                    gzip.compress(body, compresslevel=1)
                t2 = time.thread_time()
                t_new.append(t1 - t0)
                t_old.append(t2 - t1)
            out.append((changed, mode, statistics.median(t_new) * 1000,
                        statistics.median(t_old) * 1000))
    return out


def alert_cost() -> list[tuple[int, float]]:
    """Thread CPU per result fed to the alert state machine (one check down, the rest up),
    at 100, 1,000 and 5,000 checks: it should not grow with the number of checks."""
    from agent.alerting.state import Damping, Graph, StateMachine

    out = []
    for n in (100, 1000, 5000):
        names = [f"c{i}" for i in range(n)]
        m = StateMachine(Graph.build(names, {x: [] for x in names}, {x: [] for x in names}),
                         {}, Damping(), now=0.0)
        for x in names:
            m.observe(x, True, 1.0)
        for at in (2.0, 3.0, 4.0):
            m.observe("c3", False, at)
        t0 = time.thread_time()
        for r in range(3):
            for x in names:
                m.observe(x, x != "c3", 10.0 + r)
        out.append((n, (time.thread_time() - t0) / (3 * n) * 1e6))
    return out


def write(block: str) -> None:
    from tests.helpers.benchmarks import BENCHMARKS

    heading = "## Whole agent at scale (issue 16)"
    text = BENCHMARKS.read_text(encoding="utf-8")
    if heading not in text:
        text = text.rstrip("\n") + f"\n\n{heading}\n\nBefore/after figures: see each block.\n"
    text = text.rstrip("\n") + "\n\n" + block + "\n"
    BENCHMARKS.write_text(text, encoding="utf-8")


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--checks", type=int, default=1000)
    ap.add_argument("--cycles", type=int, default=3)
    ap.add_argument("--scale", default="")
    ap.add_argument("--scrape", action="store_true")
    ap.add_argument("--alerting", action="store_true",
                    help="in-process CPU per result of the alert state machine")
    ap.add_argument("--render", action="store_true",
                    help="in-process CPU of building the body: incremental vs full renderer")
    ap.add_argument("--scrapes", type=int, default=1000)
    ap.add_argument("--series-labels", type=int, default=0,
                    help="extra labels on every check (longer lines, not more series)")
    ap.add_argument("--textfile-series", type=int, default=5000,
                    help="--scrape: series served from a *.prom file through the host "
                    "collector's textfile part, to bring the body to ~25,000")
    ap.add_argument("--label", default="", help="a tag for the block (e.g. before/after)")
    ap.add_argument("--src", type=Path, help="run the agent from this checkout (PYTHONPATH)")
    ap.add_argument("--stall-log", type=Path,
                    help="--scrape: log loop callbacks > 2 ms, GC passes > 1 ms and each "
                    "body build's CPU to this file (bench-only sitecustomize)")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    global SRC, STALL_LOG
    SRC = args.src
    STALL_LOG = args.stall_log.resolve() if args.stall_log else None
    if SRC is not None and args.alerting:  # in process: that checkout's agent modules
        sys.path.insert(0, str(SRC))
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    tag = f" [{args.label}]" if args.label else ""
    cmd = "`.venv/bin/python tests/bench/agent_scale.py " + " ".join(sys.argv[1:]) + "`"
    if args.alerting:
        rows2 = alert_cost()
        lines = [f"### Alert state machine: CPU per result{tag} ({stamp})", "",
                 f"Command: {cmd}; thread CPU, 3 results per check, one check down.", "",
                 "| checks | µs per result |", "|---|---|"]
        lines += [f"| {n} | {us:.1f} |" for n, us in rows2]
    elif args.render:
        rows = render_cpu()
        lines = [f"### /metrics body build CPU at 25,000 series, in process{tag} ({stamp})", "",
                 f"Command: {cmd}; CPU of the building thread (time.thread_time), median of "
                 f"30 rounds; load average: {loadavg()}.", "",
                 "| sources changed since the last scrape (of 1,000) | body | incremental ms "
                 "| full renderer (before) ms |", "|---|---|---|---|"]
        lines += [f"| {c} | {m} | {a:.2f} | {b:.2f} |" for c, m, a, b in rows]
    elif args.scrape:
        series, lat, load = scrape_latency(args.scrapes, args.series_labels,
                                           args.textfile_series)
        lines = [f"### /metrics latency, 1,000 icmp checks + host running{tag} ({stamp})", "",
                 f"Command: {cmd}; load average at the end: {load}.", "",
                 f"{series} series in the body (1,000 icmp checks ~18,000, the host collector, "
                 f"and {args.textfile_series} from a textfile *.prom); {args.scrapes} "
                 "sequential scrapes per mode over one keep-alive connection, 10 ms apart "
                 "(so most scrapes find a few new results to build in).", "",
                 "| mode | median ms | p99 ms |", "|---|---|---|"]
        lines += [f"| {m} | {a:.2f} | {b:.2f} |" for m, (a, b) in lat.items()]
        worst = max(b for _, b in lat.values())
        lines += ["", f"Target p99 <= 5 ms: {'met' if worst <= 5 else 'NOT met'} "
                  f"(worst p99 {worst:.2f} ms)."]
    else:
        sizes = [int(s) for s in args.scale.split(",")] if args.scale else [args.checks]
        runs = [measure(n, args.cycles) for n in sizes]
        lines = [f"### `pantau run` CPU per 20 s cycle against fping{tag} ({stamp})", "",
                 f"Command: {cmd}; {args.cycles} whole cycles measured after one to settle; "
                 "fping: `fping -c3 -q -i 1 -p 10 -f <addresses>`, median of three.", "",
                 "| icmp checks | agent CPU s/cycle | µs per check | fping CPU s (median; runs) "
                 "| agent / fping | RSS MiB | series | probes up | load avg |",
                 "|---|---|---|---|---|---|---|---|---|"]
        for r in runs:
            lines.append(
                f"| {r.checks} | {r.cpu_per_cycle:.3f} | {r.cpu_per_cycle / r.checks * 1e6:.0f} "
                f"| {r.fping:.3f} ({', '.join(f'{c:.2f}' for c in r.fping_runs)}) "
                f"| {r.cpu_per_cycle / r.fping:.2f}x | {r.rss_mib:.1f} | {r.series} "
                f"| {r.probes_ok} | {r.load} |")
        if len(runs) > 1:
            a, b = runs[0], runs[-1]
            growth = (b.rss_mib - a.rss_mib) / (b.checks - a.checks) * 1000
            lines += ["", f"RSS growth: {growth:.1f} MiB per 1,000 checks "
                      f"({a.checks} -> {b.checks})."]
        one = next((r for r in runs if r.checks == 1000), None)
        if one is not None:
            ratio = one.cpu_per_cycle / one.fping
            lines += ["", f"Target (1,000 checks) <= 1.5x fping: "
                      f"{'met' if ratio <= 1.5 else 'NOT met'} ({ratio:.2f}x)."]
    block = "\n".join(lines)
    print(block)
    if args.write:
        write(block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
