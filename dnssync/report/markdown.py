"""Markdown for pull-request comments and $GITHUB_STEP_SUMMARY."""

from __future__ import annotations

from dnssync.model.findings import Finding
from dnssync.model.plan import Plan, ProviderPlan
from dnssync.model.records import rrset_text
from dnssync.report.text import flattened_lines
from dnssync.report.values import value_lines

#: plans with more rows than this per zone are folded into <details>
FOLD_ROWS = 20


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


def findings_markdown(findings: list[Finding], title: str = "Findings", level: int = 3) -> str:
    heading = "#" * level
    if not findings:
        return f"{heading} {title}\n\nNo findings.\n"
    lines = [f"{heading} {title}", "", "| severity | code | where | message |", "|---|---|---|---|"]
    for f in findings:
        where = f.location or " ".join(x for x in (f.zone, f.provider, f.nameserver) if x)
        message = f.message + "".join(f"<br>{label}: `{value}`" for label, value in value_lines(f))
        lines.append(f"| {f.severity} | `{f.code}` | {_cell(where)} | {_cell(message)} |")
    return "\n".join(lines) + "\n"


def _plan_cells(pp: ProviderPlan) -> list[tuple[str, ...]]:
    """One provider's rows (without the provider column), as the text report shows them."""
    rows: list[tuple[str, ...]] = []
    if pp.error:
        rows.append(("**error**", "", "", _cell(pp.error), ""))
    if pp.exists is False:
        rows.append(("create zone", "", "", "", ""))
    for c in (*pp.changes, *pp.keys):
        rows.append((c.action, f"`{c.name or '@'}`", c.type, _cell(rrset_text(c.existing)),
                     _cell(rrset_text(c.desired)) + (f"<br>{_cell(c.origin)}" if c.origin else "")))
    for a in pp.adjustments:
        label = "cannot hold" if a.kind == "unsupported" else "adjusted"
        rows.append((f"**{label}**", f"`{a.name or '@'}`", a.type, _cell(rrset_text(a.desired)), _cell(a.reason)))
    if pp.unsafe:
        rows.append(("**needs --force**", "", "", "", _cell(pp.unsafe)))
    return rows or [("no changes", "", "", "", "")]


def _plan_rows(pps: list[ProviderPlan]) -> list[str]:
    """A zone's rows: a row made identically at several providers is one row naming
    them all (a reviewer reads each change once, and sees where it differs)."""
    grouped: dict[tuple[str, ...], list[str]] = {}
    for pp in pps:
        for cells in _plan_cells(pp):
            grouped.setdefault(cells, []).append(pp.provider)
    return [f"| {', '.join(providers)} | " + " | ".join(cells) + " |" for cells, providers in grouped.items()]


def _folded(title: str, body: str, count: int, what: str) -> str:
    if count > FOLD_ROWS:
        return f"{title}\n\n<details><summary>{count} {what}</summary>\n\n{body}\n\n</details>\n"
    return f"{title}\n\n{body}\n"


def findings_by_zone(findings: list[Finding], label: str = "", level: int = 3) -> list[str]:
    """One findings table per zone, folded when long (PR comments stay readable)."""
    by_zone: dict[str, list[Finding]] = {}
    for f in findings:
        by_zone.setdefault(f.zone or "configuration", []).append(f)
    out = []
    for zone, items in sorted(by_zone.items()):
        table = findings_markdown(sorted(items, key=lambda f: (f.provider or "", f.nameserver or "",
                                                               f.name or "", f.code)), f"{label}`{zone}`", level)
        heading, _, body = table.partition("\n\n")
        out.append(_folded(heading, body.rstrip("\n"), len(items), "findings"))
    return out


def plan_markdown(plan: Plan) -> str:
    out = [f"## dnssync plan (compared with `{plan.base}`, no provider contacted)" if plan.base
           else "## dnssync plan", ""]
    if plan.revision:
        out += [f"Revision `{plan.revision}`", ""]
    for zone in sorted({p.zone for p in plan.providers}):
        rows = ["| provider | action | name | type | existing | desired |", "|---|---|---|---|---|---|"]
        rows += _plan_rows([p for p in plan.providers if p.zone == zone])
        out.append(_folded(f"### `{zone}`", "\n".join(rows), len(rows) - 2, "rows"))
    flattened = flattened_lines(plan)
    if flattened:
        out += ["#### Flattened ALIAS records", "", *(f"- {_cell(line)}" for line in flattened), ""]
    if plan.findings:
        out += findings_by_zone(plan.findings, "Findings in ", 4)
    changes = sum(len(p.changes) for p in plan.providers)
    out.append(f"**{changes} change(s)** across {len({p.provider for p in plan.providers})} provider(s).")
    return "\n".join(out) + "\n"


def verify_markdown(findings: list[Finding], summary: str, title: str = "dnssync verify") -> str:
    """A verify run (or another run reported like one, e.g. drift) for a PR comment or
    job summary: the title, the summary line, then the findings of each zone (folded
    when long)."""
    return "\n".join([f"## {title}", "", summary, "", *findings_by_zone(findings)]) + "\n"
