"""`dnssync restore` and `dnssync snapshots`: put providers back to a saved snapshot."""

from __future__ import annotations

import contextlib
import json

import click

from dnssync.applying import snapshot
from dnssync.applying.apply import run_apply
from dnssync.applying.run import ApplyRun, restore_selection
from dnssync.applying.state import apply_lock
from dnssync.commands.base import Context, confirm, deprecated, format_option, pass_ctx, provider_option, zone_option
from dnssync.model import interrupt
from dnssync.report.text import print_apply, print_plan


@click.command()
@click.argument("snapshot_id", metavar="SNAPSHOT")
@zone_option
@provider_option
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--accept-unsealed", is_flag=True,
              help="Restore a snapshot whose meta.json has no checksum (an older dnssync) or, with"
                   " DNSSYNC_PLAN_KEY set, no signature. Only for a snapshot you trust.")
@pass_ctx
def restore(ctx: Context, snapshot_id: str, zones: tuple[str, ...], providers: tuple[str, ...],
            yes: bool, accept_unsealed: bool) -> None:
    """Put providers back to the content saved in SNAPSHOT (an id, a prefix, or 'latest').

    Each provider gets its own saved content, so a restore undoes an apply
    exactly. A restore is deliberate, so it needs no --force."""
    selected = restore_selection(ctx.settings(offline=True), snapshot_id, list(zones), list(providers),
                                 accept_unsealed)  # local files only: no secret asked for yet
    config = ctx.settings()
    with apply_lock(config.state_dir):
        run = ApplyRun.restore(config, selected)
        with contextlib.closing(run):  # its workers end, whatever happens
            print_plan(ctx.out, run.plan, f"the providers already hold the content of snapshot {snapshot_id}")
            if run.nothing_to_send:
                return
            confirm(ctx, f"Restore snapshot {snapshot_id}?", yes)
            with interrupt.sigint_stops(ctx.say):
                result = run_apply(run)
    print_apply(ctx.out, result)
    if result.exit_code:
        raise click.exceptions.Exit(result.exit_code)


@click.command()
@format_option("text", "json")
@click.option("--json", "as_json", is_flag=True, hidden=True)  # the old spelling of --format json
@pass_ctx
def snapshots(ctx: Context, fmt: str, as_json: bool) -> None:
    """List the saved snapshots, newest last. Reads local files only: no secret needed."""
    if as_json:
        deprecated("snapshots --json", "--format json")
    state = ctx.settings(offline=True).state_dir
    metas = [json.loads((snapshot.snapshots_dir(state) / i / "meta.json").read_text())
             for i in snapshot.list_snapshots(state)]
    if as_json or fmt == "json":
        ctx.emit(json.dumps(metas, indent=2))
        return
    for meta in metas:
        entries = ", ".join(f"{e['provider']}/{e['zone']} ({e['records']})" for e in meta["entries"])
        ctx.out.print(f"{meta['id']}  {entries}")
    if not metas:
        ctx.out.print("No snapshots yet (apply saves one before it changes anything).")
