#!/usr/bin/env python3
"""Build pantau_<version>_amd64.deb: the committed tree's wheel and every dependency's wheel
bundled, so an office installs it from a USB stick with no network:

    python3 contrib/deb/build.py --out dist/        # on a machine with the package index
    dpkg -i pantau_0.1.0_amd64.deb                  # at the office: venv + pantau install

Reproducible: the source is `git archive` of a commit (not the working tree), every
timestamp is SOURCE_DATE_EPOCH (the commit's time unless set), and dpkg-deb sorts and clamps
what it packs; two builds of one commit give the same bytes. The wheels are for the build
machine's Python and architecture: build on Debian 12 amd64 for Debian 12 amd64.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WHEELS = "usr/share/pantau/wheels"

CONTROL = """\
Package: pantau
Version: {version}
Architecture: amd64
Maintainer: pantau maintainers <pantau@localhost>
Depends: python3 (>= 3.11), python3 (<< 3.12), python3-venv
Recommends: chromium
Section: net
Priority: optional
Description: monitoring agent for government service offices
 Watches the office server, its network gear and the path to online services,
 exposes Prometheus metrics, alerts and writes monthly availability reports.
 Bundles its Python wheels: installing needs no network.
"""

POSTINST = """\
#!/bin/sh
# Install (or upgrade) the virtual environment from the bundled wheels, then the service
# layout; `pantau install` keeps an existing config and restarts only on a change.
set -e
if [ "$1" = configure ]; then
    [ -x /opt/pantau/bin/python ] || python3 -m venv /opt/pantau
    /opt/pantau/bin/pip install --quiet --no-index --find-links /{wheels} --upgrade pantau
    /opt/pantau/bin/pantau install
fi
"""

PRERM = """\
#!/bin/sh
# On removal the service goes; /etc/pantau and the outage history stay (purge removes them).
set -e
if [ "$1" = remove ] && [ -x /opt/pantau/bin/pantau ]; then
    /opt/pantau/bin/pantau uninstall || true
fi
"""

POSTRM = """\
#!/bin/sh
set -e
if [ "$1" = purge ]; then
    rm -rf /opt/pantau /etc/pantau /var/lib/pantau
    if getent passwd pantau >/dev/null; then userdel pantau || true; fi
    if getent group pantau >/dev/null; then groupdel pantau || true; fi
elif [ "$1" = remove ]; then
    rm -rf /opt/pantau
fi
"""


def run(*cmd: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{p.stderr.strip()[-2000:]}")
    return p.stdout


def build(out_dir: Path, commit: str = "HEAD") -> Path:
    epoch = os.environ.get("SOURCE_DATE_EPOCH") or run(
        "git", "-C", str(REPO), "log", "-1", "--format=%ct", commit).strip()
    env = {**os.environ, "SOURCE_DATE_EPOCH": epoch, "PYTHONHASHSEED": "0"}
    with tempfile.TemporaryDirectory(prefix="pantau-deb-") as tmp:
        t = Path(tmp)
        src = t / "src"
        src.mkdir()
        archive = t / "src.tar"
        run("git", "-C", str(REPO), "archive", "--format=tar", "-o", str(archive), commit)
        run("tar", "-xf", str(archive), "-C", str(src))
        root = t / "root"
        wheels = root / WHEELS
        wheels.mkdir(parents=True)
        run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-cache-dir",
            "--wheel-dir", str(wheels), str(src), env=env)
        version = next(w.name.split("-")[1] for w in wheels.glob("pantau-*.whl"))
        debian = root / "DEBIAN"
        debian.mkdir()
        (debian / "control").write_text(CONTROL.format(version=version))
        for name, text in (("postinst", POSTINST), ("prerm", PRERM), ("postrm", POSTRM)):
            (debian / name).write_text(text.format(wheels=WHEELS))
            (debian / name).chmod(0o755)
        for p in sorted(root.rglob("*")):
            if p.is_file() and p.parent != debian:
                p.chmod(0o644)
            elif p.is_dir():
                p.chmod(0o755)
            os.utime(p, (int(epoch), int(epoch)), follow_symlinks=False)
        out_dir.mkdir(parents=True, exist_ok=True)
        deb = out_dir / f"pantau_{version}_amd64.deb"
        run("dpkg-deb", "--root-owner-group", "-Zxz", "--build", str(root), str(deb), env=env)
    return deb


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / "dist")
    ap.add_argument("--commit", default="HEAD")
    args = ap.parse_args()
    deb = build(args.out, args.commit)
    print(f"{deb} sha256 {hashlib.sha256(deb.read_bytes()).hexdigest()}")


if __name__ == "__main__":
    main()
