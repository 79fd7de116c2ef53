"""SNMPv3 re-discovery: a real snmpd restarted under a running agent loop is polled successfully
on the very next poll and the restart is counted as a reboot, both when it keeps its engine id
(snmpEngineBoots +1, engine time from 0: pysnmp resyncs by itself) and when it comes back with a
new engine id (gear that lost its persistent storage: pysnmp alone would time out forever)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
from pathlib import Path

import pytest

from collectors.base import Context, Deadline, Observation
from collectors.snmp import SnmpCollector, SnmpSection
from tests.helpers.procs import stop_process

V3 = {"version": "3", "username": "pantauv3", "auth_protocol": "SHA",
      "auth_password": "authpass-123", "priv_protocol": "AES", "priv_password": "privpass-123"}


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Snmpd:
    def __init__(self, tmp: Path, port: int, keep_engine_id: bool) -> None:
        self.tmp, self.port, self.keep = tmp, port, keep_engine_id
        (tmp / "snmpd.conf").write_text(
            'createUser pantauv3 SHA "authpass-123" AES "privpass-123"\nrouser pantauv3 priv\n')
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert os.path.exists("/usr/sbin/snmpd"), "snmpd missing: run tests/install-deps.sh"
        persist = self.tmp / "persist"
        self.proc = subprocess.Popen(
            ["/usr/sbin/snmpd", "-f", "-Lf", str(self.tmp / "log"), *([] if self.keep else ["-C"]),
             "-c",
             str(self.tmp / "snmpd.conf"), "-p", str(self.tmp / "pid"),
             f"udp:127.0.0.1:{self.port}"],
            # like a switch: same engine id after the restart and snmpEngineBoots + 1. That
            # needs the persistent file read back (no -C); SNMPCONFPATH keeps /etc/snmp out.
            env={**os.environ, "SNMP_PERSISTENT_DIR": str(persist), "MIBS": "",
                 "SNMPCONFPATH": f"{self.tmp / 'none'}:{persist}"},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(50):  # bounded: 5 s
            r = subprocess.run(["snmpget", "-v3", "-l", "authPriv", "-u", "pantauv3", "-a", "SHA",
                                "-A", "authpass-123", "-x", "AES", "-X", "privpass-123", "-r0",
                                "-t0.2", f"127.0.0.1:{self.port}", "1.3.6.1.2.1.1.3.0"],
                               capture_output=True, timeout=5)
            if r.returncode == 0:
                return
        raise AssertionError("snmpd did not start: " + (self.tmp / "log").read_text())

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)


def _reboots(obs: Observation) -> float:
    return next(s.value for s in obs.samples
                if s.name == "pantau_snmp_counter_discontinuities_total"
                and dict(s.labels)["reason"] == "reboot")


@pytest.mark.parametrize("keep_engine_id", [True, False], ids=["same-engine-id", "new-engine-id"])
def test_v3_restart_rediscovered_in_the_same_loop(tmp_path: Path, keep_engine_id: bool) -> None:
    port = _free_udp_port()
    snmpd = Snmpd(tmp_path, port, keep_engine_id)
    sec = SnmpSection.model_validate({
        "auths": {"v3": V3},
        "devices": [{"name": "sw", "address": f"127.0.0.1:{port}", "auth": "v3",
                     "profiles": ["system", "if_mib"], "timeout": "1s", "retries": 1}]})
    job = sec.jobs("lab")[0]

    async def scenario() -> tuple[Observation, Observation, Observation]:
        coll = job.factory()
        assert isinstance(coll, SnmpCollector)
        try:
            first = await coll.collect(Context(Deadline(job.timeout), "lab", "sw"))
            await asyncio.to_thread(snmpd.stop)
            await asyncio.sleep(1.5)  # a reboot takes a while; engine time restarts at 0
            await asyncio.to_thread(snmpd.start)
            second = await coll.collect(Context(Deadline(job.timeout), "lab", "sw"))
            third = await coll.collect(Context(Deadline(job.timeout), "lab", "sw"))
            return first, second, third
        finally:
            await coll.aclose()

    snmpd.start()
    try:
        first, second, third = asyncio.run(scenario())
    finally:
        snmpd.stop()
    assert first.success, first.reason
    assert second.success, second.reason  # no poll lost to the stale engine boots/time
    assert third.success, third.reason
    assert (_reboots(first), _reboots(second), _reboots(third)) == (0, 1, 1)
