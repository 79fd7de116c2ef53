"""deploy-agent over real SSH: a wheelhouse built from this tree is installed into another
user's directory, configured, started without systemd, and its /metrics must answer."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

from collectors.ssh.session import enrol_host_key, fetch_host_key
from tests.helpers.agent import free_port, run_cli
from tests.helpers.sshd import Sshd, SshUser

REPO = Path(__file__).resolve().parents[2]
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
CACHE = Path(tempfile.gettempdir()) / "pantau-test-wheel-cache"


def _constraints() -> str:
    """Pin the deployed dependencies to what this venv runs (pip freeze, minus pantau)."""
    out = subprocess.run([*PIP, "freeze", "--exclude-editable"], capture_output=True,
                         text=True, check=True, timeout=120).stdout
    return "".join(ln + "\n" for ln in out.splitlines()
                   if ln and not ln.startswith("-e") and not ln.lower().startswith("pantau"))


def build_wheelhouse(dest: Path) -> Path:
    """pantau wheel from a copy of this tree + cached binary wheels of its dependencies."""
    src = dest / "src"
    for d in ("agent", "collectors", "exporters", "playbooks"):
        shutil.copytree(REPO / d, src / d, ignore=shutil.ignore_patterns("__pycache__"))
    for f in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / f, src / f)
    wh = dest / "wheelhouse"
    subprocess.run([*PIP, "wheel", "--quiet", "--no-deps", "-w", str(wh), str(src)],
                   check=True, timeout=300, capture_output=True)
    constraints = _constraints()
    deps_key = hashlib.sha256(
        (constraints + (REPO / "pyproject.toml").read_text()).encode()).hexdigest()[:16]
    deps = CACHE / deps_key
    if not deps.is_dir():
        tmp = CACHE / f"{deps_key}.tmp{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        (dest / "constraints.txt").write_text(constraints)
        wheel = next(wh.glob("pantau-*.whl"))
        subprocess.run([*PIP, "download", "--quiet", "--only-binary=:all:", "-d", str(tmp),
                        "-c", str(dest / "constraints.txt"), str(wheel)],
                       check=True, timeout=600, capture_output=True)
        for old in tmp.glob("pantau-*.whl"):
            old.unlink()
        with contextlib.suppress(OSError):
            tmp.rename(deps)
        shutil.rmtree(tmp, ignore_errors=True)
    for dep in deps.glob("*.whl"):
        shutil.copy(dep, wh / dep.name)
    return wh


def _kill_deployed(pidfile: Path) -> None:
    if pidfile.exists():
        with contextlib.suppress(ValueError, ProcessLookupError):
            os.killpg(int(pidfile.read_text().strip()), signal.SIGTERM)


def test_deploy_agent_installs_starts_and_answers(tmp_path: Path, sshd: Sshd,
                                                  user: SshUser) -> None:
    wheelhouse = build_wheelhouse(tmp_path)
    kh = tmp_path / "known_hosts"
    enrol_host_key(kh, "127.0.0.1", sshd.port, fetch_host_key("127.0.0.1", sshd.port))
    cfg = {
        "site": "control",
        "state_dir": str(tmp_path / "state"),
        "ssh": {
            "known_hosts": str(kh),
            "credentials": {"deploy": {"user": user.name, "key_file": str(user.key)}},
            "hosts": {"kantor-a": {"address": sshd.target, "credential": "deploy",
                                   "groups": ["servers"]}},
        },
    }
    (tmp_path / "pantau.yml").write_text(yaml.safe_dump(cfg))
    install_dir = user.home / "pantau"
    port = free_port()
    pidfile = install_dir / "pantau.pid"
    try:
        r = run_cli("playbook", "run", "deploy-agent", "--group", "servers",
                    "--param", f"wheelhouse={wheelhouse}", "--param", "site=kantor-a",
                    "--param", f"install_dir={install_dir}",
                    "--param", "listen_address=127.0.0.1", "--param", f"listen_port={port}",
                    "--config", str(tmp_path / "pantau.yml"), timeout=600)
        assert r.returncode == 0, r.stdout[-4000:] + r.stderr
        assert "started without systemd" in r.stdout
        assert f"http://127.0.0.1:{port}/metrics answered" in r.stdout
        # the installed agent runs as the SSH user, from its own venv, after the playbook ended
        pid = int(pidfile.read_text().strip())
        exe = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        assert str(install_dir / "venv" / "bin" / "pantau") in exe
        assert Path(f"/proc/{pid}").stat().st_uid == int(
            subprocess.run(["id", "-u", user.name], capture_output=True, text=True,
                           check=True).stdout)
        body = b""
        for _ in range(50):
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics",
                                              timeout=3).read()
                break
            except OSError:
                time.sleep(0.2)
        assert b"pantau_build_info" in body
        assert b'site="kantor-a"' in body
        written = yaml.safe_load((install_dir / "pantau.yml").read_text())
        assert written["site"] == "kantor-a" and written["listen"] == f"127.0.0.1:{port}"
    finally:
        _kill_deployed(pidfile)
