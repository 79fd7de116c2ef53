"""contrib/deb/build.py: two builds of one commit are the same bytes; the .deb carries every
wheel pantau needs, so a venv installs from it with no index at all, and its maintainer
scripts are valid shell that runs `pantau install`."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")


def _build(out: Path) -> Path:
    r = subprocess.run([sys.executable, str(REPO / "contrib/deb/build.py"), "--out", str(out)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return next(out.glob("pantau_*_amd64.deb"))


def test_deb_is_reproducible_and_installs_offline(tmp_path: Path) -> None:
    first, second = _build(tmp_path / "a"), _build(tmp_path / "b")
    digest = hashlib.sha256(first.read_bytes()).hexdigest()
    assert digest == hashlib.sha256(second.read_bytes()).hexdigest()
    print(f"{first.name} {first.stat().st_size} bytes sha256 {digest}")

    info = subprocess.run(["dpkg-deb", "--info", str(first)], capture_output=True, text=True,
                          check=True).stdout
    assert "Package: pantau" in info and "python3-venv" in info
    root = tmp_path / "x"
    subprocess.run(["dpkg-deb", "--raw-extract", str(first), str(root)], check=True)
    postinst = (root / "DEBIAN/postinst").read_text()
    assert "--no-index" in postinst and "/opt/pantau/bin/pantau install" in postinst
    for script in ("postinst", "prerm", "postrm"):
        subprocess.run(["sh", "-n", str(root / "DEBIAN" / script)], check=True)
    wheels = root / "usr/share/pantau/wheels"
    assert any(w.name.startswith("pantau-") for w in wheels.glob("*.whl"))

    # what postinst does, into a throwaway venv: no index, only the bundled wheels
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    r = subprocess.run([str(venv / "bin/pip"), "install", "--quiet", "--no-index",
                        "--find-links", str(wheels), "pantau"], capture_output=True, text=True,
                       timeout=600, env={"PATH": "/usr/bin:/bin", "PIP_CONFIG_FILE": "/dev/null"})
    assert r.returncode == 0, r.stderr
    r = subprocess.run([str(venv / "bin/pantau"), "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("pantau "), r.stderr
    r = subprocess.run([str(venv / "bin/pantau"), "install", "--help"], capture_output=True,
                       text=True)
    assert r.returncode == 0
