"""One apply, prepared: the plan and the live octoDNS objects to send, the `Gates` they
passed and every retry must pass, and where the apply's state goes. Made one of
three ways, which are the three kinds of apply:

- `ApplyRun.fresh`: plan the repository now (`dnssync apply`);
- `ApplyRun.reviewed`: re-plan against a reviewed plan's own content, refused unless
  every provider's live state is still what was reviewed (`dnssync apply --plan`);
- `ApplyRun.restore`: plan a snapshot's saved content as each provider's desired
  zone (`dnssync restore`).

Commands print the plan, ask, and hand the run to `apply.run_apply`; what may be
sent, and when to refuse, is decided here and in gates.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from octodns.zone import Zone

from dnssync.applying import snapshot
from dnssync.applying.gates import Gates, Pair
from dnssync.applying.keyexchange import exchange_keys
from dnssync.applying.record import ApplyResult
from dnssync.model.errors import DnssyncError, PlanMismatch, UsageError
from dnssync.model.plan import Plan
from dnssync.model.records import zone_content, zone_from_content
from dnssync.planning.flatten import Flattening
from dnssync.planning.held import Lives, LocalPlans
from dnssync.planning.parity import blocking
from dnssync.planning.planner import LivePlan, plan_live, plan_one
from dnssync.planning.run import plan_repository, replan_keys
from dnssync.repo.config import Config, zone_name
from dnssync.repo.gitrev import head_revision
from dnssync.repo.plugins import build_providers
from dnssync.repo.repository import Repository
from dnssync.repo.zones import all_sub_zones, discover


@dataclass
class ApplyRun:
    """One apply: what to send, the gates it passed, how it retries, where its state goes."""

    plan: Plan
    #: the pairs' live plans: here, or held by forked workers (a fleet: planning/held.py)
    lives: Lives
    gates: Gates
    state_dir: Path
    retries: int = 3
    backoff: float = 1.0
    canaries: frozenset[str] = frozenset()  # applied first; a failure there stops the rest
    repo: Repository | None = None  # the repository planned (None: a restore)
    #: a fresh full apply creates the zones a `nameservers: auto` provider lacks
    #: (create_zones); a reviewed plan, a refresh and a restore create none
    creates_zones: bool = False
    providers: list[str] | None = None  # the providers asked for (None: all)
    skipped: list[str] = field(default_factory=list)  # `--refresh-flattened`: provider/zone pairs left out
    created: list[str] = field(default_factory=list)  # provider/zone pairs create_zones created
    jobs: int | None = 1  # forked workers that plan and apply a fleet (held.py; None: by its size)

    @classmethod
    def fresh(cls, repo: Repository, providers: list[str] | None = None, force: bool = False,
              refresh_flattened: bool = False, jobs: int | None = None) -> ApplyRun:
        """Plan `providers` (None: all) now. With `refresh_flattened` only the flattened
        ALIAS RRsets, and never at a provider that lacks the zone (a refresh never creates
        one). `jobs`: worker processes (None: one per core for a fleet; a refresh: none)."""
        jobs = 1 if refresh_flattened else jobs
        plan, lives = plan_repository(repo, providers, refresh_flattened=refresh_flattened, jobs=jobs)
        skipped = Flattening.skip_new_zones(plan, _here(lives)) if refresh_flattened else []
        return cls(plan, lives, Gates.of(repo.config.policy, force), **_settings(repo.config),
                   repo=repo, creates_zones=not refresh_flattened, providers=providers, skipped=skipped, jobs=jobs)

    @classmethod
    def reviewed(cls, repo: Repository, path: Path, force: bool = False, jobs: int | None = None) -> ApplyRun:
        """Re-plan against the reviewed plan's own desired content and refuse (PlanMismatch,
        nothing sent) if it is bound to another repository or revision, names a provider
        no longer configured, or any provider's live state (or the resulting changes)
        differs from what was reviewed, or the plan would now touch a pair it did not list."""
        try:
            saved = Plan.from_json(path.read_text(), str(path))  # its checksum and signature
        except OSError as e:
            raise UsageError(f"cannot read plan {path}: {e.strerror}") from None
        subs = all_sub_zones(list(saved.zones))
        try:
            desired = {name: zone_from_content(name, content, subs[name]) for name, content in saved.zones.items()}
        except Exception as e:  # octoDNS's record validation, whatever it raises: the file is bad input
            raise UsageError(f"{path} is not a dnssync plan: its zone content does not load"
                             f" ({type(e).__name__}: {e}) (nothing was sent)") from None
        gates = Gates.of(repo.config.policy, force, reviewed=saved)
        gates.admit(set(repo.config.providers), repo.identity, repo.revision)
        fresh, lives = plan_repository(repo, sorted({p.provider for p in saved.providers}), desired,
                                       flattened=saved.flattened, jobs=jobs)
        problems = gates.stale(fresh)
        if problems:
            lives.close()
            raise PlanMismatch("refusing to apply a stale plan (nothing was sent): " + "; ".join(problems))
        # the reviewed findings, and any parity finding today's capabilities and policy add
        fresh.findings = saved.findings + [f for f in blocking(fresh.findings) if f not in saved.findings]
        fresh.revision = saved.revision
        return cls(fresh, lives, gates, **_settings(repo.config), repo=repo, jobs=jobs)

    @classmethod
    def restore(cls, config: Config, saved: dict[Pair, Zone]) -> ApplyRun:
        """Each provider's saved zone (see `restore_selection`) as its desired content."""
        missing = sorted({p for p, _ in saved if p not in config.providers})
        if missing:
            raise UsageError(f"snapshot names providers that are no longer configured: {', '.join(missing)}")
        built = build_providers([config.providers[p] for p in sorted({p for p, _ in saved})])
        gates = Gates.for_restore()

        def plan_pair(pair: Pair) -> LivePlan:
            return plan_one(pair[0], built[pair[0]], saved[pair], *gates.thresholds)

        lives = plan_live(sorted(saved), plan_pair, None, config.defaults.concurrency)
        plan = Plan(zones={z.name: zone_content(z) for z in saved.values()}, providers=lives.data,
                    revision=head_revision(config.root))
        # no canary order: a restore puts every provider back at once (as it always has)
        return cls(plan, lives, gates, config.state_dir, config.defaults.retries, config.defaults.backoff,
                   jobs=None)

    def check(self) -> None:
        """Raise the gates' refusal of the plan (DnssyncError, exit 1), if any."""
        refusal = self.gates.refusal(self.plan)
        if refusal and self.created:
            refusal += f" (Before this check, only these empty zones were created: {', '.join(self.created)}.)"
        if refusal:
            raise DnssyncError(refusal)

    def create_zones(self) -> list[str]:
        """`nameservers: auto`: create the zones a provider does not host yet (only once the
        plan was shown, gated and confirmed: creating a zone is a change), then plan again
        so that every provider's apex NS names their nameservers. Returns the pairs created
        ("provider/zone"); the caller shows the new plan and `check`s it again."""
        repo = self.repo
        if repo is None or not self.creates_zones:
            return []
        created = repo.create_pending_zones(self.plan, self.providers)
        if created:
            self.close()
            self.plan, self.lives = plan_repository(repo, self.providers, jobs=self.jobs)
            self.created = created
        return created

    @property
    def nothing_to_send(self) -> bool:
        """No provider needs a change and every one could be read: the apply ends here."""
        return not self.plan.has_changes and not self.plan.errors

    def exchange_keys(self, result: ApplyResult, say: Callable[[str], None]) -> None:
        """Multi-signer zones: once every provider took the records, their DNSKEYs are
        published everywhere, waited for and retired (keyexchange.py); the outcomes join
        `result`'s. Not after a failed apply, and never for a restore."""
        if self.repo is None or result.failed:
            return
        repo = self.repo
        result.outcomes += exchange_keys(repo.config, self.plan, repo.providers(), say,
                                         partial(replan_keys, repo)).outcomes

    def close(self) -> None:
        """End the workers holding live plans, if any (always: also when nothing is sent)."""
        self.lives.close()

    @property
    def refused(self) -> bool:
        """Whether the plan refused records it could not serve (an ALIAS target that did not
        resolve): the rest is applied, and the exit code still says something is missing."""
        return any(f.code == "alias.unresolved" for f in self.plan.findings)


def _here(lives: Lives) -> list[LivePlan]:
    """Live plans this process holds: a refresh plans in threads."""
    assert isinstance(lives, LocalPlans), "planned with jobs=1: the live plans are here"
    return lives.lives


def _settings(config: Config) -> dict:
    return {"state_dir": config.state_dir, "retries": config.defaults.retries, "backoff": config.defaults.backoff,
            "canaries": frozenset(p.name for p in config.providers.values() if p.canary)}


def restore_selection(config: Config, snapshot_id: str, zones: list[str], providers: list[str],
                      accept_unsealed: bool = False) -> dict[Pair, Zone]:
    """The zones of snapshot `snapshot_id` (an id, a prefix, or 'latest') to restore: those
    of `providers` and `zones` (empty: all). Reads local files only, so it needs no
    secret; the zones in the working tree need not load (restore is for bad days)."""
    saved = snapshot.load(config.state_dir, snapshot_id,
                          all_sub_zones(list(discover(config.zones_dir, config.zone_files))), accept_unsealed)
    wanted = {zone_name(z) for z in zones}
    selected = {key: zone for key, zone in saved.items()
                if (not providers or key[0] in providers) and (not wanted or key[1] in wanted)}
    if not selected:
        raise UsageError(f"snapshot {snapshot_id} holds nothing for that provider/zone selection")
    return selected
