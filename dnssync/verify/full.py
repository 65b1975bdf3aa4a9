"""The whole verify of a set of zones: the records at every nameserver (verify/run.py),
each zone's delegation at its parent, and DNSSEC; in this process, or spread by zone
over forked worker processes.

Why processes: judging answers is CPU-bound Python, so one process tops out at one
core while the servers could answer several times more. A fleet's zones are
independent, so each worker verifies its own contiguous share of them (the sorted zone
list cut where the expected questions balance) and the parent merges what they found:
findings in zone order, counters summed, a nameserver every worker slowed down to
reported once. Workers get the loaded repository by fork, never pickled; only their
results come back. A zone is never split: a small repository gains nothing from a
fork, so it stays in one process (MIN_QUESTIONS per worker); a large one is cut into
parts of at most about MAX_QUESTIONS, each verified by a fresh worker of its own, `jobs`
at once, so that no worker lives long enough to copy much of its parent's memory.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dnssync.model.findings import Finding
from dnssync.repo.repository import Repository
from dnssync.repo.spread import cores, rolling
from dnssync.verify.delegation import check_delegations
from dnssync.verify.dnssec import DnssecResult, check_dnssec
from dnssync.verify.run import Options, Progress, VerifyResult, question_count, throttled_findings, verify

#: findings of the main verify after which the DNSSEC check does not ask that nameserver again
DOWN = ("verify.timeout", "verify.unreachable", "verify.network")
#: questions a worker must have at least to be worth forking (fork, provider set-up,
#: event loop: some tens of milliseconds; a worker asks thousands of questions a second)
MIN_QUESTIONS = 2000
#: questions one worker asks at most: a worker copies every page of its parent's that it
#: touches (the zones it verifies), so a large fleet is verified by fresh workers, each
#: on a part of about this size, and memory stays flat (2,000 zones: 543 MB in two
#: long-lived workers)
MAX_QUESTIONS = 30_000
#: stats that add up across workers (a phase's seconds: how long any worker was in it)
_SUMMED = ("queries", "udp_sent", "retransmits", "tcp", "truncated", "stray", "throttled", "exact",
           "query_cpu_seconds")
_DNSSEC_SUMMED = ("signatures", "validated", "queries")


@dataclass
class Verified:
    """What a whole verify found: the findings and stats (`result`), and the DNSSEC
    check's own result (its matrices, for reporters)."""

    result: VerifyResult
    dnssec: DnssecResult


def verify_zones(repo: Repository, serves: dict[str, list[str]], options: Options, records: bool = True,
                 jobs: int | None = None, progress: Progress | None = None) -> Verified:
    """Verify `serves` (zone -> providers): records (unless only DNSSEC is asked for),
    each zone's delegation (when `parent.check`), DNSSEC; in up to `jobs` processes
    (None: one per core)."""
    parts = [serves]
    if records:
        work = {zone: question_count(repo, {zone: providers}) for zone, providers in serves.items()}
        jobs = jobs or cores()
        parts = [{zone: serves[zone] for zone in part} for part in split(work, jobs)]
    if len(parts) > 1 and "fork" in multiprocessing.get_all_start_methods():
        started = time.perf_counter()
        done = _in_processes(repo, parts, options, jobs, progress)
        if done is not None:
            return _finish(merge(done, time.perf_counter() - started, jobs), options)
    return _finish(_check(repo, serves, options, records, progress), options)


def split(work: dict[str, int], jobs: int) -> list[list[str]]:
    """The zones (zone -> its expected questions) in sorted order, cut into contiguous
    parts of about equal work: `jobs` of them (fewer when each would ask under
    MIN_QUESTIONS), or, when each would ask over MAX_QUESTIONS, a multiple of `jobs`
    (the parts run `jobs` at once: with a last part alone, the other cores would wait)."""
    zones = sorted(work)
    total = sum(work.values())
    count = max(jobs, -(-total // MAX_QUESTIONS))
    count = -(-count // jobs) * jobs  # a count the cores share evenly: none idle at the end
    count = max(1, min(count, len(zones), total // MIN_QUESTIONS))
    if count == 1:
        return [zones] if zones else []
    parts: list[list[str]] = [[] for _ in range(count)]
    done = 0
    for zone in zones:
        # the part whose share of the total this zone's midpoint falls in
        parts[min(count - 1, int((done + work[zone] / 2) * count / total))].append(zone)
        done += work[zone]
    return [part for part in parts if part]


def _check(repo: Repository, serves: dict[str, list[str]], options: Options, records: bool,
           progress: Progress | None) -> Verified:
    """Every check of `serves`, in this process; throttling left as data (`_finish`)."""
    result = verify(repo, serves, options, progress) if records else VerifyResult([], [], {})
    if records and repo.config.parent.check:
        delegated = {zone: repo.desired[zone] for zone in serves}
        result.findings += asyncio.run(check_delegations(repo.config, delegated, repo.managed, options.timeout,
                                                         options.resends, skip_verified=True))
    down = {f.nameserver for f in result.findings if f.code in DOWN and f.nameserver}
    dnssec = asyncio.run(check_dnssec(repo, serves, options.timeout, options.resends, options.window, down))
    result.findings += dnssec.findings
    result.stats["dnssec"] = dnssec.stats
    return Verified(result, dnssec)


def covered(intervals: list[tuple[float, float]]) -> float:
    """How long at least one of the (start, end) intervals lasts: their union's length."""
    total, reach = 0.0, float("-inf")
    for start, end in sorted(intervals):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def _finish(verified: Verified, options: Options) -> Verified:
    verified.result.stats.pop("spans", None)  # a worker's own: merge has read them
    verified.result.findings += throttled_findings(verified.result.throttled, options.window)
    return verified


#: answers a worker counts before it adds them to the shared counter: taking the
#: counter's lock for every answer cost 7% of a fleet verify's worker CPU
PROGRESS_BATCH = 256


def _verify_part(repo: Repository, options: Options, counter: Any, part: dict[str, list[str]]) -> Verified:
    """One part, in a forked worker: the loaded repository and the options reach it by
    fork (never pickled), and a shared counter (None when nobody watches a bar) carries
    its progress to the parent's bar."""
    if counter is None:
        return _check(repo, part, options, True, None)
    unreported = 0

    def report() -> None:
        nonlocal unreported
        with counter.get_lock():
            counter.value += unreported
        unreported = 0

    def progress(n: int) -> None:
        nonlocal unreported
        unreported += n
        if unreported >= PROGRESS_BATCH:
            report()

    try:
        return _check(repo, part, options, True, progress)
    finally:
        report()


def _in_processes(repo: Repository, parts: list[dict[str, list[str]]], options: Options, jobs: int,
                  progress: Progress | None) -> list[Verified] | None:
    """The parts verified by forked workers, a fresh one for each part, `jobs` at once
    (spread.rolling); None when a worker was killed: the caller then verifies everything
    in this process."""
    counter, tick = None, None
    if progress is not None:
        counter = multiprocessing.get_context("fork").Value("q", 0)
        tick = _ticker(counter, progress)
    return rolling(lambda part: _verify_part(repo, options, counter, part), parts, jobs, tick)


def _ticker(counter: Any, progress: Progress) -> Callable[[], None]:
    """What the parent calls now and then: it hands the bar what the workers added to
    `counter` since the last call. The counter is read once a call: workers add to it
    meanwhile, and a second read would skip what came between the two."""
    reported = 0

    def tick() -> None:
        nonlocal reported
        value = counter.value
        if value > reported:
            progress(value - reported)
            reported = value
    return tick


def merge(parts: list[Verified], seconds: float, jobs: int) -> Verified:
    """The workers' results as one run's: findings in the parts' (zone) order, each
    finding about no zone once, counters summed; a phase's time is how long any worker
    was in it (the union of their spans: the workers overlap, and a part starts when any
    other ends); the DNSSEC check's, in groups of `jobs` parts in order, each group's
    longest, summed (an estimate)."""
    findings: list[Finding] = []
    seen: set[str] = set()
    for part in parts:
        for finding in part.result.findings:
            if finding.zone is None:  # about a nameserver or the run: every worker saw it
                key = json.dumps(finding.to_dict(), sort_keys=True, default=str)
                if key in seen:
                    continue
                seen.add(key)
            findings.append(finding)
    stats: dict[str, Any] = {"jobs": min(jobs, len(parts)), "parts": len(parts)}
    throttled: dict = {}
    spans: dict[str, list[tuple[float, float]]] = {}  # phase -> when each worker was in it
    for part in parts:
        result = part.result
        for key, value in result.stats.items():
            if key in _SUMMED:
                stats[key] = round(stats.get(key, 0) + value, 3)
            elif key == "transfer_seconds":
                stats.setdefault(key, {}).update(value)
            elif key == "spans":
                for phase, span in value.items():
                    spans.setdefault(phase, []).append(span)
        for endpoint, slowed in result.throttled.items():
            throttled[endpoint] = throttled[endpoint].merged(slowed) if endpoint in throttled else slowed
    for phase, intervals in spans.items():
        stats[phase] = round(covered(intervals), 3)
    stats["seconds"] = round(seconds, 3)
    if stats.get("query_seconds"):
        stats["queries_per_second"] = round(stats["queries"] / stats["query_seconds"])
    dnssec_stats: dict[str, float] = {}
    for first in range(0, len(parts), jobs):
        round_: dict[str, float] = {}
        for part in parts[first:first + jobs]:
            for key, value in part.dnssec.stats.items():
                round_[key] = round_.get(key, 0) + value if key in _DNSSEC_SUMMED else max(round_.get(key, 0), value)
        for key, value in round_.items():
            dnssec_stats[key] = dnssec_stats.get(key, 0) + value
    stats["dnssec"] = dnssec_stats
    checked = sorted(c for part in parts for c in part.result.checked)
    dnssec = DnssecResult([f for part in parts for f in part.dnssec.findings],
                          [z for part in parts for z in part.dnssec.zones], dnssec_stats)
    return Verified(VerifyResult(findings, checked, stats, throttled), dnssec)
