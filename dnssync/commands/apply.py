"""`dnssync apply`: push the plan to every provider, each isolated from the others."""

from __future__ import annotations

import json
from dataclasses import asdict
from functools import partial
from pathlib import Path

import click

from dnssync.applying.apply import Check, run_apply
from dnssync.applying.keyexchange import exchange_keys
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
    zone_option,
)
from dnssync.model import interrupt
from dnssync.model.binding import binding_problem
from dnssync.model.errors import DnssyncError, PlanMismatch, UsageError
from dnssync.model.plan import Plan
from dnssync.model.records import zone_from_content
from dnssync.planning.flatten import Flattening
from dnssync.planning.parity import blocking
from dnssync.planning.planner import LivePlan
from dnssync.planning.run import plan_repository, replan, replan_keys
from dnssync.repo.repository import Repository
from dnssync.repo.zones import all_sub_zones
from dnssync.report.text import print_apply, print_plan


def reviewed_plan(repo: Repository, path: Path) -> tuple[Plan, list[LivePlan], Check]:
    """Re-plan against the reviewed plan's own desired content and refuse if any
    provider's live state (or the resulting changes) differ from what was reviewed,
    or the plan would now touch a provider or zone it did not list. Returns the
    check every retry must pass too: the same digest and changes as reviewed."""
    try:
        saved = Plan.from_json(path.read_text(), str(path))
    except OSError as e:
        raise UsageError(f"cannot read plan {path}: {e.strerror}") from None
    subs = all_sub_zones(list(saved.zones))
    try:
        desired = {name: zone_from_content(name, content, subs[name])
                   for name, content in saved.zones.items()}
    except Exception as e:  # octoDNS's record validation, whatever it raises: the file is bad input
        raise UsageError(f"{path} is not a dnssync plan: its zone content does not load"
                         f" ({type(e).__name__}: {e}) (nothing was sent)") from None
    reviewed = {(p.provider, p.zone): p for p in saved.providers}
    missing = sorted({p for p, _ in reviewed} - set(repo.config.providers))
    if missing:
        raise PlanMismatch(f"refusing to apply (nothing was sent): the plan names providers no longer configured:"
                           f" {', '.join(missing)}. Make a new plan.")
    bound = binding_problem(saved.repository, saved.revision, repo.identity, repo.revision)
    if bound:
        raise PlanMismatch(f"refusing to apply (nothing was sent): {bound}. Make a new plan here.")
    fresh, lives = plan_repository(repo, sorted({p for p, _ in reviewed}), desired, flattened=saved.flattened)

    def check(live: LivePlan) -> str | None:
        old = reviewed.get((live.data.provider, live.data.zone))
        if old is None:
            return "not in the reviewed plan"
        if old.error:
            return "could not be read when the plan was made, so its changes were never reviewed: make a new plan"
        if live.data.existing_digest != old.existing_digest or live.data.changes != old.changes:
            return "live state changed since the plan was made: make a new plan"
        return None

    def unreviewed(live: LivePlan) -> bool:  # refused pair by pair at apply time, the others still go
        old = reviewed.get((live.data.provider, live.data.zone))
        return old is not None and old.error is not None

    problems = [f"{lp.data.provider}/{lp.data.zone}: {why}" for lp in lives
                if lp.error is None and not unreviewed(lp) and (why := check(lp))]
    problems += [f"{p}/{z}: no longer planned (zone or provider removed)" for p, z in reviewed
                 if fresh.for_provider(p, z) is None]
    problems += [f"{pp.provider}/{pp.zone}: the DNSKEYs it serves changed since the plan was made (its key"
                 " exchange is not the one reviewed): make a new plan" for pp in fresh.providers
                 if (old := reviewed.get((pp.provider, pp.zone))) is not None and pp.keys != old.keys]
    if problems:
        raise PlanMismatch("refusing to apply a stale plan (nothing was sent): " + "; ".join(problems))
    # the reviewed findings, and any parity finding today's capabilities and policy add
    fresh.findings = saved.findings + [f for f in blocking(fresh.findings) if f not in saved.findings]
    fresh.revision = saved.revision
    return fresh, lives, check


def create_zones(ctx: Context, repo: Repository, plan: Plan, lives: list[LivePlan], providers: list[str] | None,
                 force: bool, fmt: str) -> tuple[Plan, list[LivePlan]]:
    """`nameservers: auto`: create the zones a provider does not host yet (only now, after
    the plan was shown, gated and confirmed), then plan again so that every provider's
    apex NS names their nameservers, and gate that plan too."""
    created = repo.create_pending_zones(plan, providers)
    if not created:
        return plan, lives
    plan, lives = plan_repository(repo, providers)
    if fmt == "text":
        ctx.out.print(f"Created {', '.join(created)} for their nameservers; the plan with them:")
        print_plan(ctx.out, plan)
    try:
        gate(plan, force)
    except DnssyncError as e:
        raise DnssyncError(f"{e} (Before this check, only these empty zones were created:"
                           f" {', '.join(created)}.)") from None
    return plan, lives


def safety_check(force: bool) -> Check:
    """For a pair re-planned on a retry: the same safety gate as before the apply."""
    def check(live: LivePlan) -> str | None:
        if live.data.unsafe and not force:
            return f"re-read on a retry, it now needs --force: {live.data.unsafe}"
        return None
    return check


def gate(plan: Plan, force: bool) -> None:
    """Refuse, before anything is sent, a plan with parity errors (only policy.parity: warn
    accepts those) or with unsafe changes (apex NS, thresholds) without --force."""
    parity = blocking(plan.findings)
    if parity:
        records = "; ".join(f"{f.name or '@'} {f.type} in {f.zone} ({f.provider})" for f in parity)
        raise DnssyncError(f"refusing to apply (nothing was sent): {len(parity)} parity error(s): {records}."
                           " Fix the zone, or accept the difference with policy.parity: warn.")
    unsafe = [f"{p.provider}/{p.zone}: {p.unsafe}" for p in plan.providers if p.unsafe]
    if unsafe and not force:
        raise DnssyncError("refusing to apply (nothing was sent): " + "; ".join(unsafe)
                           + ". Review the plan, then use --force.")


@click.command()
@zone_option
@provider_option
@click.option("--plan", "plan_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Apply exactly this reviewed plan (from `plan --save-plan`).")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--force", is_flag=True, help="Apply even over the safety thresholds or an apex NS change.")
@click.option("--refresh-flattened", is_flag=True,
              help="Apply only the flattened ALIAS RRsets (the targets' addresses now), nothing else:"
                   " safe for a scheduled job.")
@click.option("--wait", is_flag=True,
              help="Then watch until fully propagated, as `dnssync watch` does.")
@deadline_options
@interval_option
@format_option("text", "json")
@pass_ctx
def apply(ctx: Context, zones: tuple[str, ...], providers: tuple[str, ...], plan_file: Path | None,
          yes: bool, force: bool, refresh_flattened: bool, wait: bool, deadline: float | None,
          old_timeout: float | None, interval: float,
          fmt: str) -> None:
    """Apply the changes to every provider.

    A failing provider is retried when the failure is transient, then reported;
    the others are still applied. Exit 1 if any provider failed. With --wait,
    then exit as `dnssync watch` does (0 once fully propagated)."""
    timeout = deadline_of("apply", deadline, old_timeout)
    if plan_file and (zones or providers or refresh_flattened):
        raise UsageError("--plan applies the reviewed plan as it is; drop --zone/--provider/--refresh-flattened")
    repo = ctx.repo(zones)
    with apply_lock(repo.config.state_dir):  # from before reading the providers: no plan goes stale under us
        if plan_file:
            plan, lives, check = reviewed_plan(repo, plan_file)
        else:
            plan, lives = plan_repository(repo, list(providers) or None, refresh_flattened=refresh_flattened)
            skipped = Flattening.skip_new_zones(plan, lives) if refresh_flattened else []
            if skipped:
                ctx.say(f"--refresh-flattened skips {', '.join(skipped)}: the provider does not have the zone"
                        " yet, and a refresh never creates one (a full apply does)")
            check = safety_check(force)
        if fmt == "text":
            print_plan(ctx.out, plan)
        gate(plan, force)
        if not plan.has_changes and not plan.errors:
            if fmt == "json":
                ctx.emit(_document({"plan": json.loads(plan.to_json()), "apply": None}, wait))
            if refused(plan):
                raise click.exceptions.Exit(1)
            return
        confirm(ctx, "Apply these changes?", yes)
        if not plan_file and not refresh_flattened:
            plan, lives = create_zones(ctx, repo, plan, lives, list(providers) or None, force, fmt)
        settings = repo.config.defaults
        canaries = frozenset(p.name for p in repo.config.providers.values() if p.canary)
        with interrupt.sigint_stops(ctx.say):
            result = run_apply(plan, lives, partial(replan, repo), check, repo.config.state_dir, settings.retries,
                               settings.backoff, canaries)
            if not result.failed:  # multi-signer zones: DNSKEYs published, waited for, retired
                result.outcomes += exchange_keys(repo.config, plan, repo.providers(), ctx.say,
                                                 partial(replan_keys, repo)).outcomes
    if fmt == "json":
        ctx.emit(_document({"plan": json.loads(plan.to_json()), "apply": {
            "id": result.id, "snapshot": result.snapshot,
            "outcomes": [asdict(o) for o in result.outcomes]}}, wait))
    else:
        print_apply(ctx.out, result)
    if result.interrupted:
        raise click.exceptions.Exit(130)
    if result.failed:
        if wait and fmt == "text":
            ctx.out.print("Not waiting for propagation: the apply failed.")
        raise click.exceptions.Exit(1)
    if wait:
        record = find_apply(repo.config.state_dir, result.id)
        code = run_watch(ctx, repo, record, timeout, interval, fmt)
        if code:
            raise click.exceptions.Exit(code)
    if refused(plan):
        raise click.exceptions.Exit(1)


def refused(plan: Plan) -> bool:
    """Whether the plan refused records it could not serve (an ALIAS target that did not
    resolve): the rest was applied, and the exit code still says something is missing."""
    return any(f.code == "alias.unresolved" for f in plan.findings)


def _document(data: dict, wait: bool) -> str:
    """apply's JSON; with --wait the first of the watch's one-line events."""
    return json.dumps({"event": "apply", **data}) if wait else json.dumps(data, indent=2)
