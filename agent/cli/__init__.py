"""The `pantau` command line: one module per command group (root holds the root commands and
assembles the others, common holds what they share, base the part of that which needs no
typer, run the agent's start).

`main` (the console script) starts a plain `pantau run` without importing typer
(agent/cli/run.py says why and how); `app`, the typer application, is imported when first
asked for.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.cli.root import app as app

__all__ = ["app", "main"]


def main() -> None:
    from agent.cli.run import main_without_typer

    if main_without_typer(sys.argv[1:]):
        return
    from agent.cli.root import main as typer_main

    typer_main()


def __getattr__(name: str) -> Any:
    if name == "app":
        from agent.cli.root import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
