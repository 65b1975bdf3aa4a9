"""A finding's expected and observed values as text: the one rendering every reporter
(text, markdown, JUnit, GitHub annotations) puts in its own markup."""

from __future__ import annotations

from dnssync.model.findings import Finding
from dnssync.model.records import rrset_text


def show_value(value: object) -> str:
    """Expected/observed values of a finding as one line: `300 192.0.2.1, 192.0.2.2`."""
    if isinstance(value, dict) and "values" in value and "ttl" in value:
        return rrset_text(value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {show_value(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def value_lines(finding: Finding) -> list[tuple[str, str]]:
    """("expected" | "observed", the value as one line) for each of the two the finding has."""
    return [(label, show_value(value)) for label, value in
            (("expected", finding.expected), ("observed", finding.observed)) if value is not None]
