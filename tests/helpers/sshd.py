"""A real OpenSSH sshd for tests: own host key, own config, loopback, a throwaway local user.

The user is created with useradd (password set with chpasswd, key in authorized_keys) and
removed with userdel -r at teardown, so parallel test runs never share accounts.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SSHD = "/usr/sbin/sshd"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def keygen(path: Path, comment: str = "pantau-test") -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment,
                    "-f", str(path)], check=True, timeout=30)
    return path


@dataclass
class SshUser:
    name: str
    password: str
    home: Path
    key: Path  # private key file (the .pub next to it is authorized)


@contextlib.contextmanager
def throwaway_user(tmp: Path) -> Iterator[SshUser]:
    name = f"pantau-test-{secrets.token_hex(3)}"
    password = "pw-" + secrets.token_urlsafe(12)
    subprocess.run(["useradd", "-m", "-s", "/bin/sh", name], check=True, timeout=30)
    try:
        subprocess.run(["chpasswd"], input=f"{name}:{password}\n", text=True, check=True,
                       timeout=30)
        home = Path(f"/home/{name}")
        key = keygen(tmp / f"{name}-key")
        ssh_dir = home / ".ssh"
        ssh_dir.mkdir(mode=0o700, exist_ok=True)
        shutil.copy(f"{key}.pub", ssh_dir / "authorized_keys")
        shutil.chown(ssh_dir, name, name)
        shutil.chown(ssh_dir / "authorized_keys", name, name)
        os.chmod(ssh_dir / "authorized_keys", 0o600)
        yield SshUser(name, password, home, key)
    finally:
        # the user's leftover processes (a deployed agent, a killed sleep) go first
        subprocess.run(["pkill", "-KILL", "-u", name], timeout=30, check=False)
        time.sleep(0.2)
        subprocess.run(["userdel", "-r", "-f", name], timeout=30, check=False,
                       capture_output=True)


class Sshd:
    """One sshd process; `restart(new_host_key=True)` re-keys it on the same port."""

    def __init__(self, tmp: Path, user: str, port: int | None = None,
                 extra_config: str = "") -> None:
        self.extra_config = extra_config
        self.dir = tmp / f"sshd-{secrets.token_hex(3)}"
        self.dir.mkdir()
        self.user = user
        self.port = port or free_port()
        self.host_key = keygen(self.dir / "host_key")
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = self.dir / "sshd.log"

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def write_config(self) -> Path:
        cfg = self.dir / "sshd_config"
        cfg.write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {self.host_key}\n"
            "PidFile none\nUsePAM no\nPasswordAuthentication yes\n"
            "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"
            "AuthorizedKeysFile .ssh/authorized_keys\nStrictModes no\n"
            f"AllowUsers {self.user}\nSubsystem sftp internal-sftp\nLogLevel VERBOSE\n"
            "MaxStartups 100\nMaxSessions 50\nUseDNS no\nPrintMotd no\n"
            + self.extra_config
        )
        return cfg

    def start(self) -> None:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        cfg = self.write_config()
        check = subprocess.run([SSHD, "-t", "-f", str(cfg)], capture_output=True, text=True,
                               timeout=30)
        assert check.returncode == 0, f"sshd config invalid: {check.stderr}"
        log = self.log.open("ab")
        self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(cfg)], stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"sshd exited: {self.log.read_text()}"
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.settimeout(2)
                    if s.recv(64).startswith(b"SSH-2.0-"):
                        return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"sshd did not answer on {self.port}: {self.log.read_text()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, 9)
                self.proc.wait(timeout=5)
        self.proc = None

    def restart(self, new_host_key: bool = False) -> None:
        self.stop()
        if new_host_key:
            for f in (self.host_key, Path(f"{self.host_key}.pub")):
                f.unlink()
            keygen(self.host_key)
        self.start()

    def fingerprint(self) -> str:
        out = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", f"{self.host_key}.pub"],
                             capture_output=True, text=True, check=True, timeout=30)
        return out.stdout.split()[1]


@contextlib.contextmanager
def running_sshd(tmp: Path, user: str, extra_config: str = "") -> Iterator[Sshd]:
    server = Sshd(tmp, user, extra_config=extra_config)
    try:
        server.start()
        yield server
    finally:
        server.stop()
