"""`pantau snmp walk` and `pantau snmp test`: for the admin setting up a new switch."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer

from agent.cli.common import ConfigOpt, fail, load, tr

app = typer.Typer(help="Talk to a configured SNMP device.", no_args_is_help=True)


def _device(config: Path | None, name: str) -> tuple[Any, Any]:
    cfg = load(config)
    devices = {d.name: d for d in cfg.snmp.devices}
    if name not in devices:
        raise fail(tr("snmp_unknown_device", name=name,
                      known=", ".join(devices) or tr("none")))
    return cfg.snmp, devices[name]


@app.command()
def walk(
    device: Annotated[str, typer.Argument(help="Device name from snmp.devices.")],
    oid: Annotated[str, typer.Argument(help="Subtree to walk.")] = "1.3.6.1.2.1.1",
    config: ConfigOpt = None,
    timeout: Annotated[float, typer.Option(help="Seconds for the whole walk.")] = 30.0,
) -> None:
    """Walk a subtree of a device (bounded in time) and print OID = value lines."""
    from collectors.base import Deadline
    from collectors.snmp import SnmpCollector, SnmpError, convert, parse_oid

    section, dev = _device(config, device)
    try:
        root = parse_oid(oid)
    except ValueError as e:
        raise fail(str(e)) from None
    coll = SnmpCollector(dev, section.auths[dev.auth], section.profiles)

    async def run() -> dict[Any, Any]:
        target = await coll._get_target()
        return await target.walk(root, Deadline(timeout))

    try:
        rows = asyncio.run(run())
    except SnmpError as e:
        raise fail(f"{device}: {e}", 1) from None
    for idx, value in sorted(rows.items()):
        typer.echo(f"{'.'.join(map(str, (*root, *idx)))} = {convert(value)}")
    typer.echo(tr("snmp_values", n=len(rows)), err=True)


@app.command()
def test(
    device: Annotated[str, typer.Argument(help="Device name from snmp.devices.")],
    config: ConfigOpt = None,
) -> None:
    """Poll a device once with its profiles and say what works. Exit 1 if it does not."""
    from collectors.base import Context, Deadline

    section, dev = _device(config, device)
    job = next(j for j in section.jobs("cli") if j.name == device)
    coll = job.factory()  # with the device's snmp.yml modules, as the scheduler polls it
    obs = asyncio.run(coll.collect(Context(Deadline(job.timeout), "cli", device)))
    if not obs.success:
        raise fail(f"{device} ({dev.address}): {obs.reason}", 1)
    ifaces = {dict(s.labels).get("ifindex") for s in obs.samples if s.name == "pantau_if_oper_up"}
    info = next((dict(s.labels) for s in obs.samples if s.name == "pantau_snmp_system_info"), {})
    typer.echo(tr("snmp_ok", device=device, address=dev.address,
                  ms=f"{obs.duration * 1000:.0f}", values=obs.details.get("varbinds", 0),
                  ifaces=len(ifaces)))
    if info:
        typer.echo(f"  sysName {info.get('sysname')!r}, sysObjectID {info.get('sysobjectid')}")
        typer.echo(f"  {info.get('sysdescr')}")
