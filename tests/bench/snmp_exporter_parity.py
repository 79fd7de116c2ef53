"""pantau's /snmp against prometheus-snmp-exporter 0.21 with snmp_exporter's own generated
snmp.yml files (the yardsticks), on one net-snmp snmpd on loopback.

1. Both yardstick files load in pantau as they are (today's format and v0.21's): module count.
2. For every module of the v0.21 file, snmp_exporter 0.21 and pantau (reading the same file)
   scrape the same snmpd: same metric names, label sets and values, counters (and uptimes)
   bracketed by two snmp_exporter scrapes around pantau's. Modules whose OIDs snmpd does not
   answer give only the scrape gauges on both sides and are counted apart. The same modules
   read from today's format file must give pantau the same series for the metrics both
   versions of a module define (the generator changed modules since v0.21).
3. CPU per varbind of if_mib: --scrapes scrapes against each, one at a time, utime + stime of
   each process from /proc, divided by the varbinds returned.
Not part of the suite: the yardsticks live outside the repository.

    .venv/bin/python tests/bench/snmp_exporter_parity.py [--scrapes 200]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from collectors.snmp.exporter import ExporterModule, parse_snmp_yml  # noqa: E402
from tests.helpers.agent import free_port, parse_metrics, run_agent  # noqa: E402
from tests.helpers.procs import stop_process  # noqa: E402
from tests.helpers.snmpd import running_snmpd  # noqa: E402
from tests.helpers.waiting import wait_http  # noqa: E402

SHARED = REPO.parent / "shared" / "yardsticks"
OLD, NEW = SHARED / "snmp_exporter-v0.21-snmp.yml", SHARED / "snmp_exporter-snmp.yml"
META = {"snmp_scrape_duration_seconds", "snmp_scrape_walk_duration_seconds",
        "snmp_scrape_packets_sent", "snmp_scrape_packets_retried", "snmp_scrape_pdus_returned"}
# counters and uptimes: pantau's value must lie between the two snmp_exporter scrapes
BRACKETED = ("Octets", "Pkts", "UpTime", "Uptime", "Raw", "Errors", "Discards", "diskIO",
             "hrSystemDate")
# live gauges that may go either way between scrapes
MOVING = ("Octets", "Pkts", "UpTime", "Uptime", "hrSystemProcesses", "ssCpuRaw", "ssIORaw",
          "ssRaw", "Errors", "Discards", "hrSystemNumUsers", "memAvail", "memBuffer",
          "memCached", "memShared", "memTotalFree", "memAvailReal", "laLoad", "ssCpu",
          "ssSwap", "ssSys", "ssIO", "hrStorageUsed", "diskIO", "hrProcessorLoad")

Series = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(base: str, module: str, target: str, auth: str = "") -> Series:
    q = {"module": module, "target": target, **({"auth": auth} if auth else {})}
    try:
        with urllib.request.urlopen(f"{base}/snmp?{urllib.parse.urlencode(q)}",
                                    timeout=60) as r:
            body = r.read().decode()
    except urllib.error.HTTPError as e:
        return {("error", frozenset({("status", str(e.code))})): 1.0}
    return {(n, frozenset(ls)): v for (n, ls), v in parse_metrics(body).items()
            if n not in META}


def compare(before: Series, ours: Series, after: Series) -> list[str]:
    problems = []
    only_a, only_b = set(before) - set(ours), set(ours) - set(before)
    if only_a or only_b:
        problems.append(f"{len(only_a)} series only in snmp_exporter (e.g. "
                        f"{sorted(only_a)[:2]}), {len(only_b)} only in pantau (e.g. "
                        f"{sorted(only_b)[:2]})")
    for key, v in before.items():
        if key not in ours:
            continue
        if any(m in key[0] for m in BRACKETED):
            lo, hi = min(v, after.get(key, v)), max(v, after.get(key, v))
            if not lo <= ours[key] <= hi:
                problems.append(f"{key[0]}: pantau {ours[key]} not in [{lo}, {hi}]")
        elif any(m in key[0] for m in MOVING):
            continue  # a live gauge (load, free memory): present on both sides is the check
        elif ours[key] != v:
            problems.append(f"{key[0]}{dict(key[1])}: snmp_exporter {v}, pantau {ours[key]}")
    return problems


def names(module: ExporterModule) -> set[str]:
    return {m.name + ("_info" if m.type == "EnumAsInfo" else "") for m in module.metrics} | {
        m.name + suffix for m in module.metrics for suffix in m.regex_extracts}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pid_listening(port: int) -> int:
    out = subprocess.run(["ss", "-Htlnp", f"sport = :{port}"], capture_output=True, text=True,
                         check=True).stdout
    return int(out.split("pid=")[1].split(",")[0])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scrapes", type=int, default=200)
    args = ap.parse_args()
    for f in (NEW, OLD):
        y = parse_snmp_yml(f.read_text(), f.name)
        print(f"{f.name}: {len(y.modules)} modules, {len(y.auths)} auths load in pantau")
    old_yml, new_yml = parse_snmp_yml(OLD.read_text()), parse_snmp_yml(NEW.read_text())
    modules = list(old_yml.modules)
    new_modules = set(new_yml.modules)
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        with running_snmpd(tmp, ["rocommunity public 127.0.0.1",
                                 "sysLocation Kantor Sleman"]) as snmpd:
            port = free_port()
            log = (tmp / "snmp_exporter.log").open("wb")
            proc = subprocess.Popen(["prometheus-snmp-exporter", f"--config.file={OLD}",
                                     f"--web.listen-address=127.0.0.1:{port}"], stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
            exp = f"http://127.0.0.1:{port}"
            try:
                wait_http(exp + "/", 15)
                for label, path in (("v0.21 file", OLD), ("current file", NEW)):
                    cfg = {"site": "bench", "host": {"enabled": False},
                           "snmp": {"exporter_modules": str(path),
                                    "exporter_targets": ["127.0.0.0/8"]}}
                    with run_agent(cfg, tmp / label.replace(" ", "_")) as agent:
                        same = empty = 0
                        for module in modules:
                            if label == "current file" and module not in new_modules:
                                continue
                            auth = "public_v2" if label == "current file" else ""
                            before = scrape(exp, module, snmpd.target)
                            ours = scrape(agent.url, module, snmpd.target, auth)
                            after = scrape(exp, module, snmpd.target)
                            if label == "current file":
                                # the generator's modules changed since v0.21: compare the
                                # metrics both versions of the module define
                                both = names(old_yml.modules[module]) & names(
                                    new_yml.modules[module])
                                before, ours, after = ({k: v for k, v in x.items()
                                                        if k[0] in both}
                                                       for x in (before, ours, after))
                            problems = compare(before, ours, after)
                            if not before and not ours:
                                empty += 1
                            elif problems:
                                print(f"  {label} {module}: " + "; ".join(problems[:3]))
                            else:
                                same += 1
                                print(f"  {label} {module}: {len(before)} series agree")
                        print(f"{label}: {same} modules with data agree, {empty} modules "
                              "without data on both sides (snmpd does not answer their OIDs)")
                        if label == "v0.21 file":
                            print(cpu_table(exp, agent.url, snmpd.target, args.scrapes))
            finally:
                stop_process(proc, group=True)
                log.close()


def cpu_table(exp: str, pantau: str, target: str, n: int) -> str:
    rows = []
    for name, base in (("snmp_exporter 0.21", exp), ("pantau", pantau)):
        pid = pid_listening(int(base.rsplit(":", 1)[1]))
        q = urllib.parse.urlencode({"module": "if_mib", "target": target})
        with urllib.request.urlopen(f"{base}/snmp?{q}", timeout=60) as r:
            body = r.read().decode()
        pdus = next(int(float(line.split()[1])) for line in body.splitlines()
                    if line.startswith("snmp_scrape_pdus_returned "))
        before = cpu_seconds(pid)
        for _ in range(n):
            with urllib.request.urlopen(f"{base}/snmp?{q}", timeout=60) as r:
                r.read()
        cpu = cpu_seconds(pid) - before
        rows.append(f"{name}: if_mib {pdus} varbinds x {n} scrapes, "
                    f"{cpu * 1e6 / (n * pdus):.1f} us CPU per varbind "
                    f"({cpu * 1000 / n:.2f} ms per scrape)")
    return "\n".join(rows)


if __name__ == "__main__":
    main()
