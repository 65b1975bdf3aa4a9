"""`dnssync plan`: what apply would change at each provider, read live and in parallel."""

from __future__ import annotations

from pathlib import Path

import click

from dnssync.commands.base import Context, format_option, pass_ctx, provider_option, zone_option
from dnssync.findings import has_errors
from dnssync.report.markdown import plan_markdown
from dnssync.report.text import print_plan

EXIT_CHANGES = 3


@click.command()
@zone_option
@provider_option
@format_option("text", "json", "markdown")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also save the plan as JSON, for `apply --plan`.")
@click.option("--detailed-exitcode", is_flag=True,
              help=f"Exit {EXIT_CHANGES} when changes are pending, 0 when none.")
@pass_ctx
def plan(ctx: Context, zones: tuple[str, ...], providers: tuple[str, ...], fmt: str, out: Path | None,
         detailed_exitcode: bool) -> None:
    """Show, per zone and provider, the changes apply would make.

    Exit 0 (no changes, or changes without --detailed-exitcode), 1 when a
    provider could not be read or a parity error was found (apply would refuse),
    3 with --detailed-exitcode and changes pending."""
    repo = ctx.repo(zones)
    result, _ = repo.plan(list(providers) or None, live=False)
    if out:
        ctx.emit(result.to_json(), out)
    if fmt == "json":
        ctx.emit(result.to_json())
    elif fmt == "markdown":
        ctx.emit(plan_markdown(result))
    else:
        print_plan(ctx.out, result)
        if out:
            ctx.out.print(f"Saved to {out} (apply exactly this with: dnssync apply --plan {out})")
    if result.errors or has_errors(result.findings):
        raise click.exceptions.Exit(1)
    if detailed_exitcode and result.has_changes:
        raise click.exceptions.Exit(EXIT_CHANGES)
