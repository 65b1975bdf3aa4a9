"""`dnssync watch`: follow an apply until it has propagated everywhere."""

from __future__ import annotations

import click

from dnssync.applying.state import find_apply
from dnssync.commands.base import (
    Context,
    deadline_of,
    deadline_options,
    format_option,
    interval_option,
    pass_ctx,
    run_watch,
)


@click.command()
@click.argument("apply_id", default="latest", metavar="[APPLY]")
@deadline_options
@interval_option
@format_option("text", "json")
@pass_ctx
def watch(ctx: Context, apply_id: str, deadline: float | None, old_timeout: float | None, interval: float,
          fmt: str) -> None:
    """Follow an apply (the latest, or APPLY: an id or its prefix) until every nameserver
    of every provider serves it and no resolver can still cache the old answer.

    Old values and TTLs come from the apply's record, so this can run later or in
    another CI job. Exit 0 when fully propagated; 1 on timeout, or when a nameserver
    serves something that is neither the old nor the new value (on 3 polls in a row)."""
    timeout = deadline_of("watch", deadline, old_timeout)
    repo = ctx.repo(offline=True)  # asks nameservers and resolvers only: no secret needed
    code = run_watch(ctx, repo, find_apply(repo.config.state_dir, apply_id), timeout, interval, fmt)
    if code:
        raise click.exceptions.Exit(code)
