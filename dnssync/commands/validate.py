"""`dnssync validate`: check config and zones offline; no provider is contacted."""

from __future__ import annotations

import json

import click

from dnssync.commands.base import Context, format_option, pass_ctx, zone_option
from dnssync.errors import ConfigError
from dnssync.report.text import print_findings


@click.command()
@zone_option
@format_option("text", "json")
@pass_ctx
def validate(ctx: Context, zones: tuple[str, ...], fmt: str) -> None:
    """Check dnssync.yaml, providers/ and zones/ without contacting any provider.

    Exit 0 when valid (warnings allowed), 2 with every error's file and line."""
    try:
        repo = ctx.repo(zones)
        repo.providers()  # imports each provider class and checks its options
    except ConfigError as e:
        if fmt != "json":
            raise
        ctx.emit(json.dumps({"valid": False, "findings": [f.to_dict() for f in e.findings]}, indent=2))
        raise click.exceptions.Exit(e.exit_code) from None
    if fmt == "json":
        ctx.emit(json.dumps({"valid": True, "zones": sorted(repo.desired),
                             "providers": sorted(repo.config.providers),
                             "findings": [f.to_dict() for f in repo.findings]}, indent=2))
        return
    print_findings(ctx.out, repo.findings)
    ctx.out.print(f"Valid: {len(repo.desired)} zone(s), {len(repo.config.providers)} provider(s).")
