"""SNMPv3 re-discovery: a real snmpd restarted under a running agent loop is polled successfully
on the very next poll and the restart is counted as a reboot, both when it keeps its engine id
(snmpEngineBoots +1, engine time from 0: pysnmp resyncs by itself) and when it comes back with a
new engine id (gear that lost its persistent storage: pysnmp alone would time out forever)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from collectors.base import Context, Deadline, Observation
from collectors.snmp import SnmpCollector, SnmpSection
from tests.helpers.snmpd import Snmpd

V3 = {"version": "3", "username": "pantauv3", "auth_protocol": "SHA",
      "auth_password": "authpass-123", "priv_protocol": "AES", "priv_password": "privpass-123"}


V3_PROBE = ["-v3", "-l", "authPriv", "-u", "pantauv3", "-a", "SHA", "-A", "authpass-123",
            "-x", "AES", "-X", "privpass-123"]
V3_CONF = ['createUser pantauv3 SHA "authpass-123" AES "privpass-123"', "rouser pantauv3 priv"]


def _reboots(obs: Observation) -> float:
    return next(s.value for s in obs.samples
                if s.name == "pantau_snmp_counter_discontinuities_total"
                and dict(s.labels)["reason"] == "reboot")


@pytest.mark.parametrize("keep_engine_id", [True, False], ids=["same-engine-id", "new-engine-id"])
def test_v3_restart_rediscovered_in_the_same_loop(tmp_path: Path, keep_engine_id: bool) -> None:
    # like a switch: same engine id after the restart and snmpEngineBoots + 1 (keep_state)
    snmpd = Snmpd(tmp_path, V3_CONF, probe=V3_PROBE, keep_state=keep_engine_id)
    port = snmpd.port
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
