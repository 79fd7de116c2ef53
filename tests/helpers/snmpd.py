"""The one net-snmp snmpd the tests and benches start: on loopback or inside a namespace,
ready when it answers a real snmpget (polled with a deadline, never a fixed sleep)."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.helpers.procs import stop_process

SNMPD = "/usr/sbin/snmpd"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"


def free_udp_port(address: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])


class Snmpd:
    """snmpd with the given config lines. `probe` is the snmpget auth arguments that prove
    it answers (default: v2c with the first rocommunity). `keep_state` reads the persistent
    file back on restart, as a switch keeps its engine id and counts snmpEngineBoots."""

    def __init__(self, workdir: Path, conf: Sequence[str], *, address: str = "127.0.0.1",
                 port: int | None = None, netns: str | None = None,
                 probe: Sequence[str] | None = None, keep_state: bool = False) -> None:
        assert os.path.exists(SNMPD), "snmpd missing: run tests/install-deps.sh"
        self.workdir, self.address, self.netns, self.keep = workdir, address, netns, keep_state
        self.port = port if port is not None else free_udp_port(address)
        self.conf = workdir / "snmpd.conf"
        self.conf.write_text("\n".join(conf) + "\n")
        community = next((ln.split()[1] for ln in conf if ln.startswith("rocommunity")), "public")
        self.probe = list(probe) if probe is not None else ["-v2c", "-c", community]
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def target(self) -> str:
        return f"{self.address}:{self.port}"

    def start(self, ready_within: float = 10.0) -> None:
        persist = self.workdir / "persist"
        cmd = [SNMPD, "-f", "-Lf", str(self.workdir / "snmpd.log"),
               *([] if self.keep else ["-C"]), "-c", str(self.conf),
               "-p", str(self.workdir / "snmpd.pid"), f"udp:{self.target}"]
        if self.netns:
            cmd = ["ip", "netns", "exec", self.netns, *cmd]
        env: dict[str, Any] = {**os.environ, "SNMP_PERSISTENT_DIR": str(persist), "MIBS": ""}
        if self.keep:  # the persistent file is read back; SNMPCONFPATH keeps /etc/snmp out
            env["SNMPCONFPATH"] = f"{self.workdir / 'none'}:{persist}"
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + ready_within
        while time.monotonic() < deadline:
            if self.answers():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        log = self.workdir / "snmpd.log"
        raise AssertionError("snmpd did not answer: " + (log.read_text() if log.exists() else ""))

    def answers(self) -> bool:
        r = subprocess.run(["snmpget", *self.probe, "-r0", "-t0.2", "-On", self.target,
                            SYS_UPTIME], capture_output=True, timeout=5)
        return r.returncode == 0

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None


@contextmanager
def running_snmpd(workdir: Path, conf: Sequence[str], **kw: Any) -> Iterator[Snmpd]:
    server = Snmpd(workdir, conf, **kw)
    server.start()
    try:
        yield server
    finally:
        server.stop()
