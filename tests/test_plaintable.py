"""The plain-console table writer must print exactly what rich prints, or hand the
table to rich: a plan's text in CI logs must not change because it got faster."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from rich.text import Text

from dnssync.report import plaintable
from dnssync.report.text import PLAN_COLUMNS


def _rich(console: Console, title: str, rows: list[tuple]) -> None:
    console.print(plaintable.rich_table(title, PLAN_COLUMNS, rows))


def _console(width: int = 80, terminal: bool = False) -> Console:
    return Console(file=io.StringIO(), no_color=True, highlight=False, soft_wrap=False,
                   width=width, force_terminal=terminal)


CASES = {
    "creates": [("pdns", Text("+ create", style="green"), Text(f"h{i}"), "A", Text(f"3600 10.0.0.{i}"))
                for i in range(12)],
    "update arrows": [("bind", Text("~ update", style="yellow"), Text("@"), "NS",
                       Text("ttl 60 → 3600  a.test. → b.test."))],
    "empty cells": [("knot", Text("no changes", style="dim"), "", "", "")],
    "narrow non-ascii": [("pdns", Text("+ create"), Text("café"), "TXT", Text('3600 "naïve"'))],
    "wide characters": [("pdns", Text("+ create"), Text("例え"), "A", Text("3600 10.0.0.1"))],
    "markup-like provider": [("[bold]p", Text("+ create"), Text("x"), "A", Text("1 10.0.0.1"))],
    "emoji-like type": [("p", Text("+ create"), Text("x"), ":smile:", Text("1 10.0.0.1"))],
    "too wide, folds": [("pdns", Text("+ create"), Text("x"), "TXT", Text("v" * 120))],
    "multi-line": [("pdns", Text("error"), "", "", Text("first\nsecond"))],
    "tab": [("pdns", Text("error"), "", "", Text("a\tb"))],
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("width", [80, 200])
def test_same_text_as_rich(name: str, width: int) -> None:
    ours, theirs = _console(width), _console(width)
    plaintable.print_table(ours, "example.test", PLAN_COLUMNS, CASES[name])
    _rich(theirs, "example.test", CASES[name])
    assert ours.file.getvalue() == theirs.file.getvalue()


def test_long_title_and_terminal_go_to_rich() -> None:
    title = "a-very-long-zone-name-that-is-wider-than-the-table.example.test"
    ours, theirs = _console(), _console()
    plaintable.print_table(ours, title, PLAN_COLUMNS, CASES["empty cells"])
    _rich(theirs, title, CASES["empty cells"])
    assert ours.file.getvalue() == theirs.file.getvalue()
    ours, theirs = _console(terminal=True), _console(terminal=True)
    plaintable.print_table(ours, "t", PLAN_COLUMNS, CASES["creates"])
    _rich(theirs, "t", CASES["creates"])
    assert ours.file.getvalue() == theirs.file.getvalue()


def test_the_fast_path_is_taken_for_a_plain_plan() -> None:
    """The simple case never reaches rich's Table (whose rendering cost ~1 ms a row)."""
    assert plaintable._render(80, "t", PLAN_COLUMNS, CASES["creates"]) is not None
    assert plaintable._render(80, "t", PLAN_COLUMNS, CASES["too wide, folds"]) is None
