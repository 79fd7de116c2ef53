"""Benchmark: CPU of 50 path checks (max 30 hops, 10 probes per hop per interval) against mtr
doing the same, over the chain lab (tests/lab/chain.py: 5 hops, office -> portal).

pantau: one process in the office namespace with 50 `type: path` collectors sharing the one
ICMP socket, RUNS intervals (the first one discovers the hops up to max_hops).
mtr: 50 `mtr --report -n -c 10 -i 0.1 -m 30` processes at once in the same namespace, RUNS
times (every mtr run discovers the path again: that is how mtr works per invocation).
CPU is user+system of the whole process tree (for mtr including its mtr-packet helpers),
and for pantau also without interpreter start and imports (the agent pays those once).

Run (root): .venv/bin/python tests/bench/path_cpu.py [--write]   (--write appends to
BENCHMARKS.md)
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.lab.chain import ChainLab, wait_reachable  # noqa: E402

CHECKS = 50
RUNS = 3
PROBES = 10
INTERVAL = 0.1
MAX_HOPS = 30

PANTAU_CODE = f"""
import asyncio, json, resource, sys, time
sys.path.insert(0, {str(ROOT)!r})
from collectors.base import Context, Deadline
from collectors.probe.path import PathCollector, PathConfig

def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime

async def main(target):
    cols = [PathCollector(PathConfig.model_validate({{
        "name": f"p{{i}}", "type": "path", "target": target, "max_hops": {MAX_HOPS},
        "probes": {PROBES}, "packet_interval": {INTERVAL}, "probe_timeout": 1.0,
        "timeout": 5.0, "interval": 10.0}})) for i in range({CHECKS})]
    c0, t0 = cpu(), time.perf_counter()
    answered = hops = 0
    for _ in range({RUNS}):
        obs = await asyncio.gather(*(c.collect(Context(Deadline(5.0), "b", "p")) for c in cols))
        answered += sum(o.success for o in obs)
        hops = max(len(o.details.get("hops", [])) for o in obs)
    print(json.dumps({{"cpu": cpu() - c0, "wall": time.perf_counter() - t0,
                      "answered": answered, "hops": hops}}))

asyncio.run(main(sys.argv[1]))
"""


def cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def pantau(lab: ChainLab) -> dict[str, float]:
    c0, t0 = cpu_children(), time.perf_counter()
    res = lab.exec("office", [lab.python_exe, "-c", PANTAU_CODE, lab.target], timeout=300)
    out = json.loads(res.stdout)
    out["tree_cpu"] = cpu_children() - c0
    out["tree_wall"] = time.perf_counter() - t0
    return out


def mtr(lab: ChainLab) -> dict[str, float]:
    one = f"mtr --report -n -c {PROBES} -i {INTERVAL} -m {MAX_HOPS} {lab.target}"
    script = (f"for r in $(seq {RUNS}); do for i in $(seq {CHECKS}); do {one} > /dev/null & "
              "done; wait; done")
    c0, t0 = cpu_children(), time.perf_counter()
    lab.exec("office", ["sh", "-c", script], timeout=600)
    return {"tree_cpu": cpu_children() - c0, "tree_wall": time.perf_counter() - t0}


def main() -> int:
    with ChainLab() as lab:
        wait_reachable(lab)
        m = mtr(lab)
        p = pantau(lab)
    per = RUNS
    table = "\n".join([
        "| per interval (50 checks, 10 probes/hop, 5 hops, max 30) | CPU s | wall s | vs mtr |",
        "| --- | --- | --- | --- |",
        f"| mtr-tiny, 50 processes (anchor) | {m['tree_cpu'] / per:.3f} | "
        f"{m['tree_wall'] / per:.2f} | 1.00x |",
        f"| pantau, one process, runs only | {p['cpu'] / per:.3f} | {p['wall'] / per:.2f} | "
        f"{p['cpu'] / m['tree_cpu']:.2f}x |",
        f"| pantau, with interpreter start and imports | {p['tree_cpu'] / per:.3f} | "
        f"{p['tree_wall'] / per:.2f} | {p['tree_cpu'] / m['tree_cpu']:.2f}x |",
    ])
    print(table)
    print(f"\npantau: {int(p['answered'])}/{CHECKS * RUNS} runs reached the target, "
          f"{int(p['hops'])} hops")
    if "--write" in sys.argv:
        stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        section = (
            f"\n## Path checks against mtr (issue 19, {stamp})\n\n"
            "Command: `.venv/bin/python tests/bench/path_cpu.py --write` (root; chain lab, "
            f"{CHECKS} checks x {RUNS} intervals, the first one discovering the path; mtr: "
            f"{CHECKS} concurrent `mtr --report -n -c {PROBES} -i {INTERVAL} -m {MAX_HOPS}` per "
            "interval, CPU of the process tree incl. mtr-packet)\n\n"
            f"{table}\n")
        with (ROOT / "BENCHMARKS.md").open("a") as f:
            f.write(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
