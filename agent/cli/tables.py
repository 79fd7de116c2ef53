"""Tables the CLI prints, without ever cutting a word.

rich fits a table to the terminal by shrinking columns and cutting what is in them
("probe_http_dura…"), and a fixed-width `f"{x[:60]}"` cuts too; but a metric name, a host or an
error message is something the admin has to read whole or copy. Here every column is at least
as wide as its longest word, longer cells wrap at spaces, and when even the longest words do not
fit the terminal the table is printed wider than the terminal instead of being cut.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table


def _words(cell: Any) -> list[str]:
    from rich.text import Text

    if isinstance(cell, str):
        return Text.from_markup(cell).plain.split()
    if isinstance(cell, Text):
        return cell.plain.split()
    return []  # another renderable measures itself


def fit_words(table: Table) -> int:
    """Give each column its longest word as minimum width; return the table's minimum width."""
    from rich.cells import cell_len

    pad = table.padding[1] + table.padding[3]
    total = 0
    for column in table.columns:
        words = _words(column.header) + [w for cell in column.cells for w in _words(cell)]
        column.min_width = max([column.min_width or 0, *(cell_len(w) for w in words)])
        column.overflow = "fold"  # only ever reached by a word wider than the whole table
        total += column.min_width + pad
    if table.box is not None:
        total += len(table.columns) - 1 + (2 if table.show_edge else 0)
    return total


def print_table(console: Console, table: Table) -> None:
    """Print `table` wrapping at spaces, as wide as the terminal, wider if a word needs it."""
    need = fit_words(table)
    console.print(table, width=max(need, console.width), crop=False)
