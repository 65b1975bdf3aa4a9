"""Tables that never break a word: where a table cannot fit the terminal without
folding words in two (`mailto:security@exampl` / `e.com`), its rows are printed as
short blocks instead, wrapped at spaces like any text.

`Fitted(table)` is a rich renderable, so it works wherever a table does: printed,
inside a live view, written to a file."""

from __future__ import annotations

from rich.console import Console, ConsoleOptions, RenderResult
from rich.padding import Padding
from rich.table import Table
from rich.text import Text


class Fitted:
    """`table` as it is when its narrowest layout fits the width without breaking a
    word; else one block per row: the short cells on one line, the last cell (the
    long one: values, a message) below it, indented."""

    def __init__(self, table: Table):
        self.table = table

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if self.table.__rich_measure__(console, options).minimum <= options.max_width:
            yield self.table
            return
        columns = self.table.columns
        if self.table.title:
            yield Text.assemble(Text(str(self.table.title), style="italic"), " (",
                                " · ".join(str(c.header) for c in columns), ")")
        for index in range(self.table.row_count):
            cells = [_text(list(c.cells)[index]) for c in columns]
            head = Text("  ").join(c for c in cells[:-1] if c.plain.strip())
            yield head
            if cells[-1].plain.strip():
                yield Padding(cells[-1], (0, 0, 0, 4))


def _text(cell: object) -> Text:
    return cell.copy() if isinstance(cell, Text) else Text(str(cell))
