"""`dnssync validate`: check config and zones offline; no provider is contacted."""

from __future__ import annotations

import json
from pathlib import Path

import click

from dnssync.commands.base import (
    Context,
    format_option,
    out_option,
    pass_ctx,
    provider_option,
    shard_option,
    zone_option,
)
from dnssync.model.errors import ConfigError
from dnssync.model.findings import Finding
from dnssync.planning.gitdiff import refuse_untrusted
from dnssync.repo.config import missing_secrets
from dnssync.repo.plugins import build_providers
from dnssync.report.github import findings_annotations
from dnssync.report.junit import junit_xml, validate_cases
from dnssync.report.text import print_findings


@click.command()
@zone_option
@provider_option
@shard_option
@format_option("text", "json", "github", "junit")
@out_option()
@click.option("--offline", is_flag=True, help="Do not mention missing env/ secrets either (a pull request from a"
              " fork has none).")
@click.option("--base", metavar="REV", help="Import provider classes only from modules git revision REV's"
              " dnssync.yaml trusts (a pull request cannot add trusted_modules:).")
@pass_ctx
def validate(ctx: Context, zones: tuple[str, ...], providers: tuple[str, ...], shard: str | None, fmt: str,
             out: Path | None, offline: bool, base: str | None) -> None:
    """Check dnssync.yaml, providers/ and zones/ without contacting any provider.

    Exit 0 when valid (warnings allowed), 2 with every error's file and line. Secrets
    are not needed: an unset env/ variable is a warning (plan and apply need it)."""
    if base:  # before any provider class is imported (gitdiff.base_trust_problem)
        refuse_untrusted(ctx.settings(offline=True), base)
    try:
        repo = ctx.repo(zones, shard, offline=True)
        repo.serves(list(providers) or None)  # an unknown --provider is a usage error
        # imports each provider class and checks its options (only those named, if any)
        build_providers([c for name, c in repo.config.providers.items() if not providers or name in providers])
    except ConfigError as e:
        if fmt == "text":
            raise
        ctx.emit(render(fmt, False, e.findings, [], []), out)
        raise click.exceptions.Exit(e.exit_code) from None
    findings = repo.findings + ([] if offline else missing_secrets(repo.config))
    if fmt != "text":
        ctx.emit(render(fmt, True, findings, sorted(repo.desired), sorted(repo.config.providers)), out)
        return
    with ctx.text_report(out) as console:
        print_findings(console, findings)
        console.print(f"Valid: {len(repo.desired)} zone(s), {len(repo.config.providers)} provider(s).")


def render(fmt: str, valid: bool, findings: list[Finding], zones: list[str], providers: list[str]) -> str:
    if fmt == "github":
        return findings_annotations(findings)
    if fmt == "junit":
        return junit_xml(validate_cases(findings, zones), "dnssync validate")
    document = {"valid": valid, "findings": [f.to_dict() for f in findings]}
    if valid:
        document |= {"zones": zones, "providers": providers}
    return json.dumps(document, indent=2)
