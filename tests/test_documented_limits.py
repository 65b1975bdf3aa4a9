"""What README and `--help` promise about time and flags matches the code (review finding 14):
the worst case of a name one server keeps dropping is derived from the engine's constants, so
a change to them fails here until the documentation says the new bound."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from dnssync.cli import main
from dnssync.query.channel import MAX_SCALE, REQUEUES

README = Path(__file__).resolve().parent.parent / "README.md"


def worst_case() -> tuple[int, int]:
    """(rounds times the most stretch, the sum of doublings from 1): in units of --query-timeout."""
    rounds = REQUEUES + 1
    return int(rounds * MAX_SCALE), sum(min(MAX_SCALE, 2 ** i) for i in range(rounds))


def test_verify_help_states_the_worst_case_of_a_dropped_name():
    stretched, fresh = worst_case()
    text = " ".join(CliRunner().invoke(main, ["verify", "--help"]).output.split())
    assert f"asked again up to {REQUEUES} times" in text
    assert f"stretched up to {MAX_SCALE:g}x" in text and f"at worst {stretched}x this ({fresh:g}x from an" in text
    assert "verify has no total deadline" in text


def test_readme_states_the_worst_case_of_a_dropped_name():
    stretched, fresh = worst_case()
    text = " ".join(README.read_text().split())
    assert (f"asked again up to {REQUEUES} times, with the timeout stretched (up to {MAX_SCALE:g}x)") in text
    bound = f"at worst {REQUEUES + 1} x {MAX_SCALE:g} x T = {stretched} T ({fresh:g} T from an unstretched start)"
    assert bound in text
    assert "`verify` has no total deadline" in text
