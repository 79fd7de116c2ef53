"""How `pantau ... --help` names parameters: `--out FILE`, `--timeout DURATION`, `TARGET`.

typer prints each parameter's Python type beside it: `<str>`, `<int>`, `<list[str]>`, even
`<bool>` next to a flag that takes no value, and a required argument as `{target}` in the usage
line. An office admin reading `pantau probe --help` needs to know what to type, not how the
code is typed. So: a flag shows nothing after its name; an option shows its `metavar=` when the
command gives one, else FILE/DIR for paths and its own name in capitals (`--site SITE`, as
argparse and most Unix tools do); an argument shows as its name in capitals (`TARGET`,
`[TARGET]` when optional). In a command list, a command's summary (its help up to the first
blank line) is one flowing sentence: typer's rich mode kept the docstring's line breaks there
and printed "outages,<newline>downtime" mid-sentence.

typer has no hook for this, so `install()` replaces the methods that render a parameter in help
and the one that renders a command's summary, once, for the whole process (the pantau CLI is
the only typer app in it).
tests/unit/test_cli_help.py runs every command's --help and fails on any type tag, so a typer
upgrade that renames these methods is caught at once.
"""

from __future__ import annotations

import inspect
import typing
from pathlib import Path
from typing import Any

from typer import core

_INSTALLED = False


def _annotation(param: Any) -> Any:
    desc = getattr(param, "type_descriptor", None)
    return getattr(desc, "annotation", None)


def _is_path(annotation: Any) -> bool:
    if annotation is Path:
        return True
    args = typing.get_args(annotation)
    return any(a is Path for a in args)


def option_metavar(param: Any) -> str | None:
    """What follows an option's name in help; None for a flag (it takes no value)."""
    if param.metavar is not None:
        return str(param.metavar)
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return None
    longs = [o for o in param.opts if o.startswith("--")] or list(param.opts)
    name = max(longs, key=len).lstrip("-").replace("-", "_").upper()
    if _is_path(_annotation(param)):
        return "DIR" if name.endswith("DIR") else "FILE"
    return name


def argument_name(param: Any) -> str:
    return str(param.metavar) if param.metavar is not None else str(param.name).upper()


def install() -> None:
    """Make typer render parameters as above (idempotent)."""
    global _INSTALLED
    if _INSTALLED:
        return
    _INSTALLED = True

    def option_type(self: Any, ctx: Any) -> str | None:
        return option_metavar(self)

    def argument_type(self: Any, ctx: Any) -> str | None:
        return None  # the name column already says it: TARGET

    def argument_usage(self: Any) -> str:
        name = argument_name(self)
        if self.nargs != 1:
            name += "..."
        return name if self.required else f"[{name}]"

    # Assigned through setattr: these replace typer's own rendering (see the module docstring).
    setattr(core.TyperOption, "display_type_rich", option_type)  # noqa: B010
    setattr(core.TyperArgument, "display_type_rich", argument_type)  # noqa: B010
    setattr(core.TyperArgument, "_usage_display_name", argument_usage)  # noqa: B010
    setattr(core.TyperArgument, "display_name_raw", property(argument_name))  # noqa: B010
    # typer.rich_utils imports rich, markdown_it and pygments (~5 MiB of RSS): only a --help
    # needs them, so its summary is replaced when the first help is rendered, not on the
    # `pantau run` path.
    for cls in (core.TyperCommand, core.TyperGroup):
        setattr(cls, "format_help", _patching_rich_first(cls.format_help))  # noqa: B010


def _patch_rich_summary() -> None:
    try:
        from typer import rich_utils
    except ImportError:  # typer without rich renders plain help: nothing to replace
        return

    summary = rich_utils._make_command_help
    if getattr(summary, "_pantau", False):
        return

    def flowing_summary(*, help_text: str, **kwargs: Any) -> Any:
        first = inspect.cleandoc(help_text).split("\n\n")[0]
        return summary(help_text=" ".join(first.split()), **kwargs)

    flowing_summary._pantau = True  # type: ignore[attr-defined]
    setattr(rich_utils, "_make_command_help", flowing_summary)  # noqa: B010


def _patching_rich_first(format_help: Any) -> Any:
    def wrapped(self: Any, ctx: Any, formatter: Any) -> Any:
        _patch_rich_summary()
        return format_help(self, ctx, formatter)

    return wrapped
