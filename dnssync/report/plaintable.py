"""Large tables written straight to a plain (non-terminal) console, character for
character what rich would write, at a fraction of the cost.

rich lays out and renders every cell through its full pipeline (measure, pad, wrap,
crop), about a millisecond a row: the plan of a fleet's first apply (200 zones x 3
providers x 40 records, 24,000 rows) took longer to print than to apply. When the
console is not a terminal (CI logs, pipes, files) nothing is styled, and when every
cell is one line that fits, rich's layout is simple: each column as wide as its widest
cell, the default box. Only that case is written here; anything else (a terminal,
a table wider than the console, multi-line, wide-character or markup-like cells)
goes to rich as before. A test holds the two outputs equal.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

Cell = str | Text


def _plain(cell: Cell) -> str | None:
    """The cell's text when rich would print it as is (one line, one column per
    character, no markup or emoji code in a plain string); else None."""
    text = cell.plain if isinstance(cell, Text) else cell
    if not text.isprintable() or (not text.isascii() and cell_len(text) != len(text)):
        return None
    if not isinstance(cell, Text) and ("[" in text or ":" in text):
        return None  # rich reads plain strings as markup and :emoji: codes
    return text


def print_table(console: Console, title: str, columns: Sequence[str],
                rows: Sequence[Sequence[Cell]]) -> None:
    """`Table(title=title, title_justify="left", expand=False)` with `columns` (each
    overflow="fold") and `rows`, printed on `console` as rich prints it."""
    options = console.options
    if not (console.is_terminal or console.record or options.ascii_only or options.legacy_windows):
        text = _render(console.width, title, columns, rows)
        if text is not None:
            console.file.write(text)
            return
    console.print(rich_table(title, columns, rows))


def rich_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Cell]]) -> Table:
    """The table as rich builds it (what `print_table` writes, and the reference its
    test compares with)."""
    table = Table(title=title, title_justify="left", expand=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


def _render(width: int, title: str, columns: Sequence[str],
            rows: Sequence[Sequence[Cell]]) -> str | None:
    """The table as rich's default box draws it, or None when it is not the simple case."""
    plain_rows = []
    for row in rows:
        cells = [_plain(cell) for cell in row]
        if any(cell is None for cell in cells) or len(cells) != len(columns):
            return None
        plain_rows.append(cells)
    header = [_plain(column) for column in columns]
    plain_title = _plain(title)
    if any(h is None for h in header) or plain_title is None or not rows:
        return None
    widths = [max(len(cell) for cell in column) for column in zip(header, *plain_rows, strict=True)]
    total = sum(widths) + 3 * len(widths) + 1
    if total > width or len(plain_title) > total or any(w == 0 for w in widths):
        return None
    frame = box.HEAVY_HEAD

    def rule(left: str, fill: str, cross: str, right: str) -> str:
        return left + cross.join(fill * (w + 2) for w in widths) + right + "\n"

    def line(cells: Sequence[str], left: str, divider: str, right: str) -> str:
        return left + divider.join(f" {c.ljust(w)} " for c, w in zip(cells, widths, strict=True)) \
            + right + "\n"

    out = [plain_title.ljust(total) + "\n",
           rule(frame.top_left, frame.top, frame.top_divider, frame.top_right),
           line(header, frame.head_left, frame.head_vertical, frame.head_right),
           rule(frame.head_row_left, frame.head_row_horizontal, frame.head_row_cross,
                frame.head_row_right)]
    out += [line(cells, frame.mid_left, frame.mid_vertical, frame.mid_right) for cells in plain_rows]
    out.append(rule(frame.bottom_left, frame.bottom, frame.bottom_divider, frame.bottom_right))
    return "".join(out)
