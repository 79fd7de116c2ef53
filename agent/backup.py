"""Backup and restore of a state dir: every SQLite database (outage history and outbox,
remote-write queue) through SQLite's online backup API, the small text state (known_hosts,
the playbook audit log) and the config file, in one tar.gz.

Why the backup API rather than copying files: the agent keeps writing while a backup runs,
and a copied WAL database can pair a main file from one moment with a -wal from another. The
backup API copies one consistent snapshot (every transaction committed before it started,
nothing half-written) and the copy is switched to a rollback journal so it is one
self-contained file. A restore refuses while an agent holds the state dir (agent.statelock)
and holds the lock itself while it writes, so no agent can start on a half-restored dir.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent import __version__
from agent.statelock import LOCK_NAME, StateDirBusy, StateLock, holder

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_MAGIC = b"SQLite format 3\x00"
# Small text state worth keeping beside the databases (reports/ can be rebuilt from history).
TEXT_FILES = ("known_hosts", "playbook-audit.jsonl")


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why, in one line."""


@dataclass
class Outcome:
    databases: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    config: str | None = None
    notes: list[str] = field(default_factory=list)


def _is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(16) == SQLITE_MAGIC
    except OSError:
        return False


def databases_in(state_dir: Path) -> list[Path]:
    """The SQLite databases directly in the state dir (not -wal/-shm, not set-aside copies)."""
    if not state_dir.is_dir():
        return []
    out = []
    for p in sorted(state_dir.iterdir()):
        if (p.is_file() and not p.name.endswith(("-wal", "-shm", "-journal"))
                and ".corrupt-" not in p.name and _is_sqlite(p)):
            out.append(p)
    return out


def _snapshot(src: Path, dst: Path) -> None:
    try:
        source = sqlite3.connect(f"file:{src}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error as e:
        raise BackupError(f"cannot open {src}: {e}") from None
    try:
        target = sqlite3.connect(str(dst))
        try:
            source.backup(target)  # pages=-1: one step, one consistent snapshot
            target.execute("PRAGMA journal_mode=DELETE")
            problem = target.execute("PRAGMA integrity_check").fetchone()[0]
            if problem != "ok":
                raise BackupError(f"{src.name}: the copy failed its integrity check: {problem}")
        finally:
            target.close()
    except sqlite3.Error as e:
        raise BackupError(f"cannot back up {src}: {e}") from None
    finally:
        source.close()


def backup(state_dir: Path, config_file: Path | None, out: Path) -> Outcome:
    """Write the archive to `out` (atomically: a temp file renamed at the end)."""
    state_dir = Path(state_dir)
    if not state_dir.is_dir():
        raise BackupError(f"state dir {state_dir} does not exist")
    outcome = Outcome()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pantau-backup-") as tmp:
        tmpdir = Path(tmp)
        for db in databases_in(state_dir):
            _snapshot(db, tmpdir / db.name)
            outcome.databases.append(db.name)
        for name in TEXT_FILES:
            if (state_dir / name).is_file():
                shutil.copyfile(state_dir / name, tmpdir / name)
                outcome.files.append(name)
        manifest = {
            "format": FORMAT, "pantau": __version__, "created": time.time(),
            "state_dir": str(state_dir.resolve()),
            "config": str(config_file.resolve()) if config_file else None,
            "databases": outcome.databases, "files": outcome.files,
        }
        partial = out.with_name(f".{out.name}.partial")
        try:
            with tarfile.open(partial, "w:gz") as tar:
                data = json.dumps(manifest, indent=1).encode()
                info = tarfile.TarInfo(MANIFEST)
                info.size, info.mtime, info.mode = len(data), int(time.time()), 0o600
                tar.addfile(info, io.BytesIO(data))
                for name in [*outcome.databases, *outcome.files]:
                    tar.add(tmpdir / name, arcname=f"state/{name}")
                if config_file is not None:
                    tar.add(config_file, arcname=f"config/{config_file.name}")
                    outcome.config = config_file.name
            os.chmod(partial, 0o600)  # the config may hold credentials
            os.replace(partial, out)
        except OSError as e:
            partial.unlink(missing_ok=True)
            raise BackupError(f"cannot write {out}: {e.strerror}") from None
    return outcome


def read_manifest(archive: Path) -> dict[str, Any]:
    try:
        with tarfile.open(archive, "r:gz") as tar:
            member = tar.extractfile(MANIFEST)
            if member is None:
                raise KeyError(MANIFEST)
            manifest = json.loads(member.read())
    except (OSError, tarfile.TarError, KeyError, ValueError) as e:
        raise BackupError(f"{archive} is not a pantau backup: {e}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{archive}: unknown backup format")
    return manifest


def restore(archive: Path, state_dir: Path | None, config_to: Path | None,
            *, force: bool = False) -> tuple[Path, Outcome]:
    """Put the archive's state into `state_dir` (default: where it came from) and its config
    at `config_to` (default: where it came from, unless a different file is already there)."""
    manifest = read_manifest(archive)
    target = Path(state_dir) if state_dir else Path(str(manifest["state_dir"]))
    pid = holder(target)
    if pid is not None:
        who = f"PID {pid}" if pid else "another process"
        raise BackupError(f"state dir {target} is in use by a running agent ({who}); "
                          "stop it first (systemctl stop pantau)")
    try:
        lock = StateLock.acquire(target)
    except StateDirBusy as e:
        raise BackupError(str(e)) from None
    except OSError as e:
        raise BackupError(f"cannot use state dir {target}: {e.strerror}") from None
    outcome = Outcome()
    try:
        names = [str(n) for n in manifest.get("databases") or []]
        files = [str(n) for n in manifest.get("files") or []]
        existing = [n for n in names + files if (target / n).exists()]
        if existing and not force:
            raise BackupError(f"{target} already holds {', '.join(existing)}; "
                              "restore into an empty state dir or pass --force")
        owner = target.stat()
        with tarfile.open(archive, "r:gz") as tar:
            for name in names + files:
                if "/" in name or name in ("", ".", "..", LOCK_NAME):
                    raise BackupError(f"{archive}: bad entry {name!r}")
                member = tar.extractfile(f"state/{name}")
                if member is None:
                    raise BackupError(f"{archive}: {name} missing")
                _write_atomic(target / name, member.read(), owner)
                for suffix in ("-wal", "-shm", "-journal"):
                    (target / f"{name}{suffix}").unlink(missing_ok=True)
                (outcome.databases if name in names else outcome.files).append(name)
            outcome.config = _restore_config(tar, manifest, config_to, outcome)
    except (OSError, tarfile.TarError, KeyError) as e:
        raise BackupError(f"cannot restore {archive}: {e}") from None
    finally:
        lock.release()
    return target, outcome


def _restore_config(tar: tarfile.TarFile, manifest: dict[str, Any], config_to: Path | None,
                    outcome: Outcome) -> str | None:
    configs = [m for m in tar.getmembers() if m.name.startswith("config/") and m.isfile()]
    if not configs:
        return None
    member = tar.extractfile(configs[0])
    if member is None:
        return None
    data = member.read()
    original = manifest.get("config")
    dest = config_to or (Path(str(original)) if original else None)
    if dest is None:
        return None
    if config_to is None and (dest.suffix not in (".yml", ".yaml") or not dest.parent.is_dir()):
        # The path comes from the archive: never let it choose an arbitrary file to write.
        outcome.notes.append(f"the backup's config was {original}; not restored there "
                             "(pass --config-to PATH)")
        return None
    if config_to is None and dest.exists():
        if dest.read_bytes() == data:
            return str(dest)
        # An admin's newer config stays; the archived one lands beside it.
        dest = dest.with_name(dest.name + ".restored")
        outcome.notes.append(f"{original} differs from the backup: kept it, "
                             f"wrote the backup's config to {dest}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(dest, data, None, mode=0o640)
    return str(dest)


def _write_atomic(path: Path, data: bytes, owner: os.stat_result | None,
                  mode: int = 0o640) -> None:
    tmp = path.with_name(f".{path.name}.restore")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, mode)
    if owner is not None and os.geteuid() == 0:
        # Restored as root for a service user: the files belong to whoever owns the dir.
        os.chown(tmp, owner.st_uid, owner.st_gid)
    os.replace(tmp, path)
