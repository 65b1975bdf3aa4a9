"""Markdown for pull-request comments and $GITHUB_STEP_SUMMARY."""

from __future__ import annotations

from dnssync.findings import Finding
from dnssync.plan import Plan
from dnssync.report.text import show_value

#: plans with more rows than this per zone are folded into <details>
FOLD_ROWS = 20


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


def _values(data: dict | None) -> str:
    return "" if not data else f"{data['ttl']} " + ", ".join(data["values"])


def findings_markdown(findings: list[Finding], title: str = "Findings") -> str:
    if not findings:
        return f"### {title}\n\nNo findings.\n"
    lines = [f"### {title}", "", "| severity | code | where | message |", "|---|---|---|---|"]
    for f in findings:
        where = f.location or " ".join(x for x in (f.zone, f.provider, f.nameserver) if x)
        message = f.message
        if f.expected is not None:
            message += f"<br>expected: `{show_value(f.expected)}`"
        if f.observed is not None:
            message += f"<br>observed: `{show_value(f.observed)}`"
        lines.append(f"| {f.severity} | `{f.code}` | {_cell(where)} | {_cell(message)} |")
    return "\n".join(lines) + "\n"


def plan_markdown(plan: Plan) -> str:
    out = [f"## dnssync plan (compared with `{plan.base}`, no provider contacted)" if plan.base
           else "## dnssync plan", ""]
    if plan.revision:
        out += [f"Revision `{plan.revision}`", ""]
    for zone in sorted({p.zone for p in plan.providers}):
        rows = ["| provider | action | name | type | existing | desired |", "|---|---|---|---|---|---|"]
        for pp in (p for p in plan.providers if p.zone == zone):
            if pp.error:
                rows.append(f"| {pp.provider} | **error** | | | {_cell(pp.error)} | |")
            for c in pp.changes:
                rows.append(f"| {pp.provider} | {c.action} | `{c.name or '@'}` | {c.type} |"
                            f" {_cell(_values(c.existing))} | {_cell(_values(c.desired))} |")
            for a in pp.adjustments:
                rows.append(f"| {pp.provider} | cannot hold | `{a.name or '@'}` | {a.type} | |"
                            f" {_cell(a.reason)} |")
            if not pp.error and not pp.changes and not pp.adjustments:
                rows.append(f"| {pp.provider} | no changes | | | | |")
        body = "\n".join(rows)
        out.append(f"### `{zone}`\n")
        if len(rows) - 2 > FOLD_ROWS:
            out.append(f"<details><summary>{len(rows) - 2} rows</summary>\n\n{body}\n\n</details>\n")
        else:
            out.append(body + "\n")
    if plan.findings:
        out.append(findings_markdown(plan.findings))
    changes = sum(len(p.changes) for p in plan.providers)
    out.append(f"**{changes} change(s)** across {len({p.provider for p in plan.providers})} provider(s).")
    return "\n".join(out) + "\n"


def verify_markdown(findings: list[Finding], summary: str, title: str = "dnssync verify") -> str:
    """A verify run (or another run reported like one, e.g. drift) for a PR comment or
    job summary: the title, the summary line, then the findings of each zone (folded
    when long)."""
    out = [f"## {title}", "", summary, ""]
    by_zone: dict[str, list[Finding]] = {}
    for f in findings:
        by_zone.setdefault(f.zone or "configuration", []).append(f)
    for zone, items in sorted(by_zone.items()):
        table = findings_markdown(sorted(items, key=lambda f: (f.provider or "", f.nameserver or "",
                                                               f.name or "", f.code)),
                                  f"`{zone}`")
        if len(items) > FOLD_ROWS:
            heading, _, body = table.partition("\n\n")
            table = (f"{heading}\n\n<details><summary>{len(items)} findings</summary>\n\n"
                     f"{body}\n</details>\n")
        out.append(table)
    return "\n".join(out) + "\n"
