"""Start a real `pantau run` for a test and read what it exposes.

The agent runs as a subprocess (optionally inside a network namespace), exactly as an admin
would run it, so the tests exercise the CLI, config loading, scheduler and HTTP endpoint together.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers.procs import stop_process

REPO = Path(__file__).resolve().parents[2]
PANTAU = Path(sys.executable).with_name("pantau")

Series = tuple[str, frozenset[tuple[str, str]]]


def free_port(host: str = "127.0.0.1") -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def parse_metrics(text: str) -> dict[Series, float]:
    out: dict[Series, float] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def pick(metrics: dict[Series, float], name: str, **labels: str) -> list[float]:
    """Values of series `name` whose labels include `labels`."""
    want = set(labels.items())
    return [v for (n, ls), v in metrics.items() if n == name and want <= ls]


@dataclass
class RunningAgent:
    proc: subprocess.Popen[bytes]
    url: str
    config_path: Path
    log_path: Path
    netns: str | None = None

    def get(self, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
        if self.netns:  # the agent listens inside its namespace: ask from in there
            script = ("import sys,urllib.request,urllib.error\n"
                      "try:\n r=urllib.request.urlopen(sys.argv[1],timeout=float(sys.argv[2]))\n"
                      "except urllib.error.HTTPError as e:\n r=e\n"
                      "sys.stdout.buffer.write(b'%d\\n'%r.status+r.read())")
            out = subprocess.run(["ip", "netns", "exec", self.netns, sys.executable, "-c",
                                  script, self.url + path, str(timeout)],
                                 capture_output=True, timeout=timeout + 10, check=True)
            status, _, body = out.stdout.partition(b"\n")
            return int(status), body
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def metrics_text(self) -> str:
        status, body = self.get("/metrics")
        assert status == 200, f"/metrics answered {status}"
        return body.decode()

    def scrape(self) -> dict[Series, float]:
        return parse_metrics(self.metrics_text())

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def wait_for(self, predicate: Any, timeout: float = 20.0, interval: float = 0.2) -> Any:
        """Poll scrape() until predicate(metrics) is truthy; bounded in time."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                last = predicate(self.scrape())
            except (OSError, AssertionError, subprocess.SubprocessError):
                last = None
            if last:
                return last
            time.sleep(interval)
        raise AssertionError(f"condition not met within {timeout}s; agent log:\n{self.log_text()}")


def write_config(config: dict[str, Any] | str, tmp_path: Path) -> Path:
    path = tmp_path / "pantau.yml"
    if isinstance(config, dict):
        config = dict(config)
        config.setdefault("state_dir", str(tmp_path / "state"))
        path.write_text(yaml.safe_dump(config, sort_keys=False))
    else:
        path.write_text(_with_state_dir(config, tmp_path / "state"))
    return path


def _with_state_dir(text: str, state: Path) -> str:
    """A YAML config without `state_dir` gets the test's own: without one the agent would
    take the machine's /var/lib/pantau (tests/conftest.py fails a session that makes it).
    Text that is not a mapping, or is meant to be invalid, is left as it is."""
    try:
        loaded = yaml.safe_load(text)
        if not isinstance(loaded, dict) or "state_dir" in loaded:
            return text
        added = text.rstrip("\n") + f"\nstate_dir: {state}\n"
        again = yaml.safe_load(added)
    except yaml.YAMLError:
        return text
    return added if isinstance(again, dict) and again.get("state_dir") == str(state) else text


@contextlib.contextmanager
def run_agent(
    config: dict[str, Any] | str,
    tmp_path: Path,
    *,
    netns: str | None = None,
    listen_host: str = "127.0.0.1",
    extra_args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    ready_timeout: float = 30.0,
    wait_ready: bool = True,
    port: int | None = None,
    wrap: tuple[str, ...] = (),
) -> Iterator[RunningAgent]:
    """Start `pantau run --config` on a free port; wait for /-/ready; always kill it after.
    `wrap` goes before the command (e.g. an `unshare` that execs "$@")."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    config_path = write_config(config, tmp_path)
    if port is None:
        port = free_port(listen_host) if netns is None else 19877
    host_in_url = f"[{listen_host}]" if ":" in listen_host else listen_host
    cmd = [str(PANTAU), "run", "--config", str(config_path),
           "--listen", f"{host_in_url}:{port}", *extra_args]
    if netns:
        cmd = ["ip", "netns", "exec", netns, *cmd]
    cmd = [*wrap, *cmd]
    log_path = tmp_path / f"agent-{port}.log"
    log_file = log_path.open("wb")
    proc = subprocess.Popen(
        cmd, stdout=log_file, stderr=subprocess.STDOUT, cwd=tmp_path,
        env={**os.environ, **(env or {})}, start_new_session=True,
    )
    agent = RunningAgent(proc, f"http://{host_in_url}:{port}", config_path, log_path, netns)
    try:
        if wait_ready:
            _wait_ready(agent, ready_timeout)
        yield agent
    finally:
        stop_process(proc, group=True)
        log_file.close()


def _wait_ready(agent: RunningAgent, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if agent.proc.poll() is not None:
            raise AssertionError(
                f"pantau exited with {agent.proc.returncode}:\n{agent.log_text()}"
            )
        try:
            if agent.netns:
                r = subprocess.run(
                    ["ip", "netns", "exec", agent.netns, sys.executable, "-c",
                     f"import urllib.request;urllib.request.urlopen('{agent.url}/-/ready',"
                     "timeout=2)"],
                    capture_output=True, timeout=10,
                )
                if r.returncode == 0:
                    return
            elif agent.get("/-/ready", timeout=2)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"pantau not ready within {timeout}s:\n{agent.log_text()}")


def run_cli(*args: str, timeout: float = 60.0, input: str | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed `pantau` console script."""
    return subprocess.run(
        [str(PANTAU), *args], capture_output=True, text=True, timeout=timeout, input=input,
        env={**os.environ, **(env or {})},
    )
