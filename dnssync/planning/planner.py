"""The planner: every (provider, zone) pair planned in parallel into a `Plan` (the
data, `dnssync.model.plan`) and, where apply needs them, the octoDNS objects beside
it (`LivePlan`). Forked processes when only the data is needed (reading a provider is
CPU-bound Python); when apply needs the live objects, threads, or for a fleet forked
workers that keep them for the apply (held.py)."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from itertools import groupby
from operator import itemgetter

from octodns.processor.base import BaseProcessor
from octodns.provider.base import BaseProvider
from octodns.provider.plan import Plan as OctoPlan
from octodns.provider.plan import UnsafePlan
from octodns.zone import Zone

from dnssync.model.plan import Change, Plan, ProviderPlan
from dnssync.model.records import digest, zone_content
from dnssync.planning.adjust import adjustments
from dnssync.planning.held import MIN_PAIRS, HeldPlans, Lives, LocalPlans, plan_in_threads
from dnssync.planning.unchanged import in_sync
from dnssync.providers.breaker import asking
from dnssync.providers.hints import describe_error
from dnssync.providers.keptread import keep_reads
from dnssync.repo.spread import cores, freeze_inherited


@dataclass
class LivePlan:
    """The data plan of one provider and zone, with the octoDNS objects apply needs."""

    data: ProviderPlan
    provider: BaseProvider
    desired: Zone
    existing: Zone | None
    octo: OctoPlan | None
    error: BaseException | None = None  # why the live state could not be read
    processors: list[BaseProcessor] = field(default_factory=list)  # planned with these (flatten.py)


class _CaptureExisting(BaseProcessor):
    """octoDNS processor hook that keeps the provider's live zone as planned against."""

    def __init__(self) -> None:
        super().__init__("dnssync-capture")
        self.existing: Zone | None = None

    def process_target_zone(self, existing, target, lenient=False):
        self.existing = existing
        return existing


def plan_one(name: str, provider: BaseProvider, desired: Zone,
             update_threshold: float, delete_threshold: float,
             processors: list[BaseProcessor] | None = None, quick: bool = False) -> LivePlan:
    """Plan one provider for one zone. Never raises: a failure is the plan's `error`.
    `processors` are octoDNS processors run after the live state is read (flatten.py).
    `quick`: a zone the provider holds exactly as it should is known without octoDNS's
    objects (unchanged.py; its LivePlan then has none: nothing to apply). Re-plans after
    an apply (run.replan) are never quick: they want octoDNS's pending changes."""
    processors = list(processors or [])
    data = ProviderPlan(provider=name, zone=desired.name)
    capture = _CaptureExisting()
    try:
        data.adjustments, served = adjustments(provider, desired)
        # a pair found changed is populated from the quick read's answer; a provider that
        # gave no answer to the last pairs is not asked again for this one (breaker.py)
        with asking(provider, desired.name), keep_reads():
            same = in_sync(provider, served) if quick and not processors else None
            if same is not None:
                data.exists = True
                data.existing_count, data.existing_digest = same
                return LivePlan(data, provider, desired, None, None, processors=processors)
            # planned against what it will serve, so a TTL clamp converges instead of
            # showing the same update forever
            octo = provider.plan(served, processors=[capture, *processors])
    except Exception as e:  # any provider failure is reported, never fatal to the run
        data.error = describe_error(e, provider)
        return LivePlan(data, provider, desired, capture.existing, None, e, processors)
    existing = capture.existing
    data.exists = octo.exists if octo else True
    if existing is not None:
        data.existing_count = len(existing.records)
        data.existing_digest = digest(existing)
    if octo:
        data.changes = [Change.from_octodns(c) for c in octo.changes]
        _set_thresholds(octo, update_threshold, delete_threshold)
        try:
            octo.raise_if_unsafe()
        except UnsafePlan as e:
            data.unsafe = str(e)
    return LivePlan(data, provider, desired, existing, octo, processors=processors)


def _set_thresholds(octo: OctoPlan, update_threshold: float, delete_threshold: float) -> None:
    """The repository's thresholds on this one octoDNS plan, where the zone sets none of
    its own (octoDNS's precedence). Set on the plan, never on the provider object, which
    every zone's planning thread shares."""
    for attr, value in (("update_pcent_threshold", update_threshold), ("delete_pcent_threshold", delete_threshold)):
        if getattr(octo.existing, attr, None) is None:
            setattr(octo, attr, value)


#: per (provider, zone): the zone it must serve where it differs from the shared desired
#: zone, and octoDNS processors its plan needs (flatten.Flattening.zones / .processors)
Overrides = tuple[dict[tuple[str, str], Zone], dict[tuple[str, str], list[BaseProcessor]]]


def make_plan(
    desired: dict[str, Zone],
    providers: dict[str, BaseProvider],
    serves: dict[str, list[str]],
    update_threshold: float = 0.3,
    delete_threshold: float = 0.3,
    concurrency: int = 8,
    live: bool = True,
    overrides: Overrides | None = None,
    jobs: int | None = 1,
) -> tuple[Plan, Lives]:
    """Plan every (provider, zone) pair in parallel. `serves` maps zone -> provider names.

    Without `live` (the `plan` command needs only data) pairs are planned in forked
    processes: reading a provider and building its octoDNS records is CPU-bound
    Python, so threads would take turns on one core while processes use them all.
    With `live` (apply needs the octoDNS objects) they are planned in threads, or, with
    `jobs` > 1, by `jobs` forked workers that keep the live plans for the apply (held.py).
    `jobs=None`: one worker per core from MIN_PAIRS pairs up, else threads. The second
    value holds the live plans (none without `live`)."""
    tasks = [(p, z) for z in sorted(desired) for p in serves[z] if p in providers]
    thresholds = (update_threshold, delete_threshold)
    overrides = overrides or ({}, {})
    forks = "fork" in multiprocessing.get_all_start_methods()
    zones = {name: zone_content(zone) for name, zone in sorted(desired.items())}

    def plan_task(task: tuple[str, str]) -> LivePlan:
        return _plan_task(task, desired, providers, thresholds, overrides)

    if live:
        lives = plan_live(tasks, plan_task, jobs, concurrency)
        return Plan(zones=zones, providers=lives.data), lives
    data: list[ProviderPlan] | None = None
    if len(tasks) > 1 and forks:
        data = _plan_in_processes(tasks, desired, providers, thresholds, concurrency, overrides)
    if data is None:
        data = [lp.data for lp in plan_in_threads(tasks, plan_task, concurrency)]
    return Plan(zones=zones, providers=data), LocalPlans([])


def plan_live(tasks: list[tuple[str, str]], plan_task: Callable[[tuple[str, str]], LivePlan], jobs: int | None,
              concurrency: int) -> Lives:
    """The live plans of `tasks` (what apply sends): by `jobs` forked workers that keep
    them (held.py), or in threads here (`jobs` 1, no fork, or the workers failed).
    `jobs=None`: one worker per core from MIN_PAIRS pairs up."""
    if jobs is None:
        jobs = cores() if len(tasks) >= MIN_PAIRS else 1
    if jobs > 1 and len(tasks) > 1 and "fork" in multiprocessing.get_all_start_methods():
        workers = min(jobs, len(tasks))
        threads = max(1, concurrency // workers)
        shares = [tasks[len(tasks) * i // workers:len(tasks) * (i + 1) // workers] for i in range(workers)]
        held = HeldPlans.start(shares, lambda share: plan_in_threads(share, plan_task, threads))
        if held is not None:
            return held
    return LocalPlans(plan_in_threads(tasks, plan_task, concurrency))


def _plan_task(task: tuple[str, str], desired: dict[str, Zone], providers: dict[str, BaseProvider],
               thresholds: tuple[float, float], overrides: Overrides) -> LivePlan:
    """One pair of a whole plan: a pair in sync is known the quick way (unchanged.py), in
    plan and apply alike, so a reviewed plan's digests are made the same way at apply."""
    zone = overrides[0].get(task, desired[task[1]])
    return plan_one(task[0], providers[task[0]], zone, *thresholds, overrides[1].get(task), quick=True)


class _Worker:
    """What a forked planning worker plans with (desired zones, providers, thresholds,
    overrides). octoDNS zones and provider objects are not picklable, so they reach the
    worker by fork, through the pool's initializer (a fork start method pickles neither
    it nor its arguments); each worker process holds its own `current`, the parent none."""

    current: tuple[dict[str, Zone], dict[str, BaseProvider], tuple[float, float], Overrides] | None = None
    threads = 1

    @classmethod
    def start(cls, threads: int, *state) -> None:
        freeze_inherited()
        cls.threads = threads
        cls.current = state

    @classmethod
    def plan(cls, tasks: list[tuple[str, str]]) -> list[ProviderPlan]:
        assert cls.current is not None, "a planning worker runs only in a forked pool"
        state = cls.current
        return [lp.data for lp in plan_in_threads(tasks, lambda task: _plan_task(task, *state), cls.threads)]


def _plan_in_processes(tasks: list[tuple[str, str]], desired: dict[str, Zone], providers: dict[str, BaseProvider],
                       thresholds: tuple[float, float], concurrency: int,
                       overrides: Overrides) -> list[ProviderPlan] | None:
    """Plan in forked workers, one per core, each planning in `concurrency` / workers
    threads (the reads of a provider far away wait in parallel, as in apply's held
    workers); None when the pool breaks (the caller then uses threads). It forked
    `concurrency` workers on any machine: eight copies of a fleet's parent on two cores.
    With zones enough to keep every worker busy, a zone's pairs go to one worker
    together: its providers' served zones share the desired zone's records, whose
    canonical form is then made once (sameness.rrsets_of); with few, pair by pair."""
    workers = max(1, min(cores(), len(tasks)))
    units = [list(pairs) for _, pairs in groupby(tasks, key=itemgetter(1))]  # tasks come by zone
    if len(units) < workers * 4:
        units = [[task] for task in tasks]
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"),
                                 initializer=_Worker.start,
                                 initargs=(max(1, concurrency // workers), desired, providers, thresholds,
                                           overrides)) as pool:
            # in chunks: one pickled round trip per pair cost more than planning a small zone
            planned = pool.map(_Worker.plan, units, chunksize=max(1, len(units) // (workers * 4)))
            return [data for unit in planned for data in unit]
    except BrokenProcessPool:
        return None
