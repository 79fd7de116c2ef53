"""Stopping the peers the tests start (snmpd, Prometheus, exporters, the agent itself)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path
from typing import Any


def stop_process(proc: subprocess.Popen[Any], *, group: bool = False,
                 grace: float = 10.0) -> None:
    """SIGTERM, wait up to `grace` seconds, then SIGKILL: a peer that ignores SIGTERM cannot
    hang the suite. group=True signals the whole process group, for processes started with
    start_new_session=True whose children must go too."""
    if proc.poll() is not None:
        return

    def send(sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            if group:
                os.killpg(proc.pid, sig)
            else:
                proc.send_signal(sig)

    send(signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        send(signal.SIGKILL)
        proc.wait(timeout=5)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time `pid` has used so far (from /proc/<pid>/stat)."""
    # the command name may hold spaces and parentheses: split after its closing ")"
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pid_listening(port: int) -> int:
    """The PID of the process with a TCP socket listening on `port` (needs `ss`)."""
    out = subprocess.run(["ss", "-Htlnp", f"sport = :{port}"], capture_output=True, text=True,
                         check=True).stdout
    return int(out.split("pid=")[1].split(",")[0])
