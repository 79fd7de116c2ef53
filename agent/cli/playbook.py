"""`pantau playbook list|show|run`: the only way a person starts a playbook.

Everything is validated before the first connection; a refused parameter exits 2 with one
line and is still written to the audit log. `run` streams each host's output live, shows a
progress bar across hosts and ends with a per-host summary.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated

import typer

from agent.cli.common import ConfigOpt, fail, tr
from agent.cli.ssh import load_section
from agent.cli.tables import print_table

app = typer.Typer(help="Playbooks: list, show and run diagnose/remediate/deploy playbooks.",
                  no_args_is_help=True)


def _dirs(config: Path | None) -> list[Path]:
    section, _ = load_section(config)
    return list(section.playbook_dirs)


@app.command("list")
def list_playbooks(config: ConfigOpt = None) -> None:
    """Shipped playbooks and those in ssh.playbook_dirs."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from playbooks.schema import PlaybookError, discover, load_playbook

    table = Table(box=None, show_header=False, pad_edge=False)
    for _ in range(3):
        table.add_column()
    for name, path in sorted(discover(_dirs(config)).items()):
        try:
            pb = load_playbook(path)
            table.add_row(name, pb.targets, Text(pb.description.strip().splitlines()[0]))
        except PlaybookError as e:
            table.add_row(name, "INVALID", Text(str(e)))
    print_table(Console(highlight=False), table)


@app.command()
def show(name: Annotated[str, typer.Argument(help="Playbook name.")],
         config: ConfigOpt = None) -> None:
    """Description, typed parameters and steps of one playbook."""
    from playbooks.schema import PlaybookError, find_playbook

    try:
        pb = find_playbook(name, _dirs(config))
    except PlaybookError as e:
        raise fail(str(e)) from None
    typer.echo(f"{pb.name} ({pb.targets})  {pb.source}\n\n{pb.description.strip()}\n")
    typer.echo(tr("pb_parameters"))
    for pname, p in pb.parameters.items():
        req = tr("pb_required") if p.is_required else tr("pb_default", value=p.default)
        extra = tr("pb_one_of", choices=", ".join(p.choices)) if p.choices else ""
        typer.echo(f"  {pname:16} {p.type:9} {req}{extra}  {p.description}")
    typer.echo(tr("pb_steps"))
    for i, s in enumerate(pb.steps, 1):
        action = s.run or (f"upload {s.upload.src} -> {s.upload.dest}" if s.upload else
                           f"write {s.write.dest}" if s.write else "")
        typer.echo("  " + tr("pb_step", i=i, name=s.name, timeout=f"{s.timeout:g}",
                             on_failure=s.on_failure))
        typer.echo(f"     {action.strip()[:200]}")


def _parse_params(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise fail(tr("bad_param", item=item))
        out[key.strip()] = value
    return out


@app.command()
def run(
    name: Annotated[str, typer.Argument(help="Playbook name.")],
    host: Annotated[list[str], typer.Option("--host", "-H", help="Target: a name from "
                    "ssh.hosts, or HOST[:PORT] with --credential. Repeatable.")] = [],  # noqa: B006
    group: Annotated[list[str], typer.Option(help="Every ssh.hosts entry in this group.")]
    = [],  # noqa: B006
    param: Annotated[list[str], typer.Option("--param", "-p", help="NAME=VALUE, repeatable.")]
    = [],  # noqa: B006
    credential: Annotated[str | None, typer.Option(help="Credential for address targets.")]
    = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the exact commands per "
                       "host; connect to nothing.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Run a playbook on hosts, with live output and a per-host summary (exit 1 if any fails)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
    from rich.table import Table
    from rich.text import Text

    from playbooks.audit import JsonlAuditSink
    from playbooks.runner import PlaybookRunner, plan, resolve_targets, who_am_i
    from playbooks.schema import PlaybookError, find_playbook

    section, state_dir = load_section(config)
    audit = JsonlAuditSink(section.audit_log_path(state_dir))
    runner_known_hosts = section.known_hosts_path(state_dir)
    raw = _parse_params(param)
    who = who_am_i()
    try:
        pb = find_playbook(name, list(section.playbook_dirs))
        # an address given with --credential is taken to be the kind the playbook is for
        kind = pb.targets if pb.targets != "any" else "linux"
        targets = resolve_targets(section, list(host), list(group), credential, kind)
        pl = plan(pb, raw, targets)
    except (PlaybookError, ValueError) as e:
        runner = PlaybookRunner(section, audit, known_hosts=runner_known_hosts)
        try:
            runner.record_rejected(name, raw, list(host) + list(group), str(e), who=who,
                                   trigger="cli")
        except OSError as oe:
            typer.echo(tr("audit_not_written", detail=oe.strerror), err=True)
        raise fail(str(e)) from None

    console = Console(highlight=False, soft_wrap=True)
    lock = threading.Lock()
    partial: dict[tuple[str, str], str] = {}
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                        MofNCompleteColumn(), TextColumn("{task.fields[current]}"),
                        console=console, transient=False)
    task = progress.add_task(f"{pb.name}", total=len(targets), current="")

    def emit(line: str) -> None:
        progress.console.print(line, markup=False, highlight=False)

    def on_event(event: str, target: str, step: str, text: str) -> None:
        with lock:
            if event == "host_start":
                progress.update(task, current=target)
                emit(f"== {target} ({text})")
            elif event == "step_start":
                emit(f"[{target}] --> {step}: {text}" if dry_run else f"[{target}] --> {step}")
            elif event.startswith("output:"):
                key = (target, event)
                buf = partial.get(key, "") + text
                *lines, rest = buf.split("\n")
                partial[key] = rest
                for ln in lines:
                    emit(f"[{target}] {ln}")
            elif event == "step_end":
                for key in [k for k in partial if k[0] == target]:
                    if partial[key]:
                        emit(f"[{target}] {partial[key]}")
                    partial[key] = ""
                if text != "ok":
                    emit(f"[{target}] !! {step}: {text}")
            elif event == "host_end":
                progress.advance(task)
                emit(f"== {target}: {text}")

    runner = PlaybookRunner(section, audit, known_hosts=runner_known_hosts, on_event=on_event)
    with progress:
        results = runner.run(pl, who=who, trigger="cli", dry_run=dry_run)
        progress.update(task, current="done")
    table = Table(title=f"{pb.name}: summary")
    for col in ("host", "address", "result", "steps ok", "seconds", "error"):
        table.add_column(col)
    for r in results:
        ok_steps = sum(1 for s in r.steps if s.ok)
        table.add_row(r.target, r.address, r.result, f"{ok_steps}/{len(pl.steps[r.target])}",
                      f"{r.duration:.1f}", Text(r.error))  # the whole error, not markup
    print_table(console, table)
    if not all(r.ok for r in results):
        raise typer.Exit(1)
