"""`dnssync watch`: follow an apply until it has propagated everywhere."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import click
from rich.live import Live

from dnssync.applying.state import find_apply
from dnssync.commands.base import Context, deprecated, format_option, pass_ctx
from dnssync.model.errors import UsageError
from dnssync.repo.repository import Repository
from dnssync.report.watch import event_line, live_view
from dnssync.watch.changes import read_apply
from dnssync.watch.poll import follow
from dnssync.watch.propagation import Event, Propagation

DEFAULT_TIMEOUT = 3600.0



def deadline_options(f: Any) -> Any:
    """`--deadline SECONDS`: the whole wait, unlike verify's `--query-timeout` (one query).
    The old `--timeout` spelling still works, with a note."""
    f = click.option("--timeout", "old_timeout", type=click.FloatRange(min=0), default=None, hidden=True)(f)
    return click.option(
        "--deadline", type=click.FloatRange(min=0), default=None, metavar="SECONDS",
        help=f"Give up (exit 1) when not fully propagated after this many seconds in all"
             f" [default: {DEFAULT_TIMEOUT:.0f}].")(f)


def deadline_of(command: str, deadline: float | None, old_timeout: float | None) -> float:
    if old_timeout is not None:
        deprecated(f"{command} --timeout", "--deadline")
    return next((s for s in (deadline, old_timeout) if s is not None), DEFAULT_TIMEOUT)


interval_option = click.option(
    "--interval", type=click.FloatRange(min=0.1), default=1.0, show_default=True,
    help="Seconds between polls of the nameservers and resolvers.")


def run_watch(ctx: Context, repo: Repository, record: Path, timeout: float, interval: float,
              fmt: str) -> int:
    """Watch the apply saved in `record`, print as `fmt` asks; returns the exit code."""
    watched = read_apply(record)
    providers = sorted({p for t in watched.targets for p in t.new})
    missing = [p for p in providers if p not in repo.config.providers]
    if missing:
        raise UsageError(f"apply {watched.apply_id} changed providers that are no longer"
                         f" configured: {', '.join(missing)}")
    repo.read_nameservers()  # `nameservers: auto`
    nameservers = {p: repo.config.providers[p].nameservers for p in providers}
    out = ctx.out
    live: Live | None = None

    def on_events(prop: Propagation, events: list[Event]) -> None:
        if fmt == "json":
            for event in events:
                ctx.emit(json.dumps(event, default=str))
            return
        for event in events:
            line = event_line(event)
            if line is None:
                continue
            if live is None:
                out.print(line, soft_wrap=True)
            elif event["event"] in ("start", "finding", "done", "authoritative"):
                live.console.print(line)  # the rest shows in the live view
        if live is not None:
            live.update(live_view(prop), refresh=True)

    async def run() -> int:
        return await follow(watched, nameservers, repo.config.resolvers, on_events, timeout,
                            interval, repo.config.defaults.timeout)

    if fmt == "text" and out.is_terminal:
        with Live(console=out, auto_refresh=False, transient=False) as live:
            return asyncio.run(run())
    return asyncio.run(run())


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
