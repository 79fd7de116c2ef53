"""The `pantau` command line: one module per command group (app holds the root commands and
assembles the others), common holds what they share."""

from agent.cli.app import app, main

__all__ = ["app", "main"]
