"""CLI polish: --help of every command reads without Python type tags, and the tables the CLI
prints never cut a word, whatever the terminal width."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import pytest
import typer.main
from rich.console import Console
from rich.table import Table
from typer.testing import CliRunner

from agent.cli import app
from agent.cli.tables import print_table
from tests.helpers.agent import run_cli
from tests.helpers.listener import TcpListener

# `<str>`, `<int>`, `<list[str]>`, `<bool>` (typer), TEXT/INTEGER/PATH... (click), `{target}`
TYPE_TAG = re.compile(r"<(?:str|int|float|bool|path|datetime|uuid|list\[[^\]]*\])>"
                      r"|\b(?:TEXT|INTEGER|FLOAT|BOOLEAN|PATH|FILENAME|DATETIME)\b"
                      r"|\{[a-z_]+\}")


def _commands(cmd: object, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], object]]:
    yield path, cmd
    for name, sub in sorted(getattr(cmd, "commands", {}).items()):
        yield from _commands(sub, (*path, name))


COMMANDS = [p for p, _ in _commands(typer.main.get_command(app))]


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "pantau")
def test_help_has_no_type_tags(path: tuple[str, ...]) -> None:
    r = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "120"})
    assert r.exit_code == 0, r.output
    # an argument called `text` (pantau incident note CHECK TEXT) is its name, not a tag
    names = {p.name.upper() for p in getattr(dict(_commands(typer.main.get_command(app)))[path],
                                             "params", []) if p.param_type_name == "argument"}
    # {site} and {check} are the dashboard URL's documented placeholders, not tags
    tags = [t for t in TYPE_TAG.findall(r.output)
            if t not in names and t not in ("{site}", "{check}")]
    assert not tags, f"pantau {' '.join(path)} --help shows {tags}:\n{r.output}"


def test_help_names_values_and_arguments() -> None:
    r = CliRunner().invoke(app, ["probe", "--help"], env={"COLUMNS": "120"})
    assert "Usage: pantau probe [OPTIONS] TYPE TARGET" in r.output
    assert re.search(r"--timeout\s+DURATION", r.output), r.output
    assert re.search(r"--ca-file\s+FILE", r.output), r.output
    assert re.search(r"--json\s+Print JSON", r.output), r.output  # a flag takes no value
    r = CliRunner().invoke(app, ["report", "--help"], env={"COLUMNS": "120"})
    assert re.search(r"--month\s+YYYY-MM", r.output), r.output
    assert re.search(r"--prometheus\s+URL", r.output), r.output


@pytest.mark.parametrize("path", [p for p, c in _commands(typer.main.get_command(app))
                                  if getattr(c, "commands", None)],
                         ids=lambda p: " ".join(p) or "pantau")
def test_command_list_rows_are_one_line_when_the_terminal_is_wide(path: tuple[str, ...]) -> None:
    """A command's summary flows as one sentence: on a wide terminal each row of the command
    list is a command name and its whole summary, no row continues the one before."""
    r = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "400"})
    panel = r.output.split("Commands")[1].split("╰")[0].splitlines()[1:]
    continued = [line for line in panel if re.match(r"│\s{3,}\S", line)]
    assert not continued, f"pantau {' '.join(path)}:\n" + "\n".join(continued)


LONG = ["probe_http_duration_seconds_of_a_very_long_metric_name", "kantor-dinas-kependudukan",
        "connection refused by 10.20.30.40:443 after the TLS handshake had started"]


@pytest.mark.parametrize("width", [30, 50, 80, 200])
def test_table_never_cuts_a_word(width: int) -> None:
    table = Table("metric", "check", "error")
    table.add_row(*LONG)
    table.add_row("up", "dns", "ok")
    buf = io.StringIO()
    print_table(Console(file=buf, width=width), table)
    out = buf.getvalue()
    words = {w for cell in LONG for w in cell.split()} | {"metric", "check", "error", "up"}
    tokens = set(re.findall(r"[^\s│┃┏┓┗┛┡┩└┘━─┳┻╇╈┠┨┼┬┴├┤]+", out))
    missing = words - tokens
    assert not missing, f"words cut at width {width}: {missing}\n{out}"
    assert "…" not in out


def test_probe_table_keeps_metric_names_whole_at_a_narrow_terminal() -> None:
    """The real `pantau probe` output at COLUMNS=40: every metric name appears whole."""
    with TcpListener().start() as listener:
        r = run_cli("probe", "tcp", listener.target, env={"COLUMNS": "40"})
        rj = run_cli("probe", "tcp", listener.target, "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    import json

    names = {s["name"] for s in json.loads(rj.stdout)["samples"]}
    assert any(len(n) > 25 for n in names), names  # longer than a 40-column table's share
    tokens = set(re.findall(r"[A-Za-z0-9_:]+", r.stdout))
    assert names <= tokens, (names - tokens, r.stdout)
    assert "…" not in r.stdout
