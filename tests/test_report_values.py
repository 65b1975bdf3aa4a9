"""A finding's expected/observed values: one rendering (report/values.py) in every reporter."""

from __future__ import annotations

from rich.console import Console

from dnssync.model.findings import Finding, Severity
from dnssync.report.github import findings_annotations
from dnssync.report.junit import Case, junit_xml
from dnssync.report.markdown import findings_markdown
from dnssync.report.text import findings_table
from dnssync.report.values import show_value, value_lines

RRSET = {"ttl": 300, "values": ["192.0.2.1", "192.0.2.2"]}


def _text(renderable) -> str:
    console = Console(width=200, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_values_as_one_line():
    assert show_value(RRSET) == "300 192.0.2.1, 192.0.2.2"
    assert show_value({"one": "60 x", "two": "not served"}) == "one: 60 x, two: not served"
    finding = Finding(Severity.ERROR, "verify.values", "differs", zone="example.com.",
                      expected=RRSET, observed={"ns1": "NXDOMAIN"})
    assert value_lines(finding) == [("expected", "300 192.0.2.1, 192.0.2.2"), ("observed", "ns1: NXDOMAIN")]


def test_every_reporter_shows_the_same_values():
    finding = Finding(Severity.ERROR, "verify.values", "differs", zone="example.com.",
                      expected=RRSET, observed="NXDOMAIN")
    shown = [_text(findings_table([finding])), findings_markdown([finding]),
             junit_xml([Case("example.com.", "verify", "www", [finding])]), findings_annotations([finding])]
    for output in shown:
        assert "expected: " in output and "300 192.0.2.1, 192.0.2.2" in output and "NXDOMAIN" in output


def test_a_finding_with_only_an_observed_value_shows_no_expected_none():
    """The findings table printed `expected: None` beside an observed value (the other
    reporters showed only what the finding has); now it shows what the finding has."""
    finding = Finding(Severity.WARNING, "verify.extra", "served but not in git", zone="example.com.",
                      observed=RRSET)
    table = _text(findings_table([finding]))
    assert "observed: 300 192.0.2.1" in table
    assert "expected" not in table
