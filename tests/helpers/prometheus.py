"""Start a real Prometheus (Debian's /usr/bin/prometheus) for a test and query it."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.helpers.agent import free_port
from tests.helpers.procs import stop_process


@dataclass
class RunningPrometheus:
    url: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    def api(self, path: str, **params: Any) -> Any:
        q = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{q}", timeout=30) as r:
            body = json.loads(r.read())
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str, **params: Any) -> list[dict[str, Any]]:
        return list(self.api("query", query=expr, **params)["result"])

    def wait_for(self, expr: str, predicate: Any = bool, timeout: float = 60.0) -> Any:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            last = self.query(expr)
            if predicate(last):
                return last
            time.sleep(0.5)
        raise AssertionError(f"{expr} never satisfied; last {last}; log:\n"
                             + self.log_path.read_text()[-3000:])


@contextlib.contextmanager
def run_prometheus(tmp_path: Path, scrape_configs: list[dict[str, Any]],
                   extra_args: tuple[str, ...] = ()) -> Iterator[RunningPrometheus]:
    exe = shutil.which("prometheus")
    assert exe, "prometheus missing: run tests/install-deps.sh"
    d = tmp_path / f"prometheus-{time.monotonic_ns()}"
    d.mkdir(parents=True)
    cfg = d / "prometheus.yml"
    cfg.write_text(yaml.safe_dump({"global": {"scrape_interval": "1s",
                                              "evaluation_interval": "1s"},
                                   "scrape_configs": scrape_configs}))
    port = free_port()
    log_path = d / "prometheus.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [exe, f"--config.file={cfg}", f"--storage.tsdb.path={d / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn", *extra_args],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    prom = RunningPrometheus(f"http://127.0.0.1:{port}", proc, log_path)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert proc.poll() is None, log_path.read_text()
            try:
                with urllib.request.urlopen(prom.url + "/-/ready", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            time.sleep(0.2)
        else:
            raise AssertionError("prometheus not ready:\n" + log_path.read_text())
        yield prom
    finally:
        stop_process(proc)
        log.close()
