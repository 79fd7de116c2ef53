"""SNMP trap listener against real net-snmp `snmptrap` (v2c and v3 authPriv) on loopback."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from collectors.base import Context, Deadline, Observation
from collectors.snmp import TrapCollector
from collectors.snmp.collector import SnmpAuth
from collectors.snmp.traps import TrapsConfig
from tests.helpers.agent import pick, run_agent

ENGINE_ID = "0x80001f8880a1b2c3d4e5f60708"
LINK_DOWN, LINK_UP = "1.3.6.1.6.3.1.1.5.3", "1.3.6.1.6.3.1.1.5.4"
COLD_START, WARM_START = "1.3.6.1.6.3.1.1.5.1", "1.3.6.1.6.3.1.1.5.2"


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


AUTHS = {
    "v2": SnmpAuth.model_validate({"version": "2c", "community": "tr4p-community"}),
    "v3": SnmpAuth.model_validate({
        "version": "3", "username": "trapper", "auth_protocol": "SHA",
        "auth_password": "trap-auth-pass", "priv_protocol": "AES",
        "priv_password": "trap-priv-pass"}),
}


def _link_vbs(ifindex: int, oper: int, name: str) -> list[str]:
    return ["1.3.6.1.2.1.2.2.1.1." + str(ifindex), "i", str(ifindex),
            "1.3.6.1.2.1.2.2.1.8." + str(ifindex), "i", str(oper),
            "1.3.6.1.2.1.31.1.1.1.1." + str(ifindex), "s", name]


def _snmptrap(port: int, trap: str, *extra: str, v3: bool = False, community: str =
              "tr4p-community", auth_pass: str = "trap-auth-pass", source: str = "",
              user: str = "trapper", priv: str = "AES") -> None:
    exe = shutil.which("snmptrap")
    assert exe, "snmptrap (Debian package snmp) is missing: run tests/install-deps.sh"
    if v3:
        cred = ["-v3", "-e", ENGINE_ID, "-u", user, "-l", "authPriv", "-a", "SHA", "-A",
                auth_pass, "-x", priv, "-X", "trap-priv-pass"]
    else:
        cred = ["-v2c", "-c", community]
    if source:
        cred += [f"--clientaddr={source}"]
    r = subprocess.run([exe, "-M", "/nonexistent", *cred, f"udp:127.0.0.1:{port}", "", trap,
                        *extra], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr


@pytest.fixture
def listener() -> Iterator[tuple[asyncio.AbstractEventLoop, TrapCollector, int]]:
    port = _free_udp_port()
    cfg = TrapsConfig.model_validate({"listen": f"127.0.0.1:{port}", "auths": ["v2", "v3"],
                                      "engine_ids": [ENGINE_ID], "interval": "2s"})
    job = cfg.jobs("office", AUTHS, {"127.0.0.1": "core-sw"})[0]
    coll = job.factory()
    assert isinstance(coll, TrapCollector)
    loop = asyncio.new_event_loop()
    try:
        yield loop, coll, port
    finally:
        loop.run_until_complete(coll.aclose())
        loop.close()


def _collect(loop: asyncio.AbstractEventLoop, coll: TrapCollector) -> Observation:
    return loop.run_until_complete(coll.collect(Context(Deadline(2), "office", "snmp-traps")))


def _values(obs: Observation) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {(s.name, frozenset(s.labels)): s.value for s in obs.samples}


def _send(loop: asyncio.AbstractEventLoop, port: int, trap: str, *extra: str,
          **kw: Any) -> None:
    """Run snmptrap in a thread while the loop keeps serving the listener socket."""
    loop.run_until_complete(asyncio.to_thread(_snmptrap, port, trap, *extra, **kw))


def _settle(loop: asyncio.AbstractEventLoop, coll: TrapCollector, want: int) -> Observation:
    obs = _collect(loop, coll)
    for _ in range(40):  # bounded: 40 x 50 ms
        if int(obs.details["traps"]) >= want:
            break
        loop.run_until_complete(asyncio.sleep(0.05))
        obs = _collect(loop, coll)
    return obs


def test_v2c_and_v3_traps_counted_with_link_state(listener: Any) -> None:
    loop, coll, port = listener
    first = _collect(loop, coll)
    assert first.success, first.reason
    assert _values(first)[("pantau_snmp_trap_listener_up", frozenset())] == 1

    _send(loop, port, LINK_DOWN, *_link_vbs(7, 2, "ether7"))
    _send(loop, port, COLD_START, v3=True)
    _send(loop, port, LINK_DOWN, *_link_vbs(3, 2, "ether3"), v3=True)
    _send(loop, port, LINK_UP, *_link_vbs(7, 1, "ether7"))
    _send(loop, port, WARM_START)
    obs = _settle(loop, coll, 5)
    v = _values(obs)

    def traps(trap: str) -> float:
        return v.get(("pantau_snmp_traps_total",
                      frozenset({("device", "core-sw"), ("trap", trap)})), 0)

    assert traps("linkDown") == 2
    assert traps("linkUp") == 1
    assert traps("coldStart") == 1
    assert traps("warmStart") == 1
    # linkDown then linkUp on ether7: the last state wins; ether3 only went down
    assert v[("pantau_snmp_trap_if_oper_up", frozenset(
        {("device", "core-sw"), ("ifindex", "7"), ("ifname", "ether7")}))] == 1
    assert v[("pantau_snmp_trap_if_oper_up", frozenset(
        {("device", "core-sw"), ("ifindex", "3"), ("ifname", "ether3")}))] == 0
    assert v[("pantau_snmp_trap_last_timestamp_seconds", frozenset(
        {("device", "core-sw"), ("trap", "coldStart")}))] > 1.7e9


def test_v3_traps_with_aes192_and_aes256_from_net_snmp() -> None:
    # net-snmp extends a SHA-1 key to AES-192/256 length the Blumenthal way; pysnmp's
    # usmAesCfb192/256Protocol is Cisco's Reeder extension and dropped these traps
    auths = {f"v3-{p}": SnmpAuth.model_validate({
        "version": "3", "username": f"trapper-{p}", "auth_protocol": "SHA",
        "auth_password": "trap-auth-pass", "priv_protocol": p,
        "priv_password": "trap-priv-pass"}) for p in ("AES192", "AES256")}
    port = _free_udp_port()
    cfg = TrapsConfig.model_validate({"listen": f"127.0.0.1:{port}", "auths": list(auths),
                                      "engine_ids": [ENGINE_ID], "interval": "2s"})
    coll = cfg.jobs("office", auths, {"127.0.0.1": "core-sw"})[0].factory()
    assert isinstance(coll, TrapCollector)
    loop = asyncio.new_event_loop()
    try:
        assert _collect(loop, coll).success
        _send(loop, port, COLD_START, v3=True, user="trapper-AES192", priv="AES-192")
        _send(loop, port, WARM_START, v3=True, user="trapper-AES256", priv="AES-256")
        v = _values(_settle(loop, coll, 2))
    finally:
        loop.run_until_complete(coll.aclose())
        loop.close()
    for trap in ("coldStart", "warmStart"):
        assert v.get(("pantau_snmp_traps_total",
                      frozenset({("device", "core-sw"), ("trap", trap)})), 0) == 1, (trap, v)


def test_wrong_credentials_rejected_and_counted(listener: Any) -> None:
    loop, coll, port = listener
    assert _collect(loop, coll).success
    _send(loop, port, COLD_START, community="not-the-community")
    _send(loop, port, COLD_START, v3=True, auth_pass="wrong-auth-pass")
    _send(loop, port, LINK_UP, *_link_vbs(1, 1, "ether1"))  # a good one, as a marker
    obs = _settle(loop, coll, 1)
    v = _values(obs)
    assert int(obs.details["traps"]) == 1  # only the good trap got through
    assert v[("pantau_snmp_traps_rejected_total",
              frozenset({("reason", "bad_community")}))] == 1
    assert v[("pantau_snmp_traps_rejected_total",
              frozenset({("reason", "wrong_digest")}))] == 1
    assert ("pantau_snmp_traps_total", frozenset(
        {("device", "core-sw"), ("trap", "coldStart")})) not in v


def test_unknown_sender_is_bounded_label(listener: Any) -> None:
    loop, coll, port = listener
    assert _collect(loop, coll).success
    _send(loop, port, COLD_START, source="127.0.0.2")
    v = _values(_settle(loop, coll, 1))
    assert v[("pantau_snmp_traps_total",
              frozenset({("device", "unknown"), ("trap", "coldStart")}))] == 1


def test_port_in_use_gives_clear_reason(listener: Any) -> None:
    loop, coll, port = listener
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", port))
        obs = _collect(loop, coll)
    assert not obs.success
    assert obs.reason == f"cannot listen on 127.0.0.1:{port}: Address already in use"
    assert _values(obs)[("pantau_snmp_trap_listener_up", frozenset())] == 0
    # the next run retries the bind and succeeds once the port is free
    assert _collect(loop, coll).success


def test_config_errors_are_one_line() -> None:
    with pytest.raises(ValueError, match="invalid engine id"):
        TrapsConfig.model_validate({"auths": ["v2"], "engine_ids": ["zz"]})
    with pytest.raises(ValueError, match="invalid listen address"):
        TrapsConfig.model_validate({"auths": ["v2"], "listen": "host:99999"})
    cfg = TrapsConfig.model_validate({"auths": ["nope"]})
    with pytest.raises(ValueError, match="traps: unknown auth 'nope'"):
        cfg.check_refs(AUTHS)


def test_traps_through_the_agent(tmp_path: Path) -> None:
    port = _free_udp_port()
    cfg = {"site": "kantor-trap", "host": {"enabled": False},
           "snmp": {"auths": {"v2": {"community": "tr4p-community"},
                              "v3": AUTHS["v3"].model_dump(mode="json") | {
                                  "auth_password": "trap-auth-pass",
                                  "priv_password": "trap-priv-pass"}},
                    "devices": [{"name": "core-sw", "address": "127.0.0.1:9", "auth": "v2",
                                 "profiles": ["system"], "interval": "30s", "timeout": "1s",
                                 "retries": 0}],
                    "traps": {"listen": f"127.0.0.1:{port}", "auths": ["v2", "v3"],
                              "engine_ids": [ENGINE_ID], "interval": "1s"}}}
    with run_agent(cfg, tmp_path) as agent:
        agent.wait_for(lambda m: pick(m, "pantau_snmp_trap_listener_up") == [1.0])
        _snmptrap(port, LINK_DOWN, *_link_vbs(4, 2, "ether4"))
        _snmptrap(port, COLD_START, v3=True)
        m = agent.wait_for(lambda m: pick(m, "pantau_snmp_traps_total", device="core-sw",
                                          trap="coldStart") == [1.0] and m)
        assert pick(m, "pantau_snmp_traps_total", device="core-sw", trap="linkDown",
                    site="kantor-trap") == [1.0]
        assert pick(m, "pantau_snmp_trap_if_oper_up", device="core-sw", ifindex="4",
                    ifname="ether4") == [0.0]
        text = agent.metrics_text()
        assert "tr4p-community" not in text and "trap-priv-pass" not in text
        assert "tr4p-community" not in agent.log_text()
