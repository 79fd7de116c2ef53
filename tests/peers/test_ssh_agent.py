"""The whole path: `pantau run` with ssh checks against a real sshd exposes pantau_remote_*,
pantau_ssh_up, and pantau_playbook_runs_total counted from the audit log."""

from __future__ import annotations

from pathlib import Path

from collectors.ssh.session import enrol_host_key, fetch_host_key
from tests.helpers.agent import free_port, pick, run_agent, run_cli, write_config
from tests.helpers.sshd import Sshd, SshUser


def test_agent_exposes_ssh_metrics(tmp_path: Path, sshd: Sshd, user: SshUser) -> None:
    kh = tmp_path / "known_hosts"
    enrol_host_key(kh, "127.0.0.1", sshd.port, fetch_host_key("127.0.0.1", sshd.port))
    cfg = {
        "site": "kantor",
        "state_dir": str(tmp_path / "state"),
        "ssh": {
            "known_hosts": str(kh),
            "credentials": {"k": {"user": user.name, "key_file": str(user.key)}},
            "hosts": {"srv": {"address": sshd.target, "credential": "k"}},
        },
        "checks": [
            {"name": "server", "type": "ssh", "target": sshd.target, "credential": "k",
             "mode": "linux", "interval": "5s", "timeout": "4s"},
            {"name": "untrusted", "type": "ssh", "target": f"127.0.0.1:{free_port()}",
             "credential": "k", "interval": "5s", "timeout": "2s"},
        ],
    }
    # one audited (dry) run before the agent starts: the counter must show it
    path = write_config(cfg, tmp_path)
    r = run_cli("playbook", "run", "collect-diagnostics", "--host", "srv", "--dry-run",
                "--config", str(path))
    assert r.returncode == 0, r.stderr
    with run_agent(cfg, tmp_path) as agent:
        m = agent.wait_for(lambda m: pick(m, "pantau_remote_load1", check="server") and m)
        assert pick(m, "pantau_ssh_up", check="server", host="127.0.0.1") == [1.0]
        assert pick(m, "pantau_remote_memory_total_bytes", site="kantor", check="server")
        assert pick(m, "pantau_remote_filesystem_avail_bytes", check="server", mountpoint="/")
        assert pick(m, "pantau_ssh_up", check="untrusted") == [0.0]
        assert pick(m, "pantau_playbook_runs_total", playbook="collect-diagnostics",
                    result="dry_run") == [1.0]
