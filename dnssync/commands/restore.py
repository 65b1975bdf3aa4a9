"""`dnssync restore` and `dnssync snapshots`: put providers back to a saved snapshot."""

from __future__ import annotations

import json

import click

from dnssync.applying import snapshot
from dnssync.applying.apply import run_apply
from dnssync.applying.state import apply_lock
from dnssync.commands.base import Context, confirm, deprecated, format_option, pass_ctx, provider_option, zone_option
from dnssync.model import interrupt
from dnssync.model.errors import UsageError
from dnssync.model.plan import Plan
from dnssync.model.records import zone_content
from dnssync.planning.planner import LivePlan, plan_one
from dnssync.repo.config import zone_name
from dnssync.repo.gitrev import head_revision
from dnssync.repo.plugins import build_providers
from dnssync.repo.zones import all_sub_zones, discover
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
    # the zones in the working tree need not load: restore is for bad days; and what the
    # snapshot holds is read before any secret is asked for (none needed to say there is none)
    config = ctx.settings(offline=True)
    saved = snapshot.load(config.state_dir, snapshot_id,
                          all_sub_zones(list(discover(config.zones_dir, config.zone_files))), accept_unsealed)
    config = ctx.settings()
    wanted_zones = {zone_name(z) for z in zones}
    selected = {key: zone for key, zone in saved.items()
                if (not providers or key[0] in providers) and (not wanted_zones or key[1] in wanted_zones)}
    if not selected:
        raise UsageError(f"snapshot {snapshot_id} holds nothing for that provider/zone selection")
    missing = sorted({p for p, _ in selected if p not in config.providers})
    if missing:
        raise UsageError(f"snapshot names providers that are no longer configured: {', '.join(missing)}")
    built = build_providers([config.providers[p] for p in sorted({p for p, _ in selected})])

    def replan(live: LivePlan) -> LivePlan:  # restoring is deliberate: no safety thresholds
        return plan_one(live.data.provider, live.provider, live.desired, 1.0, 1.0)

    with apply_lock(config.state_dir):
        lives = [plan_one(p, built[p], zone, 1.0, 1.0) for (p, _), zone in sorted(selected.items())]
        plan = Plan(zones={z.name: zone_content(z) for z in selected.values()},
                    providers=[lp.data for lp in lives], revision=head_revision(config.root))
        print_plan(ctx.out, plan, f"the providers already hold the content of snapshot {snapshot_id}")
        if not plan.has_changes and not plan.errors:
            return
        confirm(ctx, f"Restore snapshot {snapshot_id}?", yes)
        with interrupt.sigint_stops(ctx.say):
            result = run_apply(plan, lives, replan, lambda _: None, config.state_dir, config.defaults.retries,
                               config.defaults.backoff)
    print_apply(ctx.out, result)
    if result.interrupted:
        raise click.exceptions.Exit(130)
    if result.failed:
        raise click.exceptions.Exit(1)


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
