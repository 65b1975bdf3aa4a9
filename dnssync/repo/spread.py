"""Zone files loaded by forked processes beside this one, for repositories of
hundreds of zones.

Why: every command starts by loading every zone it works on, and that is CPU-bound
Python (YAML events into line-tracked data, octoDNS's record validation): one core's
work, about a second per 200 zones of 40 records, while the machine has more cores.
The zones are independent, so the list is cut into contiguous parts of about equal
size on disk; workers load the later parts while this process loads the first, and
their zones come back pickled (a fraction of the cost of loading them). The result,
findings included, is exactly what one `load_zones` over the whole list gives: the
parts are slices of the same list in the same order, and a part's error is reported
with every other part's findings, as one load would. Small repositories stay in one
process (MIN_BYTES a worker): a fork and a round of pickling cost more than they save.

`rolling` is the other way work is spread here: every part in a fresh forked worker of
its own, a few at a time (verify's parts of a large fleet).
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, TypeVar

from dnssync.model.errors import ConfigError
from dnssync.model.findings import Finding

#: bytes of zone files a worker must have at least to be worth forking (~0.4 s of loading)
MIN_BYTES = 100_000
Loaded = tuple[list, list[Finding]]
#: loads the named zones, a large zone file in up to the given processes:
#: `zones.load_zones` with the repository's checks bound
Load = Callable[[list[str], int], Loaded]
T = TypeVar("T")
R = TypeVar("R")


def cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def cut(sizes: list[tuple[str, int]], parts: int) -> list[list[str]]:
    """The zones (name, size; in the given order) cut into at most `parts` contiguous
    slices of about equal size, each MIN_BYTES or more; one slice when that is all it pays for."""
    names = [name for name, _ in sizes]
    total = sum(size for _, size in sizes)
    count = max(1, min(parts, len(names), total // MIN_BYTES))
    if count == 1:
        return [names] if names else []
    slices: list[list[str]] = [[] for _ in range(count)]
    done = 0
    for name, size in sizes:
        slices[min(count - 1, int((done + size / 2) * count / total))].append(name)
        done += size
    return [s for s in slices if s]


def zone_sizes(sources: dict[str, list[Path]], names: list[str]) -> list[tuple[str, int]]:
    """Bytes on disk of each named zone's files (a name without files counts one)."""
    sizes = []
    for name in names:
        try:
            size = sum(path.stat().st_size for path in sources.get(name, []))
        except OSError:  # load_zones reports it, at its file
            size = 0
        sizes.append((name, size or 1))
    return sizes


def freeze_inherited() -> None:
    """In a forked worker, first: what it inherited from its parent (the loaded
    repository) is never collected there. A collection writes into every object it
    visits, and so would copy every page the worker shares with its parent."""
    gc.freeze()


class _Worker:
    """The work a forked worker runs, reaching it by fork through the pool's
    initializer (a closure over the repository's config is not picklable)."""

    work: Callable[[Any], Any] | None = None

    @classmethod
    def start(cls, work: Callable[[Any], Any]) -> None:
        freeze_inherited()
        cls.work = work

    @classmethod
    def run(cls, part: Any) -> Any:
        assert cls.work is not None, "a worker runs only in a forked pool"
        return cls.work(part)


def forked(work: Callable[[T], R], parts: list[T]) -> list[R] | None:
    """`work` of every part: the first here, the others in forked workers at the same time.
    None when forking is not possible or a worker was killed (the caller then does all
    of it here). `work` and its parts reach the workers by fork; only parts[1:] and
    what the workers return are pickled."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return None
    context = multiprocessing.get_context("fork")
    try:
        with ProcessPoolExecutor(max_workers=len(parts) - 1, mp_context=context, initializer=_Worker.start,
                                 initargs=(work,)) as pool:
            later = [pool.submit(_Worker.run, part) for part in parts[1:]]
            return [work(parts[0])] + [f.result() for f in later]
    except BrokenProcessPool:
        return None


def rolling(work: Callable[[T], R], parts: list[T], jobs: int, tick: Callable[[], None] | None = None
            ) -> list[R] | None:
    """`work` of every part, in order, each in a fresh forked worker of its own, `jobs` at
    once: the next part starts as soon as any running one ends, not when the slowest of a
    round of `jobs` does (a round left a core idle for as long as its parts differed).
    `tick` is called about every 0.1 s while parts run (a progress bar). None when forking
    is not possible or a worker was killed (the caller then does all of it here); an
    exception `work` raised is raised here, once the running parts have ended."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return None
    context = multiprocessing.get_context("fork")
    results: list[Any] = [None] * len(parts)
    running: dict[Future, tuple[int, ProcessPoolExecutor]] = {}
    waiting = list(range(len(parts)))[::-1]
    try:
        while waiting or running:
            while waiting and len(running) < jobs:
                index = waiting.pop()
                pool = ProcessPoolExecutor(max_workers=1, mp_context=context, initializer=_Worker.start,
                                           initargs=(work,))
                running[pool.submit(_Worker.run, parts[index])] = (index, pool)
            done, _ = wait(running, timeout=0.1, return_when=FIRST_COMPLETED)
            if tick is not None:
                tick()
            for future in done:
                index, pool = running.pop(future)
                pool.shutdown()
                results[index] = future.result()
    except BrokenProcessPool:
        return None
    finally:
        for _, pool in running.values():
            pool.shutdown(cancel_futures=True)
    return results


def _attempt(load: Load, names: list[str]) -> tuple[Loaded | None, list[Finding]]:
    """(the zones and warnings, []) or (None, every finding) when the part has an error:
    a ConfigError is returned as data, never pickled as an exception."""
    try:
        return load(names, 1), []
    except ConfigError as e:
        return None, e.findings


def load_spread(load: Load, sizes: list[tuple[str, int]], jobs: int | None = None) -> Loaded:
    """`load` of every zone of `sizes`, spread over up to `jobs` processes (None: one per core)."""
    jobs = jobs or cores()
    parts = cut(sizes, jobs)
    if len(parts) < 2:  # a large zone file can still be read by `jobs` processes
        return load([name for name, _ in sizes], jobs)
    results = forked(lambda names: _attempt(load, names), parts)
    if results is None:  # a worker was killed: load everything here
        return load([name for name, _ in sizes], 1)
    zones: list = []
    findings: list[Finding] = []
    failed = False
    for loaded, problems in results:
        if loaded is None:
            failed = True
            findings += problems
        else:
            zones += loaded[0]
            findings += loaded[1]
    if failed:
        raise ConfigError(findings)
    return zones, findings
