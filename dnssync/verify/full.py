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
fork, so it stays in one process (MIN_QUESTIONS per worker).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from dnssync.model.findings import Finding
from dnssync.repo.repository import Repository
from dnssync.repo.spread import cores
from dnssync.verify.delegation import check_delegations
from dnssync.verify.dnssec import DnssecResult, check_dnssec
from dnssync.verify.run import Options, Progress, VerifyResult, question_count, throttled_findings, verify

#: findings of the main verify after which the DNSSEC check does not ask that nameserver again
DOWN = ("verify.timeout", "verify.unreachable", "verify.network")
#: questions a worker must have at least to be worth forking (fork, provider set-up,
#: event loop: some tens of milliseconds; a worker asks thousands of questions a second)
MIN_QUESTIONS = 2000
#: stats that add up across workers; the phases' seconds are the longest worker's
_SUMMED = ("queries", "udp_sent", "retransmits", "tcp", "truncated", "stray", "throttled",
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
        parts = [{zone: serves[zone] for zone in part} for part in split(work, jobs or cores())]
    if len(parts) > 1 and "fork" in multiprocessing.get_all_start_methods():
        started = time.perf_counter()
        done = _in_processes(repo, parts, options, progress)
        if done is not None:
            return _finish(merge(done, time.perf_counter() - started), options)
    return _finish(_check(repo, serves, options, records, progress), options)


def split(work: dict[str, int], jobs: int) -> list[list[str]]:
    """The zones (zone -> its expected questions) in sorted order, cut into at most
    `jobs` contiguous parts of about equal work, each part worth MIN_QUESTIONS or more."""
    zones = sorted(work)
    total = sum(work.values())
    count = max(1, min(jobs, len(zones), total // MIN_QUESTIONS))
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
        result.findings += asyncio.run(check_delegations(repo.config, delegated, options.timeout,
                                                         options.resends, skip_verified=True))
    down = {f.nameserver for f in result.findings if f.code in DOWN and f.nameserver}
    dnssec = asyncio.run(check_dnssec(repo, serves, options.timeout, options.resends, options.window, down))
    result.findings += dnssec.findings
    result.stats["dnssec"] = dnssec.stats
    return Verified(result, dnssec)


def _finish(verified: Verified, options: Options) -> Verified:
    verified.result.findings += throttled_findings(verified.result.throttled, options.window)
    return verified


class _Worker:
    """What a forked worker verifies with: the loaded repository and the options reach
    it by fork through the pool's initializer (never pickled), and a shared counter
    carries its progress to the parent's bar."""

    current: tuple[Repository, Options, Any] | None = None

    @classmethod
    def start(cls, repo: Repository, options: Options, counter: Any) -> None:
        cls.current = (repo, options, counter)

    @classmethod
    def verify(cls, part: dict[str, list[str]]) -> Verified:
        assert cls.current is not None, "a verify worker runs only in a forked pool"
        repo, options, counter = cls.current

        def progress(n: int) -> None:
            with counter.get_lock():
                counter.value += n

        return _check(repo, part, options, True, progress)


def _in_processes(repo: Repository, parts: list[dict[str, list[str]]], options: Options,
                  progress: Progress | None) -> list[Verified] | None:
    """Each part verified by a forked worker; None when the pool breaks (a worker was
    killed): the caller then verifies everything in this process."""
    context = multiprocessing.get_context("fork")
    counter = context.Value("q", 0)
    try:
        with ProcessPoolExecutor(max_workers=len(parts), mp_context=context, initializer=_Worker.start,
                                 initargs=(repo, options, counter)) as pool:
            futures = [pool.submit(_Worker.verify, part) for part in parts]
            reported, pending = 0, set(futures)
            while pending:
                pending = wait(pending, timeout=0.1).not_done
                if progress is not None and counter.value > reported:
                    progress(counter.value - reported)
                    reported = counter.value
            return [f.result() for f in futures]
    except BrokenProcessPool:
        return None


def merge(parts: list[Verified], seconds: float) -> Verified:
    """The workers' results as one run's: findings in the parts' (zone) order, each
    finding about no zone once, counters summed, phase times the longest worker's."""
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
    stats: dict[str, Any] = {"jobs": len(parts)}
    throttled: dict = {}
    for part in parts:
        result = part.result
        for key, value in result.stats.items():
            if key in _SUMMED:
                stats[key] = round(stats.get(key, 0) + value, 3)
            elif key == "transfer_seconds":
                stats.setdefault(key, {}).update(value)
            elif key.endswith("_seconds"):
                stats[key] = max(stats.get(key, 0), value)
        for endpoint, slowed in result.throttled.items():
            throttled[endpoint] = throttled[endpoint].merged(slowed) if endpoint in throttled else slowed
    stats["seconds"] = round(seconds, 3)
    if stats.get("query_seconds"):
        stats["queries_per_second"] = round(stats["queries"] / stats["query_seconds"])
    dnssec_stats: dict[str, float] = {}
    for part in parts:
        for key, value in part.dnssec.stats.items():
            dnssec_stats[key] = dnssec_stats.get(key, 0) + value if key in _DNSSEC_SUMMED else max(
                dnssec_stats.get(key, 0), value)
    stats["dnssec"] = dnssec_stats
    checked = sorted(c for part in parts for c in part.result.checked)
    dnssec = DnssecResult([f for part in parts for f in part.dnssec.findings],
                          [z for part in parts for z in part.dnssec.zones], dnssec_stats)
    return Verified(VerifyResult(findings, checked, stats, throttled), dnssec)
