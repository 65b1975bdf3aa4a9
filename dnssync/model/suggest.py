"""Suggestions for a mistyped name (a provider class, a record type): the closest
known one, as click does for commands and options."""

from __future__ import annotations

import difflib


def did_you_mean(word: str, choices: list[str]) -> str:
    """`; did you mean 'x'?` for a close match among `choices` (case aside), else ''."""
    close = [c for c in choices if c.lower() == word.lower()]
    close = close or difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""
