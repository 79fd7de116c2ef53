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


@contextmanager
def ports_namespace(ports: int, subnet: str = "10.81.0") -> Iterator[tuple[str, str]]:
    """A network namespace with `ports` interfaces for an snmpd to serve (lo, an uplink veth
    to the root namespace, veth pairs: no dummy module on these kernels). Yields (namespace,
    the namespace's address on the uplink); the root side is {subnet}.1/30."""
    import secrets

    ns = f"pt-snmpns-{secrets.token_hex(3)}"
    root_if = f"psn{ns[-6:]}"

    def sh(*cmd: str) -> None:
        subprocess.run(cmd, check=True, capture_output=True, timeout=30)

    try:
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", root_if, "type", "veth", "peer", "name", "up0", "netns", ns)
        sh("ip", "addr", "add", f"{subnet}.1/30", "dev", root_if)
        sh("ip", "link", "set", root_if, "up")
        sh("ip", "-n", ns, "addr", "add", f"{subnet}.2/30", "dev", "up0")
        sh("ip", "-n", ns, "link", "set", "up0", "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        for i in range((ports - 2) // 2):
            sh("ip", "-n", ns, "link", "add", f"pa{i}", "type", "veth", "peer", "name", f"pb{i}")
            sh("ip", "-n", ns, "link", "set", f"pa{i}", "up")
            sh("ip", "-n", ns, "link", "set", f"pb{i}", "up")
        yield ns, f"{subnet}.2"
    finally:
        subprocess.run(["ip", "link", "del", root_if], capture_output=True, timeout=30)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)
