"""`dnssync soa`: every provider's SOA side by side, with the differences that matter.

A command of its own rather than only a part of verify: the SOA is the one
RRset that is meant to differ per provider, so a person wants to see it as a
table (MNAME, RNAME, serial, timers, negative TTL per nameserver) before
judging it. Its findings (negative TTL differing, EXPIRE under a day, serials
split, no answer) are the same data a full `dnssync verify` reports for CI.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict

import click

from dnssync.commands.base import Context, format_option, pass_ctx, zone_option
from dnssync.model.findings import has_errors
from dnssync.report.fit import Fitted
from dnssync.report.markdown import findings_markdown
from dnssync.report.soa import soa_markdown, soa_tables
from dnssync.report.text import print_findings
from dnssync.verify.soa import judge, read_soas


@click.command()
@zone_option
@format_option("text", "json", "markdown")
@pass_ctx
def soa(ctx: Context, zones: tuple[str, ...], fmt: str) -> None:
    """Show each provider's SOA side by side, asked of every nameserver.

    Exit 1 when a nameserver does not answer, when one provider's nameservers
    answer different serials, or when the negative TTL differs between providers
    (with policy.parity error, the default); an EXPIRE under a day is a warning
    (exit 0)."""
    # asks nameservers over DNS only, so no secret is needed; except with `nameservers: auto`,
    # whose names come from the provider's API
    auto = any(p.auto_nameservers for p in ctx.settings(offline=True).providers.values())
    repo = ctx.repo(zones, offline=not auto)
    repo.read_nameservers()
    views = asyncio.run(read_soas(repo.config, sorted(repo.desired)))
    findings = judge(views, repo.config)
    if fmt == "json":
        ctx.emit(json.dumps({"soa": [{**asdict(v), "negative_ttl": v.negative_ttl} for v in views],
                             "findings": [f.to_dict() for f in findings]}, indent=2))
    elif fmt == "markdown":
        ctx.emit(soa_markdown(views) + "\n" + findings_markdown(findings, "SOA findings"))
    else:
        for table in soa_tables(views):
            ctx.out.print(Fitted(table))
        print_findings(ctx.out, findings)
    if has_errors(findings):
        raise click.exceptions.Exit(1)
