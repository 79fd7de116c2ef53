"""Memory of `pantau run` against prometheus-node-exporter, measured at the same moment.

The processes are started, waited for until they serve host series on /metrics, scraped 3
times each, and then VmRSS (split into RssAnon = private heap and RssFile = mapped
binaries/libraries), peak VmHWM and CPU seconds used are read from /proc/PID/status:

- `pantau run --config <host-only config>` on 127.0.0.1: the agent with the host collector alone;
- `pantau run` with NO config (the embedded default: this host + the discovered gateway (icmp) +
  the resolvers of resolv.conf (dns)), run inside the office namespace of tests/lab/office.py so
  the gateway and DNS server it discovers are the lab's (nothing leaves this machine), with a
  private /var/lib so its state goes to a temporary directory; scraped inside that namespace;
- a stand-in: the same host collector + exposition behind http.server, no CLI/config/scheduler;
- the floor: a bare interpreter that imports only what the issue itself prescribes for the run
  path (asyncio for the scheduler, pydantic + PyYAML for the config, psutil for the host) and
  sleeps: no pantau code at all, and OpenSSL unmapped as in the agent
  (collectors/common/openssl_on_demand.py). No design under these constraints can weigh less;
- `prometheus-node-exporter` with its default collectors.

Target: pantau's RSS (host collector alone) no larger than node_exporter's.

    .venv/bin/python tests/bench/rss.py            # print the figures
    .venv/bin/python tests/bench/rss.py --append   # ... and append them to BENCHMARKS.md

The measured tree's packages are compiled to bytecode first (compile_tree: as an installed
agent has them); --no-bytecode measures them compiled at each start instead.

Where the memory goes (no root needed; --src DIR: another tree, e.g. `git archive <commit> |
tar -x -C DIR`):

    .venv/bin/python tests/bench/rss.py --imports [--src DIR]      # VmRSS added by each import
    .venv/bin/python tests/bench/rss.py --tracemalloc [--src DIR]  # Python objects by file

--imports imports the run path's modules one after the other in a fresh interpreter, in the
order `pantau run` needs them, then builds the host-only Agent, and prints what each step
added to VmRSS (a module's share includes whatever it imports first). --tracemalloc builds the
same Agent under tracemalloc and prints the traced memory by the file that allocated it
(interpreter internals and C libraries such as pydantic-core's validators are not traced).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
PANTAU = Path(sys.executable).with_name("pantau")
NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
SCRAPES = 3
CONFIG = """site: bench
state_dir: {state}
host:
  interval: 1s
  timeout: 500ms
"""

# The host path alone: collector + exposition + a plain HTTP server, no CLI/config/scheduler.
STAND_IN = r"""
import asyncio, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import types
pkg = types.ModuleType("collectors"); pkg.__path__ = [sys.argv[1] + "/collectors"]
sys.modules["collectors"] = pkg  # skip collectors/__init__ (the registry imports every collector)
from collectors.base import Context, Deadline
from collectors.host import HostCollector, HostConfig
from exporters.exposition import CONTENT_TYPE, Exposition

exp = Exposition(HostCollector.METRICS)

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = exp.body()
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass

async def main():
    collector = HostCollector(HostConfig())
    while True:
        obs = await collector.collect(Context(Deadline(0.5), "bench", "host"))
        exp.update("host", obs.samples)
        exp.refresh()
        await asyncio.sleep(1)

server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
asyncio.run(main())
"""


# What the issue prescribes for the run path, imported and idle: the floor for any design.
FLOOR = r"""
import sys
for n in ("ssl", "_hashlib"):  # OpenSSL unmapped, as the agent starts (openssl_on_demand.py)
    sys.modules[n] = None
import asyncio, hashlib, hmac
for n in ("ssl", "_hashlib"):
    del sys.modules[n]
import psutil, pydantic, yaml, signal
class C(pydantic.BaseModel):
    x: int = 0
C()
print("ready", flush=True)
signal.pause()
"""

# Scrape from inside a namespace (the lab's office): prints the body length, or "" on error.
NS_GET = r"""
import sys, urllib.request
try:
    body = urllib.request.urlopen(sys.argv[1], timeout=5).read().decode()
except OSError:
    body = ""
print(len(body) if "node_cpu_seconds_total" in body else -1)
"""

@dataclass
class Figures:
    rss: int  # KiB
    anon: int
    file: int
    hwm: int
    cpu: float
    body: int


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def measure(pid: int, body: int) -> Figures:
    st: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
            st[key] = int(value.split()[0])
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return Figures(st["VmRSS"], st["RssAnon"], st["RssFile"] + st.get("RssShmem", 0),
                   st["VmHWM"], cpu, body)


Getter = Callable[[str], int]  # url -> body length, -1 when no host series, OSError if down


def get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as r:
        body = r.read().decode()
    return len(body) if "node_cpu_seconds_total" in body else -1


def wait_serving(url: str, proc: subprocess.Popen[bytes], what: str, fetch: Getter,
                 timeout: float = 30) -> str | None:
    """None when serving host series; else why not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return f"{what} exited with {proc.returncode}: {last_line(proc)}"
        try:
            if fetch(url) > 0:
                return None
        except OSError:
            pass
        time.sleep(0.2)
    return f"{what} did not serve host series on {url} within {timeout:.0f} s"


def wait_ready_line(proc: subprocess.Popen[bytes], what: str) -> str | None:
    assert proc.stdout is not None
    line = proc.stdout.readline().decode().strip()  # the floor prints "ready" within ~1 s
    return None if line == "ready" else f"{what} did not start: {last_line(proc)}"


def last_line(proc: subprocess.Popen[bytes]) -> str:
    if proc.poll() is None or proc.stderr is None:
        return ""
    err = proc.stderr.read().decode(errors="replace").strip()
    return err.splitlines()[-1] if err else ""


# The run path in the order `pantau run` imports it, then the host-only Agent (argv: state dir).
IMPORTS = r"""
import importlib, importlib.util, sys, time
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
prev = rss()
print(f"{'interpreter':30s} {prev:5.1f}")
# asyncio as the agent imports it: without OpenSSL, where the tree defers it (its first
# import is inside collectors/__init__.py, which would bring pydantic along with it here)
import os
for entry in sys.path:
    deferral = os.path.join(entry or ".", "collectors", "common", "openssl_on_demand.py")
    if os.path.exists(deferral):
        spec = importlib.util.spec_from_file_location("_openssl_on_demand", deferral)
        assert spec is not None and spec.loader is not None
        deferring = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(deferring)
        deferring.install()
        break
# "a|b": the first of them that exists (older trees kept the models beside the code and
# started `pantau run` through the typer app, agent.cli, which imports typer).
STEPS = ["asyncio", "pydantic", "yaml", "psutil", "collectors.config",
         "collectors.host.collector", "collectors.snmp.config|collectors.snmp.collector",
         "collectors.ssh.config", "exporters.notify",
         "exporters.remote_write.config|exporters.remote_write", "agent.alerting",
         "agent.status", "agent.config", "agent.runtime", "agent.cli.run|agent.cli"]
for step in STEPS:
    for name in step.split("|"):
        if importlib.util.find_spec(name) is not None:
            break
    importlib.import_module(name)
    now = rss()
    print(f"{name:30s} {now - prev:+5.1f}")
    prev = now
from agent.config import AgentConfig
from agent.runtime import Agent
cfg = AgentConfig.model_validate({"site": "t", "state_dir": sys.argv[1],
                                  "host": {"interval": "1s", "timeout": "500ms"}})
agent = Agent(lambda: cfg, None, "127.0.0.1:0", initial=cfg)
now = rss()
print(f"{'config + Agent':30s} {now - prev:+5.1f}")
print(f"{'total':30s} {now:5.1f}  ({len(sys.modules)} modules)")
"""

TRACE = r"""
import sys, tracemalloc
tracemalloc.start()
try:  # what `pantau run` imports: its typer-free start, or (older trees) the typer app
    import agent.cli.run  # noqa: F401
except ImportError:
    from agent.cli import app  # noqa: F401
from agent.config import AgentConfig
from agent.runtime import Agent
cfg = AgentConfig.model_validate({"site": "t", "state_dir": sys.argv[1],
                                  "host": {"interval": "1s", "timeout": "500ms"}})
agent = Agent(lambda: cfg, None, "127.0.0.1:0", initial=cfg)
snap = tracemalloc.take_snapshot()
by: dict[str, int] = {}
for stat in snap.statistics("filename"):
    f = stat.traceback[0].filename
    for marker in ("site-packages/", "python3.11/", sys.argv[2] + "/"):
        if marker in f:
            f = f.split(marker, 1)[1]
            break
    top = f.split("/")[0] if "/" in f else f
    if top.startswith("<frozen importlib"):
        top = "(import system: code objects, module dicts)"
    by[top] = by.get(top, 0) + stat.size
total = sum(by.values())
print(f"traced {total / 2**20:.1f} MiB")
for name, size in sorted(by.items(), key=lambda x: -x[1])[:20]:
    print(f"{name:44s} {size / 2**20:5.2f}")
"""


PACKAGES = ("agent", "collectors", "exporters", "playbooks")


def compile_tree(src: Path) -> None:
    """Write the bytecode of the tree's own packages, as `pip install .` (README) does for an
    installed agent. Without it, a tree run from its sources under PYTHONDONTWRITEBYTECODE
    (this workplace sets it) compiles every module at each start, and the compiler's garbage
    stays in the RSS high-water: +2.6 MiB on the host-only agent (BENCHMARKS.md). The
    dependencies in the venv have their bytecode from pip already."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", *(str(src / p) for p in PACKAGES)],
                   check=True, timeout=300, stdout=subprocess.DEVNULL)


def where(mode: str, src: Path) -> int:
    env = {**os.environ, "PYTHONPATH": str(src)}
    with tempfile.TemporaryDirectory(prefix="pantau-rss-") as tmp:
        code, extra = (IMPORTS, []) if mode == "imports" else (TRACE, [str(src)])
        r = subprocess.run([sys.executable, "-c", code, tmp, *extra], env=env, cwd=tmp,
                           capture_output=True, text=True, timeout=120)
    print(r.stdout + r.stderr, end="")
    return r.returncode


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--append", action="store_true", help="append the figures to BENCHMARKS.md")
    ap.add_argument("--imports", action="store_true", help="VmRSS added by each import")
    ap.add_argument("--tracemalloc", action="store_true", help="Python objects by file")
    ap.add_argument("--src", type=Path, default=REPO, help="the tree whose pantau is measured")
    ap.add_argument("--no-bytecode", action="store_true",
                    help="do not compile the tree first (its modules compiled at each start)")
    args = ap.parse_args()
    if not args.no_bytecode:
        compile_tree(args.src)
    if args.imports or args.tracemalloc:
        return where("imports" if args.imports else "tracemalloc", args.src)

    from tests.lab.office import OfficeLab

    results: dict[str, Figures | str] = {}
    with tempfile.TemporaryDirectory(prefix="pantau-rss-") as tmp, OfficeLab() as lab:
        cfg = Path(tmp) / "pantau.yml"
        cfg.write_text(CONFIG.format(state=Path(tmp) / "state"))
        private_var_lib = Path(tmp) / "var-lib"
        private_var_lib.mkdir()
        ports = {name: free_port() for name in ("pantau", "stand-in", "node_exporter")}
        ports["default"] = 9877  # its own namespace: the embedded default's port is free there
        urls = {n: f"http://127.0.0.1:{p}/metrics" for n, p in ports.items()}

        def ns_get(url: str) -> int:
            r = lab.exec("office", [sys.executable, "-c", NS_GET, url], check=False, timeout=15)
            if not r.stdout.strip():
                raise OSError(r.stderr.strip() or "no answer")
            return int(r.stdout)

        pipes: dict[str, Any] = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE,
                                 "cwd": REPO}
        pantau = [str(PANTAU)]
        if args.src != REPO:  # another tree's pantau, from its sources (same venv)
            pipes["env"] = {**os.environ, "PYTHONPATH": str(args.src)}
            pipes["cwd"] = args.src
            pantau = [sys.executable, "-c", "import sys; sys.argv[0] = 'pantau'; "
                      "from agent.cli import main; sys.exit(main())"]
        procs: dict[str, subprocess.Popen[bytes]] = {}
        fetchers: dict[str, Getter] = {}
        try:
            procs["pantau"] = subprocess.Popen(
                [*pantau, "run", "--config", str(cfg), "--listen",
                 f"127.0.0.1:{ports['pantau']}"], **pipes)
            # `ip netns exec` gives the command its own mount namespace: /var/lib is private.
            procs["default"] = lab.popen(
                "office", ["sh", "-c", 'mount --bind "$0" /var/lib && exec "$@"',
                           str(private_var_lib), *pantau, "run", "--listen",
                           f"127.0.0.1:{ports['default']}"], **pipes)
            procs["stand-in"] = subprocess.Popen(
                [sys.executable, "-c", STAND_IN, str(args.src), str(ports["stand-in"])],
                **pipes)
            procs["floor"] = subprocess.Popen([sys.executable, "-c", FLOOR], **pipes)
            procs["node_exporter"] = subprocess.Popen(
                [NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{ports['node_exporter']}"],
                **pipes)
            fetchers = {n: (ns_get if n == "default" else get) for n in ports}
            for name, proc in procs.items():
                if name == "floor":
                    why = wait_ready_line(proc, name)
                else:
                    # The default's DNS/gateway checks wait for their first results (<= 15 s).
                    why = wait_serving(urls[name], proc, name, fetchers[name], timeout=40)
                if why:
                    results[name] = why
            live = [n for n in procs if n not in results]
            sizes = dict.fromkeys(live, 0)
            for _ in range(SCRAPES):
                for name in live:
                    if name in fetchers:
                        sizes[name] = fetchers[name](urls[name])
                time.sleep(1.0)
            for name in live:
                results[name] = measure(procs[name].pid, sizes[name])
        finally:
            for proc in procs.values():
                proc.kill()
                proc.wait(timeout=10)

    labels = {
        "pantau": "`pantau run` (host only)",
        "default": "`pantau run`, embedded default (host + gateway + DNS)",
        "stand-in": "host path alone (stand-in: collector + exposition + http.server)",
        "floor": "floor: python + asyncio + pydantic + PyYAML + psutil, idle",
        "node_exporter": "prometheus-node-exporter 1.5 (defaults)",
    }
    mib = 1024.0
    lines = [
        "| process | VmRSS MiB | RssAnon MiB | RssFile MiB | VmHWM MiB | CPU s | /metrics bytes |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in labels:
        r = results.get(name, "not measured")
        if isinstance(r, str):
            lines.append(f"| {labels[name]} | failed: {r} | | | | | |")
        else:
            lines.append(f"| {labels[name]} | {r.rss / mib:.1f} | {r.anon / mib:.1f} "
                         f"| {r.file / mib:.1f} | {r.hwm / mib:.1f} | {r.cpu:.2f} "
                         f"| {r.body or ''} |")
    ne = results.get("node_exporter")
    lines.append("")
    for name in ("pantau", "default", "stand-in", "floor"):
        got = results.get(name)
        if isinstance(got, Figures) and isinstance(ne, Figures):
            ratio = got.rss / ne.rss
            verdict = "met" if ratio <= 1.0 else "NOT met"
            lines.append(f"- RSS ratio {name} / node_exporter: **{ratio:.2f}** "
                         f"(anon only: {got.anon / ne.anon:.2f}; target <= 1.00: {verdict})")
    report = "\n".join(lines)
    print(report)
    if args.append:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        block = (
            f"\n### Host metrics: RSS against node_exporter ({stamp})\n\n"
            "Command: `.venv/bin/python tests/bench/rss.py --append` (as root: starts `pantau run "
            "--config <host-only, interval 1s> --listen 127.0.0.1:<port>`, `pantau run` with no "
            "config in the lab's office namespace, the stand-in, the floor and "
            "`prometheus-node-exporter --web.listen-address=127.0.0.1:<port>`; scrapes each "
            f"{SCRAPES} times; reads /proc/PID/status).\n\n{report}\n"
        )
        with (REPO / "BENCHMARKS.md").open("a", encoding="utf-8") as f:
            f.write(block)
    return 0 if all(isinstance(r, Figures) for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
