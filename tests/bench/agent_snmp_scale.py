"""Benchmark: SNMP through the whole agent. The real `pantau run` polls N devices (if_mib,
48 interfaces each, 60 s interval) and its whole-process CPU is read from /proc, against
prometheus-snmp-exporter scraping the same snmpd instances the same number of times; then
pantau alone at 10, 100 and 500 devices (CPU per cycle, RSS).

Devices: SNMPDS net-snmp snmpd instances in one network namespace holding 48 interfaces
(tests/helpers/snmpd.py ports_namespace), on ports 161.., device i on snmpd i % SNMPDS; each
device is its own pantau device (own engine state, own counters). A window is one interval;
CPU per cycle is the window's CPU scaled to exactly N polls (pantau_collector_runs_total),
varbinds per poll from pantau_snmp_varbinds (snmp_exporter: snmp_scrape_pdus_returned).
Medians over the windows (pantau) and over REPEATS rounds of N scrapes (snmp_exporter).

Run (root, ~35 min; --before DIR runs an older tree's pantau too, --after DIR a snapshot of
this one instead of the work tree, each made with `git archive <commit> | tar -x -C DIR`;
--before-commit names that commit in the text written; --v2c-only / --v3-only: the
200-device v2c (v3 authPriv) rows alone, nothing written):
    .venv/bin/python tests/bench/agent_snmp_scale.py [--write] [--before DIR
        [--before-commit SHA]] [--after DIR] [--v2c-only | --v3-only]
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench.snmp_poll import V3_USER, exporter_yml, proc_cpu  # noqa: E402
from tests.helpers.agent import free_port, parse_metrics  # noqa: E402
from tests.helpers.benchmarks import replace_section  # noqa: E402
from tests.helpers.procs import stop_process  # noqa: E402
from tests.helpers.snmpd import Snmpd, ports_namespace  # noqa: E402
from tests.helpers.waiting import wait_http  # noqa: E402

PORTS = 48
SNMPDS = 4
INTERVAL = 60.0
COMPARE = 200
SCALE = (10, 100, 500)
REPEATS = 3
WINDOWS = (3, 2)  # intervals measured: the 200-device comparison, the scaling rows
AUTHS = ("v2c", "v3")
# what --before DIR was made from, for the text written with --write
BEFORE_COMMIT = (sys.argv[sys.argv.index("--before-commit") + 1]
                 if "--before-commit" in sys.argv else "60cbd17")
if "--v2c-only" in sys.argv:  # a quick check of the v2c comparison alone (no v3, no scaling)
    AUTHS, SCALE = ("v2c",), ()
if "--v3-only" in sys.argv:  # the same for v3 authPriv
    AUTHS, SCALE = ("v3",), ()
if "--quick" in sys.argv:  # a smoke run of the script itself, not for figures
    INTERVAL, COMPARE, SCALE, REPEATS, WINDOWS = 10.0, 4, (2,), 1, (1, 1)
LAUNCH = ("import sys; sys.path.insert(0, {src!r}); sys.argv[0] = 'pantau'; "
          "import collectors.snmp; print('pantau from', collectors.snmp.__file__, flush=True); "
          "from agent.cli import main; main()")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pantau_config(n: int, auth: str, address: str, state: Path) -> dict[str, Any]:
    return {
        "site": "bench", "state_dir": str(state), "host": {"enabled": False},
        "snmp": {
            "auths": {"v2c": {"community": "public"}, "v3": {"version": "3", **V3_USER}},
            "devices": [{"name": f"sw{i:03d}", "address": f"{address}:{161 + i % SNMPDS}",
                         "auth": auth, "profiles": ["if_mib"], "interval": f"{INTERVAL:g}s",
                         "timeout": "5s" if INTERVAL >= 30 else "2s", "retries": 1}
                        for i in range(n)]}}


def _snmp_totals(url: str) -> tuple[float, float, float]:
    """(runs of snmp jobs so far, devices up, varbinds of everyone's last poll)."""
    m = parse_metrics(urllib.request.urlopen(url + "/metrics", timeout=60).read().decode())
    runs = sum(v for (name, labels), v in m.items()
               if name == "pantau_collector_runs_total" and ("collector", "snmp") in labels)
    up = sum(v for (name, _), v in m.items() if name == "pantau_snmp_up")
    vb = sum(v for (name, _), v in m.items() if name == "pantau_snmp_varbinds")
    return runs, up, vb


def run_pantau(src: Path, n: int, auth: str, address: str, windows: int,
               tmp: Path) -> dict[str, float]:
    """Median over `windows` intervals of the agent's CPU per cycle of n polls."""
    work = Path(tempfile.mkdtemp(prefix=f"agent-{n}-{auth}-", dir=tmp))
    cfg = work / "pantau.yml"
    cfg.write_text(yaml.safe_dump(pantau_config(n, auth, address, work / "state")))
    port = free_port()
    log = (work / "agent.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-c", LAUNCH.format(src=str(src)), "run",
                             "--config", str(cfg), "--listen", f"127.0.0.1:{port}"],
                            stdout=log, stderr=subprocess.STDOUT, cwd=work,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_http(url + "/-/ready", 60.0)
        except AssertionError:
            raise AssertionError((work / "agent.log").read_text()[-3000:]) from None
        deadline = time.monotonic() + INTERVAL * 2 + 60
        while time.monotonic() < deadline:  # warm up: every device polled once
            runs, up, _ = _snmp_totals(url)
            if runs >= n:
                break
            time.sleep(5)
        cycles = []
        for _ in range(windows):
            c0, (r0, _, _) = proc_cpu(proc.pid), _snmp_totals(url)
            time.sleep(INTERVAL)
            c1, (r1, up, vb) = proc_cpu(proc.pid), _snmp_totals(url)
            polls = r1 - r0
            assert polls > 0, "no polls in a window"
            cpu = (c1 - c0) * n / polls  # one cycle is exactly n polls
            cycles.append({"cpu": cpu, "polls": polls, "up": up, "vb_per_poll": vb / n,
                           "us_per_vb": cpu / vb * 1e6, "rss": rss_mib(proc.pid)})
        cycles.sort(key=lambda c: c["cpu"])
        out = dict(cycles[len(cycles) // 2])
        out["rss"] = max(c["rss"] for c in cycles)
        out["cpu_min"], out["cpu_max"] = cycles[0]["cpu"], cycles[-1]["cpu"]
        first_line = (work / "agent.log").read_text().splitlines()[0]
        assert first_line.startswith("pantau from " + str(src)), first_line
        return out
    finally:
        stop_process(proc, group=True)
        log.close()


def run_exporter(pid: int, base: str, module: str, address: str, n: int) -> dict[str, float]:
    """Median over REPEATS rounds of n scrapes (4 at a time, as devices polled together)."""
    def one(i: int) -> float:
        url = f"{base}/snmp?module={module}&target={address}:{161 + i % SNMPDS}"
        m = parse_metrics(urllib.request.urlopen(url, timeout=60).read().decode())
        return sum(v for (name, _), v in m.items() if name == "snmp_scrape_pdus_returned")

    rounds = []
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(one, range(SNMPDS)))  # warm up
        for _ in range(REPEATS):
            c0 = proc_cpu(pid)
            vb = sum(pool.map(one, range(n)))
            cpu = proc_cpu(pid) - c0
            rounds.append({"cpu": cpu, "vb_per_poll": vb / n, "us_per_vb": cpu / vb * 1e6})
    rounds.sort(key=lambda r: r["cpu"])
    out = dict(rounds[len(rounds) // 2])
    out["cpu_min"], out["cpu_max"] = rounds[0]["cpu"], rounds[-1]["cpu"]
    return out


def main() -> int:
    # a kill ends the run through the ExitStack: snmpds, exporter, agent, namespace go too
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    before = Path(sys.argv[sys.argv.index("--before") + 1]) if "--before" in sys.argv else None
    # --after DIR: a snapshot of this tree, so edits during the long run do not leak into it
    after = Path(sys.argv[sys.argv.index("--after") + 1]) if "--after" in sys.argv else ROOT
    tmp = Path(tempfile.mkdtemp(prefix="pantau-agent-snmp-"))
    results: dict[tuple[str, str, int], dict[str, float]] = {}
    loads = []
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, tmp, True)
        ns, address = stack.enter_context(ports_namespace(PORTS, "10.82.0"))
        for k in range(SNMPDS):
            work = tmp / f"snmpd{k}"
            work.mkdir()
            snmpd = Snmpd(work, ["rocommunity public default", "rouser benchv3 priv",
                                 'createUser benchv3 SHA "bench-auth-1" AES "bench-priv-1"'],
                          address=address, port=161 + k, netns=ns)
            snmpd.start()
            stack.callback(snmpd.stop)
        cfg = tmp / "snmp.yml"
        cfg.write_text(yaml.safe_dump(exporter_yml()))
        port = free_port()
        exe = shutil.which("prometheus-snmp-exporter")
        assert exe, "prometheus-snmp-exporter missing"
        exporter = subprocess.Popen([exe, f"--config.file={cfg}",
                                     f"--web.listen-address=127.0.0.1:{port}"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        stack.callback(stop_process, exporter)
        base = f"http://127.0.0.1:{port}"
        wait_http(base + "/", 10.0)

        trees = [("after", after)] + ([("before", before)] if before else [])
        for auth, module in (("v2c", "if_mib"), ("v3", "if_mib_v3")):
            if auth not in AUTHS:
                continue
            results[("exporter", auth, COMPARE)] = run_exporter(exporter.pid, base, module,
                                                                address, COMPARE)
            for label, src in trees:
                results[(label, auth, COMPARE)] = run_pantau(src, COMPARE, auth, address,
                                                             WINDOWS[0], tmp)
                loads.append(os.getloadavg()[0])
                print(label, auth, COMPARE, results[(label, auth, COMPARE)], flush=True)
        for n in SCALE:  # the current tree only
            results[("after", "v2c", n)] = run_pantau(after, n, "v2c", address, WINDOWS[1],
                                                      tmp)
            loads.append(os.getloadavg()[0])
            print("after v2c", n, results[("after", "v2c", n)], flush=True)

    def cmp_row(what: str, key: tuple[str, str, int], anchor: dict[str, float]) -> str:
        r = results[key]
        return (f"| {what} | {r['cpu']:.2f} ({r['cpu_min']:.2f}-{r['cpu_max']:.2f}) | "
                f"{r['vb_per_poll']:.0f} | {r['us_per_vb']:.1f} | "
                f"{r['us_per_vb'] / anchor['us_per_vb']:.2f}x |")

    lines = [f"| poller ({COMPARE} devices x 48 ports, if_mib) | CPU s per cycle (min-max) | "
             "varbinds per poll | CPU us/varbind | ratio |", "| --- | --- | --- | --- | --- |"]
    for auth, name in (("v2c", "v2c"), ("v3", "v3 authPriv SHA/AES")):
        if auth not in AUTHS:
            continue
        anchor = results[("exporter", auth, COMPARE)]
        lines.append(cmp_row(f"prometheus-snmp-exporter 0.21, {name} (anchor)",
                             ("exporter", auth, COMPARE), anchor))
        for label, _ in trees:
            lines.append(cmp_row(f"`pantau run` {name} ({label})", (label, auth, COMPARE),
                                 anchor))
    scale = ["| devices (v2c) | tree | polls per cycle | CPU s per cycle (min-max) | "
             "CPU ms per device | CPU us/varbind | RSS MiB |", "| --- | --- | --- | --- | --- "
             "| --- | --- |"]
    rows = sorted({*((n, "after") for n in SCALE), *((COMPARE, t) for t, _ in trees)})
    for n, label in rows if "v2c" in AUTHS else []:
        r = results[(label, "v2c", n)]
        scale.append(f"| {n} | {label} | {n} | {r['cpu']:.2f} ({r['cpu_min']:.2f}-"
                     f"{r['cpu_max']:.2f}) | {r['cpu'] / n * 1000:.1f} | "
                     f"{r['us_per_vb']:.1f} | {r['rss']:.1f} |")
    v2c = results[("after", "v2c", COMPARE)]["us_per_vb"] / \
        results[("exporter", "v2c", COMPARE)]["us_per_vb"] if "v2c" in AUTHS else math.nan
    v3 = results[("after", "v3", COMPARE)]["us_per_vb"] / \
        results[("exporter", "v3", COMPARE)]["us_per_vb"] if "v3" in AUTHS else math.nan
    targets = []
    if "v2c" in AUTHS:
        targets.append(f"v2c <= 1.0x snmp_exporter per varbind -> {v2c:.2f}x "
                       f"({'met' if v2c <= 1.0 else 'NOT met'})")
    if "v3" in AUTHS:
        targets.append(f"v3 authPriv SHA/AES <= 3x -> {v3:.2f}x "
                       f"({'met' if v3 <= 3.0 else 'NOT met'})")
    summary = (f"Targets: {'; '.join(targets)}. Load average during the runs "
               f"{min(loads):.1f}-{max(loads):.1f} (2 cores shared with other work).")
    text = "\n".join(lines) + "\n\n" + "\n".join(scale) + "\n\n" + summary
    print(text)
    if "--write" in sys.argv and AUTHS == ("v2c", "v3"):
        replace_section(
            "## SNMP at scale through `pantau run` (issue 16)\n\nCommand: `.venv/bin/python "
            "tests/bench/agent_snmp_scale.py --write"
            + (f" --before DIR --after DIR2` (DIR: `git archive {BEFORE_COMMIT}`, the tree "
               "before this change; DIR2: this commit's tree)" if before else "`")
            + f" (root; {SNMPDS} snmpd in one namespace with 48 interfaces; the real "
            "`pantau run`, whole-process CPU from /proc/PID/stat over one 60 s interval per "
            "window, scaled to exactly one poll per device, median of 3 windows (2 for the "
            "scaling rows); snmp_exporter scraped the same snmpd as often, 4 at a time, its "
            f"whole-process CPU, median of {REPEATS} rounds)\n\n" + text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
