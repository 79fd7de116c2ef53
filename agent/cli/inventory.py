"""`pantau inventory OFFICES.yml`: the province's office list -> Prometheus file_sd targets.

The central Prometheus scrapes the offices it can reach (file_sd, reloaded by Prometheus on
every change of the file); offices behind NAT push with remote_write instead and are listed only
so the summary shows them. Each target carries `site`, so `up{site=...}` names the office.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agent.cli.common import EXIT_BAD_INPUT, tr
from collectors.common.hostport import join_host_port, split_host_port

_LABEL_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_RESERVED = frozenset({"site", "instance", "job"})
DEFAULT_PORT = 9877


class Office(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
    # HOST or HOST:PORT of the office's pantau; empty for offices that only push.
    address: str | None = None
    mode: Literal["scrape", "push"] | None = None
    labels: dict[str, str] = Field(default_factory=dict)

    @field_validator("address")
    @classmethod
    def _address(cls, v: str | None) -> str | None:
        if v is None:
            return v
        host, port = split_host_port(v, DEFAULT_PORT)
        if any(c in "/@?#" for c in host):
            raise ValueError(f"invalid address {v!r}: use HOST or HOST:PORT")
        return join_host_port(host, port)

    @field_validator("labels")
    @classmethod
    def _labels(cls, v: dict[str, str]) -> dict[str, str]:
        for k in v:
            if not _LABEL_RE.match(k) or k.startswith("__"):
                raise ValueError(f"invalid label name {k!r}")
            if k in _RESERVED:
                raise ValueError(f"label {k!r} is set by pantau/Prometheus")
        return v

    def scraped(self) -> bool:
        return (self.mode or ("scrape" if self.address else "push")) == "scrape"


def load_offices(text: str) -> list[Office]:
    """Parse the office list; ValueError with one line per problem."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise ValueError(f"{where}invalid YAML: {getattr(e, 'problem', None) or e}") from None
    if isinstance(data, dict) and set(data) == {"offices"}:
        data = data["offices"]
    if not isinstance(data, list) or not data:
        raise ValueError("expected a non-empty list of offices (or a mapping with `offices:`)")
    offices: list[Office] = []
    problems: list[str] = []
    for i, item in enumerate(data):
        try:
            offices.append(Office.model_validate(item))
        except ValidationError as e:
            for err in e.errors():
                loc = ".".join(str(p) for p in err["loc"])
                msg = err["msg"].removeprefix("Value error, ")
                problems.append(f"offices[{i}]{'.' + loc if loc else ''}: {msg}")
    seen: dict[str, int] = {}
    for i, o in enumerate(offices):
        if o.site in seen:
            problems.append(f"offices[{i}].site: duplicate site {o.site!r}")
        seen[o.site] = i
        if o.mode == "scrape" and not o.address:
            problems.append(f"offices[{i}].address: mode scrape needs an address")
    if problems:
        raise ValueError("\n".join(problems))
    return offices


def file_sd(offices: list[Office]) -> list[dict[str, Any]]:
    return [
        {"targets": [o.address], "labels": {**dict(sorted(o.labels.items())), "site": o.site}}
        for o in offices if o.scraped() and o.address
    ]


def _write_atomic(path: Path, text: str) -> None:
    """Prometheus re-reads file_sd on change: never let it see half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def inventory(
    offices_file: Annotated[Path, typer.Argument(help="YAML list of offices: site, address "
                                                 "(HOST[:PORT], omit for push-only), labels.")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the file_sd JSON here "
                                             "(atomically) instead of stdout.")] = None,
) -> None:
    """Turn a YAML list of offices into Prometheus file_sd targets with site labels."""
    try:
        text = offices_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        typer.echo(tr("error", message=tr("inv_cannot_read", file=offices_file, detail=e)),
                   err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    try:
        offices = load_offices(text)
    except ValueError as e:
        for line in str(e).splitlines():
            typer.echo(tr("error", message=f"{offices_file}: {line}"), err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    targets = file_sd(offices)
    body = json.dumps(targets, indent=2, ensure_ascii=False) + "\n"
    if out is None:
        typer.echo(body, nl=False)
    else:
        try:
            _write_atomic(out, body)
        except OSError as e:
            typer.echo(tr("error", message=tr("cannot_write", path=out, detail=e.strerror)),
                       err=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None
    push = len(offices) - len(targets)
    typer.echo(tr("inv_summary", scraped=len(targets), push=push), err=True)
