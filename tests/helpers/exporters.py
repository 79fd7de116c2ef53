"""Start a Debian Prometheus exporter (blackbox, snmp) on a free loopback port for a test or a
bench, and stop it (and its children) on exit."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from tests.helpers.agent import free_port
from tests.helpers.procs import stop_process
from tests.helpers.waiting import wait_http


@contextlib.contextmanager
def run_exporter(name: str, config: Path, log: Path) -> Iterator[str]:
    """`name` (e.g. prometheus-snmp-exporter) with --config.file=`config`, output to `log`;
    yields its base URL once it answers HTTP."""
    exe = shutil.which(name)
    assert exe, f"{name} missing: run tests/install-deps.sh"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        proc = subprocess.Popen([exe, f"--config.file={config}",
                                 f"--web.listen-address=127.0.0.1:{port}"],
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_http(url + "/", 15)
            yield url
        finally:
            stop_process(proc, group=True)
