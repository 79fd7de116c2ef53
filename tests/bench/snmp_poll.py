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
import contextlib
import os
import resource
import shutil
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

from collectors.base import Context, Deadline  # noqa: E402
from collectors.snmp import SnmpSection  # noqa: E402
from tests.helpers.agent import free_port, parse_metrics  # noqa: E402
from tests.helpers.benchmarks import replace_section  # noqa: E402
from tests.helpers.procs import stop_process  # noqa: E402
from tests.helpers.snmpd import Snmpd, ports_namespace  # noqa: E402
from tests.helpers.waiting import wait_http  # noqa: E402

PORTS = 48
POLLS = 100
REPEATS = 3
COLUMNS = ["1.3.6.1.2.1.2.2.1." + c for c in ("2", "5", "7", "8", "13", "14", "19", "20")] + [
    "1.3.6.1.2.1.31.1.1.1." + c for c in ("1", "6", "7", "10", "11", "15", "18")]


def proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


V3_USER = {"username": "benchv3", "auth_protocol": "SHA", "auth_password": "bench-auth-1",
           "priv_protocol": "AES", "priv_password": "bench-priv-1"}


def exporter_yml() -> dict[str, Any]:
    """The same 15 columns for v2c and for v3 authPriv SHA/AES (snmp_exporter 0.21's format:
    the auth inside the module)."""
    metrics = [{"name": f"c{c.replace('.', '_')}", "oid": c, "type": "gauge",
                "indexes": [{"labelname": "ifIndex", "type": "gauge"}]}
               for c in COLUMNS if c.split(".")[-1] not in ("1", "2", "18")]
    v3 = {"security_level": "authPriv", "username": V3_USER["username"],
          "password": V3_USER["auth_password"], "auth_protocol": "SHA", "priv_protocol": "AES",
          "priv_password": V3_USER["priv_password"]}
    return {"if_mib": {"version": 2, "auth": {"community": "public"}, "max_repetitions": 25,
                       "walk": COLUMNS, "metrics": metrics},
            "if_mib_v3": {"version": 3, "auth": v3, "max_repetitions": 25, "walk": COLUMNS,
                          "metrics": metrics}}


def scrape_exporter(pid: int, url: str, n: int) -> tuple[float, float, float]:
    """(CPU s, wall s, varbinds) of n scrapes, snmp_exporter's CPU from /proc."""
    c0 = proc_cpu(pid)
    vb = 0.0
    t0 = time.perf_counter()
    for _ in range(n):
        m = parse_metrics(urllib.request.urlopen(url, timeout=30).read().decode())
        vb += sum(v for (name, _), v in m.items() if name == "snmp_scrape_pdus_returned")
    return proc_cpu(pid) - c0, time.perf_counter() - t0, vb


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="pantau-snmpbench-"))
    rows: dict[str, list[tuple[float, float, float]]] = {}
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, tmp, True)
        ns, address = stack.enter_context(ports_namespace(PORTS))
        snmpd = Snmpd(tmp, ["rocommunity public default", "rouser benchv3 priv",
                            'createUser benchv3 SHA "bench-auth-1" AES "bench-priv-1"'],
                      address=address, port=161, netns=ns)
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
        wait_http(f"http://127.0.0.1:{port}/", 10.0)
        base = f"http://127.0.0.1:{port}/snmp?target={address}&module="
        for module in ("if_mib", "if_mib_v3"):
            urllib.request.urlopen(base + module, timeout=30).read()  # warm up

        sec = SnmpSection.model_validate({
            "auths": {"v2c": {"community": "public"}, "v3": {"version": "3", **V3_USER}},
            "devices": [{"name": f"sw48-{a}", "address": address, "auth": a,
                         "profiles": ["if_mib"], "timeout": "2s"} for a in ("v2c", "v3")]})
        jobs = sec.jobs("bench")

        async def polls(job: Any, n: int, pysnmp: bool = False) -> tuple[float, float, float]:
            coll = job.factory()
            if pysnmp:  # the path v3 took before the own codec, for the same-run "before"
                coll._target = await pysnmp_target(coll)
                coll._target_loop = asyncio.get_running_loop()
            await coll.collect(Context(Deadline(10), "bench", job.name))  # warm up
            c = self_cpu()
            t = time.perf_counter()
            vb = 0
            for _ in range(n):
                obs = await coll.collect(Context(Deadline(10), "bench", job.name))
                assert obs.success, obs.reason
                vb += int(obs.details["varbinds"])
            return self_cpu() - c, time.perf_counter() - t, vb

        for _ in range(REPEATS):  # interleaved, so load changes hit every poller alike
            rows.setdefault("ex", []).append(scrape_exporter(exporter.pid, base + "if_mib",
                                                             POLLS))
            rows.setdefault("ex3", []).append(scrape_exporter(exporter.pid,
                                                              base + "if_mib_v3", POLLS))
            rows.setdefault("v2c", []).append(asyncio.run(polls(jobs[0], POLLS)))
            rows.setdefault("v3", []).append(asyncio.run(polls(jobs[1], POLLS)))
            rows.setdefault("pysnmp", []).append(asyncio.run(polls(jobs[1], POLLS // 5, True)))

    def med(key: str) -> tuple[float, float, float, float]:
        """Median run by CPU per varbind: (CPU s, wall s, varbinds, us per varbind)."""
        runs = sorted(rows[key], key=lambda r: r[0] / r[2])
        cpu, wall, vb = runs[len(runs) // 2]
        return cpu, wall, vb, cpu / vb * 1e6

    e, e3, p, v3, old = med("ex"), med("ex3"), med("v2c"), med("v3"), med("pysnmp")
    polls_of = {"ex": POLLS, "ex3": POLLS, "v2c": POLLS, "v3": POLLS, "pysnmp": POLLS // 5}

    def row(name: str, key: str, r: tuple[float, float, float, float],
            anchor: tuple[float, float, float, float]) -> str:
        spread = sorted(x[0] / x[2] * 1e6 for x in rows[key])
        return (f"| {name} | {polls_of[key]} | {int(r[2])} | {r[0]:.2f} | {r[1]:.2f} | "
                f"{r[3]:.1f} ({spread[0]:.1f}-{spread[-1]:.1f}) | {r[3] / anchor[3]:.2f}x |")

    table = "\n".join([
        "| poller | polls | varbinds | CPU s | wall s | CPU us/varbind (min-max) | ratio |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        row("prometheus-snmp-exporter 0.21 v2c (anchor)", "ex", e, e),
        row("pantau v2c (own BER codec)", "v2c", p, e),
        row("prometheus-snmp-exporter 0.21 v3 authPriv SHA/AES (anchor)", "ex3", e3, e3),
        row("pantau v3 authPriv SHA/AES (own codec, v3.py)", "v3", v3, e3),
        row("pantau v3 authPriv SHA/AES through pysnmp 7 (before)", "pysnmp", old, e3),
    ])
    per_poll = p[0] / POLLS
    v3_poll = v3[0] / POLLS
    summary = (
        f"pantau v2c {p[3] / e[3]:.2f}x snmp_exporter v2c per varbind; pantau v3 authPriv "
        f"{v3[3] / e3[3]:.2f}x snmp_exporter v3 and {v3[3] / e[3]:.2f}x snmp_exporter v2c "
        f"(through pysnmp: {old[3] / e3[3]:.1f}x / {old[3] / e[3]:.1f}x). One 48-port poll "
        f"costs {per_poll * 1000:.1f} ms of CPU over v2c, {v3_poll * 1000:.1f} ms over v3 "
        f"authPriv: about {int(60 / per_poll)} resp. {int(60 / v3_poll)} such devices every "
        f"60 s on one core.")
    print(table)
    print("\n" + summary)
    if "--write" in sys.argv:
        load = os.getloadavg()
        section = (
            "## SNMP polling (issue 4)\n\nCommand: "
            "`.venv/bin/python tests/bench/snmp_poll.py --write` (root; snmpd in a namespace "
            "with 48 interfaces; snmp_exporter and pantau read the same 15 IF-MIB columns of "
            "the same snmpd in the same run, interleaved, "
            f"{REPEATS} rounds, the median round shown with the min-max; CPU: /proc/PID/stat "
            "of snmp_exporter, getrusage of pantau's pollers in this process; load average "
            f"{load[0]:.1f} at the end, 2 cores shared with other work)\n\n"
            f"{table}\n\n{summary}\n\n"
            "Targets: v2c within 5x of snmp_exporter (issue 4); v3 authPriv SHA/AES within 3x "
            "(issue 16; the whole agent's figures are in \"SNMP at scale through pantau run\").\n")
        replace_section(section)
    return 0


async def pysnmp_target(coll: Any) -> Any:
    from pysnmp.hlapi.v3arch.asyncio import SnmpEngine, UdpTransportTarget

    from collectors.snmp.walk import Target

    host, port = coll.device.host_port()
    transport = await UdpTransportTarget.create((host, port), timeout=2, retries=1)
    return Target(SnmpEngine(), coll.auth.auth_data(), transport, "3",
                  coll.device.max_repetitions, coll.device.max_varbinds)


if __name__ == "__main__":
    sys.exit(main())
