"""One owner per state dir: an advisory flock on state_dir/pantau.lock.

Why a lock and not the listen port: a second agent on the same state dir would otherwise
open the history, write the monthly report and only then die on the port, and two writers on
one outbox would send every notification twice. The lock is taken before anything is written;
a second agent finds it held and exits at once naming the PID that holds it. The kernel drops
a flock when its holder dies, so a kill -9 leaves no stale lock behind.

Opening an existing lock file changes nothing on disk: a refused agent leaves every mtime in
the state dir as it was. flock rather than POSIX lockf: lockf locks belong to the process,
so a check from inside the owner (or closing any descriptor of the file) would drop them.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path

LOCK_NAME = "pantau.lock"


class StateDirBusy(Exception):
    """The state dir is owned by another live process."""

    def __init__(self, state_dir: Path, pid: int | None) -> None:
        self.state_dir = state_dir
        self.pid = pid
        who = f"pantau PID {pid}" if pid else "another process"
        super().__init__(f"state dir {state_dir} is in use by {who} "
                         f"(lock {state_dir / LOCK_NAME}); one agent per state dir")


class StateLock:
    """Held for the life of the process that owns the state dir."""

    def __init__(self, fd: int, path: Path) -> None:
        self.fd = fd
        self.path = path

    @classmethod
    def acquire(cls, state_dir: Path) -> StateLock:
        """Take the lock or raise StateDirBusy; OSError when the dir cannot be made."""
        state_dir = Path(state_dir)
        path = state_dir / LOCK_NAME
        if not state_dir.is_dir():
            state_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = _open(path, create=True)
        except OSError as e:
            if e.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
                raise
            # A read-only state dir (a ro mount, a dir the agent may not write): nothing
            # can be written there by this agent, but a second agent must still be refused.
            # flock needs no write access, so the existing lock file is locked read-only
            # (or, when there is none, the directory itself: two such agents still exclude
            # each other, and neither can write anything there).
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                fd = os.open(state_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                pid = _read_pid(fd)
                os.close(fd)
                raise StateDirBusy(state_dir, pid) from None
            return cls(fd, path)  # our PID cannot be written into it
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            pid = _read_pid(fd)
            os.close(fd)
            raise StateDirBusy(state_dir, pid) from None
        # Ours now: say who we are, for the next one that asks.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return cls(fd, path)

    def release(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = -1


def holder(state_dir: Path) -> int | None:
    """The PID holding the state dir (0 when unknown), or None when nobody holds it.

    Reads without creating anything: a missing lock file means nobody holds it."""
    path = Path(state_dir) / LOCK_NAME
    try:
        fd = _open(path, create=False)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return _read_pid(fd) or 0
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _open(path: Path, *, create: bool) -> int:
    flags = os.O_RDWR | os.O_CLOEXEC | (os.O_CREAT if create else 0)
    return os.open(path, flags, 0o644)


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text.isdigit() else None
    except OSError:
        return None
