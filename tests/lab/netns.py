"""What every namespace lab shares: namespaces, veth links, nftables, running things inside,
and the unconditional teardown. OfficeLab (office.py) and ChainLab (chain.py) add their own
topology on top of `NetnsLab`.

Namespace names carry the creating PID (`<prefix><pid>x<random>-<role>`), so parallel runs
never touch each other's labs and `clean_stale` only removes labs whose creator is gone.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Self


def _run(argv: Sequence[str], *, check: bool = True, timeout: float = 20,
         input_: str | None = None) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                         input=input_)
    if check and res.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({res.returncode}): {res.stderr.strip()}")
    return res


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_ns_pids(ns: str) -> None:
    res = _run(["ip", "netns", "pids", ns], check=False, timeout=5)
    for pid in res.stdout.split():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)


def clean_stale(prefix: str) -> list[str]:
    """Delete lab namespaces whose creating process is gone (left by a killed test run)."""
    removed = []
    res = _run(["ip", "netns", "list"], check=False, timeout=5)
    for line in res.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        if not name.startswith(prefix):
            continue
        pid_part = name[len(prefix):].split("x", 1)[0]
        if pid_part.isdigit() and not _pid_alive(int(pid_part)):
            _kill_ns_pids(name)
            _run(["ip", "netns", "del", name], check=False, timeout=5)
            shutil.rmtree(Path("/etc/netns") / name, ignore_errors=True)
            removed.append(name)
    for leftover in Path(tempfile.gettempdir()).glob(f"{prefix}*x*-*"):  # certificates
        pid_part = leftover.name[len(prefix):].split("x", 1)[0]
        if pid_part.isdigit() and not _pid_alive(int(pid_part)):
            shutil.rmtree(leftover, ignore_errors=True)
    return removed


class NetnsLab:
    """Namespaces `roles`, veth `links` (name -> (near role, far role); the interface has the
    link's name on both sides). Subclasses build the topology in `_build` and reinstall their
    routes in `_routes`. Use as a context manager; `start()`/`close()` also work."""

    TOOLS: tuple[str, ...] = ("ip", "nft")

    def __init__(self, prefix: str, roles: Iterable[str], links: Mapping[str, tuple[str, str]],
                 python: str = sys.executable) -> None:
        tag = f"{prefix}{os.getpid()}x{secrets.token_hex(3)}"
        self.prefix = prefix
        self.ns: dict[str, str] = {role: f"{tag}-{role}" for role in roles}
        self.links: dict[str, tuple[str, str]] = dict(links)
        self.python_exe = python
        self.tmp = Path(tempfile.mkdtemp(prefix=f"{tag}-"))
        self._procs: list[subprocess.Popen[Any]] = []
        self._closed = False

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> Self:
        name = type(self).__name__
        if os.geteuid() != 0:
            raise RuntimeError(f"{name} needs root (ip netns, veth, nftables)")
        for tool in self.TOOLS:
            if shutil.which(tool) is None:
                raise RuntimeError(f"{name} needs {tool}: run tests/install-deps.sh")
        clean_stale(self.prefix)
        atexit.register(self.close)
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Kill everything the lab started and delete its namespaces. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        for proc in self._procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.terminate()
        deadline = time.monotonic() + 2
        for proc in self._procs:
            try:
                proc.wait(max(0.01, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(2)
        for ns in self.ns.values():
            _kill_ns_pids(ns)
            _run(["ip", "netns", "del", ns], check=False, timeout=10)
            shutil.rmtree(Path("/etc/netns") / ns, ignore_errors=True)
        shutil.rmtree(self.tmp, ignore_errors=True)
        with contextlib.suppress(Exception):
            atexit.unregister(self.close)

    def _build(self) -> None:
        raise NotImplementedError

    def _routes(self) -> None:
        """(Re)install static routes: a link set down loses the routes through it."""
        raise NotImplementedError

    def _add_namespaces(self, sysctls: Sequence[str]) -> None:
        """Every namespace with lo up and `sysctls` set, before any veth exists (so settings
        such as accept_dad=0 hold for the link-local addresses too)."""
        for role, ns in self.ns.items():
            _run(["ip", "netns", "add", ns])
            _run(["ip", "-n", ns, "link", "set", "lo", "up"])
            if sysctls:
                self.exec(role, ["sysctl", "-qw", *sysctls])

    def _add_links(self) -> None:
        for link, (near, far) in self.links.items():
            # Created directly inside the namespaces: no name ever appears in the root one.
            _run(["ip", "link", "add", link, "netns", self.ns[near], "type", "veth",
                  "peer", "name", link, "netns", self.ns[far]])

    # -- running things in a namespace -------------------------------------------------------

    def _wrap(self, role: str, cmd: Sequence[str]) -> list[str]:
        if role not in self.ns:
            raise KeyError(f"unknown namespace role {role!r}; use one of {', '.join(self.ns)}")
        return ["ip", "netns", "exec", self.ns[role], *cmd]

    def exec(self, role: str, cmd: Sequence[str], *, check: bool = True, timeout: float = 30,
             input_: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run `cmd` in namespace `role` and wait (text output, bounded by `timeout`)."""
        return _run(self._wrap(role, cmd), check=check, timeout=timeout, input_=input_)

    def popen(self, role: str, cmd: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
        """Start `cmd` in namespace `role`; the lab kills it at teardown if still running."""
        proc: subprocess.Popen[Any] = subprocess.Popen(self._wrap(role, cmd), **kwargs)
        self._procs.append(proc)
        return proc

    def python(self, role: str, code: str, *, timeout: float = 30,
               check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a python snippet (this interpreter, so the venv) in namespace `role`."""
        return self.exec(role, [self.python_exe, "-c", code], timeout=timeout, check=check)

    def _nft(self, role: str, script: str) -> None:
        self.exec(role, ["nft", "-f", "-"], input_=script)

    def _nft_del(self, role: str, family: str, table: str) -> None:
        self.exec(role, ["nft", "delete", "table", family, table], check=False)

    # -- links -------------------------------------------------------------------------------

    def _link_sides(self, link: str) -> tuple[str, str]:
        if link not in self.links:
            raise KeyError(f"unknown link {link!r}; use one of {', '.join(self.links)}")
        return self.links[link]

    def _set_link(self, link: str, state: str, *, check: bool = True) -> None:
        for role in self._link_sides(link):
            _run(["ip", "-n", self.ns[role], "link", "set", link, state], check=check)

    def cut(self, link: str) -> None:
        """Take a link down on both ends (like pulling the cable)."""
        self._set_link(link, "down")

    def restore(self, link: str) -> None:
        """Bring a link back up and reinstall the routes the kernel dropped with it."""
        self._set_link(link, "up")
        self._routes()

    def _all_links_up(self) -> None:
        for link in self.links:
            self._set_link(link, "up", check=False)

    def write_resolv_conf(self, role: str, text: str) -> Path:
        """`role`'s /etc/resolv.conf (`ip netns exec` bind-mounts /etc/netns/<ns>/resolv.conf
        over it for everything run there, so the lab never uses the host's resolver). `close`
        removes it; returns the directory to remove earlier."""
        etc = Path("/etc/netns") / self.ns[role]
        etc.mkdir(parents=True, exist_ok=True)
        (etc / "resolv.conf").write_text(text)
        return etc
