"""Apply a plan to every provider, each isolated from the others.

octoDNS's apply stops at the first failing target. Here every provider runs in
its own thread; a failure at one (API down, HTTP 5xx, timeout, refused update)
is retried with backoff when it is transient (each retry re-plans, so it picks
up from wherever the failure left the zone), then reported with how much of the
zone is still pending, while the other providers are applied regardless.
Gates (safety thresholds, apex NS changes, parity) are checked before anything
is sent; the live content is snapshotted before anything is sent.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import dns.exception
import requests

from dnssync.applying import readback, snapshot
from dnssync.applying.state import applies_dir, stamp, write_json
from dnssync.model import interrupt
from dnssync.model.plan import Plan
from dnssync.planning.planner import LivePlan
from dnssync.providers.hints import describe_error

Replan = Callable[[LivePlan], LivePlan]


@dataclass
class Outcome:
    provider: str
    zone: str
    status: str  # applied | unchanged | failed | skipped | interrupted (Ctrl-C)
    changes: int = 0
    attempts: int = 0
    error: str | None = None
    pending: int | None = None  # changes still pending after a failure (None: unknown)
    started: str | None = None
    finished: str | None = None
    #: whether running apply again may help (a transient failure); a refusal of the
    #: data, or data a provider did not store, happens again the same way
    retryable: bool = True
    #: the provider reported success and reading it back contradicted it
    contradicted: bool = False

    @property
    def detail(self) -> str:
        if self.status == "applied":
            return f"{self.changes} change(s)" + (f" after {self.attempts} attempts" if self.attempts > 1 else "")
        if self.status == "interrupted":
            if self.attempts == 0:
                return f"{self.error} [not started: nothing was sent]"
            if self.pending is None:
                return f"{self.error} [live state unknown (could not re-read the provider)]"
            if self.pending == 0:
                return f"{self.error} [yet the zone now matches git]"
            if self.pending == self.changes:
                return f"{self.error} [nothing was changed]"
            return (f"{self.error} [PARTIALLY APPLIED: {self.pending} of {self.changes} change(s) still pending;"
                    " re-run apply to converge]")
        if self.status == "failed":
            if self.pending is None:
                state = "live state unknown (could not re-read the provider)"
            elif self.contradicted:
                state = f"read back: {self.pending} change(s) still pending"
            elif self.pending == 0:
                state = "yet the zone now matches git"
            elif self.pending == self.changes:
                state = "nothing was changed"
            else:
                state = f"PARTIALLY APPLIED: {self.pending} of {self.changes} change(s) still pending"
            hint = "; re-run apply to converge" if self.retryable and self.pending != 0 else ""
            return f"{self.error} [{state}{hint}]"
        return self.error or ""


@dataclass
class ApplyResult:
    id: str
    snapshot: str | None
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(o.status in ("failed", "interrupted") for o in self.outcomes)

    @property
    def interrupted(self) -> bool:
        return any(o.status == "interrupted" for o in self.outcomes)


def is_transient(error: BaseException) -> bool:
    """Whether trying again later may succeed (network, timeouts, 5xx), or not (4xx, REFUSED).
    A provider's own error says so in its `transient` attribute (Rfc2136Error, Refused,
    Route53Error)."""
    if isinstance(getattr(error, "transient", None), bool):
        return error.transient  # type: ignore[attr-defined]
    if isinstance(error, requests.HTTPError):
        status = error.response.status_code if error.response is not None else 0
        return status >= 500 or status == 429
    if isinstance(error, requests.RequestException):  # also an OSError: only these two pass
        return isinstance(error, requests.ConnectionError | requests.Timeout)
    return isinstance(error, dns.exception.Timeout | OSError | EOFError)


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
                with interrupt.sending(f"{outcome.provider}/{outcome.zone}"):
                    interrupt.checkpoint()
                    current.provider.apply(current.octo)
            except Exception as e:  # isolate: any provider failure becomes this outcome
                error = e
            else:
                outcome.changes = max(planned, len(current.octo.changes))
                read_back(outcome, current, replan)
                break
        outcome.error = describe_error(error, current.provider)
        stopped = isinstance(error, interrupt.Interrupted)
        if not stopped and is_transient(error) and outcome.attempts <= retries:
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


def run_apply(
    plan: Plan,
    lives: list[LivePlan],
    replan: Replan,
    check: Check,
    state_dir: Path,
    retries: int = 3,
    backoff: float = 1.0,
    canaries: frozenset[str] = frozenset(),
) -> ApplyResult:
    """Snapshot, then apply every provider in parallel (canaries first); record the apply.
    The caller holds the repository's apply lock (from before it planned)."""
    result = ApplyResult(id=stamp(), snapshot=None)
    lock = threading.Lock()

    def save(*pairs: LivePlan) -> None:
        with lock:
            result.snapshot = snapshot.save(state_dir, [(lp.data.provider, lp.existing, lp.data.exists)
                                                        for lp in pairs], plan.revision, result.snapshot)

    readable = [lp for lp in lives if lp.existing is not None and lp.octo is not None]
    if readable:
        save(*readable)
    by_provider: dict[str, list[LivePlan]] = {}
    for lp in lives:
        by_provider.setdefault(lp.data.provider, []).append(lp)

    def provider_run(name: str) -> list[Outcome]:
        return [apply_one(lp, replan, check, save, retries, backoff) for lp in by_provider[name]]

    waves = [[p for p in by_provider if p in canaries], [p for p in by_provider if p not in canaries]]
    for wave in waves:
        if not wave:
            continue
        if result.failed:  # a canary failed (or Ctrl-C): stop before touching the others
            why = "not applied: a canary provider failed" if not result.interrupted else str(interrupt.Interrupted())
            result.outcomes += [Outcome(lp.data.provider, lp.data.zone,
                                        "interrupted" if result.interrupted else "skipped",
                                        changes=len(lp.data.changes), pending=len(lp.data.changes), error=why)
                                for p in wave for lp in by_provider[p]]
            continue
        with ThreadPoolExecutor(max_workers=len(wave)) as pool:
            for outcomes in pool.map(provider_run, wave):
                result.outcomes.extend(outcomes)
    write_json(applies_dir(state_dir) / f"{result.id}.json", {
        "id": result.id,
        "snapshot": result.snapshot,
        "plan": plan.to_json(),
        "outcomes": [asdict(o) for o in result.outcomes],
    }, sealed=True)
    return result
