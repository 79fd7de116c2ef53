"""`pantau probe TYPE TARGET`: run one check once and show the result, for the admin on the
phone with the ISP. Exit 0 when the probe succeeded, 1 when it failed, 2 on bad input."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from agent.cli.common import fail, tr


def _parse_opts(opts: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in opts:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--opt {item!r}: use key=value")
        try:
            import yaml

            out[key] = yaml.safe_load(value) if value else ""
        except Exception:
            out[key] = value
    return out


def probe(
    type_: Annotated[str, typer.Argument(metavar="TYPE", help="icmp, tcp, dns, http or ssh.")],
    target: Annotated[str, typer.Argument(help="Host, host:port, resolver or URL.")],
    timeout: Annotated[str, typer.Option(metavar="DURATION",
                                               help="Deadline of the run, e.g. 5s.")] = "10s",
    count: Annotated[int | None, typer.Option(metavar="N", help="icmp: echo requests.")] = None,
    opt: Annotated[list[str] | None, typer.Option(
        "--opt", metavar="KEY=VALUE",
        help="Type option as key=value (repeat), e.g. --opt query_name=oss.go.id")]
    = None,
    query: Annotated[str | None, typer.Option(
        "--query", metavar="NAME", help="dns: the name to look up (query_name).")] = None,
    insecure: Annotated[bool, typer.Option(
        "--insecure", help="http, tcp with TLS: do not judge the certificate "
        "(tls_config.insecure_skip_verify).")] = False,
    ca_file: Annotated[str | None, typer.Option(
        "--ca-file", metavar="FILE",
        help="http, tcp with TLS: CA bundle instead of the system's.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
    = False,
) -> None:
    """Run one check once and print every result."""
    from collectors import CHECK_TYPES, REGISTRY
    from collectors.base import Context, Deadline
    from collectors.config import parse_duration

    if type_ not in CHECK_TYPES:
        raise fail(tr("probe_unknown_type", type=type_, known=", ".join(sorted(CHECK_TYPES))))
    try:
        seconds = parse_duration(timeout)
        options = _parse_opts(opt or [])
    except ValueError as e:
        raise fail(str(e)) from None
    if count is not None:
        options["count"] = count
    if query is not None:
        options["query_name"] = query
    if insecure or ca_file:
        # The common options as flags; the model still says which types accept them.
        tls = dict(options.get("tls_config") or {})
        if insecure:
            tls["insecure_skip_verify"] = True
        if ca_file:
            tls["ca_file"] = ca_file
        options["tls_config"] = tls
    data = {**options, "name": "probe", "type": type_, "target": target, "timeout": seconds,
            "interval": seconds + 1}
    try:
        cfg = REGISTRY[type_].Config.model_validate(data)
    except ValidationError as e:
        errs = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: "
                         f"{err['msg'].removeprefix('Value error, ')}" for err in e.errors())
        raise fail(errs) from None
    collector = REGISTRY[type_](cfg)  # type: ignore[call-arg]

    async def run() -> Any:
        try:
            return await asyncio.wait_for(
                collector.collect(Context(Deadline(seconds), "cli", "probe")), seconds + 1)
        finally:
            await collector.aclose()

    try:
        obs = asyncio.run(run())
    except TimeoutError:
        raise fail(tr("probe_no_result", seconds=f"{seconds:g}"), 1) from None
    if as_json:
        typer.echo(json.dumps({
            "type": type_, "target": target, "success": obs.success, "reason": obs.reason,
            "duration_seconds": round(obs.duration, 6),
            "samples": [{"name": s.name, "labels": dict(s.labels), "value": s.value}
                        for s in obs.samples],
            "details": obs.details,
        }, indent=2, default=str))
    else:
        from rich.console import Console
        from rich.table import Table

        from agent.cli.tables import print_table

        console = Console()
        status = "[green]OK[/green]" if obs.success else "[red]FAILED[/red]"
        console.print(f"{type_} {target}: {status} in {obs.duration * 1000:.1f} ms"
                      + (f" — {obs.reason}" if obs.reason else ""))
        table = Table("metric", "labels", "value")
        for s in obs.samples:
            # ", ": a long label set wraps between labels, never inside one
            labels = ", ".join(f"{k}={v}" for k, v in s.labels if k not in ("type", "target"))
            table.add_row(s.name, labels, f"{s.value:g}")
        print_table(console, table)
    raise typer.Exit(0 if obs.success else 1)
