"""The apply stage's safety gates, in one place: what refuses a plan before anything is
sent (`refusal`), and what every provider/zone pair must pass again when it is
re-planned on a retry (`recheck`), since what a retry re-read is not what the user saw.

One `Gates` per apply, of one of three kinds:
- a fresh plan: a parity error refuses it (policy.parity: warn accepts the difference);
  an unsafe plan (octoDNS's update/delete thresholds, an apex NS change) needs --force,
  before anything is sent and again on every retry;
- a reviewed plan (`apply --plan FILE`): the same parity and --force gates, and it must
  still be bound to this repository and revision (`admit`), and every pair must still be
  what was reviewed, its live state and changes (`stale`, then `recheck` on every
  attempt); a pair the reviewer could not see (unreadable then) is refused on its own;
- a restore: deliberate, so it passes no gate, and it plans with thresholds of 100%.

Pure decisions on plan data: no provider is read here (applying/run.py plans).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from dnssync.model.binding import binding_problem
from dnssync.model.errors import PlanMismatch
from dnssync.model.plan import Plan, ProviderPlan
from dnssync.planning.parity import blocking
from dnssync.planning.planner import LivePlan
from dnssync.repo.config import Policy

Pair = tuple[str, str]  # (provider, zone)


@dataclass(frozen=True)
class Gates:
    """One apply's gates (see the module docstring): decided once, asked before the apply
    and by every attempt at every pair."""

    update_threshold: float
    delete_threshold: float
    force: bool = False
    restore: bool = False
    #: `apply --plan`: the plan as it was reviewed (None: not a reviewed plan)
    reviewed: Plan | None = field(default=None, compare=False)

    @classmethod
    def of(cls, policy: Policy, force: bool = False, reviewed: Plan | None = None) -> Gates:
        """The repository's gates: its policy's thresholds, and the plan it reviewed, if any."""
        return cls(policy.update_threshold, policy.delete_threshold, force, reviewed=reviewed)

    @classmethod
    def for_restore(cls) -> Gates:
        """A restore puts back what a snapshot holds: no threshold, no gate, no --force."""
        return cls(1.0, 1.0, restore=True)

    @cached_property
    def _as_reviewed(self) -> dict[Pair, ProviderPlan]:
        """Each reviewed pair's data, by (provider, zone)."""
        return {(p.provider, p.zone): p for p in self.reviewed.providers} if self.reviewed else {}

    @property
    def thresholds(self) -> tuple[float, float]:
        """(update, delete) thresholds every (re-)plan of this apply uses."""
        return self.update_threshold, self.delete_threshold

    def refusal(self, plan: Plan) -> str | None:
        """Why `plan` must not be applied at all (nothing is sent then), or None: parity
        errors (only policy.parity: warn accepts those), or unsafe changes (apex NS,
        thresholds) without --force."""
        if self.restore:
            return None
        parity = blocking(plan.findings)
        if parity:
            records = "; ".join(f"{f.name or '@'} {f.type} in {f.zone} ({f.provider})" for f in parity)
            return (f"refusing to apply (nothing was sent): {len(parity)} parity error(s): {records}."
                    " Fix the zone, or accept the difference with policy.parity: warn.")
        unsafe = [f"{p.provider}/{p.zone}: {p.unsafe}" for p in plan.providers if p.unsafe]
        if unsafe and not self.force:
            return "refusing to apply (nothing was sent): " + "; ".join(unsafe) + ". Review the plan, then use --force."
        return None

    def recheck(self, live: LivePlan) -> str | None:
        """Why this (re-)planned pair must not be applied now, or None; asked on every
        attempt (see `recheck_data`)."""
        return self.recheck_data(live.data)

    def recheck_data(self, data: ProviderPlan) -> str | None:
        """Why a pair planned as `data` must not be applied now, or None. A reviewed plan's
        pair must still be as reviewed (the same digest and changes); any other pair
        re-read on a retry must still pass the --force gate."""
        if self.restore:
            return None
        if self.reviewed is not None:
            old = self._as_reviewed.get((data.provider, data.zone))
            if old is None:
                return "not in the reviewed plan"
            if old.error:
                return "could not be read when the plan was made, so its changes were never reviewed: make a new plan"
            if data.existing_digest != old.existing_digest or data.changes != old.changes:
                return "live state changed since the plan was made: make a new plan"
            return None
        if data.unsafe and not self.force:
            return f"re-read on a retry, it now needs --force: {data.unsafe}"
        return None

    def admit(self, configured: set[str], identity: dict[str, str], revision: str | None) -> None:
        """Raise PlanMismatch, before any provider is read, when the reviewed plan names a
        provider no longer configured, or was made for another repository or revision."""
        saved = self.reviewed
        if saved is None:
            return
        missing = sorted({p.provider for p in saved.providers} - configured)
        if missing:
            raise PlanMismatch(f"refusing to apply (nothing was sent): the plan names providers no longer"
                               f" configured: {', '.join(missing)}. Make a new plan.")
        bound = binding_problem(saved.repository, saved.revision, identity, revision)
        if bound:
            raise PlanMismatch(f"refusing to apply (nothing was sent): {bound}. Make a new plan here.")

    def stale(self, fresh: Plan) -> list[str]:
        """A reviewed plan against the same plan made again now (`fresh`): each pair whose
        live state or changes differ, each reviewed pair no longer planned, and each pair
        whose key exchange (multi-signer DNSKEYs) differs. A pair unreadable now or at
        review time is left out here: `recheck` refuses it alone, and the others still go."""
        reviewed = self._as_reviewed

        def unreviewed(data: ProviderPlan) -> bool:
            old = reviewed.get((data.provider, data.zone))
            return old is not None and old.error is not None

        problems = [f"{p.provider}/{p.zone}: {why}" for p in fresh.providers
                    if p.error is None and not unreviewed(p) and (why := self.recheck_data(p))]
        problems += [f"{p}/{z}: no longer planned (zone or provider removed)" for p, z in reviewed
                     if fresh.for_provider(p, z) is None]
        problems += [f"{pp.provider}/{pp.zone}: the DNSKEYs it serves changed since the plan was made (its key"
                     " exchange is not the one reviewed): make a new plan" for pp in fresh.providers
                     if (old := reviewed.get((pp.provider, pp.zone))) is not None and pp.keys != old.keys]
        return problems
