"""How the agent logs: one time zone (the configured one, with its offset), levels that mean
something, third-party chatter kept out, text for people or JSON for journald/Loki, and the
start-up summary that says what this agent watches and where it keeps its state.

Levels: WARNING is something an admin should look at (a check went down, a setting that is
off); INFO is the story of the agent (start, reload, recoveries); DEBUG is every failed run
and the libraries' own lines. httpx logs every request at INFO, paramiko and pysnmp are as
talkative: below debug they are held at WARNING.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from agent.config import AgentConfig

CHATTY = ("httpx", "httpcore", "paramiko", "pysnmp", "asyncio", "urllib3")
FORMATS = ("text", "json")
LEVELS = ("debug", "info", "warning", "error")
MAX_CHECK_LINES = 200  # beyond that the summary counts the rest instead of listing them


def _stamp(created: float, zone: ZoneInfo | None) -> str:
    dt = datetime.fromtimestamp(created, zone).astimezone(zone)
    return dt.isoformat(timespec="milliseconds")  # 2026-12-01T05:47:40.123+07:00


class ZoneFormatter(logging.Formatter):
    """`2026-12-01T05:47:40.123+07:00 WARNING agent.x: message`."""

    def __init__(self, zone: ZoneInfo | None) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.zone = zone

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return _stamp(record.created, self.zone)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts (with offset), level, logger, msg (+ exc)."""

    def __init__(self, zone: ZoneInfo | None) -> None:
        super().__init__()
        self.zone = zone

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {"ts": _stamp(record.created, self.zone),
                               "level": record.levelname.lower(), "logger": record.name,
                               "msg": record.getMessage()}
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def setup(level: str = "info", fmt: str = "text", zone: ZoneInfo | None = None) -> None:
    """Configure the root logger once for the process (replaces earlier handlers)."""
    lvl = getattr(logging, level.upper(), logging.INFO)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(zone) if fmt == "json" else ZoneFormatter(zone))
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(lvl)
    for name in CHATTY:
        logging.getLogger(name).setLevel(logging.DEBUG if lvl <= logging.DEBUG
                                         else max(lvl, logging.WARNING))


def _target(check: Any) -> str:
    for attr in ("target", "address", "url", "host"):
        value = getattr(check, attr, None)
        if value:
            text = str(value)
            return _safe_url(text) if "://" in text else text
    return ""


def _safe_url(url: str) -> str:
    """Scheme, host and path only: a query string may carry a token."""
    try:
        u = urlsplit(url)
        host = u.hostname or ""
        port = f":{u.port}" if u.port else ""
        return f"{u.scheme}://{host}{port}{u.path}"
    except ValueError:
        return "(unparsable URL)"


def summary(cfg: AgentConfig, source: Path | None, listen: str) -> list[str]:
    """The start-up summary, one fact per line, no secrets."""
    lines = [f"config: {source if source is not None else 'embedded default'}",
             f"site: {cfg.site}",
             f"state dir: {cfg.state_dir}",
             f"listen: {listen}"]
    host = cfg.host
    every = f"every {host.interval:g}s" if host.enabled else "off"
    lines.append(f"host collector: {every}")
    for i, c in enumerate(cfg.checks):
        if i == MAX_CHECK_LINES:
            lines.append(f"... and {len(cfg.checks) - i} more checks")
            break
        deps = f" (depends on {', '.join(c.depends_on)})" if c.depends_on else ""
        lines.append(f"check {c.name}: {c.type} {_target(c)} every {c.interval:g}s{deps}")
    for d in cfg.snmp.devices:
        lines.append(f"snmp device {d.name}: {d.address} every {d.interval:g}s")
    if not cfg.checks and not cfg.snmp.devices:
        lines.append("checks: none")
    receivers = [f"{r.name} ({r.type})" for r in cfg.alerts.receivers]
    alerting = "on" if cfg.alerts.enabled else "off"
    lines.append(f"alerts: {alerting}; receivers: {', '.join(receivers) or 'none'}")
    rw = cfg.remote_write
    lines.append(f"remote write: {_safe_url(rw.url) if rw is not None else 'off'}")
    lines.append(f"time zone: {cfg.alerts.timezone}")
    return lines


def warnings(cfg: AgentConfig, source: Path | None, icmp_mode: str) -> list[str]:
    """What is off and why, for the admin reading the start of the log."""
    out = []
    system = Path("/var/lib/pantau")
    if source is None and Path(cfg.state_dir) != system:
        out.append(f"{system} is not writable by this user: state (outage history, outbox) "
                   f"goes to {cfg.state_dir} instead; run `pantau install` as root for the "
                   "service layout")
    if not _writable(Path(cfg.state_dir)):
        out.append(f"state dir {cfg.state_dir} is not writable: no outage history, no "
                   "notifications outbox")
    if icmp_mode == "none" and any(c.type in ("icmp", "path") for c in cfg.checks):
        out.append("no ICMP socket (neither CAP_NET_RAW nor net.ipv4.ping_group_range for "
                   "this group): icmp and path checks will fail")
    return out


def _writable(path: Path) -> bool:
    import os

    return path.is_dir() and os.access(path, os.W_OK | os.X_OK)
