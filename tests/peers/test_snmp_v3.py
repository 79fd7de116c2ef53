"""pantau's own SNMPv3 (v3.py, usm.py) against a real net-snmp snmpd: every auth x priv
protocol pantau offers reads what net-snmp's snmpwalk/snmpget read with the same user;
wrong passwords and unknown users give distinct reasons (not "no response"); an snmpd that
restarts is re-synchronised (same engine id) or re-discovered (new engine id) within the
request that meets it.

Before this codec, pysnmp's AES192/AES256 used the "Reeder" key extension while net-snmp uses
"Blumenthal": MD5/SHA users with AES192/AES256 never got an answer (test_every_combination
fails for those on the pysnmp path)."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import pytest

from collectors.base import Context, Deadline
from collectors.snmp import SnmpSection, convert
from collectors.snmp.collector import SnmpAuth
from collectors.snmp.v3 import V3Target
from collectors.snmp.walk import OID
from tests.helpers.snmpd import Snmpd

AUTHS = get_args(SnmpAuth.model_fields["auth_protocol"].annotation)
PRIVS = get_args(SnmpAuth.model_fields["priv_protocol"].annotation)
NET_SNMP = {"SHA224": "SHA-224", "SHA256": "SHA-256", "SHA384": "SHA-384",
            "SHA512": "SHA-512", "AES192": "AES-192", "AES256": "AES-256"}
AUTH_PW, PRIV_PW = "auth-pass-16", "priv-pass-16"
IF_COLUMNS = [(1, 3, 6, 1, 2, 1, 2, 2, 1, c) for c in (1, 2, 3, 4, 5, 7)]
SYSTEM = [(1, 3, 6, 1, 2, 1, 1, n, 0) for n in (1, 2, 4, 5, 6)]


def _user(auth: str, priv: str) -> str:
    return f"u{auth}{priv}".lower()


def _conf() -> list[str]:
    lines = ["rocommunity public 127.0.0.1", "sysName gear-v3", "sysLocation lab-v3",
             "sysContact noc@kantor.go.id"]
    for a in AUTHS:
        for p in PRIVS:
            if p == "none":
                lines.append(f'createUser {_user(a, p)} {NET_SNMP.get(a, a)} "{AUTH_PW}"')
                lines.append(f"rouser {_user(a, p)} auth")
            else:
                lines.append(f'createUser {_user(a, p)} {NET_SNMP.get(a, a)} "{AUTH_PW}" '
                             f'{NET_SNMP.get(p, p)} "{PRIV_PW}"')
                lines.append(f"rouser {_user(a, p)} priv")
    return lines


@pytest.fixture(scope="module")
def snmpd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Snmpd]:
    server = Snmpd(tmp_path_factory.mktemp("snmpd-v3"), _conf())
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _auth(auth: str, priv: str, **over: Any) -> dict[str, Any]:
    return {"version": "3", "username": _user(auth, priv), "auth_protocol": auth,
            "auth_password": AUTH_PW, "priv_protocol": priv,
            **({} if priv == "none" else {"priv_password": PRIV_PW}), **over}


def _net_snmp(tool: str, auth: str, priv: str, target: str, oids: list[str]) -> dict[str, str]:
    level = ["-l", "authNoPriv"] if priv == "none" else [
        "-l", "authPriv", "-x", NET_SNMP.get(priv, priv), "-X", PRIV_PW]
    r = subprocess.run([tool, "-v3", "-u", _user(auth, priv), "-a", NET_SNMP.get(auth, auth),
                        "-A", AUTH_PW, *level, "-On", "-Oq", "-Oe", "-Ot", "-t", "2", target,
                        *oids], capture_output=True, text=True, timeout=30,
                       env={"MIBS": "", "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    out = {}
    for line in r.stdout.splitlines():
        oid, _, value = line.partition(" ")
        out[oid.lstrip(".")] = value.strip('"').lstrip(".")
    return out


def _plain(values: dict[str, Any]) -> dict[str, str]:
    out = {}
    for oid, v in values.items():
        c = convert(v)
        out[oid] = str(int(c)) if isinstance(c, float) else str(c)
    return out


@pytest.mark.parametrize("priv", PRIVS)
@pytest.mark.parametrize("auth", AUTHS)
def test_every_combination_reads_what_net_snmp_reads(snmpd: Snmpd, auth: str,
                                                     priv: str) -> None:
    user = SnmpAuth.model_validate(_auth(auth, priv)).usm_user()

    async def read() -> tuple[dict[OID, Any], dict[OID, dict[OID, Any]]]:
        t = V3Target("127.0.0.1", snmpd.port, user, 2.0, 1, max_repetitions=10)
        try:
            got = await t.get(SYSTEM, Deadline(10))
            walked = await t.walk_columns(IF_COLUMNS, Deadline(10))
            assert t.discoveries == 1
            return got, walked
        finally:
            t.close()

    got, walked = asyncio.run(read())
    ours = _plain({".".join(map(str, o)): v for o, v in got.items()})
    ours_if = _plain({".".join(map(str, (*col, *idx))): v
                      for col, vals in walked.items() for idx, v in vals.items()})
    theirs = _net_snmp("snmpget", auth, priv, snmpd.target,
                       [".".join(map(str, o)) for o in SYSTEM])
    theirs_if = {}
    for col in IF_COLUMNS:
        theirs_if.update(_net_snmp("snmpwalk", auth, priv, snmpd.target,
                                   [".".join(map(str, col))]))
    assert ours == theirs
    assert ours["1.3.6.1.2.1.1.5.0"] == "gear-v3"
    assert len(ours_if) >= 2 * len(IF_COLUMNS)  # lo and at least one more interface
    assert ours_if == theirs_if


def _poll(snmpd: Snmpd, auth: dict[str, Any]) -> Any:
    sec = SnmpSection.model_validate({
        "auths": {"a": auth},
        "devices": [{"name": "sw-v3", "address": snmpd.target, "auth": "a",
                     "profiles": ["system"], "timeout": "1s", "retries": 1}]})
    job = sec.jobs("lab")[0]

    async def run() -> Any:
        coll = job.factory()
        try:
            return await coll.collect(Context(Deadline(job.timeout), "lab", job.name))
        finally:
            await coll.aclose()

    return asyncio.run(run())


def test_wrong_passwords_and_unknown_user_give_distinct_reasons(snmpd: Snmpd) -> None:
    cases = {
        "wrong auth password": (_auth("SHA", "AES", auth_password="salah-auth-1"),
                                "authentication failed (wrong auth password"),
        "wrong priv password (AES)": (_auth("SHA", "AES", priv_password="salah-priv-1"),
                                      "decryption failed"),
        "wrong priv password (DES)": (_auth("MD5", "DES", priv_password="salah-priv-1"),
                                      "decryption failed"),
        "unknown user": (_auth("SHA", "AES", username="siapa"), "user unknown"),
        "authNoPriv for an authPriv user": (_auth("SHA", "AES", priv_protocol="none"),
                                            "authorizationError"),
    }
    reasons = {}
    for what, (auth, expected) in cases.items():
        obs = _poll(snmpd, auth)
        assert not obs.success, what
        assert expected in obs.reason, (what, obs.reason)
        assert "no response" not in obs.reason, (what, obs.reason)
        assert "salah" not in obs.reason and PRIV_PW not in obs.reason
        reasons[what] = obs.reason
    assert len({reasons["wrong auth password"], reasons["wrong priv password (AES)"],
                reasons["unknown user"]}) == 3
    good = _poll(snmpd, _auth("SHA", "AES"))
    assert good.success, good.reason


@pytest.mark.parametrize("keep_engine_id", [True, False], ids=["same-engine-id", "new-engine-id"])
def test_restart_recovered_within_the_request(tmp_path: Path, keep_engine_id: bool) -> None:
    server = Snmpd(tmp_path, ['createUser pantauv3 SHA256 "auth-pass-16" AES256 '
                              '"priv-pass-16"', "rouser pantauv3 priv"],
                   probe=["-v3", "-l", "authPriv", "-u", "pantauv3", "-a", "SHA-256", "-A",
                          AUTH_PW, "-x", "AES-256", "-X", PRIV_PW],
                   keep_state=keep_engine_id)
    user = SnmpAuth.model_validate({**_auth("SHA256", "AES256"),
                                    "username": "pantauv3"}).usm_user()

    async def scenario() -> tuple[bytes, bytes, int, int, int]:
        t = V3Target("127.0.0.1", server.port, user, 1.0, 0)
        try:
            await t.get(SYSTEM[:1], Deadline(5))
            assert t.engine is not None
            first_id, sent = t.engine.engine_id, t.sent
            await asyncio.to_thread(server.stop)
            await asyncio.sleep(1.2)  # engine time restarts near 0
            await asyncio.to_thread(server.start)
            sent = t.sent
            await t.get(SYSTEM[:1], Deadline(5))  # retries 0: a timeout would fail this
            assert t.engine is not None
            return first_id, t.engine.engine_id, t.sent - sent, t.discoveries, t.resyncs
        finally:
            t.close()

    server.start()
    try:
        first_id, second_id, sent, discoveries, resyncs = asyncio.run(scenario())
    finally:
        server.stop()
    if keep_engine_id:  # notInTimeWindow report, then the request again: 2 datagrams
        assert (first_id == second_id, sent, discoveries, resyncs) == (True, 2, 1, 1)
    else:  # unknownEngineID report with the new id, keys localised again, request again
        assert first_id != second_id
        assert (sent, discoveries) == (2, 2)
