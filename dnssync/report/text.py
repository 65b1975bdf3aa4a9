"""Human output with rich: tables, coloured on a terminal, plain when piped."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table
from rich.text import Text

from dnssync.findings import Finding, Severity
from dnssync.plan import Change, Plan, ProviderPlan, rrset_text
from dnssync.report.plaintable import Cell, print_table

if TYPE_CHECKING:  # a hint only: verify and plan need not import apply's stack
    from dnssync.apply import ApplyResult

#: findings about files (config and zone files), shown as `file:line` lines, not in DNS tables
FILE_CODES = ("config.", "zone.", "git.")
SEVERITY_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}
PLAN_COLUMNS = ("provider", "action", "name", "type", "ttl / values")
ACTION_STYLE = {"create": ("+", "green"), "update": ("~", "yellow"), "delete": ("-", "red")}
STATUS_STYLE = {"applied": "green", "unchanged": "dim", "failed": "bold red", "skipped": "yellow",
                "changes": "yellow", "error": "bold red"}


def _change_text(change: Change) -> Text:
    if change.action == "update":
        old, new = change.existing or {}, change.desired or {}
        text = Text()
        if old.get("ttl") != new.get("ttl"):
            text.append(f"ttl {old.get('ttl')} → {new.get('ttl')}  ")
        if old.get("values") != new.get("values"):
            text.append(", ".join(old.get("values", [])), style="red")
            text.append(" → ")
            text.append(", ".join(new.get("values", [])), style="green")
        return text
    return Text(rrset_text(change.desired or change.existing))


def findings_table(findings: Iterable[Finding], title: str | None = None) -> Table:
    table = Table(title=title, show_lines=False, expand=False)
    for column in ("severity", "code", "where", "message"):
        table.add_column(column, overflow="fold")
    for f in sorted(findings, key=lambda f: (f.zone or "", f.provider or "", f.location, f.code)):
        where = f.location or " ".join(x for x in (f.zone, f.provider, f.nameserver) if x)
        message = f.message
        if f.expected is not None or f.observed is not None:
            message += f"\n  expected: {show_value(f.expected)}\n  observed: {show_value(f.observed)}"
        table.add_row(Text(str(f.severity), style=SEVERITY_STYLE[f.severity]), f.code, Text(where), Text(message))
    return table


def print_findings(console: Console, findings: list[Finding], title: str | None = None) -> None:
    """Findings from files as `file:line: severity code: message` lines (editors and CI
    logs link them), findings from DNS as a table grouped by zone and provider."""
    located = [f for f in findings if f.file]
    others = [f for f in findings if not f.file]
    for f in sorted(located, key=lambda f: (f.file or "", f.line or 0, f.code)):
        line = Text(f"{f.location}: ")
        line.append(str(f.severity), style=SEVERITY_STYLE[f.severity])
        line.append(f" {f.code}: {f.message}")
        if f.expected is not None:
            line.append(f"\n  expected: {show_value(f.expected)}", style="green")
        if f.observed is not None:
            line.append(f"\n  observed: {show_value(f.observed)}", style="red")
        console.print(line, soft_wrap=True)
    if others:
        console.print(findings_table(others, title))
    errors = sum(f.severity is Severity.ERROR for f in findings)
    warnings = sum(f.severity is Severity.WARNING for f in findings)
    style = "bold red" if errors else ("yellow" if warnings else "green")
    console.print(Text(f"{errors} error(s), {warnings} warning(s)", style=style))


def _provider_rows(pp: ProviderPlan) -> list[tuple[Cell, ...]]:
    if pp.error:
        return [(pp.provider, Text("error", style="bold red"), "", "", Text(pp.error, style="red"))]
    rows: list[tuple[Cell, ...]] = []
    if not pp.changes and not pp.adjustments:
        rows.append((pp.provider, Text("no changes", style="dim"), "", "", ""))
    if pp.exists is False:
        rows.append((pp.provider, Text("+ create zone", style="green"), "", "", ""))
    for change in pp.changes:
        symbol, style = ACTION_STYLE[change.action]
        rows.append((pp.provider, Text(f"{symbol} {change.action}", style=style), Text(change.name or "@"),
                     change.type, _change_text(change)))
    for adj in pp.adjustments:
        label = "cannot hold" if adj.kind == "unsupported" else "adjusted"
        rows.append((pp.provider, Text(f"! {label}", style="magenta"), Text(adj.name or "@"), adj.type,
                     Text(adj.reason, style="magenta")))
    if pp.unsafe:
        rows.append((pp.provider, Text("! needs --force", style="bold red"), "", "", Text(pp.unsafe)))
    return rows


def print_plan(console: Console, plan: Plan) -> None:
    by_zone: dict[str, list[ProviderPlan]] = {}
    for pp in plan.providers:
        by_zone.setdefault(pp.zone, []).append(pp)
    for zone in sorted(by_zone):
        print_table(console, zone.rstrip(".") or ".", PLAN_COLUMNS,
                    [row for pp in by_zone[zone] for row in _provider_rows(pp)])
    if plan.findings:
        print_findings(console, plan.findings, "findings")
    console.print(plan_summary(plan))


def plan_summary(plan: Plan) -> Text:
    counts = {"create": 0, "update": 0, "delete": 0}
    for pp in plan.providers:
        for action, n in pp.counts().items():
            counts[action] += n
    providers = len({p.provider for p in plan.providers})
    zones = len({p.zone for p in plan.providers})
    text = Text(f"Plan: {zones} zone(s) on {providers} provider(s): ")
    text.append(f"{counts['create']} to create, {counts['update']} to update, {counts['delete']} to delete")
    if plan.errors:
        text.append(f"; {len(plan.errors)} provider/zone pair(s) could not be read", style="bold red")
    if not plan.has_changes and not plan.errors:
        text = Text("No changes: every provider already serves what git says.", style="green")
    return text


def print_apply(console: Console, result: ApplyResult) -> None:
    table = Table(title="apply", title_justify="left")
    for column in ("provider", "zone", "result", "detail"):
        table.add_column(column, overflow="fold")
    for o in sorted(result.outcomes, key=lambda o: (o.provider, o.zone)):
        table.add_row(o.provider, o.zone, Text(o.status, style=STATUS_STYLE.get(o.status, "")), Text(o.detail))
    console.print(table)
    failed = [o for o in result.outcomes if o.status == "failed"]
    if result.snapshot:
        console.print(f"Snapshot of the previous content: {result.snapshot}"
                      f" (undo with: dnssync restore {result.snapshot})")
    if failed:
        names = ", ".join(sorted({o.provider for o in failed}))
        console.print(Text(f"Apply FAILED at {names}; the other providers were applied.", style="bold red"))
    else:
        console.print(Text("Apply complete.", style="green"))


def show_value(value: object) -> str:
    """Expected/observed values of a finding as one line: `300 192.0.2.1, 192.0.2.2`."""
    if isinstance(value, dict) and "values" in value and "ttl" in value:
        return rrset_text(value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {show_value(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def print_verify(console: Console, findings: list[Finding], summary: Text) -> None:
    """DNS findings as one table per zone, grouped by provider, then the summary line;
    findings about the files themselves (configuration warnings) first, as file:line lines."""
    about_files = [f for f in findings if f.code.startswith(FILE_CODES)]
    if about_files:
        print_findings(console, about_files, "configuration")
    by_zone: dict[str, list[Finding]] = {}
    for f in findings:
        if not f.code.startswith(FILE_CODES):
            by_zone.setdefault(f.zone or "", []).append(f)
    for zone, items in sorted(by_zone.items()):
        table = Table(title=zone or "nameservers", title_justify="left", expand=False)
        for column in ("provider", "nameserver", "severity", "code", "finding"):
            table.add_column(column, overflow="fold")
        provider = None
        for f in sorted(items, key=lambda f: (f.provider or "", f.nameserver or "", f.name or "",
                                              f.type or "", f.code)):
            if provider is not None and f.provider != provider:
                table.add_section()
            provider = f.provider
            message = Text(f.message)
            if f.expected is not None:
                message.append(f"\n  expected: {show_value(f.expected)}", style="green")
            if f.observed is not None:
                message.append(f"\n  observed: {show_value(f.observed)}", style="red")
            if f.location:
                message.append(f"\n  in git: {f.location}", style="dim")
            table.add_row(f.provider or "", f.nameserver or "",
                          Text(str(f.severity), style=SEVERITY_STYLE[f.severity]), f.code, message)
        console.print(table)
    console.print(summary)
