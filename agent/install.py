"""`pantau install` / `pantau uninstall`: the service layout an office runs for years.

What install lays down (under --root, "/" by default):
    user and group `pantau` (system account, no login, home = the state dir)
    /etc/pantau/               root:pantau 0750
    /etc/pantau/pantau.yml     root:pantau 0640  commented example config, only if absent
    /etc/pantau/pantau.env     root:root   0600  secrets for ${NAME}s, only if absent
    /var/lib/pantau/           pantau:pantau 0750
    /etc/systemd/system/pantau.service  root:root 0644  rewritten when it differs
Why each is written only when missing or different: re-running install is how an office
upgrades (pip install the new wheel, then `pantau install`), so it must never overwrite an
edited config, and it restarts the service only when something it owns changed.

Why the memory limit is 1 GiB: the agent itself stays near 60 MiB, but the monthly PDF is
printed by headless Chromium inside the same unit, whose peak on a report page is several
hundred MiB; the old 256M killed the print and with it the report.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from agent import __version__

USER = "pantau"
CONFIG_DIR = "/etc/pantau"
CONFIG = "/etc/pantau/pantau.yml"
ENV_FILE = "/etc/pantau/pantau.env"
STATE_DIR = "/var/lib/pantau"
UNIT = "/etc/systemd/system/pantau.service"
UNIT_HEADER = "# Written by `pantau install`"

ENV_TEXT = """\
# Secrets for pantau, read by systemd (EnvironmentFile=) before the agent starts; the config
# refers to them as ${NAME}. Keep this file root:root 0600. After an edit:
#   systemctl restart pantau
PANTAU_TELEGRAM_TOKEN=123456789:ganti-dengan-token-dari-BotFather
PANTAU_SNMP_COMMUNITY=ganti-community-snmp
#PANTAU_SMTP_PASSWORD=
"""

UNIT_TEXT = """\
{header} (pantau {version}); a re-run replaces edits here.
# Local changes belong in `systemctl edit pantau` (a drop-in), which install never touches.
# Reload the config without a restart: systemctl reload pantau (SIGHUP; a broken file is
# refused and the running config stays). Secrets: /etc/pantau/pantau.env.
[Unit]
Description=pantau monitoring agent
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
User={user}
Group={user}
EnvironmentFile=-/etc/pantau/pantau.env
Environment=HOME=/var/lib/pantau
ExecStart={exe} run --config /etc/pantau/pantau.yml
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=5s
# Exit 2 is a config error: restarting every 5 s would only fill the journal.
RestartPreventExitStatus=2
StateDirectory=pantau
StateDirectoryMode=0750
# Raw ICMP sockets for the pinger without running as root.
AmbientCapabilities=CAP_NET_RAW
CapabilityBoundingSet=CAP_NET_RAW
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ReadWritePaths=/var/lib/pantau
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK
RestrictSUIDSGID=yes
LockPersonality=yes
# No MemoryDenyWriteExecute: Chromium's JIT (the monthly PDF) needs writable+executable pages.
# The agent needs ~60 MiB; printing the monthly PDF with Chromium peaks at several hundred.
MemoryHigh=768M
MemoryMax=1G
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
"""


class InstallError(Exception):
    """Install cannot go on; the message says why in one line."""


def unit_text(exe: str, user: str = USER) -> str:
    return UNIT_TEXT.format(header=UNIT_HEADER, version=__version__, exe=exe, user=user)


def example_config() -> str:
    return resources.files("agent.config").joinpath("pantau.example.yml").read_text("utf-8")


@dataclass
class Report:
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return ([f"  {c}" for c in self.changed] + [f"  unchanged: {u}" for u in self.unchanged]
                + [f"  note: {n}" for n in self.notes])


@dataclass
class Target:
    root: Path
    user: str = USER

    def path(self, absolute: str) -> Path:
        return self.root / absolute.lstrip("/")

    @property
    def is_live(self) -> bool:
        """Installing into this machine's own /, where systemd and useradd act for real."""
        return self.root.resolve() == Path("/")

    def ids(self) -> tuple[int, int] | None:
        if self.is_live:
            try:
                pw = pwd.getpwnam(self.user)
                return pw.pw_uid, grp.getgrnam(self.user).gr_gid
            except KeyError:
                return None
        uid = _lookup(self.path("/etc/passwd"), self.user)
        gid = _lookup(self.path("/etc/group"), self.user)
        return (uid, gid) if uid is not None and gid is not None else None


def _lookup(db: Path, name: str) -> int | None:
    try:
        for line in db.read_text().splitlines():
            parts = line.split(":")
            if len(parts) > 2 and parts[0] == name:
                return int(parts[2])
    except (OSError, ValueError):
        return None
    return None


def _group_exists(t: Target) -> bool:
    if t.is_live:
        try:
            grp.getgrnam(t.user)
            return True
        except KeyError:
            return False
    return _lookup(t.path("/etc/group"), t.user) is not None


def _prefix_args(t: Target) -> list[str]:
    return [] if t.is_live else ["--prefix", str(t.root)]


def ensure_user(t: Target, r: Report) -> tuple[int, int]:
    ids = t.ids()
    if ids is not None:
        r.unchanged.append(f"user {t.user}")
        return ids
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    cmd = [useradd, *_prefix_args(t), "--system", "--user-group", "--no-create-home",
           "--home-dir", STATE_DIR, "--shell", "/usr/sbin/nologin",
           "--comment", "pantau monitoring agent", t.user]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except OSError as e:
        raise InstallError(f"cannot run useradd: {e.strerror}") from None
    if p.returncode != 0:
        raise InstallError(f"useradd {t.user} failed: {p.stderr.strip()}")
    ids = t.ids()
    if ids is None:
        raise InstallError(f"useradd ran but user {t.user} is not there")
    r.changed.append(f"created user {t.user} (uid {ids[0]})")
    return ids


def _ensure_mode_owner(path: Path, mode: int, uid: int, gid: int) -> bool:
    st = path.lstat()
    changed = False
    if (st.st_mode & 0o7777) != mode:
        os.chmod(path, mode)
        changed = True
    if (st.st_uid, st.st_gid) != (uid, gid):
        os.chown(path, uid, gid)
        changed = True
    return changed


def ensure_dir(path: Path, mode: int, uid: int, gid: int, r: Report, shown: str) -> None:
    if not path.is_dir():
        path.mkdir(parents=True, mode=mode)
        _ensure_mode_owner(path, mode, uid, gid)
        r.changed.append(f"created {shown}/ ({mode:o})")
    elif _ensure_mode_owner(path, mode, uid, gid):
        r.changed.append(f"fixed owner/mode of {shown}/ ({mode:o})")
    else:
        r.unchanged.append(f"{shown}/")


def ensure_file(path: Path, text: str, mode: int, uid: int, gid: int, r: Report, shown: str,
                *, replace: bool) -> bool:
    """Write when absent (or, with replace, when different); True when the content changed."""
    if path.exists() and not replace:
        if _ensure_mode_owner(path, mode, uid, gid):
            r.changed.append(f"fixed owner/mode of {shown} ({mode:o}); kept its content")
        else:
            r.unchanged.append(f"{shown} (yours; never overwritten)")
        return False
    if path.exists() and path.read_text(errors="replace") == text:
        if _ensure_mode_owner(path, mode, uid, gid):
            r.changed.append(f"fixed owner/mode of {shown} ({mode:o})")
        else:
            r.unchanged.append(shown)
        return False
    existed = path.exists()
    tmp = path.with_name(f".{path.name}.new")
    tmp.write_text(text, encoding="utf-8")
    os.chmod(tmp, mode)
    os.chown(tmp, uid, gid)
    os.replace(tmp, path)
    r.changed.append(f"{'updated' if existed else 'created'} {shown} ({mode:o})")
    return True


def install(root: Path, exe: str, *, start: bool = True) -> Report:
    if os.geteuid() != 0:
        raise InstallError("pantau install must run as root (it creates a user and files "
                           "under /etc)")
    t = Target(Path(root))
    r = Report()
    if not t.is_live:
        for name in ("passwd", "group", "shadow", "gshadow"):
            db = t.path(f"/etc/{name}")
            if not db.exists():
                db.parent.mkdir(parents=True, exist_ok=True)
                db.touch(mode=0o640 if "shadow" in name else 0o644)
    uid, gid = ensure_user(t, r)
    ensure_dir(t.path(CONFIG_DIR), 0o750, 0, gid, r, CONFIG_DIR)
    ensure_file(t.path(CONFIG), example_config(), 0o640, 0, gid, r, CONFIG, replace=False)
    ensure_file(t.path(ENV_FILE), ENV_TEXT, 0o600, 0, 0, r, ENV_FILE, replace=False)
    ensure_dir(t.path(STATE_DIR), 0o750, uid, gid, r, STATE_DIR)
    t.path(UNIT).parent.mkdir(parents=True, exist_ok=True)
    unit_changed = ensure_file(t.path(UNIT), unit_text(exe, t.user), 0o644, 0, 0, r, UNIT,
                               replace=True)
    if _unreachable(exe):
        r.notes.append(f"{exe} is not reachable by user {t.user} (a parent directory is "
                       "closed to others): install pantau in /opt/pantau")
    if t.is_live:
        _systemd(unit_changed, start, r)
    else:
        r.notes.append(f"installed under {t.root}: systemd left alone")
    return r


def _unreachable(exe: str) -> bool:
    p = Path(exe).parent
    while p != p.parent:
        with contextlib.suppress(OSError):
            if not p.stat().st_mode & 0o001:
                return True
        p = p.parent
    return False


def systemd_running() -> bool:
    return Path("/run/systemd/system").is_dir() and shutil.which("systemctl") is not None


def _systemctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["systemctl", *args], capture_output=True, text=True, timeout=120)


def _systemd(unit_changed: bool, start: bool, r: Report) -> None:
    if not systemd_running():
        r.notes.append("systemd is not running here: start the agent with "
                       "`pantau run --config /etc/pantau/pantau.yml`")
        return
    if unit_changed:
        _systemctl("daemon-reload")
    if _systemctl("is-enabled", "pantau").returncode != 0:
        p = _systemctl("enable", "pantau")
        r.changed.append("enabled pantau.service" if p.returncode == 0
                         else f"could not enable pantau.service: {p.stderr.strip()}")
    if not start:
        return
    active = _systemctl("is-active", "pantau").returncode == 0
    if active and not unit_changed:
        r.unchanged.append("pantau.service running")
        return
    p = _systemctl("restart" if active else "start", "pantau")
    if p.returncode == 0:
        r.changed.append(f"{'restarted' if active else 'started'} pantau.service")
    else:
        r.notes.append("pantau.service did not start: see `journalctl -u pantau -n 50`")


def uninstall(root: Path, *, purge: bool = False) -> Report:
    if os.geteuid() != 0:
        raise InstallError("pantau uninstall must run as root")
    t = Target(Path(root))
    r = Report()
    unit = t.path(UNIT)
    if t.is_live and systemd_running():
        _systemctl("disable", "--now", "pantau")
        r.changed.append("stopped and disabled pantau.service")
    if unit.exists():
        unit.unlink()
        r.changed.append(f"removed {UNIT}")
        if t.is_live and systemd_running():
            _systemctl("daemon-reload")
    if not purge:
        r.notes.append(f"kept {CONFIG_DIR}, {STATE_DIR} (the outage history) and user "
                       f"{t.user}; --purge removes them")
        return r
    for d in (CONFIG_DIR, STATE_DIR):
        if t.path(d).exists():
            shutil.rmtree(t.path(d))
            r.changed.append(f"removed {d}/")
    if t.ids() is not None:
        userdel = shutil.which("userdel") or "/usr/sbin/userdel"
        p = subprocess.run([userdel, *_prefix_args(t), t.user], capture_output=True,
                           text=True, timeout=60)
        if p.returncode == 0:
            r.changed.append(f"removed user {t.user}")
        else:
            r.notes.append(f"userdel {t.user} failed: {p.stderr.strip()}")
    if _group_exists(t):
        # userdel drops the user's own group only where login.defs says USERGROUPS_ENAB
        # (not under --prefix without one): the group install made goes too.
        groupdel = shutil.which("groupdel") or "/usr/sbin/groupdel"
        p = subprocess.run([groupdel, *_prefix_args(t), t.user], capture_output=True,
                           text=True, timeout=60)
        if p.returncode != 0:
            r.notes.append(f"groupdel {t.user} failed: {p.stderr.strip()}")
    return r
