"""`pantau run` starts without typer (agent/cli/run.py): its own reading of argv must never
accept what click would read differently, and the agent it starts must answer bad input with
the same words and exit code as the typer command does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import agent.cli.run as fast
from agent.cli import app
from agent.cli.base import _chosen

REPO = Path(__file__).resolve().parents[2]

TOKENS = ["run", "run", "--lang", "id", "en", "xx", "--lang=en", "--config", "-c", "a.yml",
          "--config=b.yml", "-ca.yml", "--listen", "127.0.0.1:9", "--listen=[::1]:9", "",
          "--print-config", "--web.enable-lifecycle", "--log-level", "debug", "WARNING",
          "--log-level=error", "--log-format", "json", "--help", "--version", "--", "-x",
          "--config=", "-", "status", "--listen=-1", "--lang=", "--log"]


def click_reading(argv: list[str]) -> tuple[int, tuple[str | None, fast.RunArgs] | None]:
    """Exit code of typer's app on argv, and what its `run` command was called with."""
    seen: list[tuple[str | None, fast.RunArgs]] = []

    def record(args: fast.RunArgs) -> None:
        seen.append((_chosen["option"], args))

    with mock.patch.object(fast, "run_agent", record):
        r = CliRunner().invoke(app, argv)
    return r.exit_code, (seen[0] if seen else None)


# Mostly well-formed `run` command lines with a stray token now and then: the typer-free
# reading must agree with click on the first and leave the second to typer.
OPTIONS = [[["--config", "a.yml"], ["-c", "a.yml"], ["--config=b.yml"]],
           [["--listen", "127.0.0.1:9"], ["--listen=[::1]:9"]],
           [["--log-level", "debug"], ["--log-level=error"], ["--log-level", "WARNING"]],
           [["--log-format", "json"], ["--log-format=text"]],
           [["--web.enable-lifecycle"]], [["--print-config"]]]


@st.composite
def argvs(draw: Any) -> list[str]:
    prefix = draw(st.sampled_from([[], [], ["--lang", "id"], ["--lang=en"], ["--lang", "xx"]]))
    groups = draw(st.lists(st.sampled_from(range(len(OPTIONS))), unique=True))
    tail = [t for g in groups for t in draw(st.sampled_from(OPTIONS[g]))]
    for _ in range(draw(st.integers(0, 2))):  # stray tokens, anywhere
        tail.insert(draw(st.integers(0, len(tail))), draw(st.sampled_from(TOKENS)))
    return [*prefix, "run", *tail]


ARGV = st.one_of(st.lists(st.sampled_from(TOKENS), max_size=7), argvs())


@settings(max_examples=500, deadline=None)
@given(ARGV)
def test_fast_reading_is_clicks_or_none(argv: list[str]) -> None:
    mine = fast.parse(argv)
    if mine is None:
        return  # typer's to answer: nothing to compare
    code, theirs = click_reading(argv)
    assert code == 0 and theirs == mine, (argv, code, theirs, mine)


def test_usual_forms_start_without_typer() -> None:
    """The forms a unit file and an admin use do take the typer-free start."""
    for argv in (["run"], ["run", "--config", "/etc/pantau/pantau.yml"],
                 ["--lang", "id", "run", "-c", "x.yml", "--listen", "127.0.0.1:9877"],
                 ["run", "--config=x.yml", "--log-format", "json", "--log-level", "debug",
                  "--web.enable-lifecycle"]):
        mine = fast.parse(argv)
        assert mine is not None, argv
        assert click_reading(argv) == (0, mine)
    for argv in (["run", "--help"], ["--help"], ["run", "--print-config"], ["status"],
                 ["run", "--bogus"], ["run", "--config"], ["--lang", "xx", "run"],
                 ["run", "-c", "a", "-c", "b"]):
        assert fast.parse(argv) is None, argv


def both_ways(args: list[str], cwd: Path) -> list[tuple[int, str, str]]:
    """The same argv through the console script (typer-free) and through typer's app."""
    out = []
    for code in ("import sys; from agent.cli import main; sys.exit(main())",
                 "import sys; from agent.cli.root import main; sys.exit(main())"):
        r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                           cwd=cwd, timeout=60, env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
                                                     "PYTHONPATH": str(REPO)})
        out.append((r.returncode, r.stdout, r.stderr))
    return out


def test_bad_input_answered_as_typer_does(tmp_path: Path) -> None:
    good = tmp_path / "ok.yml"
    good.write_text(f"site: t\nstate_dir: {tmp_path / 'state'}\nhost:\n  interval: 5s\n")
    bad = tmp_path / "bad.yml"
    bad.write_text("site: t\nhost:\n  interval: soon\nbogus: 1\n")
    cases: list[list[str]] = [
        ["run", "--config", str(bad)],
        ["--lang", "id", "run", "--config", str(bad)],
        ["run", "--config", str(tmp_path / "missing.yml")],
        ["run", "--config", str(good), "--log-level", "loud"],
        ["run", "--config", str(good), "--log-format", "xml"],
        ["--lang", "id", "run", "--config", str(good), "--listen", "nowhere"],
    ]
    for args in cases:
        assert fast.parse(args) is not None, args  # these do go the typer-free way
        first, second = both_ways(args, tmp_path)
        assert first == second, args
        assert first[0] == 2 and first[2].strip(), (args, first)


def test_state_dir_busy_answered_as_typer_does(tmp_path: Path) -> None:
    """A second agent on the same state dir: the lock's message and exit 2 both ways."""
    from agent.statelock import StateLock

    state = tmp_path / "state"
    cfg = tmp_path / "ok.yml"
    cfg.write_text(f"site: t\nstate_dir: {state}\nhost:\n  interval: 5s\n")
    state.mkdir()
    lock: Any = StateLock.acquire(state)
    try:
        first, second = both_ways(["run", "--config", str(cfg), "--listen", "127.0.0.1:0"],
                                  tmp_path)
    finally:
        lock.release()
    assert first == second
    assert first[0] == 2 and first[2].strip()
