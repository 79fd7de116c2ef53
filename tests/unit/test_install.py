"""`pantau install --root DIR` lays every file with its owner and mode, a second run changes
nothing, an upgrade rewrites only the unit, uninstall removes what install made; the unit
passes `systemd-analyze verify`; contrib/pantau.service is the unit install writes."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from agent.install import unit_text
from tests.helpers.agent import PANTAU, run_cli

REPO = Path(__file__).resolve().parents[2]
# The backups shadow's tools leave beside the account databases are theirs, not ours.
SHADOW_BACKUPS = {"etc/passwd-", "etc/group-", "etc/shadow-", "etc/gshadow-"}

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="install creates users: needs root")


def _tree(root: Path) -> dict[str, tuple[int, int, int, int, str]]:
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if rel in SHADOW_BACKUPS:
            continue
        st = p.lstat()
        digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else ""
        out[rel] = (st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns, digest)
    return out


def _ids(root: Path, name: str) -> tuple[int, int]:
    uid = next(int(ln.split(":")[2]) for ln in (root / "etc/passwd").read_text().splitlines()
               if ln.startswith(f"{name}:"))
    gid = next(int(ln.split(":")[2]) for ln in (root / "etc/group").read_text().splitlines()
               if ln.startswith(f"{name}:"))
    return uid, gid


def _system(tmp_path: Path) -> Path:
    """A throwaway root with the account databases a Debian system has."""
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (root / "etc/group").write_text("root:x:0:\n")
    (root / "etc/shadow").write_text("root:*:19000:0:99999:7:::\n")
    (root / "etc/gshadow").write_text("root:*::\n")
    return root


def _mode(p: Path) -> int:
    return p.stat().st_mode & 0o7777


def test_install_twice_upgrade_and_uninstall(tmp_path: Path) -> None:
    root = _system(tmp_path)
    before = _tree(root)
    r = run_cli("install", "--root", str(root))
    assert r.returncode == 0, r.stderr
    assert "created user pantau" in r.stdout and "systemd left alone" in r.stdout
    uid, gid = _ids(root, "pantau")
    assert uid != 0 and gid != 0
    expect = {
        "etc/pantau": (0o750, 0, gid),
        "etc/pantau/pantau.yml": (0o640, 0, gid),
        "etc/pantau/pantau.env": (0o600, 0, 0),
        "var/lib/pantau": (0o750, uid, gid),
        "etc/systemd/system/pantau.service": (0o644, 0, 0),
    }
    for rel, (mode, u, g) in expect.items():
        st = (root / rel).stat()
        assert (_mode(root / rel), st.st_uid, st.st_gid) == (mode, u, g), rel
    unit = (root / "etc/systemd/system/pantau.service").read_text()
    assert f"ExecStart={PANTAU} run --config /etc/pantau/pantau.yml" in unit
    assert "EnvironmentFile=-/etc/pantau/pantau.env" in unit and "MemoryMax=1G" in unit
    assert "AmbientCapabilities=CAP_NET_RAW" in unit
    passwd = (root / "etc/passwd").read_text()
    assert "pantau:x:" in passwd and ":/var/lib/pantau:/usr/sbin/nologin" in passwd

    # the example config is valid, its ${NAME}s read from the pantau.env beside it (as
    # systemd's EnvironmentFile= gives them to the service)
    assert "PANTAU_TELEGRAM_TOKEN" not in os.environ
    r = run_cli("check-config", str(root / "etc/pantau/pantau.yml"),
                env={"LANG": "C.UTF-8", "LC_ALL": "", "LC_MESSAGES": "", "PANTAU_LANG": ""})
    assert r.returncode == 0, r.stderr
    # the example sets alerts.language: id, so the admin reads Indonesian (the locale says
    # nothing here; agent/cli/common.py cli_lang)
    assert "5 pemeriksaan" in r.stdout
    hidden = tmp_path / "alone.yml"
    hidden.write_text((root / "etc/pantau/pantau.yml").read_text())
    r = run_cli("check-config", str(hidden))
    assert r.returncode == 2 and "PANTAU_TELEGRAM_TOKEN is not set" in r.stderr

    # a second run changes nothing: not a byte, not a mode, not an mtime
    first = _tree(root)
    r = run_cli("install", "--root", str(root))
    assert r.returncode == 0 and "nothing to change" in r.stdout, r.stdout
    assert _tree(root) == first

    # an upgrade rewrites the unit it owns and keeps the admin's config and secrets
    cfg = root / "etc/pantau/pantau.yml"
    cfg.write_text("site: kantor-saya\n")
    (root / "etc/systemd/system/pantau.service").write_text("[Service]\nMemoryMax=256M\n")
    os.chmod(root / "var/lib/pantau", 0o777)
    r = run_cli("install", "--root", str(root))
    assert r.returncode == 0
    assert "updated /etc/systemd/system/pantau.service" in r.stdout
    assert "fixed owner/mode of /var/lib/pantau/" in r.stdout
    assert cfg.read_text() == "site: kantor-saya\n"
    assert (root / "etc/systemd/system/pantau.service").read_text() == unit
    assert _mode(root / "var/lib/pantau") == 0o750

    # uninstall keeps config and history; --purge removes everything install made
    (root / "var/lib/pantau/history.db").write_bytes(b"x")
    r = run_cli("uninstall", "--root", str(root))
    assert r.returncode == 0
    assert not (root / "etc/systemd/system/pantau.service").exists()
    assert cfg.exists() and (root / "var/lib/pantau/history.db").exists()
    r = run_cli("uninstall", "--root", str(root), "--purge")
    assert r.returncode == 0, r.stderr
    assert "removed user pantau" in r.stdout
    after = _tree(root)
    made_dirs = {"etc/systemd", "etc/systemd/system", "var", "var/lib"}  # empty parents
    assert set(after) - made_dirs == set(before), sorted(set(after) ^ set(before))
    for rel in before:
        if rel.startswith("etc/") and (root / rel).is_file():
            assert after[rel][4] == before[rel][4], f"{rel} differs after purge"


def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here")
    unit = tmp_path / "pantau.service"
    unit.write_text(unit_text(str(PANTAU)))
    r = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert "pantau.service" not in r.stderr, r.stderr  # no warnings about our unit


def test_contrib_unit_is_the_installed_one() -> None:
    shipped = (REPO / "contrib/pantau.service").read_text()
    assert shipped == unit_text("/opt/pantau/bin/pantau"), (
        "regenerate: python -c \"from agent.install import unit_text; "
        "print(unit_text('/opt/pantau/bin/pantau'), end='')\" > contrib/pantau.service")


def test_bad_root_is_one_line(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("")
    r = run_cli("install", "--root", str(f))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
