"""`dnssync drift`: does every provider still serve what git says? For scheduled CI.

Reported like verify (the same reporters: tables per zone, JSON, JUnit XML,
Markdown), so a CI job reads drift and verify results the same way."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.text import Text

from dnssync.commands.base import (
    Context,
    format_option,
    out_option,
    pass_ctx,
    provider_option,
    shard_option,
    zone_option,
)
from dnssync.planning.drift import drift_findings
from dnssync.planning.run import plan_repository
from dnssync.report.github import findings_annotations
from dnssync.report.junit import junit_xml, verify_cases
from dnssync.report.markdown import verify_markdown
from dnssync.report.text import print_verify

#: the junit case name of one provider's live state of one zone
LIVE_STATE = "live state"


@click.command()
@zone_option
@provider_option
@shard_option
@format_option("text", "json", "junit", "markdown", "github")
@out_option()
@pass_ctx
def drift(ctx: Context, zones: tuple[str, ...], providers: tuple[str, ...], shard: str | None, fmt: str,
          out: Path | None) -> None:
    """Compare each provider's live state (API, or AXFR) with git. Changes nothing.

    Exit 0 when every provider is in sync, 1 when any drifted or could not be read."""
    repo = ctx.repo(zones, shard)
    plan, _ = plan_repository(repo, list(providers) or None, live=False)
    findings = drift_findings(plan, repo.locate)
    pairs = [(p.provider, p.zone) for p in plan.providers]
    drifted = sorted({(f.provider or "", f.zone or "") for f in findings})
    if findings:
        line = (f"Drift at {', '.join(f'{p}/{z}' for p, z in drifted)}: {len(findings)} finding(s)"
                f" across {len(pairs)} provider/zone pair(s).")
    else:
        line = f"In sync: {len(pairs)} provider/zone pair(s) serve what git says."
    if fmt == "json":
        ctx.emit(json.dumps({
            "in_sync": not findings, "summary": line,
            "checked": [{"provider": p, "zone": z} for p, z in pairs],
            "drifted": [{"provider": p, "zone": z} for p, z in drifted],
            "findings": [f.to_dict() for f in findings]}, indent=2), out)
    elif fmt == "junit":
        checked = [(z, p, LIVE_STATE) for p, z in pairs]
        ctx.emit(junit_xml(verify_cases(findings, checked, LIVE_STATE, agreement=False),
                           "dnssync drift"), out)
    elif fmt == "github":
        ctx.emit(findings_annotations(findings), out)
    elif fmt == "markdown":
        ctx.emit(verify_markdown(findings, line, "dnssync drift"), out)
    else:
        with ctx.text_report(out) as console:
            print_verify(console, findings, Text(line, style="bold red" if findings else "green"))
    if out:
        ctx.out.print(Text(line, style="bold red" if findings else "green"))
    if findings:
        raise click.exceptions.Exit(1)
