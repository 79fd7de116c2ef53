"""Playbooks over a real sshd: live output, audit, injection refused before anything runs,
alert-triggered runs allowed/rate-limited, and the run counter read from the audit log."""

from __future__ import annotations

import asyncio
import json
import secrets
from pathlib import Path
from typing import Any

import pytest
import yaml

from collectors.base import Context, Deadline
from collectors.ssh import PlaybookRunsCollector, SshSection
from collectors.ssh.session import enrol_host_key, fetch_host_key
from playbooks.audit import JsonlAuditSink
from playbooks.runner import AlertTrigger
from tests.helpers.agent import free_port, run_cli
from tests.helpers.sshd import Sshd, SshUser

ECHO_PLAYBOOK = """
name: echo-msg
description: test playbook that echoes its parameters
targets: linux
parameters:
  msg: {type: text, description: free text without metacharacters}
  raw: {type: shell, default: "plain", description: "anything; always quoted"}
steps:
  - name: echo
    run: echo {{ msg }} {{ raw }} > {{ target_name }}.out; cat {{ target_name }}.out
  - name: slow
    run: sleep 30
    timeout: 1s
    on_failure: continue
  - name: after
    run: echo after-slow
"""


@pytest.fixture()
def env(tmp_path: Path, sshd: Sshd, user: SshUser) -> dict[str, Any]:
    kh = tmp_path / "known_hosts"
    enrol_host_key(kh, "127.0.0.1", sshd.port, fetch_host_key("127.0.0.1", sshd.port))
    pbdir = tmp_path / "playbooks"
    pbdir.mkdir()
    (pbdir / "echo-msg.yml").write_text(ECHO_PLAYBOOK)
    cfg = {
        "site": "test",
        "state_dir": str(tmp_path / "state"),
        "ssh": {
            "known_hosts": str(kh),
            "credentials": {
                "key": {"user": user.name, "key_file": str(user.key)},
                "pw": {"user": user.name, "password": "${PANTAU_TEST_SSH_PW}"},
            },
            "hosts": {
                "srv": {"address": sshd.target, "credential": "key", "groups": ["office"]},
                "srv2": {"address": sshd.target, "credential": "pw", "groups": ["office"]},
                "dead": {"address": f"127.0.0.1:{free_port()}", "credential": "key"},
            },
            "playbook_dirs": [str(pbdir)],
            "allowed_playbooks": ["collect-diagnostics"],
            "playbook_min_interval": "10m",
        },
    }
    path = tmp_path / "pantau.yml"
    path.write_text(yaml.safe_dump(cfg))
    return {"config": path, "audit": tmp_path / "state" / "playbook-audit.jsonl",
            "cfg": cfg, "known_hosts": kh}


def pantau(env: dict[str, Any], user: SshUser, *args: str) -> Any:
    return run_cli(*args, "--config", str(env["config"]),
                   env={"PANTAU_TEST_SSH_PW": user.password, "COLUMNS": "200"})


def audit(env: dict[str, Any]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in env["audit"].read_text().splitlines()]


def accepted(sshd: Sshd) -> int:
    return sshd.log.read_text(errors="replace").count("Accepted ")


def test_run_live_output_summary_and_audit(env: dict[str, Any], user: SshUser,
                                           sshd: Sshd) -> None:
    r = pantau(env, user, "playbook", "run", "collect-diagnostics", "--group", "office",
               "--param", "lines=5")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "[srv] --> disk" in r.stdout and "[srv2] --> memory" in r.stdout
    assert "Filesystem" in r.stdout  # live df output, prefixed per host
    assert "summary" in r.stdout and "2/2" in r.stdout
    recs = audit(env)
    assert [x["host"] for x in recs] == ["srv", "srv2"]
    for rec in recs:
        assert rec["playbook"] == "collect-diagnostics" and rec["result"] == "ok"
        assert rec["parameters"] == {"lines": "5"} and rec["trigger"] == "cli" and rec["who"]
        disk = next(s for s in rec["steps"] if s["name"] == "disk")
        assert disk["exit_status"] == 0 and "Filesystem" in disk["stdout"]


def test_failing_host_in_summary_and_exit_1(env: dict[str, Any], user: SshUser) -> None:
    r = pantau(env, user, "playbook", "run", "collect-diagnostics", "--host", "srv",
               "--host", "dead")
    assert r.returncode == 1
    assert "cannot connect" in r.stdout
    assert [x["result"] for x in audit(env)] == ["ok", "failed"]


def test_step_timeout_and_on_failure(env: dict[str, Any], user: SshUser) -> None:
    r = pantau(env, user, "playbook", "run", "echo-msg", "--host", "srv", "-p", "msg=hello")
    assert r.returncode == 1, r.stdout
    assert "[srv] hello plain" in r.stdout and "after-slow" in r.stdout
    rec = audit(env)[-1]
    slow = next(s for s in rec["steps"] if s["name"] == "slow")
    assert slow["timed_out"] and "timed out" in slow["error"]
    assert rec["steps"][-1]["ok"] and rec["result"] == "failed"


ATTACKS = ["; rm -rf /", "$(touch {m})", "`touch {m}`", "ok\ntouch {m}", "ok | touch {m}",
           "ok > {m}", "ok && touch {m}", "nginx.service;touch {m}", "ok\rtouch {m}"]


@pytest.mark.parametrize("attack", ATTACKS)
def test_injection_rejected_before_anything_runs(env: dict[str, Any], user: SshUser,
                                                 sshd: Sshd, attack: str) -> None:
    marker = user.home / f"marker-{secrets.token_hex(4)}"
    value = attack.format(m=marker)
    before = accepted(sshd)
    for pb, param in (("echo-msg", "msg"), ("restart-service", "unit")):
        r = pantau(env, user, "playbook", "run", pb, "--host", "srv", "--param",
                   f"{param}={value}")
        assert r.returncode == 2, r.stdout + r.stderr
        assert "not allowed" in r.stderr and "Traceback" not in r.stderr
        assert r.stdout == ""  # nothing started: no host line, no progress
    assert not marker.exists()
    assert accepted(sshd) == before, "an SSH session was opened for a rejected run"
    recs = audit(env)
    assert [x["result"] for x in recs] == ["rejected", "rejected"]
    assert recs[0]["parameters"] == {"msg": value}


def test_shell_typed_value_is_still_quoted(env: dict[str, Any], user: SshUser) -> None:
    marker = user.home / f"marker-{secrets.token_hex(4)}"
    r = pantau(env, user, "playbook", "run", "echo-msg", "--host", "srv", "-p", "msg=hi",
               "-p", f"raw=$(touch {marker}); `touch {marker}`")
    assert f"hi $(touch {marker}); `touch {marker}`" in r.stdout
    assert not marker.exists()


def test_dry_run_connects_to_nothing(env: dict[str, Any], user: SshUser, sshd: Sshd) -> None:
    before = accepted(sshd)
    r = pantau(env, user, "playbook", "run", "restart-service", "--host", "srv",
               "--param", "unit=nginx.service", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "systemctl restart nginx.service" in r.stdout
    assert accepted(sshd) == before
    assert audit(env)[-1]["result"] == "dry_run"


def test_unknown_things_are_one_line_errors(env: dict[str, Any], user: SshUser) -> None:
    for args, msg in (
        (("nope", "--host", "srv"), "unknown playbook"),
        (("echo-msg", "--host", "nobody", "-p", "msg=x"), "unknown host"),
        (("echo-msg", "--host", "srv"), "required"),
        (("echo-msg", "--host", "srv", "-p", "msg=x", "-p", "zzz=1"), "unknown parameter"),
        (("restart-service", "--host", "srv", "-p", "unit=sshd.service"), "not one of"),
        (("diagnose-uplink", "--host", "srv"), "routeros"),
    ):
        r = pantau(env, user, "playbook", "run", *args)
        assert r.returncode == 2 and msg in r.stderr, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1


def test_list_and_show(env: dict[str, Any], user: SshUser) -> None:
    r = pantau(env, user, "playbook", "list")
    for name in ("collect-diagnostics", "deploy-agent", "diagnose-uplink", "restart-service",
                 "echo-msg"):
        assert name in r.stdout
    r = pantau(env, user, "playbook", "show", "deploy-agent")
    assert r.returncode == 0 and "wheelhouse" in r.stdout and "verify /metrics" in r.stdout


def test_alert_trigger_allowed_rate_limited_and_counted(env: dict[str, Any], user: SshUser,
                                                        tmp_path: Path) -> None:
    section = SshSection.model_validate({**env["cfg"]["ssh"], "credentials": {
        "key": {"user": user.name, "key_file": str(user.key)},
        "pw": {"user": user.name, "password": user.password}}})
    sink = JsonlAuditSink(env["audit"])
    now = [1000.0]
    trig = AlertTrigger(section, sink, env["known_hosts"], clock=lambda: now[0])
    ok, msg = trig.trigger("collect-diagnostics", "srv", check="web")
    assert ok, msg
    ok, msg = trig.trigger("collect-diagnostics", "srv", check="web")
    assert not ok and "rate-limited" in msg
    ok, msg = trig.trigger("restart-service", "srv", check="web")
    assert not ok and "not in ssh.allowed_playbooks" in msg
    now[0] += 601
    ok, msg = trig.trigger("collect-diagnostics", "srv", check="web")
    assert ok, msg
    recs = audit(env)
    assert [(x["playbook"], x["result"], x["trigger"]) for x in recs] == [
        ("collect-diagnostics", "ok", "alert:web"),
        ("restart-service", "rejected", "alert:web"),
        ("collect-diagnostics", "ok", "alert:web"),
    ]
    # the agent's counter reads the same log: CLI runs count there, alert runs are counted
    # by the alerting engine (agent/alerting/engine.py), so they are skipped here
    coll = PlaybookRunsCollector(env["audit"])
    ctx = Context(Deadline(5), "test", "playbook-runs")
    assert asyncio.run(coll.collect(ctx)).samples == []
    r = pantau(env, user, "playbook", "run", "collect-diagnostics", "--host", "srv")
    assert r.returncode == 0
    pantau(env, user, "playbook", "run", "restart-service", "--host", "srv", "-p", "unit=;x")
    obs = asyncio.run(coll.collect(ctx))
    counts = {tuple(sorted(s.labels)): s.value for s in obs.samples}
    assert counts == {(("playbook", "collect-diagnostics"), ("result", "ok")): 1,
                      (("playbook", "restart-service"), ("result", "rejected")): 1}
