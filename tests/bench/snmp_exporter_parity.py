"""pantau's /snmp against prometheus-snmp-exporter 0.21 with snmp_exporter's own generated
snmp.yml files (the yardsticks), on the tests' 24-port switch (snmpd in a network namespace,
tests/helpers/gear.py; needs root).

1. Both yardstick files load in pantau as they are: every module of today's file (the script
   fails if one does not) and of v0.21's.
2. v0.21 file, every module: snmp_exporter 0.21 and pantau (reading the same file) scrape the
   same snmpd: same metric names, label sets and values, counters (and uptimes) bracketed by
   two snmp_exporter scrapes around pantau's. Modules whose OIDs snmpd does not answer give
   only the scrape gauges on both sides and are counted apart.
3. Today's file in pantau against v0.21's in snmp_exporter 0.21, every module present in
   both: series of the metrics whose definitions agree (all but the help text) must be the
   same; metrics whose definitions differ between the two generator versions are listed
   with what differs, and whether their series differ on this snmpd.
4. CPU per varbind of if_mib: --scrapes scrapes against each, one at a time, utime + stime of
   each process from /proc, divided by the varbinds returned.
Not part of the suite: the yardsticks live outside the repository.

    .venv/bin/python tests/bench/snmp_exporter_parity.py [--scrapes 200] [--write]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from collectors.snmp.exporter import ExporterModule, Metric, SnmpYml, SnmpYmlError, parse_snmp_yml  # noqa: E402
from tests.helpers.agent import parse_metrics, run_agent  # noqa: E402
from tests.helpers.benchmarks import replace_section  # noqa: E402
from tests.helpers.exporters import run_exporter  # noqa: E402
from tests.helpers.gear import gear_lab  # noqa: E402
from tests.helpers.procs import cpu_seconds, pid_listening  # noqa: E402

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
          "ssSwap", "ssSys", "ssIO", "hrStorageUsed", "diskIO", "hrProcessorLoad",
          "hrStorageSize")  # net-snmp sizes its memory "storages" (Cached, Available) live

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


def series_names(metric: Metric) -> set[str]:
    """The sample names a metric gives, as parse_metrics reads them (counters get _total)."""
    if metric.regex_extracts:
        return {metric.name + suffix for suffix in metric.regex_extracts}
    if metric.type == "EnumAsInfo":
        return {metric.name + "_info"}
    return {metric.name + ("_total" if metric.type == "counter" else "")}


def _covered(module: ExporterModule, oid: tuple[int, ...]) -> bool:
    return any(oid[:len(w)] == w for w in module.walk) or any(
        g[:len(oid)] == oid for g in module.get)


def definition_diff(old_m: ExporterModule, new_m: ExporterModule, name: str) -> list[str]:
    """What the generator changed between v0.21 and today in the metric(s) called `name`
    (help aside): its fields, how often it is defined, whether its columns are walked."""
    olds = sorted((m for m in old_m.metrics if m.name == name), key=lambda m: m.oid)
    news = sorted((m for m in new_m.metrics if m.name == name), key=lambda m: m.oid)
    if len(olds) != len(news):
        return [f"defined {len(olds)}x in v0.21, {len(news)}x today"]
    out: list[str] = []
    for old, new in zip(olds, news, strict=True):
        out += [f for f in ("oid", "type", "indexes", "lookups", "enum_values", "regex_extracts",
                            "scale", "offset", "datetime_pattern")
                if getattr(old, f) != getattr(new, f) and f not in out]
        for oid in (old.oid, *(lk.oid for lk in old.lookups if lk.labels)):
            if _covered(old_m, oid) != _covered(new_m, oid) and "walked" not in out:
                out.append("walked")
    return out


def load_all() -> tuple[SnmpYml, SnmpYml, list[str]]:
    lines = []
    loaded = []
    for f in (NEW, OLD):
        try:
            y = parse_snmp_yml(f.read_text(), f.name)
        except SnmpYmlError as e:
            sys.exit(f"FAIL: {f.name} does not load: {e}")
        raw = yaml.safe_load(f.read_text())
        expected = set(raw["modules"] if "modules" in raw else raw)
        if set(y.modules) != expected:
            sys.exit(f"FAIL: {f.name}: modules missing: {sorted(expected - set(y.modules))}")
        lines.append(f"{f.name}: all {len(y.modules)} modules and {len(y.auths)} auths load")
        loaded.append(y)
    return loaded[1], loaded[0], lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scrapes", type=int, default=200)
    ap.add_argument("--write", action="store_true", help="figures into BENCHMARKS.md")
    args = ap.parse_args()
    old_yml, new_yml, out = load_all()
    for line in out:
        print(line)
    modules = list(old_yml.modules)
    shared = [m for m in modules if m in new_yml.modules]
    report: dict[str, list[str]] = {"old": [], "new": [], "defs": [], "cpu": []}
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        with gear_lab(tmp) as gear:
            gear.traffic()
            with run_exporter("prometheus-snmp-exporter", OLD, tmp / "snmp_exporter.log") as exp:
                report["old"] = v021_pass(exp, gear.target, old_yml, tmp, args.scrapes,
                                          report["cpu"])
                report["new"], report["defs"] = current_pass(exp, gear.target, old_yml,
                                                             new_yml, shared, tmp)
    if args.write:
        write(out, report, len(shared), args.scrapes)


def _agent_cfg(path: Path) -> dict[str, Any]:
    return {"site": "bench", "host": {"enabled": False},
            "snmp": {"exporter_modules": str(path), "exporter_targets": ["10.0.0.0/8"]}}


def v021_pass(exp: str, target: str, old_yml: SnmpYml, tmp: Path, scrapes: int,
              cpu: list[str]) -> list[str]:
    lines = []
    with run_agent(_agent_cfg(OLD), tmp / "v021") as agent:
        same = empty = series = 0
        for module in old_yml.modules:
            before = scrape(exp, module, target)
            ours = scrape(agent.url, module, target)
            after = scrape(exp, module, target)
            problems = compare(before, ours, after)
            if not before and not ours:
                empty += 1
                lines.append(f"{module}: no series on either side")
            elif problems:
                lines.append(f"{module}: MISMATCH " + "; ".join(problems[:3]))
            else:
                same += 1
                series += len(before)
                lines.append(f"{module}: {len(before)} series agree")
            print("  v0.21", lines[-1])
        total = f"v0.21 file: {same} of {same + len([x for x in lines if 'MISMATCH' in x])} " \
            f"modules with data agree ({series} series), {empty} without data on both sides"
        print(total)
        lines.insert(0, total)
        cpu.extend(cpu_table(exp, agent.url, target, scrapes).splitlines())
        print("\n".join(cpu))
    return lines


def current_pass(exp: str, target: str, old_yml: SnmpYml, new_yml: SnmpYml, shared: list[str],
                 tmp: Path) -> tuple[list[str], list[str]]:
    lines, defs = [], []
    agreeing_series = mismatching = compared_modules = 0
    with run_agent(_agent_cfg(NEW), tmp / "current") as agent:
        for module in shared:
            old_m, new_m = old_yml.modules[module], new_yml.modules[module]
            old_by = {m.name: m for m in old_m.metrics}
            new_by = {m.name: m for m in new_m.metrics}
            agree: set[str] = set()
            differ: dict[str, list[str]] = {}
            for name in old_by.keys() & new_by.keys():
                d = definition_diff(old_m, new_m, name)
                if d:
                    differ[name] = d
                else:
                    agree |= series_names(old_by[name])
            changed: set[str] = set().union(*(series_names(old_by[n]) for n in differ)) \
                if differ else set()
            only_old = sorted(old_by.keys() - new_by.keys())
            only_new = sorted(new_by.keys() - old_by.keys())
            # today's generator moved IF-MIB, HOST-RESOURCES and the like out of the vendor
            # modules into modules of their own (scraped together: module=if_mib,mikrotik)
            homes: set[str] = set()
            moved = []
            for name in only_old:
                # a module of its own first (if_mib, hrStorage...), not another vendor's
                candidates = sorted((h for h in new_yml.modules if h != module),
                                    key=lambda h: h in old_yml.modules)
                home = next((h for h in candidates if any(
                    x.name == name for x in new_yml.modules[h].metrics)), None)
                if home is not None:
                    moved.append(name)
                    homes.add(home)
            v1 = old_m.auth is not None and old_m.auth.version == 1
            auth = "public_v1" if v1 else "public_v2"
            before = scrape(exp, module, target)
            ours = scrape(agent.url, module, target, auth)
            after = scrape(exp, module, target)

            def part(x: Series, names: set[str]) -> Series:
                return {k: v for k, v in x.items() if k[0] in names}

            problems = compare(part(before, agree), part(ours, agree), part(after, agree))
            n_agree = len(part(before, agree))
            changed_problems = compare(part(before, changed), part(ours, changed),
                                       part(after, changed))
            if not part(before, agree) and not part(ours, agree):
                status = "no series of agreeing metrics on either side"
            elif problems:
                mismatching += 1
                status = "MISMATCH " + "; ".join(problems[:3])
            else:
                compared_modules += 1
                agreeing_series += n_agree
                status = f"{n_agree} series of agreeing metrics agree"
            lines.append(f"{module}: {status}")
            print("  current", lines[-1])
            if differ or only_old or only_new or old_m.walk != new_m.walk:
                what: dict[str, int] = {}
                for d in differ.values():
                    for f in d:
                        f = "defined a different number of times" if f.startswith(
                            "defined") else f
                        what[f] = what.get(f, 0) + 1
                effect = ("their series differ here: " + changed_problems[0][:160]
                          if changed_problems else "their series still agree here"
                          if part(before, changed) else "snmpd answers none of them")
                defs.append(
                    f"{module}: {len(old_by.keys() & new_by.keys()) - len(differ)} metrics "
                    f"agree, {len(differ)} differ ("
                    + (", ".join(f"{f} {c}" for f, c in sorted(what.items())) or "-")
                    + f"; {effect}), {len(only_old)} only in v0.21"
                    + (f" ({len(moved)} of them now in today's {', '.join(sorted(homes))})"
                       if moved else "")
                    + f", {len(only_new)} only today"
                    + ("; walk list changed" if old_m.walk != new_m.walk else ""))
                print("  defs", defs[-1])
        # today's modules v0.21 lacks (system, hrStorage, ucd_*, ...): no snmp_exporter 0.21
        # counterpart, so only what pantau serves from them is counted
        extra = []
        for module in new_yml.modules:
            if module not in old_yml.modules:
                n = len(scrape(agent.url, module, target, "public_v2"))
                extra.append(f"{module} {n}")
        lines.append("modules only in today's file, series pantau serves from this snmpd "
                     "(nothing to compare with): " + ", ".join(extra))
        print(lines[-1])
    total = (f"current file vs v0.21 in snmp_exporter: {len(shared)} modules in both; "
             f"{compared_modules} with data agree on every series of their agreeing metrics "
             f"({agreeing_series} series), {mismatching} mismatch")
    print(total)
    return [total, *lines], defs


def write(load: list[str], report: dict[str, list[str]], shared: int, scrapes: int) -> None:
    today = time.strftime("%Y-%m-%d")
    body = ["## snmp_exporter drop-in (issue 15)", "",
            f"Measured {today}. Command: `.venv/bin/python "
            f"tests/bench/snmp_exporter_parity.py --scrapes {scrapes} --write` (root). "
            "net-snmp snmpd in a network namespace with 24 veth "
            "ports (tests/helpers/gear.py, the suite's switch), prometheus-snmp-exporter 0.21 "
            "(Debian) reading ../shared/yardsticks/snmp_exporter-v0.21-snmp.yml, `pantau run` "
            "reading the same file, then today's snmp_exporter-snmp.yml. Each module: "
            "snmp_exporter, pantau, snmp_exporter again; counters and clocks must lie between "
            "the two snmp_exporter values, everything else equal.", "",
            "Loading as they are:", "", *(f"- {x}" for x in load), "",
            "v0.21 file in both:", "", f"**{report['old'][0]}**", "",
            *(f"- {x}" for x in report["old"][1:]), "",
            f"Today's file in pantau, v0.21's in snmp_exporter 0.21 ({shared} modules in both "
            "files; a metric agrees when its definition is the same but for the help text):",
            "", f"**{report['new'][0]}**", "", *(f"- {x}" for x in report["new"][1:]), "",
            "Where the two generator versions define a module differently (per module: "
            "metrics whose definition changed, by field, and what that does on this snmpd):",
            "", *(f"- {x}" for x in report["defs"]), "",
            f"CPU per varbind, if_mib, {scrapes} scrapes one at a time:", "",
            "| | figures |", "|---|---|", *(f"| {x.split(':', 1)[0]} | {x.split(':', 1)[1]} |"
                                            for x in report["cpu"]), "",
            "The suite's test (tests/peers/test_snmp_exporter_parity.py) runs snmp_exporter "
            "0.21 beside pantau on the same switch with fixtures of its own "
            "(tests/testdata/snmp_exporter/, both formats, SNMPv3 too).", ""]
    replace_section("\n".join(body))


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
