"""Apply a plan to every provider, each isolated from the others.

octoDNS's apply stops at the first failing target. Here every provider runs in
its own thread; a failure at one (API down, HTTP 5xx, timeout, refused update)
is retried with backoff when it is transient (each retry re-plans, so it picks
up from wherever the failure left the zone), then reported with how much of the
zone is still pending, while the other providers are applied regardless.
What may be sent was decided before (gates.py, run.py: an `ApplyRun`); every pair
re-planned on a retry passes its gates again. The live content is snapshotted
before anything is sent, and the apply is recorded (record.py) for `watch`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from dnssync.applying import readback, snapshot
from dnssync.applying.gates import Gates
from dnssync.applying.record import ApplyResult, Outcome
from dnssync.applying.run import ApplyRun
from dnssync.applying.state import stamp
from dnssync.model import interrupt
from dnssync.planning.held import Lost, writing
from dnssync.planning.planner import LivePlan, plan_one
from dnssync.providers.breaker import NotAsked, asking
from dnssync.providers.hints import describe_error, is_transient

Replan = Callable[[LivePlan], LivePlan]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


#: why a (re-)planned pair must not be applied now, or None (see apply_one)
Check = Callable[[LivePlan], str | None]


def apply_one(live: LivePlan, replan: Replan, check: Check, save: Callable[[LivePlan], None],
              retries: int, backoff: float) -> Outcome:
    """Apply one provider's plan for one zone, with retries; never raises.

    A retry re-plans (so it picks up from wherever a failure left the zone), and
    what it re-planned passes `check` again (safety thresholds, a reviewed plan's
    digest), since it was not what the user saw; a pair first read on a retry is
    snapshotted (`save`) before anything is sent."""
    outcome = Outcome(live.data.provider, live.data.zone, "unchanged", started=_now())
    planned = len(live.data.changes)
    if interrupt.STOP.is_set():  # Ctrl-C before this pair's turn: nothing sent
        outcome.status, outcome.error = "interrupted", str(interrupt.Interrupted())
        outcome.changes = outcome.pending = planned
        outcome.finished = outcome.started
        return outcome
    current = live
    saved = live.existing is not None
    while True:
        outcome.attempts += 1
        error = current.error
        if error is None:
            refusal = check(current)
            if refusal is not None:
                outcome.status, outcome.error = "failed", refusal
                outcome.changes = outcome.pending = len(current.data.changes)
                break
            if current.octo is None:
                outcome.status = "unchanged" if outcome.attempts == 1 else "applied"
                outcome.changes = 0 if outcome.attempts == 1 else planned
                break
            if not saved:
                save(current)
                saved = True
            try:
                concurrent = getattr(current.provider, "CONCURRENT_WRITES", False)
                with writing(outcome.provider, concurrent), interrupt.sending(f"{outcome.provider}/{outcome.zone}"):
                    interrupt.checkpoint()
                    with asking(current.provider, outcome.zone, patient=True):
                        current.provider.apply(current.octo)
            except Exception as e:  # isolate: any provider failure becomes this outcome
                error = e
            else:
                outcome.changes = max(planned, len(current.octo.changes))
                read_back(outcome, current, replan)
                break
        outcome.error = describe_error(error, current.provider)
        stopped = isinstance(error, interrupt.Interrupted)
        # a provider that is not asked now (breaker.py) would not be asked on a retry either
        if not stopped and is_transient(error) and not isinstance(error, NotAsked) and outcome.attempts <= retries:
            try:
                interrupt.pause(backoff * 2 ** (outcome.attempts - 1))
            except interrupt.Interrupted as e:
                error, stopped = e, True
                outcome.error = describe_error(e, current.provider)
            else:
                current = replan(current)
                continue
        # the end: what is still pending is read back from the provider, never assumed
        outcome.status = "interrupted" if stopped else "failed"
        outcome.retryable = not stopped and is_transient(error)
        outcome.changes = planned or len(current.data.changes)
        after = replan(current)
        outcome.pending = None if after.error else len(after.data.changes)
        break
    outcome.finished = _now()
    return outcome


def read_back(outcome: Outcome, sent: LivePlan, replan: Replan) -> None:
    """Judge an apply the provider reported as successful by reading it again: a change
    still pending was not stored, whatever the provider said (a server that silently
    ignores an update, as RFC 2136 lets it). The names it changed are read back first
    (readback.py); unless they show exactly what was planned, the zone is re-planned,
    the same read as plan, and that plan says what is pending. Running apply again
    helps only if it would send something new (the zone changed meanwhile); sending
    what was just ignored gets it ignored again."""
    outcome.status = "applied"
    if readback.stored(sent):
        return
    after = replan(sent)
    if after.error is not None:
        outcome.status, outcome.pending = "failed", None
        outcome.error = f"applied, but reading it back failed: {after.data.error}"
        return
    missing = after.data.changes
    if missing:
        outcome.status, outcome.pending, outcome.contradicted = "failed", len(missing), True
        outcome.retryable = any(change not in sent.data.changes for change in missing)
        listed = "; ".join(c.summary for c in missing[:_LISTED])
        more = f"; and {len(missing) - _LISTED} more" if len(missing) > _LISTED else ""
        outcome.error = (f"applied, but {len(missing)} RRset(s) not stored: the provider reported success,"
                         f" and reading it back, these changes are still pending: {listed}{more}")


#: how many unstored RRsets an outcome lists by name
_LISTED = 20


@dataclass(frozen=True)
class Sending:
    """What every attempt at every pair of one apply needs, wherever it runs (this
    process, or a worker holding the pair's live plan: so it pickles)."""

    gates: Gates
    state_dir: Path
    revision: str | None
    snapshot: str  # the apply's snapshot id: pairs first read on a retry join it
    retries: int
    backoff: float


def replan(gates: Gates, live: LivePlan) -> LivePlan:
    """Read one pair again (a retry, or reading back after a send), with the apply's thresholds."""
    return plan_one(live.data.provider, live.provider, live.desired, *gates.thresholds, live.processors)


def snapshot_share(lives: list[LivePlan], state_dir: Path, snapshot_id: str) -> list[dict]:
    """Write the live content of every pair about to change into the apply's snapshot,
    where it was read (each worker its own share, at once); their meta.json entries,
    which the apply lists (snapshot.add_entries) before anything is sent."""
    return snapshot.write_files(state_dir, [snapshot.render(lp.data.provider, lp.existing, lp.data.exists)
                                            for lp in lives if lp.existing is not None and lp.octo is not None],
                                snapshot_id)


def apply_share(lives: list[LivePlan], wave: list[str], how: Sending) -> tuple[list[Outcome], bool]:
    """Apply the pairs of `lives` whose provider is in `wave`: one thread per provider,
    its zones one after the other. Returns their outcomes and whether a pair first read
    on a retry was added to the snapshot."""
    lock = threading.Lock()
    saved = False

    def save(live: LivePlan) -> None:
        nonlocal saved
        with lock:
            snapshot.save(how.state_dir, [(live.data.provider, live.existing, live.data.exists)], how.revision,
                          how.snapshot)
            saved = True

    by_provider: dict[str, list[LivePlan]] = {}
    for lp in lives:
        if lp.data.provider in wave:
            by_provider.setdefault(lp.data.provider, []).append(lp)

    def provider_run(name: str) -> list[Outcome]:
        return [apply_one(lp, partial(replan, how.gates), how.gates.recheck, save, how.retries, how.backoff)
                for lp in by_provider[name]]

    with ThreadPoolExecutor(max_workers=max(1, len(by_provider))) as pool:
        outcomes = [outcome for part in pool.map(provider_run, list(by_provider)) for outcome in part]
    return outcomes, saved


def run_apply(run: ApplyRun) -> ApplyResult:
    """Snapshot, then apply every provider in parallel (canaries first); record the apply.
    The caller holds the repository's apply lock (from before it planned). The live plans
    are in this process or held by forked workers (planning/held.py): either way each
    part of the work runs where they are (`Lives.call`)."""
    plan = run.plan
    result = ApplyResult(id=stamp(), snapshot=None, plan=plan)
    how = Sending(run.gates, run.state_dir, plan.revision, stamp(), run.retries, run.backoff)
    entries = [entry for part in run.lives.call(snapshot_share, run.state_dir, how.snapshot) for entry in part]
    if entries:
        result.snapshot = snapshot.add_entries(run.state_dir, entries, plan.revision, how.snapshot)
    with ThreadPoolExecutor(max_workers=1) as sealing:
        # the plan's part of the record (a fleet's: megabytes), serialised while the
        # workers send: the plan does not change now, and this process only waits
        sealed_plan = sealing.submit(plan.sealed_text)
        _apply_waves(run, result, how)
    result.save(run.state_dir, sealed_plan.result())
    return result


def _apply_waves(run: ApplyRun, result: ApplyResult, how: Sending) -> None:
    """The providers applied in two waves, canaries first, their outcomes added to
    `result` in plan order; the second wave is skipped when the first failed."""
    pairs = run.lives.data
    order = {(p.provider, p.zone): index for index, p in enumerate(pairs)}
    providers = list(dict.fromkeys(p.provider for p in pairs))
    waves = [[p for p in providers if p in run.canaries], [p for p in providers if p not in run.canaries]]
    for wave in waves:
        if not wave:
            continue
        if result.failed:  # a canary failed (or Ctrl-C): stop before touching the others
            why = "not applied: a canary provider failed" if not result.interrupted else str(interrupt.Interrupted())
            result.outcomes += [Outcome(p.provider, p.zone, "interrupted" if result.interrupted else "skipped",
                                        changes=len(p.changes), pending=len(p.changes), error=why)
                                for p in pairs if p.provider in wave]
            continue
        outcomes: list[Outcome] = []
        for part in run.lives.call(apply_share, wave, how):
            if isinstance(part, Lost):
                outcomes += [Outcome(p.provider, p.zone, "unchanged") if not (p.changes or p.error) else
                             Outcome(p.provider, p.zone, "failed", changes=len(p.changes), error=part.why,
                                     retryable=True) for p in part.pairs if p.provider in wave]
                continue
            done, saved = part
            outcomes += done
            if saved:
                result.snapshot = how.snapshot
        outcomes.sort(key=lambda o: (wave.index(o.provider), order[(o.provider, o.zone)]))
        result.outcomes += outcomes
