"""Where playbook runs are recorded: an append-only JSON-lines log in state_dir.

`AuditSink` is the seam: the outage history (agent/history.py, SQLite) can implement
`record(run)` and be passed to the runner instead of, or next to, the file. The agent's
pantau_playbook_runs_total is counted from this file (collectors/ssh/playbook_runs.py), so its
record keys `playbook` and `result` are a contract.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

MAX_OUTPUT_CHARS = 64 * 1024  # per stream per step kept in the audit record


@runtime_checkable
class AuditSink(Protocol):
    def record(self, run: dict[str, Any]) -> None:
        """Persist one per-host run record; must not raise on a full disk silently."""


class JsonlAuditSink:
    """Append one JSON object per line, locked and fsync'ed: a crash loses no finished run."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def record(self, run: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(run, ensure_ascii=False, sort_keys=True) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, line)
            os.fsync(fd)
        finally:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def read(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return out
        for line in text.splitlines():
            with contextlib.suppress(ValueError):
                out.append(json.loads(line))
        return out


def clip(text: str, limit: int = MAX_OUTPUT_CHARS) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[... {len(text) - limit} more characters not kept]"
