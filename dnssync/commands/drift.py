"""`dnssync drift`: does every provider still serve what git says? For scheduled CI."""

from __future__ import annotations

import json

import click

from dnssync.commands.base import Context, format_option, pass_ctx, provider_option, zone_option
from dnssync.drift import drift_findings
from dnssync.report.markdown import findings_markdown
from dnssync.report.text import print_findings


@click.command()
@zone_option
@provider_option
@format_option("text", "json", "markdown")
@pass_ctx
def drift(ctx: Context, zones: tuple[str, ...], providers: tuple[str, ...], fmt: str) -> None:
    """Compare each provider's live state (API, or AXFR) with git. Changes nothing.

    Exit 0 when every provider is in sync, 1 when any drifted or could not be read."""
    repo = ctx.repo(zones)
    plan, _ = repo.plan(list(providers) or None)
    findings = drift_findings(plan, repo.locate)
    pairs = [(p.provider, p.zone) for p in plan.providers]
    drifted = sorted({(f.provider or "", f.zone or "") for f in findings})
    if fmt == "json":
        ctx.emit(json.dumps({
            "in_sync": not findings, "checked": [{"provider": p, "zone": z} for p, z in pairs],
            "drifted": [{"provider": p, "zone": z} for p, z in drifted],
            "findings": [f.to_dict() for f in findings]}, indent=2))
    elif fmt == "markdown":
        ctx.emit(findings_markdown(findings, "dnssync drift"))
    else:
        if findings:
            print_findings(ctx.out, findings, "drift")
            where = ", ".join(f"{p}/{z}" for p, z in drifted)
            ctx.out.print(f"Drift at {where} ({len(findings)} finding(s)).", style="bold red")
        else:
            ctx.out.print(f"In sync: {len(pairs)} provider/zone pair(s) serve what git says.",
                          style="green")
    if findings:
        raise click.exceptions.Exit(1)
