"""The planning stage for a loaded repository: ALIAS flattened where a provider cannot
hold it, every provider planned, and the plan's findings gathered (the repository's
own, withheld records, flattening, the parity gate), each pointed at its file and line.
Every command that plans (plan, apply, drift, restore) comes through here."""

from __future__ import annotations

from octodns.zone import Zone

from dnssync.model.plan import Plan
from dnssync.planning.flatten import as_data, prepare
from dnssync.planning.held import Lives
from dnssync.planning.keyplan import plan_keys
from dnssync.planning.parity import check_plan
from dnssync.planning.planner import make_plan
from dnssync.planning.withheld import withheld_findings
from dnssync.repo.repository import Repository


def plan_repository(repo: Repository, providers: list[str] | None = None, desired: dict[str, Zone] | None = None,
                    live: bool = True, flattened: list[dict] | None = None,
                    refresh_flattened: bool = False, jobs: int | None = 1) -> tuple[Plan, Lives]:
    """Plan the providers (None: all) for the desired zones (None: the repository's);
    `live=False` when only the data is needed (see make_plan). ALIAS records are
    flattened where a provider cannot hold them (flatten.py), from `flattened` (a
    reviewed plan's) when given; `refresh_flattened` plans only those RRsets. `jobs`: see
    make_plan (forked workers that keep a fleet's live plans for the apply)."""
    policy, defaults = repo.config.policy, repo.config.defaults
    repo.read_nameservers()
    desired = repo.desired if desired is None else desired
    serves = repo.serves(providers, list(desired))
    flat = prepare(repo.config, desired, repo.providers(), serves, repo.locate, flattened)
    if refresh_flattened:
        flat.refresh_only(serves)
    plan, lives = make_plan(desired, repo.providers(), serves, policy.update_threshold,
                            policy.delete_threshold, defaults.concurrency, live,
                            (flat.zones, flat.processors), jobs)
    plan.revision = repo.revision
    plan.repository = repo.identity
    plan.flattened = as_data(flat.records)
    withheld = withheld_findings(repo.config, [z for z in repo.zones if z.name in desired], repo.providers())
    plan.findings = (list(repo.findings) + withheld + flat.findings
                     + check_plan(plan, desired, repo.providers(), policy, repo.locate))
    if not refresh_flattened:  # a refresh sends the flattened RRsets and nothing else
        replan_keys(repo, plan, list(desired))
    repo.locate_changes(plan)
    flat.annotate(plan, repo.locate)
    return plan, lives


def replan_keys(repo: Repository, plan: Plan, zones: list[str]) -> None:
    """The multi-signer key exchange of `zones` planned (again) into `plan`. Every provider
    of such a zone is read, also those not selected: a key is retired only when no
    provider signs with it."""
    plan_keys(repo.config, plan, repo.serves(None, zones), lambda name: type(repo.providers()[name]).__name__)
