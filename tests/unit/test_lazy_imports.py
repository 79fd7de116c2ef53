"""A host-only agent must not carry the client libraries of checks it does not run.

Memory is a target of issue 2 (see BENCHMARKS.md, "Host metrics"): each of these libraries costs
1-18 MiB of RSS and is bound with collectors.base.lazy_import, loaded on first use. An eager
`import httpx` slipped into any module on the run path would silently undo that; this test
names the culprit instead. Runs in a fresh interpreter, since pytest has imported them all.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# importlib.metadata: pydantic's plugin loader imports it at the first model unless no plugin
# is installed (collectors/common/pydantic_plugins.py); sqlite3-free remote write config,
# codec-free snmp config, the e-mail receiver's config without the email package, and no typer.
HEAVY = ("paramiko", "cryptography", "httpx", "dns.message", "jinja2", "cramjam", "pysnmp",
         "prometheus_client", "babel", "importlib.metadata", "zipfile", "email.message",
         "collectors.snmp.collector", "collectors.snmp.v2c", "collectors.snmp.exporter",
         "exporters.remote_write.writer", "exporters.remote_write.queue",
         # the command line: `pantau run` starts without typer (agent/cli/run.py)
         "typer", "agent.cli.root", "agent.cli.common",
         # issue 16's memory: html.entities (~0.5 MiB) for the pages only; report building and
         # rendering once a month; importlib.abc and ctypes.util drag in importlib.resources,
         # tempfile, shutil, bz2 and lzma (~1 MiB); email for a mailed report only
         "html.entities", "agent.reports.build", "agent.reports.render", "importlib.abc",
         "importlib.resources", "ctypes.util", "tempfile", "shutil", "lzma", "email",
         # the Telegram bot and its commands: loaded when a receiver enables the bot
         "agent.oncall",
         # OpenSSL (~4.5 MiB): mapped once something uses TLS
         # (collectors/common/openssl_on_demand.py)
         "ssl", "_ssl", "_hashlib")

PROBE = r"""
import json, sys
from pathlib import Path
from agent.cli.run import main_without_typer  # noqa: F401  (what `pantau run` imports)
from agent.config import AgentConfig
from agent.runtime import Agent
cfg = AgentConfig.model_validate({"site": "t", "state_dir": sys.argv[1],
                                  "host": {"interval": "5s", "timeout": "1s"}})
agent = Agent(lambda: cfg, None, "127.0.0.1:0", initial=cfg)
# what Agent.run imports before its loop runs
import importlib
for m in ("agent.logs", "agent.reports.schedule", "agent.status.public",
          "exporters.http_server", "exporters.webconfig"):
    importlib.import_module(m)
# a module bound by lazy_import sits in sys.modules as a _LazyModule until first used
print(json.dumps(sorted(n for n, m in list(sys.modules.items())
                        if type(m).__name__ != "_LazyModule")))
"""


def loaded_after(code: str, tmp_path: Path) -> set[str]:
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                       text=True, cwd=REPO, timeout=60)
    assert r.returncode == 0, r.stderr
    return set(json.loads(r.stdout))


def test_host_only_agent_loads_no_client_library(tmp_path: Path) -> None:
    mods = loaded_after(PROBE, tmp_path)
    eager = [h for h in HEAVY if h in mods]
    assert not eager, f"loaded by a host-only agent: {eager}; bind them with lazy_import"


def test_alerting_without_a_bot_loads_no_bot_code(tmp_path: Path) -> None:
    """Alerting.start loads agent.oncall (the Telegram bot and its commands) only when a
    receiver enables the bot; tests/unit/test_oncall.py starts the bots that are enabled."""
    code = PROBE.replace("# a module bound", (
        "from agent.alerting import Alerting\n"
        "async def cycle():\n"
        "    al = Alerting(cfg, agent.store, None, cfg.site)\n"
        "    await al.start()\n"
        "    assert al.bots == []\n"
        "    await al.stop()\n"
        "import asyncio\n"
        "asyncio.run(cycle())\n"
        "# a module bound"))
    assert "agent.oncall" not in loaded_after(code, tmp_path)


def test_lazy_module_loads_on_first_use(tmp_path: Path) -> None:
    """The other half: validating a DNS check runs dnspython's name parser, so it loads then."""
    code = PROBE.replace(
        '"host": {"interval": "5s", "timeout": "1s"}',
        '"checks": [{"name": "dns1", "type": "dns", "target": "127.0.0.1",'
        ' "query_name": "portal.example.go.id", "interval": "5s", "timeout": "1s"}]')
    mods = loaded_after(code, tmp_path)
    assert "dns.name" in mods, "dnspython did not load when a DNS check was validated"
    assert "paramiko" not in mods and "httpx" not in mods


def test_textfile_parser_loads_only_when_a_directory_is_read(tmp_path: Path) -> None:
    """prometheus_client's parser is the textfile part's: configured but not yet read, it stays
    out; the first read of the directory loads it."""
    tf = tmp_path / "textfile"
    tf.mkdir()
    (tf / "job.prom").write_text("backup_ok 1\n")
    code = PROBE.replace(
        '"host": {"interval": "5s", "timeout": "1s"}',
        f'"host": {{"interval": "5s", "timeout": "1s", "textfile_directory": "{tf}"}}')
    assert "prometheus_client" not in loaded_after(code, tmp_path)
    code += (
        "\nimport asyncio\nfrom collectors.base import Context, Deadline\n"
        "from collectors.host import HostCollector\n"
        "obs = asyncio.run(HostCollector(cfg.host).collect(Context(Deadline(5), 't', 'host')))\n"
        "assert any(s.name == 'backup_ok' for s in obs.samples), obs.details\n"
        "print(json.dumps(sorted(sys.modules)))\n")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                       text=True, cwd=REPO, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "prometheus_client.parser" in json.loads(r.stdout.splitlines()[-1])


def test_check_types_are_the_per_check_entries() -> None:
    """CHECK_TYPES is written out (knowing it imports nothing); it must be what the classes say."""
    from collectors import CHECK_TYPES, REGISTRY

    assert CHECK_TYPES == tuple(t for t in REGISTRY if REGISTRY[t].per_check)


def test_host_only_agent_loads_no_unused_collector_nor_rich_help(tmp_path: Path) -> None:
    """The registry is imported entry by entry; typer's rich help only for --help."""
    mods = loaded_after(PROBE, tmp_path)
    unused = [m for m in ("collectors.probe.icmp", "collectors.probe.http",
                          "collectors.probe.tcp", "collectors.probe.dns",
                          "collectors.probe.path", "collectors.ssh.collector",
                          "typer.rich_utils", "rich", "markdown_it", "pygments") if m in mods]
    assert not unused, f"loaded by a host-only agent: {unused}"


def test_families_of_unused_collectors_still_belong_to_pantau(tmp_path: Path) -> None:
    """Only the configured collectors' families are declared at start, but a user-defined
    family (here a *.prom file's) must not take the name of one of pantau's own families of a
    collector that is not configured, as when every family was declared at start."""
    code = PROBE + (
        "\nfrom agent.store import Result\n"
        "from collectors.base import MetricSpec, Observation, Sample\n"
        "name = 'pantau_icmp_packet_loss_ratio'\n"
        "assert name not in agent.exposition.specs\n"
        "spec = MetricSpec(name, 'counter', 'from a file', (), foreign=True)\n"
        "obs = Observation(success=True, samples=[Sample.of(name, 1.0)], specs=[spec])\n"
        "agent._on_result(Result('host', 'host', 'host', obs, obs.samples))\n"
        "got = agent.exposition.specs[name]\n"
        "assert got.kind == 'gauge' and not got.foreign, got\n")
    loaded_after(code, tmp_path)


def test_httpx_loads_without_its_command_line(tmp_path: Path) -> None:
    """httpx's __init__ imports its CLI (rich, pygments, click: ~5 MiB) when those are
    installed; bound through lazy_import it leaves the CLI out, and an explicit import of it
    afterwards still works."""
    code = (
        "import json, sys\n"
        "from collectors.common.lazy import lazy_import\n"
        "httpx = lazy_import('httpx')\n"
        "assert httpx.URL('http://127.0.0.1/').host == '127.0.0.1'\n"
        "first = sorted(sys.modules)\n"
        "import httpx._main\n"
        "print(json.dumps([first, 'httpx._main' in sys.modules]))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    first, explicit = json.loads(r.stdout)
    assert "httpx._client" in first
    assert not {"httpx._main", "rich.console", "pygments"} & set(first)
    assert explicit


PLUGIN = """
from pydantic.plugin import PydanticPluginProtocol

class Plugin:
    built = []

    def new_schema_validator(self, schema, schema_type, schema_type_path, schema_kind,
                             config, plugin_settings):
        Plugin.built.append(schema_type_path.name)
        return None, None, None

plugin = Plugin()
"""


def test_installed_pydantic_plugin_still_applies(tmp_path: Path) -> None:
    """The stand-in for pydantic's plugin loader hands over as soon as a distribution declares
    a `pydantic` entry point: the plugin sees pantau's models as before."""
    (tmp_path / "fakeplug.py").write_text(PLUGIN)
    dist = tmp_path / "fakeplug-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fakeplug\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[pydantic]\nfake = fakeplug:plugin\n")
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(tmp_path)!r})\n"
        "from collectors.config import StrictModel\n"
        "class M(StrictModel):\n    x: int = 0\n"
        "import fakeplug\n"
        "print('M' in fakeplug.Plugin.built, 'importlib.metadata' in sys.modules)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["True", "True"]


# every package whose __init__ exports through lazy_exports, found in the tree so that a new
# one is checked without being listed here
LAZY_PACKAGES = sorted(
    ".".join(p.parent.relative_to(REPO).parts)
    for top in ("agent", "collectors", "exporters")
    for p in (REPO / top).rglob("__init__.py")
    if "lazy_exports(" in p.read_text(encoding="utf-8"))


def test_no_lazy_export_is_named_like_a_submodule() -> None:
    """A lazily exported name that is also a submodule's (agent.reports.build) means the
    function until that submodule is imported and the module from then on: importing a
    submodule sets the package attribute of its name. `from agent.reports import build` then
    handed `pantau report` a module to call. Such a name must be imported from its module."""
    import importlib
    import pkgutil

    assert "agent.reports" in LAZY_PACKAGES, LAZY_PACKAGES
    for name in LAZY_PACKAGES:
        pkg = importlib.import_module(name)
        lazy = vars(pkg).get("_LAZY")
        assert isinstance(lazy, dict), f"{name} calls lazy_exports without a _LAZY table"
        subs = {m.name for m in pkgutil.iter_modules(pkg.__path__)}
        clash = sorted(set(lazy) & subs)
        assert not clash, f"{name}: lazy exports named like its submodules: {clash}"


def test_lazy_exports_stay_what_they_name_after_their_module_loads() -> None:
    """The other half: every lazy name, asked for after its module was imported directly,
    is still the object of that module, not the module itself."""
    import importlib

    for name in LAZY_PACKAGES:
        pkg = importlib.import_module(name)
        for export, module in vars(pkg)["_LAZY"].items():
            importlib.import_module(module)
            assert getattr(pkg, export) is getattr(importlib.import_module(module), export), \
                f"{name}.{export}"


def test_plain_http_and_tcp_checks_load_neither_httpx_nor_openssl(tmp_path: Path) -> None:
    """An office whose portal checks are http:// and whose port checks are plain TCP runs them
    on h11 and asyncio alone (collectors/probe/http_client.py): httpx, httpcore, anyio and
    OpenSSL stay out (~9 MiB, BENCHMARKS.md "Small office"). The checks really run here,
    against a loopback server on a bare socket (http.server would import ssl itself)."""
    server = (
        "import socket, threading\n"
        "lsock = socket.create_server(('127.0.0.1', 0))\n"
        "def serve():\n"
        "    while True:\n"
        "        c, _ = lsock.accept()\n"
        "        c.recv(65536)\n"
        "        c.sendall(b'HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nok')\n"
        "        c.close()\n"
        "threading.Thread(target=serve, daemon=True).start()\n"
        "port = lsock.getsockname()[1]\n")
    checks = [{"name": "web", "type": "http", "target": "http://127.0.0.1:PORT/x",
               "body_must_match": ["ok"], "interval": "5s", "timeout": "2s"},
              {"name": "port", "type": "tcp", "target": "127.0.0.1:PORT",
               "interval": "5s", "timeout": "2s"}]
    run = (
        "import asyncio\n"
        "from collectors import REGISTRY\n"
        "from collectors.base import Context, Deadline\n"
        "for c in cfg.checks:\n"
        "    obs = asyncio.run(REGISTRY[c.type](c).collect(Context(Deadline(2), 't', c.name)))\n"
        "    assert obs.success, (c.name, obs.reason)\n")
    code = PROBE.replace("cfg = AgentConfig", server + "cfg = AgentConfig").replace(
        '"host": {"interval": "5s", "timeout": "1s"}',
        f'"checks": {json.dumps(checks)}'.replace("PORT", '" + str(port) + "')).replace(
        "# a module bound", run + "# a module bound")
    mods = loaded_after(code, tmp_path)
    assert "collectors.probe.http_client" in mods and "h11" in mods
    loaded = [m for m in ("httpx", "httpcore", "anyio", "ssl", "_ssl", "_hashlib") if m in mods]
    assert not loaded, f"loaded by plain http and tcp checks: {loaded}"
