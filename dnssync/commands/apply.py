"""`dnssync apply`: push the plan to every provider, each isolated from the others."""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict
from pathlib import Path

import click

from dnssync.applying.apply import run_apply
from dnssync.applying.run import ApplyRun
from dnssync.applying.state import apply_lock, find_apply
from dnssync.commands.base import (
    Context,
    confirm,
    deadline_of,
    deadline_options,
    format_option,
    interval_option,
    pass_ctx,
    provider_option,
    run_watch,
    shard_option,
    zone_option,
)
from dnssync.model import interrupt
from dnssync.model.errors import UsageError
from dnssync.report.text import print_apply, print_plan


@click.command()
@zone_option
@provider_option
@shard_option
@click.option("--plan", "plan_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Apply exactly this reviewed plan (from `plan --save-plan`).")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--force", is_flag=True, help="Apply even over the safety thresholds or an apex NS change.")
@click.option("--refresh-flattened", is_flag=True,
              help="Apply only the flattened ALIAS RRsets (the targets' addresses now), nothing else:"
                   " safe for a scheduled job.")
@click.option("--wait", is_flag=True,
              help="Then watch until fully propagated, as `dnssync watch` does.")
@click.option("--jobs", type=click.IntRange(1, 256), default=None,
              help="Processes that plan and apply a fleet (default: one per core, from 24 provider/zone"
                   " pairs up); 1: threads of this process.")
@deadline_options
@interval_option
@format_option("text", "json")
@pass_ctx
def apply(ctx: Context, zones: tuple[str, ...], providers: tuple[str, ...], shard: str | None, plan_file: Path | None,
          yes: bool, force: bool, refresh_flattened: bool, wait: bool, deadline: float | None,
          old_timeout: float | None, interval: float, jobs: int | None,
          fmt: str) -> None:
    """Apply the changes to every provider.

    A failing provider is retried when the failure is transient, then reported;
    the others are still applied. Exit 1 if any provider failed. With --wait,
    then exit as `dnssync watch` does (0 once fully propagated)."""
    timeout = deadline_of("apply", deadline, old_timeout)
    if plan_file and (zones or providers or shard or refresh_flattened):
        raise UsageError("--plan applies the reviewed plan as it is; drop --zone/--provider/--shard/--refresh-flattened"
                         " (a plan saved with `plan --shard` already holds only its shard)")
    repo = ctx.repo(zones, shard)
    with apply_lock(repo.config.state_dir):  # from before reading the providers: no plan goes stale under us
        if plan_file:
            run = ApplyRun.reviewed(repo, plan_file, force, jobs)
        else:
            run = ApplyRun.fresh(repo, list(providers) or None, force, refresh_flattened, jobs)
        with contextlib.closing(run):  # its workers end, whatever happens
            if run.skipped:
                ctx.say(f"--refresh-flattened skips {', '.join(run.skipped)}: the provider does not have the zone"
                        " yet, and a refresh never creates one (a full apply does)")
            if fmt == "text":
                print_plan(ctx.out, run.plan)
            run.check()
            if run.nothing_to_send:
                if fmt == "json":
                    ctx.emit(_document({"plan": run.plan.to_dict(), "apply": None}, wait))
                if run.refused:
                    raise click.exceptions.Exit(1)
                return
            confirm(ctx, "Apply these changes?", yes)
            created = run.create_zones()
            if created:
                if fmt == "text":
                    ctx.out.print(f"Created {', '.join(created)} for their nameservers; the plan with them:")
                    print_plan(ctx.out, run.plan)
                run.check()
            with interrupt.sigint_stops(ctx.say):
                result = run_apply(run)
                run.exchange_keys(result, ctx.say)
    if fmt == "json":
        ctx.emit(_document({"plan": run.plan.to_dict(), "apply": {
            "id": result.id, "snapshot": result.snapshot,
            "outcomes": [asdict(o) for o in result.outcomes]}}, wait))
    else:
        print_apply(ctx.out, result)
    if result.exit_code:
        if wait and fmt == "text" and not result.interrupted:
            ctx.out.print("Not waiting for propagation: the apply failed.")
        raise click.exceptions.Exit(result.exit_code)
    if wait:
        code = run_watch(ctx, repo, find_apply(repo.config.state_dir, result.id), timeout, interval, fmt)
        if code:
            raise click.exceptions.Exit(code)
    if run.refused:
        raise click.exceptions.Exit(1)


def _document(data: dict, wait: bool) -> str:
    """apply's JSON; with --wait the first of the watch's one-line events."""
    return json.dumps({"event": "apply", **data}) if wait else json.dumps(data, indent=2)
