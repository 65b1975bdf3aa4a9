"""docs/findings.md documents every finding code, exactly as CODES says."""

from dnssync.model.findings import CODES
from dnssync.report.codes import codes_markdown
from tests.conftest import ROOT


def test_findings_doc_matches_codes():
    text = (ROOT / "docs" / "findings.md").read_text()
    assert text == codes_markdown(), (
        "docs/findings.md is stale: run `python -m dnssync.report.codes > docs/findings.md`")
    for code in CODES:
        assert f"| `{code}` |" in text


def test_every_code_is_emitted_somewhere():
    """A registered code nothing can produce is dead documentation: each one must be
    written as a literal by some module besides the registry itself."""
    source = "".join(p.read_text() for p in (ROOT / "dnssync").rglob("*.py") if p.name != "findings.py")
    dead = [code for code in CODES if f'"{code}"' not in source]
    assert not dead, f"codes in CODES that no module emits: {dead}"
