"""How much one agentless Linux collection costs, against the OpenSSH client doing the same.

Starts a throwaway user and an sshd on loopback (needs root), then runs the `linux` mode
collector N times and `ssh user@host '<same command>'` N times, and prints wall time per run
and the ratio. Run: .venv/bin/python tests/bench/ssh_collect.py [N]
"""

from __future__ import annotations

import asyncio
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from collectors.base import Context, Deadline
from collectors.ssh import SshCollector, SshSection
from collectors.ssh.collector import SshCheckConfig
from collectors.ssh.parsers import LINUX_COMMAND
from collectors.ssh.session import enrol_host_key, fetch_host_key
from tests.helpers.sshd import running_sshd, throwaway_user


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime + c.ru_utime + c.ru_stime


def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        with throwaway_user(tmp) as user, running_sshd(tmp, user.name) as sshd:
            kh = tmp / "kh"
            enrol_host_key(kh, "127.0.0.1", sshd.port, fetch_host_key("127.0.0.1", sshd.port))
            section = SshSection.model_validate({"known_hosts": str(kh), "credentials": {
                "k": {"user": user.name, "key_file": str(user.key)}}})
            cfg = SshCheckConfig.model_validate({"name": "b", "type": "ssh",
                                                 "target": sshd.target, "credential": "k"})
            section.bind_checks([cfg], tmp)
            coll = SshCollector(cfg)

            t0, c0 = time.perf_counter(), cpu()
            for _ in range(n):
                obs = asyncio.run(coll.collect(Context(Deadline(20), "s", "b")))
                assert obs.success, obs.reason
            pantau_wall, pantau_cpu = (time.perf_counter() - t0) / n, (cpu() - c0) / n

            cmd = ["ssh", "-q", "-i", str(user.key), "-o", f"UserKnownHostsFile={kh}",
                   "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-p",
                   str(sshd.port), f"{user.name}@127.0.0.1", LINUX_COMMAND]
            t0, c0 = time.perf_counter(), cpu()
            for _ in range(n):
                subprocess.run(cmd, check=True, capture_output=True, timeout=30)
            ssh_wall, ssh_cpu = (time.perf_counter() - t0) / n, (cpu() - c0) / n

    print(f"linux mode, {n} runs, one session per run (connect+auth+command+parse):")
    print(f"  pantau (paramiko): {pantau_wall * 1000:7.1f} ms wall, "
          f"{pantau_cpu * 1000:7.1f} ms CPU per run")
    print(f"  OpenSSH ssh client: {ssh_wall * 1000:6.1f} ms wall, "
          f"{ssh_cpu * 1000:7.1f} ms CPU per run (client side, no parsing)")
    print(f"  ratio pantau/ssh: wall {pantau_wall / ssh_wall:.2f}x, "
          f"CPU {pantau_cpu / ssh_cpu:.2f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
