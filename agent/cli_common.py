"""Helpers every `pantau` sub-command shares: one-line errors and exit code 2 on bad input."""

from __future__ import annotations

import typer

EXIT_BAD_INPUT = 2


def fail(message: str, code: int = EXIT_BAD_INPUT) -> typer.Exit:
    """Print one clear error line and return the Exit to raise."""
    typer.echo(f"pantau: error: {message}", err=True)
    return typer.Exit(code)
