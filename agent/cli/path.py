"""`pantau path TARGET`: every hop to a target with its loss and latency, MTR-style — a live
table for the admin, `--report` for a text to paste to the ISP, `--json` for scripts.

Sends `--count` probes per hop, one round every `--interval` (as mtr does), in batches of
rounds that each last about two seconds (one `type: path` collector run per batch, so a lost
probe costs one --probe-timeout per batch, not per round); the table is refreshed after every
batch and the batches are added up. Exit 0 when the target answered, 1 when it did
not, 2 on bad input.
"""

from __future__ import annotations

import asyncio
import json
import socket
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from agent.cli.common import cli_lang, fail, tr


@dataclass
class HopTotals:
    hop: int
    address: str = "*"
    addresses: list[str] = field(default_factory=list)
    sent: int = 0
    rtts_ms: list[float] = field(default_factory=list)
    last_ms: float | None = None
    silent: bool = False
    name: str = ""  # reverse DNS (--dns)

    @property
    def shown(self) -> str:
        """The address as shown: `name (address)` when the hop has a reverse DNS name."""
        return f"{self.name} ({self.address})" if self.name else self.address

    @property
    def loss(self) -> float:
        return 1 - len(self.rtts_ms) / self.sent if self.sent else 0.0

    def as_dict(self) -> dict[str, Any]:
        r = self.rtts_ms
        return {"hop": self.hop, "address": self.address, "name": self.name,
                "addresses": self.addresses,
                "sent": self.sent, "received": len(r), "loss": round(self.loss, 4),
                "silent": self.silent, "last_ms": self.last_ms,
                "avg_ms": round(sum(r) / len(r), 3) if r else None,
                "best_ms": min(r) if r else None, "worst_ms": max(r) if r else None,
                "stdev_ms": round(statistics.pstdev(r), 3) if r else None}


def _add(totals: dict[int, HopTotals], rows: list[dict[str, Any]]) -> None:
    for row in rows:
        t = totals.setdefault(row["hop"], HopTotals(row["hop"]))
        t.sent += row["sent"]
        t.rtts_ms += row.get("rtts_ms", [])
        t.address = row["address"] if row["address"] != "*" or t.address == "*" else t.address
        t.addresses = sorted(set(t.addresses) | set(row["addresses"]))
        t.silent = row["silent"] and not t.rtts_ms
        if row.get("last_ms") is not None:
            t.last_ms = row["last_ms"]
        if row.get("name") and row["address"] == t.address:
            t.name = row["name"]


def _fmt(v: float | None) -> str:
    return "" if v is None else f"{v:.1f}"


def report_text(target: str, started: float, hops: list[HopTotals], reason: str) -> str:
    """The mtr --report layout, silent hops as ???, ECMP addresses below their hop."""
    host = socket.gethostname()[:24]
    lines = [f"Start: {time.strftime('%Y-%m-%dT%H:%M:%S%z', time.localtime(started))}",
             f"HOST: {host:<26}Loss%   Snt   Last   Avg  Best  Wrst StDev"]
    for h in hops:
        d = h.as_dict()
        name = "???" if h.silent or h.address == "*" else h.shown
        lines.append(f"{h.hop:>3}.|-- {name:<26}{h.loss * 100:>5.1f}%{h.sent:>6}"
                     f"{_fmt(d['last_ms']):>7}{_fmt(d['avg_ms']):>6}{_fmt(d['best_ms']):>6}"
                     f"{_fmt(d['worst_ms']):>6}{_fmt(d['stdev_ms']):>6}")
        lines += [f"    |   {a}" for a in h.addresses if a != h.address]
    from agent.i18n import reason_text

    lines.append(tr("path_failed", reason=reason_text(reason, cli_lang())) if reason
                 else tr("path_answered", target=target))
    return "\n".join(lines) + "\n"


def _table(target: str, hops: list[HopTotals], reason: str) -> Any:
    from rich.table import Table

    table = Table(title=f"pantau path {target}" + (f" — {reason}" if reason else ""))
    for col in ("hop", "address", "loss %", "sent", "last", "avg", "best", "worst", "stdev"):
        table.add_column(col, justify="left" if col == "address" else "right")
    for h in hops:
        d = h.as_dict()
        name = "??? (silent)" if h.silent else "\n".join(
            [h.shown, *[a for a in h.addresses if a != h.address]])
        style = "red" if h.loss > 0 and not h.silent else None
        table.add_row(str(h.hop), name, f"{h.loss * 100:.1f}", str(h.sent), _fmt(d["last_ms"]),
                      _fmt(d["avg_ms"]), _fmt(d["best_ms"]), _fmt(d["worst_ms"]),
                      _fmt(d["stdev_ms"]), style=style)
    return table


def path(
    target: Annotated[str, typer.Argument(help="Host name or IP address.")],
    count: Annotated[int, typer.Option("--count", "-c", help="Cycles: probes per hop.")] = 10,
    interval: Annotated[str, typer.Option(help="Gap between cycles, e.g. 1s or 200ms.")]
    = "1s",
    max_hops: Annotated[int, typer.Option(help="Longest path searched for.")] = 30,
    probe_timeout: Annotated[str, typer.Option(help="How long one probe waits.")] = "1s",
    report: Annotated[bool, typer.Option("--report", help="Print the mtr-style text report "
                                         "at the end (for the ISP) instead of a live table.")]
    = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON at the end.")] = False,
    ip_version: Annotated[str, typer.Option(help="auto, 4 or 6.")] = "auto",
    dns: Annotated[bool, typer.Option("--dns", help="Show each hop's reverse DNS name "
                                      "(asked of the system resolver).")] = False,
    protocol: Annotated[str, typer.Option(help="icmp, or udp / tcp where the target "
                                          "filters ping (no privileges needed).")] = "icmp",
    port: Annotated[int | None, typer.Option(help="udp: first port (33434); tcp: the port "
                                             "SYNs go to (80).")] = None,
) -> None:
    """Every hop to TARGET with loss and latency, like mtr."""
    from collectors.config import parse_duration
    from collectors.probe.icmp import resolve
    from collectors.probe.path import PathCollector, PathConfig

    try:
        gap = parse_duration(interval)
        wait = parse_duration(probe_timeout)
    except ValueError as e:
        raise fail(str(e)) from None
    if not 1 <= count <= 10000:
        raise fail(tr("count_range"))
    batch = max(1, min(10, count, int(2 / gap)))
    run_for = (batch - 1) * gap + wait
    try:
        cfg = PathConfig.model_validate({
            "name": "cli", "type": "path", "target": target, "max_hops": max_hops,
            "probes": batch, "packet_interval": gap, "probe_timeout": wait,
            "timeout": run_for + 1, "interval": run_for + 2, "ip_version": ip_version,
            "reverse_dns": dns, "protocol": protocol,
            **({"port": port} if port is not None else {})})
    except ValidationError as e:
        errs = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or 'target'}: "
                         f"{err['msg'].removeprefix('Value error, ')}" for err in e.errors())
        raise fail(errs) from None
    try:
        asyncio.run(resolve(target, ip_version, 5.0))
    except LookupError as e:
        raise fail(str(e)) from None
    live = not report and not as_json and sys.stdout.isatty()
    started = time.time()
    totals: dict[int, HopTotals] = {}
    state = {"reason": "", "success": False}

    async def run() -> None:
        from collectors.base import Context, Deadline

        collector = PathCollector(cfg)
        display: Any = None
        if live:
            from rich.live import Live

            display = Live(_table(target, [], ""), auto_refresh=False)
            display.start()
        try:
            next_at = time.monotonic()
            left = count
            while left > 0:
                collector.config.probes = min(batch, left)
                left -= collector.config.probes
                obs = await collector.collect(Context(Deadline(cfg.timeout), "cli", "path"))
                if "hops" not in obs.details:
                    state.update(reason=obs.reason, success=False)
                    return
                _add(totals, obs.details["hops"])
                # drop hops beyond a target that turned out nearer
                for hop in [h for h in totals if h > len(obs.details["hops"])]:
                    del totals[hop]
                state.update(reason=obs.reason, success=obs.success)
                if display is not None:
                    display.update(_table(target, _sorted(), obs.reason), refresh=True)
                next_at += gap * collector.config.probes
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        finally:
            if display is not None:
                display.stop()
            await collector.aclose()

    def _sorted() -> list[HopTotals]:
        return [totals[k] for k in sorted(totals)]

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    hops = _sorted()
    reason = str(state["reason"])
    if not hops and reason:
        from agent.i18n import reason_text

        raise fail(reason_text(reason, cli_lang()), 1)
    if as_json:
        typer.echo(json.dumps({"target": target, "success": state["success"],
                               "reason": reason, "hops": [h.as_dict() for h in hops]},
                              indent=2))
    elif report:
        typer.echo(report_text(target, started, hops, reason), nl=False)
    elif not live:
        from rich.console import Console

        Console().print(_table(target, hops, reason))
    raise typer.Exit(0 if state["success"] else 1)
