"""docs/findings.md documents every finding code, exactly as CODES says."""

from dnssync.findings import CODES
from dnssync.report.codes import codes_markdown
from tests.conftest import ROOT


def test_findings_doc_matches_codes():
    text = (ROOT / "docs" / "findings.md").read_text()
    assert text == codes_markdown(), (
        "docs/findings.md is stale: run `python -m dnssync.report.codes > docs/findings.md`")
    for code in CODES:
        assert f"| `{code}` |" in text
