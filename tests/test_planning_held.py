"""planning/held.py with real forked processes: workers keep what they planned, run what
the parent asks on it, pass on Ctrl-C and what they are sending, write to a provider
one at a time, are reported when they die, and die with their parent.

The plans held here are stand-ins with only `data` (held.py reads nothing else); the
lab tests (tests/test_applying_held_lab.py) hold real octoDNS plans."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from dnssync.model import interrupt
from dnssync.model.errors import DnssyncError
from dnssync.model.plan import ProviderPlan
from dnssync.planning.held import HeldPlans, Lost, writing
from tests.conftest import ROOT

TASKS = [(p, f"z{i}.test.") for i in range(5) for p in ("a", "b")]


@dataclass
class Held:
    data: ProviderPlan
    planned_in: int


def plan_share(share: list[tuple[str, str]]) -> list[Held]:
    return [Held(ProviderPlan(provider=p, zone=z), os.getpid()) for p, z in share]


def shares(count: int) -> list[list[tuple[str, str]]]:
    return [TASKS[len(TASKS) * i // count:len(TASKS) * (i + 1) // count] for i in range(count)]


@pytest.fixture
def held():
    workers = HeldPlans.start(shares(2), plan_share)
    assert workers is not None
    yield workers
    workers.close()


def where(lives: list[Held]) -> tuple[int, list[str], set[int]]:
    return os.getpid(), [f"{h.data.provider}/{h.data.zone}" for h in lives], {h.planned_in for h in lives}


def fail(lives: list[Held]) -> None:
    raise DnssyncError(f"refused at {len(lives)} pairs")


def die_in_second(lives: list[Held]) -> int:
    if lives[0].data.zone != "z0.test.":
        os._exit(3)
    return len(lives)


def wait_for_stop(lives: list[Held]) -> tuple[bool, float]:
    started = time.monotonic()
    label = f"{lives[0].data.provider}/{lives[0].data.zone}"
    with interrupt.sending(label):
        stopped = interrupt.STOP.wait(20)
    return stopped, time.monotonic() - started


def ignore_ctrl_c(lives: list[Held]) -> str:
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.2)
    return "alive"


def write_twice(lives: list[Held], record: str) -> None:
    for _ in range(2):
        with writing("a"), open(record, "a") as out:
            out.write(f"start {os.getpid()}\n")
            out.flush()
            time.sleep(0.1)
            out.write(f"end {os.getpid()}\n")


def test_each_worker_runs_the_call_on_what_it_planned(held):
    assert [(p.provider, p.zone) for p in held.data] == TASKS  # the plan's order
    first, second = held.call(where)
    assert first[0] != second[0] and os.getpid() not in (first[0], second[0])
    assert first[1] + second[1] == [f"{p}/{z}" for p, z in TASKS]  # contiguous shares, whole
    assert first[2] == {first[0]} and second[2] == {second[0]}  # the live plans never moved


def test_an_error_in_a_worker_is_raised_here_and_a_dead_worker_is_reported(held):
    with pytest.raises(DnssyncError, match="refused at 5 pairs"):
        held.call(fail)
    alive, dead = held.call(die_in_second)
    assert alive == 5
    assert isinstance(dead, Lost) and "exit 3" in dead.why and "unknown" in dead.why
    assert [p.zone for p in dead.pairs] == [z for _, z in TASKS[5:]]


def test_ctrl_c_is_the_parents_and_is_passed_on_with_what_the_workers_are_sending(held):
    assert held.call(ignore_ctrl_c) == ["alive", "alive"]
    seen: list[str] = []

    def parent() -> None:
        deadline = time.monotonic() + 10
        while len(seen) < 2 and time.monotonic() < deadline:
            seen[:] = held.sending()
            time.sleep(0.02)
        assert sorted(interrupt.unknown()) == sorted(seen)  # what a second Ctrl-C names
        held.stop()

    relay = threading.Thread(target=parent)
    relay.start()
    results = held.call(wait_for_stop)
    relay.join()
    assert sorted(seen) == ["a/z0.test.", "b/z2.test."]
    assert all(stopped and took < 10 for stopped, took in results), results
    assert not interrupt.STOP.is_set()  # passed on to the workers only
    assert held.sending() == []  # done sending


def test_workers_write_to_a_provider_one_at_a_time(held, tmp_path: Path):
    record = tmp_path / "writes"
    held.call(write_twice, str(record))
    lines = record.read_text().splitlines()
    assert len(lines) == 8
    for start, end in zip(lines[::2], lines[1::2], strict=True):  # never two writers at once
        assert start.startswith("start ") and end == "end " + start.split()[1]


def write_together(lives: list[Held], record: str, concurrent: bool) -> None:
    """Start a write, and end it only once the other worker started one too (or after 10 s)."""
    with writing("a", concurrent):
        with open(record, "a") as out:
            out.write(f"start {os.getpid()}\n")
        deadline = time.monotonic() + 10
        while Path(record).read_text().count("start") < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        with open(record, "a") as out:
            out.write(f"end {os.getpid()}\n")


def test_a_provider_taking_concurrent_writes_is_written_by_every_worker_at_once(held, tmp_path: Path):
    """An RFC 2136 server (CONCURRENT_WRITES) takes different zones' updates at once: no
    worker waits for another's write lock there (held, the second start would come only
    after the first write ended)."""
    record = tmp_path / "writes"
    held.call(write_together, str(record), True)
    lines = record.read_text().splitlines()
    assert [line.split()[0] for line in lines] == ["start", "start", "end", "end"]


def test_close_ends_the_workers_and_a_failed_start_leaves_none():
    workers = HeldPlans.start(shares(3), plan_share)
    assert workers is not None and workers in interrupt.relays
    processes = [w.process for w in workers.workers]
    workers.close()
    assert not any(p.is_alive() for p in processes) and workers not in interrupt.relays

    def broken(share: list[tuple[str, str]]) -> list[Held]:
        raise RuntimeError("cannot plan")

    assert HeldPlans.start(shares(2), broken) is None  # the caller plans in threads


def test_workers_die_with_their_parent(tmp_path: Path):
    """A parent killed outright (SIGKILL: no clean-up runs) takes its workers with it: no
    worker may go on sending for an apply nobody waits for."""
    script = tmp_path / "parent.py"
    script.write_text(
        "import os, signal, sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from tests.test_planning_held import plan_share, shares\n"
        "from dnssync.planning.held import HeldPlans\n"
        "held = HeldPlans.start(shares(2), plan_share)\n"
        "print(' '.join(str(w.process.pid) for w in held.workers), flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    pids = [int(pid) for pid in done.stdout.split()]
    assert len(pids) == 2 and done.returncode == -signal.SIGKILL, done.stderr

    def gone(pid: int) -> bool:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        return state in ("Z", "X")  # a zombie waits for its new parent to reap it: it runs no more

    deadline = time.monotonic() + 10
    while not all(map(gone, pids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(map(gone, pids)), pids


def _private_dirty_kib() -> int:
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
        if line.startswith("Private_Dirty:"):
            return int(line.split()[1])
    raise AssertionError("no Private_Dirty in smaps_rollup")


def _collected(lives: list[Held]) -> int:
    """In a worker: what a full collection adds to the memory the worker holds of its own (KiB)."""
    import gc
    before = _private_dirty_kib()
    gc.collect()
    return _private_dirty_kib() - before


@pytest.mark.skipif(not Path("/proc/self/smaps_rollup").exists(), reason="needs Linux's /proc smaps_rollup")
def test_a_worker_does_not_copy_the_heap_it_inherited_by_collecting_it():
    """A worker shares its parent's pages (the loaded repository: most of a fleet apply's
    memory) until it writes to them, and a garbage collection writes into every object
    it visits: a worker that collected what it inherited held a private copy of it
    (here some 55 MB more after one collection; frozen, under 0.1 MB when this test runs
    alone, 6.5 MB when it runs late in the whole suite's process)."""
    inherited = [[str(i)] for i in range(300_000)]  # lists: objects the collector visits
    held = HeldPlans.start(shares(2), plan_share)
    assert held is not None
    try:
        copied = held.call(_collected)
    finally:
        held.close()
    assert max(copied) < 20_000, copied
    assert len(inherited) == 300_000
