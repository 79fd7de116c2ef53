"""SSH session, host keys and collectors against a real OpenSSH sshd on loopback."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from collectors.base import Context, Deadline, Observation
from collectors.ssh import Auth, SshCollector, SshSection, SshSession
from collectors.ssh.collector import SshCheckConfig
from collectors.ssh.session import (
    HostKeyError,
    SshTimeout,
    Timeouts,
    enrol_host_key,
    fetch_host_key,
)
from tests.helpers.agent import run_cli
from tests.helpers.sshd import Sshd, SshUser, running_sshd
from tests.helpers.tarpit import Tarpit

ROUTEROS_DATA = Path(__file__).resolve().parents[1] / "testdata" / "routeros"


@pytest.fixture()
def trusted(tmp_path: Path, sshd: Sshd) -> Path:
    kh = tmp_path / "known_hosts"
    enrol_host_key(kh, "127.0.0.1", sshd.port, fetch_host_key("127.0.0.1", sshd.port))
    return kh


def session(sshd: Sshd, auth: Auth, kh: Path, **kw: object) -> SshSession:
    t = kw.pop("timeouts", Timeouts(connect=3, banner=3, auth=5, command=10))
    return SshSession("127.0.0.1", sshd.port, auth, kh, t, **kw)  # type: ignore[arg-type]


def key_auth(user: SshUser) -> Auth:
    return Auth(user.name, key_file=user.key)


def accepted_count(sshd: Sshd) -> int:
    return sshd.log.read_text(errors="replace").count("Accepted ")


# -- authentication and host keys -----------------------------------------------------------


def test_key_auth(sshd: Sshd, user: SshUser, trusted: Path) -> None:
    with session(sshd, key_auth(user), trusted) as s:
        r = s.run("id -un; echo err >&2; exit 3")
    assert r.stdout.strip() == user.name
    assert r.stderr.strip() == "err"
    assert r.exit_status == 3 and not r.timed_out


def test_password_auth(sshd: Sshd, user: SshUser, trusted: Path) -> None:
    with session(sshd, Auth(user.name, password=user.password), trusted) as s:
        assert s.run("id -un").stdout.strip() == user.name
    with pytest.raises(Exception, match="authentication failed"):
        session(sshd, Auth(user.name, password="wrong-" + user.password), trusted).connect()


def test_unknown_host_key_refused(sshd: Sshd, user: SshUser, tmp_path: Path) -> None:
    before = accepted_count(sshd)
    with pytest.raises(HostKeyError, match=r"unknown.*pantau ssh trust"):
        session(sshd, key_auth(user), tmp_path / "empty_known_hosts").connect()
    # a foreign key for the same name is no better than none
    other = tmp_path / "other"
    enrol_host_key(other, "127.0.0.1", sshd.port,
                   __import__("paramiko").RSAKey.generate(1024))
    with pytest.raises(HostKeyError):
        session(sshd, key_auth(user), other).connect()
    assert accepted_count(sshd) == before, "authenticated to a host whose key was not trusted"


def test_trust_cli_then_accepted(sshd: Sshd, user: SshUser, tmp_path: Path) -> None:
    kh = tmp_path / "kh"
    target = f"127.0.0.1:{sshd.port}"
    no = run_cli("ssh", "trust", target, "--known-hosts", str(kh), input="n\n")
    assert sshd.fingerprint() in no.stdout
    assert no.returncode == 1 and not kh.exists()
    yes = run_cli("ssh", "trust", target, "--known-hosts", str(kh), input="y\n")
    assert yes.returncode == 0, yes.stderr
    assert sshd.fingerprint() in yes.stdout and "trusted" in yes.stdout
    assert f"[127.0.0.1]:{sshd.port}" in kh.read_text()
    with session(sshd, key_auth(user), kh) as s:
        assert s.run("echo ok").stdout == "ok\n"


def test_changed_host_key_refused_until_retrusted(
    tmp_path: Path, user: SshUser
) -> None:
    kh = tmp_path / "kh"
    server = Sshd(tmp_path, user.name)
    try:
        server.start()
        old_fp = server.fingerprint()
        r = run_cli("ssh", "trust", server.target, "--known-hosts", str(kh), "--yes")
        assert r.returncode == 0, r.stderr
        with session(server, key_auth(user), kh) as s:
            assert s.run("true").exit_status == 0
        server.restart(new_host_key=True)
        assert server.fingerprint() != old_fp
        with pytest.raises(HostKeyError, match="CHANGED"):
            session(server, key_auth(user), kh).connect()
        r = run_cli("ssh", "trust", server.target, "--known-hosts", str(kh), input="y\n")
        assert "DIFFERENT" in r.stdout and old_fp in r.stdout and server.fingerprint() in r.stdout
        assert r.returncode == 0
        assert kh.read_text().count(f"[127.0.0.1]:{server.port}") == 1
        with session(server, key_auth(user), kh) as s:
            assert s.run("true").exit_status == 0
    finally:
        server.stop()


# -- timeouts -------------------------------------------------------------------------------


def _remote_procs(marker: str) -> list[psutil.Process]:
    out = []
    for p in psutil.process_iter(["cmdline"]):
        if marker in " ".join(p.info["cmdline"] or []):
            out.append(p)
    return out


def test_hanging_command_killed_at_timeout(sshd: Sshd, user: SshUser, trusted: Path) -> None:
    marker = f"600.{secrets.randbelow(10**6):06d}"
    with session(sshd, key_auth(user), trusted) as s:
        t0 = time.monotonic()
        r = s.run(f"sleep {marker}", timeout=1.5)
        elapsed = time.monotonic() - t0
        assert r.timed_out and r.exit_status is None and not r.ok
        assert elapsed < 10
        # the session is still usable after a killed command
        assert s.run("echo alive").stdout == "alive\n"
    deadline = time.monotonic() + 10
    while _remote_procs(f"sleep {marker}") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _remote_procs(f"sleep {marker}"), "remote sleep survived its timeout"


def test_watchdog_closes_hung_session(sshd: Sshd, user: SshUser, trusted: Path) -> None:
    s = session(sshd, key_auth(user), trusted, wall_clock=2.0)
    s.connect()
    t0 = time.monotonic()
    try:
        with pytest.raises(SshTimeout, match="exceeded"):
            s.run("sleep 30", timeout=25)
    finally:
        s.close()
    assert time.monotonic() - t0 < 10


@pytest.fixture()
def silent_peer() -> Iterator[int]:
    """Accepts TCP and never sends a banner."""
    with Tarpit(backlog=8) as pit:
        yield pit.port


def test_silent_peer_times_out_at_banner_timeout(silent_peer: int, tmp_path: Path) -> None:
    s = SshSession("127.0.0.1", silent_peer, Auth("nobody", password="x"), tmp_path / "kh",
                   Timeouts(connect=2, banner=1.0, auth=2, command=2), wall_clock=20)
    t0 = time.monotonic()
    with pytest.raises(SshTimeout, match=r"timed out|exceeded"):
        s.connect()
    assert time.monotonic() - t0 < 8


def test_silent_peer_collector_fails_within_deadline(silent_peer: int, tmp_path: Path,
                                                     user: SshUser) -> None:
    section = SshSection.model_validate({
        "known_hosts": str(tmp_path / "kh"), "banner_timeout": "1s",
        "credentials": {"k": {"user": user.name, "key_file": str(user.key)}}})
    cfg = SshCheckConfig.model_validate({"name": "silent", "type": "ssh",
                                         "target": f"127.0.0.1:{silent_peer}",
                                         "credential": "k", "timeout": "4s"})
    section.bind_checks([cfg], tmp_path)
    t0 = time.monotonic()
    obs = collect(cfg, 4)
    assert time.monotonic() - t0 < 6
    assert not obs.success and "timed out" in obs.reason
    assert value(obs, "pantau_ssh_up") == 0


def test_stdout_and_stderr_drained_together(sshd: Sshd, user: SshUser, trusted: Path) -> None:
    # 2 MB on each stream, interleaved: reading only one would fill the other's window
    cmd = ("i=0; while [ $i -lt 40 ]; do head -c 50000 /dev/zero | tr '\\0' o; "
           "head -c 50000 /dev/zero | tr '\\0' e >&2; i=$((i+1)); done")
    with session(sshd, key_auth(user), trusted, max_output=8 * 1024 * 1024) as s:
        r = s.run(cmd, timeout=30)
    assert not r.timed_out and r.exit_status == 0
    assert len(r.stdout) == 2_000_000 and len(r.stderr) == 2_000_000


def test_output_cap_kills_command(sshd: Sshd, user: SshUser, trusted: Path) -> None:
    with session(sshd, key_auth(user), trusted, max_output=100_000) as s:
        r = s.run("yes pantau", timeout=20)
    assert r.truncated and not r.timed_out and not r.ok
    assert len(r.stdout) <= 100_000


# -- the collector --------------------------------------------------------------------------


def collect(cfg: SshCheckConfig, timeout: float = 15) -> Observation:
    return asyncio.run(SshCollector(cfg).collect(Context(Deadline(timeout), "site", cfg.name)))


def value(obs: Observation, name: str, **labels: str) -> float:
    for s in obs.samples:
        if s.name == name and set(labels.items()) <= set(s.labels):
            return s.value
    raise AssertionError(f"{name} {labels} not in {[s.name for s in obs.samples]}")


def make_check(tmp_path: Path, sshd: Sshd, user: SshUser, kh: Path, **extra: object
               ) -> SshCheckConfig:
    section = SshSection.model_validate({
        "known_hosts": str(kh),
        "credentials": {"k": {"user": user.name, "key_file": str(user.key)}}})
    cfg = SshCheckConfig.model_validate({"name": "c1", "type": "ssh", "target": sshd.target,
                                         "credential": "k", **extra})
    section.bind_checks([cfg], tmp_path)
    return cfg


def test_linux_mode_matches_psutil(tmp_path: Path, sshd: Sshd, user: SshUser,
                                   trusted: Path) -> None:
    cfg = make_check(tmp_path, sshd, user, trusted, mode="linux")
    obs = collect(cfg)
    assert obs.success, obs.reason
    vm = psutil.virtual_memory()
    load = os.getloadavg()
    h = {"host": "127.0.0.1"}
    assert value(obs, "pantau_remote_memory_total_bytes", **h) == vm.total
    assert abs(value(obs, "pantau_remote_memory_available_bytes", **h) - vm.available) \
        < max(0.05 * vm.total, 64 * 2**20)
    # loads move while we look: within 1.0 or 50% on this shared 2-core box
    for i, n in enumerate(("1", "5", "15")):
        remote = value(obs, f"pantau_remote_load{n}", **h)
        assert abs(remote - load[i]) <= max(1.0, 0.5 * load[i]), (n, remote, load[i])
    assert abs(value(obs, "pantau_remote_uptime_seconds", **h)
               - (time.time() - psutil.boot_time())) < 60
    root = psutil.disk_usage("/")
    size = value(obs, "pantau_remote_filesystem_size_bytes", mountpoint="/", **h)
    avail = value(obs, "pantau_remote_filesystem_avail_bytes", mountpoint="/", **h)
    assert abs(size - root.total) <= 1024 * 1024
    assert abs(avail - root.free) <= max(0.01 * root.total, 256 * 2**20)
    assert value(obs, "pantau_ssh_up", **h) == 1


def test_command_mode(tmp_path: Path, sshd: Sshd, user: SshUser, trusted: Path) -> None:
    ok = collect(make_check(tmp_path, sshd, user, trusted, mode="command",
                            command="echo 'queue depth=42 items'", regex=r"depth=(\d+)"))
    assert ok.success, ok.reason
    assert value(ok, "pantau_ssh_command_value") == 42
    assert value(ok, "pantau_ssh_command_exit_code") == 0
    bad = collect(make_check(tmp_path, sshd, user, trusted, mode="command",
                             command="echo 7; exit 4"))
    assert not bad.success and "exited with 4" in bad.reason
    assert value(bad, "pantau_ssh_command_exit_code") == 4
    assert value(bad, "pantau_ssh_up") == 0


def test_collector_refuses_unknown_host_key(tmp_path: Path, sshd: Sshd, user: SshUser) -> None:
    obs = collect(make_check(tmp_path, sshd, user, tmp_path / "none"))
    assert not obs.success and "host key unknown" in obs.reason


def test_unbound_check_says_so(tmp_path: Path, sshd: Sshd) -> None:
    cfg = SshCheckConfig.model_validate({"name": "x", "type": "ssh", "target": sshd.target,
                                         "credential": "k"})
    obs = collect(cfg)
    assert not obs.success and "not bound" in obs.reason


def test_bind_checks_names_check_and_credential(tmp_path: Path) -> None:
    section = SshSection()
    cfg = SshCheckConfig.model_validate({"name": "gw", "type": "ssh", "target": "10.0.0.1",
                                         "credential": "nope"})
    with pytest.raises(ValueError, match="check 'gw': unknown ssh credential 'nope'"):
        section.bind_checks([cfg], tmp_path)


def test_routeros_mode_over_real_ssh(tmp_path: Path, user: SshUser) -> None:
    """sshd with a ForceCommand that answers like a RouterOS 7.12 box from recorded outputs."""
    # the user cannot enter root's pytest tmp dir: the fake router lives in its home
    data = user.home / "routeros"
    data.mkdir(exist_ok=True)
    for f in ROUTEROS_DATA.glob("v7.12.1-*.txt"):
        shutil.copy(f, data / f.name)
    fake = data / "fake-routeros.sh"
    fake.write_text(
        "#!/bin/sh\ncase \"$SSH_ORIGINAL_COMMAND\" in\n"
        f"'/system resource print without-paging') cat {data}/"
        "v7.12.1-system-resource-print.txt;;\n"
        f"'/interface print stats without-paging') cat {data}/"
        "v7.12.1-interface-print-stats.txt;;\n"
        f"'/interface print detail without-paging') cat {data}/"
        "v7.12.1-interface-print-detail.txt;;\n"
        "*) echo \"bad command name\"; exit 1;;\nesac\n"
    )
    fake.chmod(0o755)
    subprocess.run(["chown", "-R", f"{user.name}:{user.name}", str(data)], check=True,
                   timeout=30)
    with running_sshd(tmp_path, user.name, extra_config=f"ForceCommand {fake}\n") as srv:
        kh = tmp_path / "kh"
        enrol_host_key(kh, "127.0.0.1", srv.port, fetch_host_key("127.0.0.1", srv.port))
        obs = collect(make_check(tmp_path, srv, user, kh, mode="routeros"))
    assert obs.success, obs.reason
    assert value(obs, "pantau_routeros_cpu_load_ratio") == pytest.approx(0.01)
    assert value(obs, "pantau_routeros_uptime_seconds") == 791112
    assert value(obs, "pantau_routeros_interface_rx_bytes_total",
                 interface="ether1-wan") == 243601908566
    assert value(obs, "pantau_routeros_interface_tx_bytes_total",
                 interface="ether2") == 16030744321
    assert value(obs, "pantau_routeros_interface_running", interface="ether3") == 0
    assert value(obs, "pantau_routeros_interface_running", interface="sfp-sfpplus1") == 1
    assert value(obs, "pantau_routeros_interface_link_downs_total",
                 interface="ether1-wan") == 7
    assert value(obs, "pantau_routeros_info", version="7.12.1") == 1


def test_cli_ssh_run_streams_and_passes_exit_code(tmp_path: Path, sshd: Sshd, user: SshUser,
                                                  trusted: Path) -> None:
    import yaml

    cfg = tmp_path / "pantau.yml"
    cfg.write_text(yaml.safe_dump({
        "site": "t", "state_dir": str(tmp_path / "state"),
        "ssh": {"known_hosts": str(trusted),
                "credentials": {"k": {"user": user.name, "key_file": str(user.key)}},
                "hosts": {"srv": {"address": sshd.target, "credential": "k"}}}}))
    r = run_cli("ssh", "run", "srv", "echo out; echo err >&2; exit 5", "--config", str(cfg))
    assert (r.returncode, r.stdout, r.stderr) == (5, "out\n", "err\n")
    r = run_cli("ssh", "run", sshd.target, "sleep 20", "--credential", "k", "--timeout", "1",
                "--config", str(cfg))
    assert r.returncode == 1 and "timed out" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("ssh", "run", "nowhere", "true", "--config", str(cfg))
    assert r.returncode == 2 and "unknown host" in r.stderr


def test_trust_uses_configured_known_hosts(tmp_path: Path, sshd: Sshd, user: SshUser) -> None:
    import yaml

    kh = tmp_path / "pantau_known_hosts"
    cfg = tmp_path / "pantau.yml"
    cfg.write_text(yaml.safe_dump({"site": "t", "state_dir": str(tmp_path / "state"),
                                   "ssh": {"known_hosts": str(kh)}}))
    r = run_cli("ssh", "trust", sshd.target, "--config", str(cfg), "--yes")
    assert r.returncode == 0, r.stderr
    assert kh.exists() and not (tmp_path / "state" / "known_hosts").exists()
    with session(sshd, key_auth(user), kh) as s:
        assert s.run("true").exit_status == 0
    # nothing listening: one clear line, no traceback
    r = run_cli("ssh", "trust", f"127.0.0.1:{free_tcp()}", "--config", str(cfg), "--yes")
    assert r.returncode == 1 and "cannot connect" in r.stderr and "Traceback" not in r.stderr


def free_tcp() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
