"""Benchmark: CPU per varbind polling the if_mib profile of a 48-port device, pantau beside
prometheus-snmp-exporter on the same snmpd in the same run.

A network namespace gets 48 interfaces (veth pairs) and a net-snmp snmpd; snmp_exporter walks the
same 15 IF-MIB columns pantau reads. pantau's CPU is this process's (getrusage around the
polls), snmp_exporter's from /proc/PID/stat (utime+stime) around its scrapes; varbinds are
counted on both sides (snmp_exporter: snmp_scrape_pdus_returned).

Run (root): .venv/bin/python tests/bench/snmp_poll.py [--write]
"""

from __future__ import annotations

import asyncio
import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from collectors.base import Context, Deadline  # noqa: E402
from collectors.snmp import SnmpSection  # noqa: E402
from tests.helpers.agent import free_port, parse_metrics  # noqa: E402

PORTS = 48
POLLS = 30
COLUMNS = ["1.3.6.1.2.1.2.2.1." + c for c in ("2", "5", "7", "8", "13", "14", "19", "20")] + [
    "1.3.6.1.2.1.31.1.1.1." + c for c in ("1", "6", "7", "10", "11", "15", "18")]


def sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True, timeout=30)


def proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> int:
    ns = f"pt-snmpbench-{secrets.token_hex(3)}"
    tmp = Path(tempfile.mkdtemp(prefix="pantau-snmpbench-"))
    snmpd = exporter = None
    try:
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", f"psb{ns[-6:]}", "type", "veth", "peer", "name", "up0",
           "netns", ns)
        sh("ip", "addr", "add", "10.81.0.1/30", "dev", f"psb{ns[-6:]}")
        sh("ip", "link", "set", f"psb{ns[-6:]}", "up")
        sh("ip", "-n", ns, "addr", "add", "10.81.0.2/30", "dev", "up0")
        sh("ip", "-n", ns, "link", "set", "up0", "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        for i in range((PORTS - 2) // 2):  # veth pairs: no dummy module on these kernels
            sh("ip", "-n", ns, "link", "add", f"pa{i}", "type", "veth", "peer", "name", f"pb{i}")
            sh("ip", "-n", ns, "link", "set", f"pa{i}", "up")
            sh("ip", "-n", ns, "link", "set", f"pb{i}", "up")
        (tmp / "snmpd.conf").write_text("rocommunity public default\n")
        snmpd = subprocess.Popen(
            ["ip", "netns", "exec", ns, "/usr/sbin/snmpd", "-f", "-Lf", str(tmp / "log"), "-C",
             "-c", str(tmp / "snmpd.conf"), "-p", str(tmp / "pid"), "udp:10.81.0.2:161"],
            env={**os.environ, "SNMP_PERSISTENT_DIR": str(tmp / "p"), "MIBS": ""},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.5)
        cfg = tmp / "snmp.yml"
        cfg.write_text(yaml.safe_dump({"if_mib": {
            "version": 2, "auth": {"community": "public"}, "max_repetitions": 25,
            "walk": COLUMNS,
            "metrics": [{"name": f"c{c.replace('.', '_')}", "oid": c, "type": "gauge",
                         "indexes": [{"labelname": "ifIndex", "type": "gauge"}]}
                        for c in COLUMNS if c.split(".")[-1] not in ("1", "2", "18")]}}))
        port = free_port()
        exe = shutil.which("prometheus-snmp-exporter")
        assert exe, "prometheus-snmp-exporter missing"
        exporter = subprocess.Popen([exe, f"--config.file={cfg}",
                                     f"--web.listen-address=127.0.0.1:{port}"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)
        url = f"http://127.0.0.1:{port}/snmp?module=if_mib&target=10.81.0.2"
        urllib.request.urlopen(url, timeout=30).read()  # warm up
        c0 = proc_cpu(exporter.pid)
        ex_vb = 0.0
        t0 = time.perf_counter()
        for _ in range(POLLS):
            m = parse_metrics(urllib.request.urlopen(url, timeout=30).read().decode())
            ex_vb += sum(v for (n, _), v in m.items() if n == "snmp_scrape_pdus_returned")
        ex_wall = time.perf_counter() - t0
        ex_cpu = proc_cpu(exporter.pid) - c0

        sec = SnmpSection.model_validate({
            "auths": {"a": {"community": "public"}},
            "devices": [{"name": "sw48", "address": "10.81.0.2", "auth": "a",
                         "profiles": ["if_mib"], "timeout": "2s"}]})
        job = sec.jobs("bench")[0]

        async def polls() -> tuple[float, float, int]:
            coll = job.factory()
            await coll.collect(Context(Deadline(10), "bench", "sw48"))  # warm up
            c = self_cpu()
            t = time.perf_counter()
            vb = 0
            for _ in range(POLLS):
                obs = await coll.collect(Context(Deadline(10), "bench", "sw48"))
                assert obs.success, obs.reason
                vb += int(obs.details["varbinds"])
            return self_cpu() - c, time.perf_counter() - t, vb

        p_cpu, p_wall, p_vb = asyncio.run(polls())
    finally:
        for p in (exporter, snmpd):
            if p is not None:
                p.terminate()
                p.wait(timeout=10)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)

    p_per = p_cpu / p_vb * 1e6
    e_per = ex_cpu / ex_vb * 1e6
    per_poll = p_cpu / POLLS
    devices = int(60 / per_poll)
    table = "\n".join([
        "| poller | polls | varbinds | CPU s | wall s | CPU us/varbind | ratio |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        f"| prometheus-snmp-exporter 0.21 (anchor) | {POLLS} | {int(ex_vb)} | {ex_cpu:.2f} | "
        f"{ex_wall:.2f} | {e_per:.1f} | 1.00x |",
        f"| pantau (pysnmp 7) | {POLLS} | {p_vb} | {p_cpu:.2f} | {p_wall:.2f} | {p_per:.1f} | "
        f"{p_per / e_per:.2f}x |",
    ])
    print(table)
    print(f"\npantau CPU per varbind = {p_per / e_per:.2f}x snmp_exporter's (target <= 5x); "
          f"{per_poll * 1000:.0f} ms CPU per 48-port poll -> about {devices} such devices every "
          "60 s on one core")
    if "--write" in sys.argv:
        with (ROOT / "BENCHMARKS.md").open("a") as f:
            f.write("\n## SNMP polling (issue 4)\n\nCommand: `.venv/bin/python "
                    "tests/bench/snmp_poll.py --write` (root; snmpd in a namespace with 48 "
                    f"interfaces, {POLLS} polls of the if_mib columns each, same run)\n\n"
                    f"{table}\n\nTarget: within 5x of snmp_exporter's CPU per varbind -> "
                    f"measured {p_per / e_per:.2f}x. One 48-port poll costs "
                    f"{per_poll * 1000:.0f} ms of CPU, so one core polls about {devices} "
                    "48-port devices every 60 s.\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
