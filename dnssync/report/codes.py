"""docs/findings.md, generated from `findings.CODES` so the documentation of every
finding code can never drift from the code. Regenerate after adding a code:

    python -m dnssync.report.codes > docs/findings.md
"""

from __future__ import annotations

from dnssync.model.findings import CODES

STAGES = {
    "config": "Configuration (exit 2, nothing sent)",
    "zone": "Zone files (exit 2 for errors, nothing sent)",
    "plan": "Planning",
    "verify": "Verify: what the nameservers answer",
    "watch": "Watch: propagation of an apply",
    "parity": "Parity gate: plan exits 1 and apply refuses on errors (policy.parity)",
    "alias": "ALIAS across providers: flattened in plan (policy.alias), checked for staleness by verify",
    "drift": "Drift: a provider's live state against git",
    "delegation": "Delegation at the parent (verify, verify --delegation)",
    "soa": "SOA side by side (dnssync soa)",
}


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def codes_markdown() -> str:
    out = ["# Finding codes", "",
           "Every finding dnssync reports has one of these stable codes. Generated from",
           "`dnssync/model/findings.py` by `python -m dnssync.report.codes`; do not edit by hand.", ""]
    groups: dict[str, list[str]] = {}
    for code in CODES:
        groups.setdefault(code.split(".", 1)[0], []).append(code)
    for stage, codes in groups.items():
        out += [f"## {STAGES.get(stage, stage)}", "", "| code | meaning |", "|---|---|"]
        out += [f"| `{code}` | {_escape(CODES[code])} |" for code in codes]
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    print(codes_markdown(), end="")
