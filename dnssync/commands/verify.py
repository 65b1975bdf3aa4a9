"""`dnssync verify`: ask every provider's nameservers, directly, whether they serve
what git says; exit 1 when any error finding exists."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import click

from dnssync.commands.base import (
    Context,
    deprecated,
    format_option,
    out_option,
    pass_ctx,
    provider_option,
    shard_option,
    zone_option,
)
from dnssync.model.findings import Finding, Severity
from dnssync.report.dnssec import matrices_data, print_matrices
from dnssync.report.github import findings_annotations
from dnssync.report.junit import junit_xml, verify_cases
from dnssync.report.markdown import verify_markdown
from dnssync.report.text import print_verify, styled_summary
from dnssync.verify.delegation import check_delegations
from dnssync.verify.full import verify_zones
from dnssync.verify.run import Options, VerifyResult, question_count


def summary(result: VerifyResult, findings: list[Finding], delegations: int | None = None,
            dnssec: int | None = None) -> str:
    errors = sum(f.severity is Severity.ERROR for f in findings)
    warnings = sum(f.severity is Severity.WARNING for f in findings)
    if dnssec is not None:
        stats = result.stats.get("dnssec", {})
        return (f"DNSSEC {'FAILED' if errors else 'OK'}: {dnssec} zone(s), {int(stats.get('validated', 0))}"
                f" signature(s) validated in {stats.get('seconds', 0):.2f} s: {errors} error(s),"
                f" {warnings} warning(s).")
    if delegations is not None:
        return (f"Delegation {'FAILED' if errors else 'OK'}: {delegations} zone(s) checked at their"
                f" parent: {errors} error(s), {warnings} warning(s).")
    zones = len({c[0] for c in result.checked})
    providers = len({c[1] for c in result.checked})
    stats = result.stats
    verdict = "FAILED" if errors else "OK"
    return (f"Verify {verdict}: {zones} zone(s), {providers} provider(s),"
            f" {len(result.checked)} nameserver check(s), {stats.get('queries', 0)} queries in"
            f" {stats.get('seconds', 0):.2f} s: {errors} error(s), {warnings} warning(s).")


@click.command()
@zone_option
@provider_option
@shard_option
@format_option("text", "json", "junit", "markdown", "github")
@out_option()
@click.option("--axfr", is_flag=True,
              help="Compare by zone transfer (one TCP stream per nameserver) where allowed,"
                   " instead of one query per record.")
@click.option("--no-extra", is_flag=True, help="Do not look for records git does not have.")
@click.option("--query-timeout", type=click.FloatRange(0.05, 600), default=None,
              help="Seconds per query, retries included (default: defaults.timeout). A name one server"
                   " keeps dropping while it answers others is asked again up to 3 times, its timeout"
                   " stretched up to 8x while the server looks congested: at worst 32x this (15x from an"
                   " unstretched start) before it is reported. verify has no total deadline: bound the job"
                   " with your CI's own timeout.")
@click.option("--timeout", "old_timeout", type=click.FloatRange(0.05, 600), default=None, hidden=True)
@click.option("--retries", "resends", type=click.IntRange(0, 20), default=None,
              help="At most this many UDP re-sends per query (default: re-send, backing"
                   " off, until the timeout).")
@click.option("--window", type=click.IntRange(1, 4096), default=64, show_default=True,
              help="Queries in flight per nameserver address.")
@click.option("--jobs", type=click.IntRange(1, 256), default=None,
              help="Processes to verify in, each its share of the zones (default: one per core"
                   " when there are enough zones for it to pay; 1: this process only).")
@click.option("--delegation", "delegation_only", is_flag=True,
              help="Only check each zone's delegation at its parent (NS, glue, lame servers);"
                   " a full verify includes this check.")
@click.option("--dnssec", "dnssec_only", is_flag=True,
              help="Only check DNSSEC (policy.dnssec): signatures, denial proofs, every provider's keys at"
                   " every provider, the DS at the parent; a full verify includes this check.")
@pass_ctx
def verify(ctx: Context, zones: tuple[str, ...], providers: tuple[str, ...], shard: str | None, fmt: str,
           out: Path | None, axfr: bool, no_extra: bool, query_timeout: float | None, old_timeout: float | None,
           resends: int | None, window: int, jobs: int | None, delegation_only: bool, dnssec_only: bool) -> None:
    """Ask every nameserver of every provider whether it answers what git says.

    Every RRset is compared (values as a set, TTL) on every address of every
    nameserver; delegations as referrals with their glue; plus records git does
    not have (by AXFR, else the provider's API), SOA serials, negative-cache TTLs,
    the apex NS and reachability over UDP and TCP, and each zone's delegation at
    its parent (`parent:` in dnssync.yaml, else found from the root). Exit 1 on
    any error finding."""
    if old_timeout is not None:
        deprecated("verify --timeout", "--query-timeout")
    timeout = query_timeout or old_timeout
    repo = ctx.repo(zones, shard)
    repo.read_nameservers()  # `nameservers: auto`
    serves = {zone: names for zone, names in repo.serves(list(providers) or None).items() if names}
    defaults = repo.config.defaults
    options = Options(timeout=timeout or defaults.timeout, resends=resends, window=window,
                      axfr=axfr, extra=not no_extra)
    delegated = {zone: repo.desired[zone] for zone in serves}
    if delegation_only and dnssec_only:
        raise click.UsageError("--delegation and --dnssec are each one part of a full verify: give one")
    dnssec = None
    if delegation_only:
        started = time.perf_counter()
        found = asyncio.run(check_delegations(repo.config, delegated, repo.managed, options.timeout, options.resends))
        result = VerifyResult(found, [], {"seconds": time.perf_counter() - started})
    elif sys.stderr.isatty() and not dnssec_only:
        # imported here: a CI job (no terminal) need not load rich's progress machinery
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn("verifying"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=ctx.err, transient=True) as bar:
            task = bar.add_task("verify", total=question_count(repo, serves))
            verified = verify_zones(repo, serves, options, jobs=jobs, progress=lambda n: bar.advance(task, n))
        result, dnssec = verified.result, verified.dnssec
    else:
        verified = verify_zones(repo, serves, options, records=not dnssec_only, jobs=jobs)
        result, dnssec = verified.result, verified.dnssec
    findings = list(repo.findings) + [repo.locate_finding(f) for f in result.findings]
    line = summary(result, findings, len(delegated) if delegation_only else None,
                   len(serves) if dnssec_only else None)
    if fmt == "text":
        with ctx.text_report(out) as console:
            if dnssec:
                print_matrices(console, dnssec.zones)
            print_verify(console, findings, styled_summary(line, findings))
    else:
        data = {"dnssec": matrices_data(dnssec.zones)} if dnssec and dnssec.zones else {}
        ctx.emit(render(fmt, result, findings, line, data), out)
    if out:
        ctx.out.print(styled_summary(line, findings))
    if any(f.severity is Severity.ERROR for f in findings):
        raise click.exceptions.Exit(1)


def render(fmt: str, result: VerifyResult, findings: list[Finding], line: str, data: dict | None = None) -> str:
    if fmt == "json":
        return json.dumps({
            **(data or {}),
            "ok": not any(f.severity is Severity.ERROR for f in findings),
            "summary": line,
            "stats": result.stats,
            "checked": [{"zone": z, "provider": p, "nameserver": n} for z, p, n in result.checked],
            "findings": [f.to_dict() for f in findings],
        }, indent=2, default=str)
    if fmt == "junit":
        return junit_xml(verify_cases(findings, result.checked), "dnssync verify")
    if fmt == "github":
        return findings_annotations(findings)
    return verify_markdown(findings, line)
