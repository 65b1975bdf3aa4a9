"""Human output with rich: tables, coloured on a terminal, plain when piped."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from dnssync.model.findings import Finding, Severity
from dnssync.model.plan import Change, Plan, ProviderPlan
from dnssync.model.records import rrset_text
from dnssync.report.fit import Fitted
from dnssync.report.values import value_lines

if TYPE_CHECKING:  # a hint only: verify and plan need not import apply's stack
    from dnssync.applying.apply import ApplyResult

#: findings about files (config and zone files), shown as `file:line` lines, not in DNS tables
FILE_CODES = ("config.", "zone.", "git.")
SEVERITY_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}
VALUE_STYLE = {"expected": "green", "observed": "red"}
ACTION_STYLE = {"create": ("+", "green"), "update": ("~", "yellow"), "delete": ("-", "red")}
STATUS_STYLE = {"applied": "green", "unchanged": "dim", "failed": "bold red", "skipped": "yellow",
                "interrupted": "bold red"}


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
        message = f.message + "".join(f"\n  {label}: {value}" for label, value in value_lines(f))
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
        for label, value in value_lines(f):
            line.append(f"\n  {label}: {value}", style=VALUE_STYLE[label])
        console.print(line, soft_wrap=True)
    if others:
        console.print(Fitted(findings_table(others, title)))
    errors = sum(f.severity is Severity.ERROR for f in findings)
    warnings = sum(f.severity is Severity.WARNING for f in findings)
    style = "bold red" if errors else ("yellow" if warnings else "green")
    console.print(Text(f"{errors} error(s), {warnings} warning(s)", style=style))


def _provider_cells(pp: ProviderPlan) -> Iterator[tuple[RenderableType, ...]]:
    """One provider's rows of a plan table (action, name, type, ttl / values), lazily:
    a summarised plan takes only its first few."""
    if pp.error:
        yield Text("error", style="bold red"), "", "", Text(pp.error, style="red")
        return
    if not pp.changes and not pp.adjustments and not pp.keys:
        yield Text("no changes", style="dim"), "", "", ""
    if pp.exists is False:
        yield Text("+ create zone", style="green"), "", "", ""
    for change in (*pp.changes, *pp.keys):
        symbol, style = ACTION_STYLE[change.action]
        values = _change_text(change)
        if change.origin:
            values.append(f"\n{change.origin}", style="cyan")
        yield Text(f"{symbol} {change.action}", style=style), Text(change.name or "@"), change.type, values
    for adj in pp.adjustments:
        label = "cannot hold" if adj.kind == "unsupported" else "adjusted"
        yield Text(f"! {label}", style="magenta"), Text(adj.name or "@"), adj.type, Text(adj.reason, style="magenta")
    if pp.unsafe:
        yield Text("! needs --force", style="bold red"), "", "", Text(pp.unsafe)


def flattened_lines(plan: Plan) -> list[str]:
    """One line per ALIAS flattened by the plan, changed or not: what each provider that
    cannot hold it serves instead, and where the addresses came from."""
    lines = []
    for f in plan.flattened:
        if f["error"]:
            continue
        values = "; ".join(f"{t} {', '.join(v)}" for t, v in sorted(f["values"].items()))
        native = f"; native at {', '.join(f['native'])}" if f["native"] else ""
        lines.append(f"{f['name'] or '@'} {f['zone']} {f['type']} → {f['target']}: {values} (TTL {f['ttl']})"
                     f" for {', '.join(f['providers'])}{native}; resolved at {f['resolved_at']} via {f['via']}")
    return lines


def _row_count(pp: ProviderPlan) -> int:
    if pp.error:
        return 1
    return (len(pp.changes) + len(pp.keys) + len(pp.adjustments) + (pp.exists is False) + bool(pp.unsafe)) or 1


#: what a plan without changes means, unless told otherwise (restore: the snapshot's content)
IN_SYNC = "every provider already serves what git says"
#: past this many rows the text plan summarises: a rich table costs most of a millisecond
#: a row, and a 69,000-row table once held back a first push for half a minute
FULL_ROWS = 300
#: the rows (and provider/zone pairs) a summarised plan still shows
FIRST_ROWS = 30


def print_plan(console: Console, plan: Plan, in_sync: str = IN_SYNC, flattened: bool = False) -> None:
    """The plan as tables (summarised when big); `flattened` adds every flattened ALIAS,
    changed or not (`plan`)."""
    rows = sum(_row_count(pp) for pp in plan.providers)
    if rows > FULL_ROWS:
        _print_summarised(console, plan, rows)
    else:
        for zone in sorted({p.zone for p in plan.providers}):
            table = Table(title=zone.rstrip(".") or ".", title_justify="left", expand=False)
            for column in ("provider", "action", "name", "type", "ttl / values"):
                table.add_column(column, overflow="fold")
            for pp in (p for p in plan.providers if p.zone == zone):
                for cells in _provider_cells(pp):
                    table.add_row(pp.provider, *cells)
            console.print(Fitted(table))
    if flattened and plan.flattened:
        console.print(Text("Flattened ALIAS records:", style="cyan"))
        for line in flattened_lines(plan):
            console.print(Text(f"  {line}"), soft_wrap=True)
    if plan.findings:
        print_findings(console, plan.findings, "findings")
    console.print(plan_summary(plan, in_sync))


def _print_summarised(console: Console, plan: Plan, rows: int) -> None:
    """A big plan: counts per provider and zone, the first rows, and where the rest is."""
    ordered = sorted(plan.providers, key=lambda p: (p.zone, p.provider))
    pairs = Table(title=f"plan summary: {rows:,} rows in {len(ordered):,} provider/zone pair(s)",
                  title_justify="left", expand=False)
    for column in ("provider", "zone", "create", "update", "delete", "other"):
        pairs.add_column(column, overflow="fold",
                         justify="right" if column in ("create", "update", "delete") else "left")
    for pp in ordered[:FIRST_ROWS]:
        counts = pp.counts()
        other = [what for what, present in (
            (Text("error", style="bold red"), pp.error), (Text("+ create zone", style="green"), pp.exists is False),
            (Text(f"{len(pp.adjustments)} cannot hold/adjusted", style="magenta"), pp.adjustments),
            (Text("needs --force", style="bold red"), pp.unsafe)) if present]
        pairs.add_row(pp.provider, pp.zone, *(f"{counts[a]:,}" for a in ("create", "update", "delete")),
                      Text(", ").join(other))
    console.print(Fitted(pairs))
    if len(ordered) > FIRST_ROWS:
        console.print(Text(f"… and {len(ordered) - FIRST_ROWS:,} more provider/zone pairs", style="dim"))
    first = Table(title=f"the first {FIRST_ROWS} rows", title_justify="left", expand=False)
    for column in ("provider", "zone", "action", "name", "type", "ttl / values"):
        first.add_column(column, overflow="fold")
    cells = ((pp.provider, pp.zone, *row) for pp in ordered for row in _provider_cells(pp))
    for row in itertools.islice(cells, FIRST_ROWS):
        first.add_row(*row)
    console.print(Fitted(first))
    console.print(Text(f"… and {rows - FIRST_ROWS:,} more (see --format json / --out)", style="bold"))


def plan_summary(plan: Plan, in_sync: str = IN_SYNC) -> Text:
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
        text = Text(f"No changes: {in_sync}.", style="green")
    return text


def print_apply(console: Console, result: ApplyResult) -> None:
    """Every outcome as a row; past FULL_ROWS (a fleet's apply) every outcome that is not
    plainly applied or unchanged still has its row, and the rest are counted per provider."""
    outcomes = sorted(result.outcomes, key=lambda o: (o.provider, o.zone))
    plain = ("applied", "unchanged")
    shown = outcomes if len(outcomes) <= FULL_ROWS else [o for o in outcomes if o.status not in plain]
    if shown:
        table = Table(title="apply", title_justify="left")
        for column in ("provider", "zone", "result", "detail"):
            table.add_column(column, overflow="fold")
        for o in shown:
            table.add_row(o.provider, o.zone, Text(o.status, style=STATUS_STYLE.get(o.status, "")), Text(o.detail))
        console.print(Fitted(table))
    if len(shown) < len(outcomes):
        for provider in sorted({o.provider for o in outcomes}):
            done = [o for o in outcomes if o.provider == provider and o.status in plain]
            applied = [o for o in done if o.status == "applied"]
            console.print(f"{provider}: {len(applied)} zone(s) applied ({sum(o.changes for o in applied):,}"
                          f" change(s), each read back), {len(done) - len(applied)} unchanged")
    failed = [o for o in result.outcomes if o.status == "failed"]
    if result.snapshot:
        console.print(f"Snapshot of the previous content: {result.snapshot}"
                      f" (undo with: dnssync restore {result.snapshot})")
    if result.interrupted:
        console.print(Text(apply_interrupted_line(result), style="bold red"))
    if failed:
        console.print(Text(apply_failed_line(result), style="bold red"))
    elif not result.interrupted:
        console.print(Text("Apply complete.", style="green"))


def apply_interrupted_line(result: ApplyResult) -> str:
    """After Ctrl-C: how much is still pending, as read back from every provider."""
    stopped = [o for o in result.outcomes if o.status in ("interrupted", "failed")]
    total = sum(o.changes for o in result.outcomes if o.status != "unchanged")
    pending = sum(o.pending or 0 for o in stopped)
    unknown = sorted(f"{o.provider}/{o.zone}" for o in stopped if o.pending is None)
    line = f"Apply STOPPED by Ctrl-C. PARTIALLY APPLIED: {pending} of {total} change(s) pending"
    if unknown:
        line += f", and unknown at {', '.join(unknown)} (could not re-read)"
    return line + ". Re-run apply to converge."


def apply_failed_line(result: ApplyResult) -> str:
    """Which providers failed, and what became of the others, naming them: "the other
    providers were applied" is wrong when there are none, or when they were skipped."""
    failed = sorted({o.provider for o in result.outcomes if o.status == "failed"})
    others: dict[str, set[str]] = {}
    for o in result.outcomes:
        if o.provider not in failed and o.status != "interrupted":  # those have their own line
            others.setdefault(o.provider, set()).add(o.status)
    line = f"Apply FAILED at {', '.join(failed)}"
    applied = sorted(p for p, s in others.items() if "applied" in s)
    unchanged = sorted(p for p, s in others.items() if s == {"unchanged"})
    skipped = sorted(p for p, s in others.items() if "skipped" in s and "applied" not in s)
    if not others:
        return line + ("." if result.interrupted else "; there are no other providers.")
    if applied and not unchanged and not skipped:
        return line + f"; the other providers ({', '.join(applied)}) were applied."
    parts = []
    if applied:
        parts.append(f"applied at {', '.join(applied)}")
    if unchanged:
        parts.append(f"{', '.join(unchanged)} already matched git")
    if skipped:
        parts.append(f"nothing sent to {', '.join(skipped)}")
    return line + "; " + "; ".join(parts) + "."


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
            for label, value in value_lines(f):
                message.append(f"\n  {label}: {value}", style=VALUE_STYLE[label])
            if f.location:
                message.append(f"\n  in git: {f.location}", style="dim")
            table.add_row(f.provider or "", f.nameserver or "",
                          Text(str(f.severity), style=SEVERITY_STYLE[f.severity]), f.code, message)
        console.print(Fitted(table))
    console.print(summary)


def styled_summary(line: str, findings: list[Finding]) -> Text:
    """The summary line as the text report shows it: red when any error was found."""
    errors = any(f.severity is Severity.ERROR for f in findings)
    return Text(line, style="bold red" if errors else "green")
