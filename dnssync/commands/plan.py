"""`dnssync plan`: what apply would change at each provider, read live and in parallel;
with `--base REV`, what a branch changes compared with another revision, offline."""

from __future__ import annotations

import json
from pathlib import Path

import click
from click.core import ParameterSource

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
from dnssync.model.errors import UsageError
from dnssync.model.findings import has_errors
from dnssync.model.plan import Plan
from dnssync.planning.gitdiff import plan_against, refuse_untrusted
from dnssync.planning.run import plan_repository
from dnssync.report.github import plan_annotations
from dnssync.report.junit import junit_xml, plan_cases
from dnssync.report.markdown import plan_markdown
from dnssync.report.text import print_plan

EXIT_CHANGES = 3


def render(ctx: Context, plans: list[Plan], fmt: str, out: Path | None = None) -> None:
    if fmt == "json":
        documents = [p.to_dict() for p in plans]
        ctx.emit(json.dumps(documents[0] if len(documents) == 1 else
                            {"base": documents[0], "live": documents[1]}, indent=2, sort_keys=True), out)
    elif fmt == "markdown":
        ctx.emit("\n".join(plan_markdown(p) for p in plans), out)
    elif fmt == "github":
        ctx.emit("".join(plan_annotations(p) for p in plans), out)
    elif fmt == "junit":
        ctx.emit(junit_xml([case for p in plans for case in plan_cases(p)], "dnssync plan"), out)
    else:
        with ctx.text_report(out) as console:
            for p in plans:
                print_plan(console, p, flattened=True)


@click.command()
@zone_option
@provider_option
@shard_option
@click.option("--base", metavar="REV", help="Compare the zones with git revision REV (e.g. origin/main),"
              " contacting no provider and needing no secrets.")
@click.option("--live", is_flag=True, help="With --base: also plan against the providers.")
@format_option("text", "json", "markdown", "github", "junit")
@out_option()
@click.option("--save-plan", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Also save the (live) plan as JSON, for `apply --plan FILE`. (The old spelling, --out FILE"
                   " with neither --format nor --base, still does this, with a deprecation note.)")
@click.option("--detailed-exitcode", is_flag=True,
              help=f"Exit {EXIT_CHANGES} when changes are pending, 0 when none.")
@pass_ctx
def plan(ctx: Context, zones: tuple[str, ...], providers: tuple[str, ...], shard: str | None, base: str | None,
         live: bool, fmt: str, out: Path | None, save_plan: Path | None, detailed_exitcode: bool) -> None:
    """Show, per zone and provider, the changes apply would make.

    Exit 0 (no changes, or changes without --detailed-exitcode), 1 when a
    provider could not be read or a parity error was found (apply would refuse),
    3 with --detailed-exitcode and changes pending."""
    explicit = click.get_current_context().get_parameter_source("fmt") is not ParameterSource.DEFAULT
    if out and not explicit and not save_plan and not base:  # the old meaning of `plan --out FILE`, still works
        deprecated("plan --out FILE (with the text report) for the plan to apply", "--save-plan FILE")
        out, save_plan = None, out
    if live and not base:
        raise UsageError("--live goes with --base (a plan without --base is always live)")
    if save_plan and base and not live:
        raise UsageError("--save-plan saves a live plan for apply; add --live to --base, or drop --save-plan")
    if base:  # before any provider class is imported: REV's dnssync.yaml says which code may run
        refuse_untrusted(ctx.settings(offline=True), base)
    repo = ctx.repo(zones, shard, offline=bool(base) and not live)
    plans = []
    if base:
        plans.append(plan_against(repo, base))
    if live or not base:
        result, _ = plan_repository(repo, list(providers) or None, live=False)
        plans.append(result)
        if save_plan:
            ctx.emit(result.to_json(), save_plan)
    render(ctx, plans, fmt, out)
    if save_plan:
        click.echo(f"Saved to {save_plan} (apply exactly this with: dnssync apply --plan {save_plan})",
                   err=fmt != "text")
    if out:
        click.echo(f"Wrote the {fmt} plan to {out}.")
    if any(p.errors or has_errors(p.findings) for p in plans):
        raise click.exceptions.Exit(1)
    if detailed_exitcode and any(p.has_changes for p in plans):
        raise click.exceptions.Exit(EXIT_CHANGES)
