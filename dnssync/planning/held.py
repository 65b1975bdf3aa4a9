"""Live plans held by forked workers: a fleet's apply planned and sent from every core.

Apply needs octoDNS's live objects (plans, zones, provider connections), which cannot
be pickled, so its pairs were planned and sent in threads of one process. Reading a
provider, building its records and rendering updates is CPU-bound Python: a first
apply of hundreds of zones ran on one core while the other waited.

Here each forked worker plans a contiguous share of the pairs (in threads, as before),
hands back only their data (what the plan shows and the gates judge), and keeps the
live objects. Once the parent has shown, gated and confirmed the whole plan, it asks
every worker to run one function on its share (apply's `apply_share`), and gets back
what that function returns. Until then a worker only reads: nothing is sent before the
whole plan passed its gates.

Workers write to a provider one at a time (`writing`), as the threads did, one per
provider: a server's own limits (PowerDNS on SQLite answers concurrent writes with HTTP
500, cloud APIs throttle) see no more writers than before; reads, and the CPU of
building and judging, run on every core. A provider whose class says it takes writes
to different zones at once (`CONCURRENT_WRITES`: an RFC 2136 server applies each
zone's update in that zone's own transaction) is written by every worker at once.

A worker ignores Ctrl-C: the parent decides, and passes the first on as SIGUSR1 (the
worker's STOP: its next batch is not sent). It publishes the pairs it is sending, for a
second Ctrl-C to name (`interrupt.Relay`), and it dies with its parent. A worker that
dies is reported with its pairs (`Lost`), never skipped.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import multiprocessing
import os
import signal
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from dnssync.model import interrupt
from dnssync.model.errors import DnssyncError
from dnssync.model.plan import ProviderPlan
from dnssync.repo.spread import freeze_inherited

#: a fleet smaller than this is planned and applied in threads of this process: a fork
#: and its pipe cost more than they save
MIN_PAIRS = 24
_SENDING_BYTES = 4096  # a worker's published pairs in flight (a list of labels; truncated beyond)
_PR_SET_PDEATHSIG = 1
#: in a worker: the folder of the per-provider write locks its apply shares
_locks: Path | None = None

Task = tuple[str, str]  # (provider, zone)
#: plans a worker's share of the tasks (in that worker), returning its live plans
PlanShare = Callable[[list[Task]], list[Any]]


@dataclass
class Lost:
    """A worker that died (or could not answer): its pairs' outcome is unknown."""

    pairs: list[ProviderPlan]
    why: str


@dataclass
class _Worker:
    process: Any  # multiprocessing's fork Process
    conn: Connection
    sending: Any  # a shared char array: the labels it is sending, one per line
    data: list[ProviderPlan]


class HeldPlans:
    """Forked workers, each holding the live plans of its share of the pairs.

    `data` is every pair's plan data in task order; `call` runs a function on every
    worker's live plans at once; `close` ends the workers (also when the apply stops
    early: a refusal, a "no" at the prompt)."""

    def __init__(self, workers: list[_Worker], locks: tempfile.TemporaryDirectory):
        self.workers = workers
        self.locks = locks
        self.data = [pair for worker in workers for pair in worker.data]
        interrupt.relays.append(self)

    @classmethod
    def start(cls, shares: list[list[Task]], plan_share: PlanShare) -> HeldPlans | None:
        """Fork one worker per share and wait for their plans' data; None when a worker
        could not plan (it died, or its data could not come back): the caller plans in
        threads instead, as if there were no workers."""
        context = multiprocessing.get_context("fork")
        locks = tempfile.TemporaryDirectory(prefix="dnssync-writes-")
        workers = []
        for share in shares:
            mine, theirs = context.Pipe()
            sending = context.Array("c", _SENDING_BYTES, lock=False)
            process = context.Process(target=_serve, args=(theirs, share, plan_share, sending, os.getpid(),
                                                           Path(locks.name)), daemon=True)
            process.start()
            theirs.close()
            workers.append(_Worker(process, mine, sending, []))
        try:
            for worker in workers:
                worker.data = _answer(worker)
        except Exception:  # a worker died or failed: threads plan it all again (and meet any bug there)
            _end(workers)
            locks.cleanup()
            return None
        return cls(workers, locks)

    def call(self, function: Callable[..., Any], *args: Any) -> list[Any]:
        """`function(live_plans, *args)` in every worker at once (function and arguments
        pickled: a module-level function); what each returned, in worker order, or `Lost`
        for a worker that died. An exception it raised is raised here."""
        for worker in self.workers:
            with contextlib.suppress(OSError):  # a dead worker: its answer says so
                worker.conn.send((function, args))
        results: list[Any] = []
        raised: list[BaseException] = []
        for worker in self.workers:  # every answer read, so that none is left for the next call
            try:
                results.append(_answer(worker))
            except (EOFError, OSError):
                worker.process.join(5)
                code = worker.process.exitcode
                results.append(Lost(worker.data, f"the worker process holding its plan ended (exit {code})"
                                    " before it reported: how much of it reached the provider is unknown"))
            except Exception as e:  # raised by `function` there
                raised.append(e)
        if raised:
            raise raised[0]
        return results

    def stop(self) -> None:
        """`interrupt.Relay`: the first Ctrl-C, passed on."""
        for worker in self.workers:
            with contextlib.suppress(OSError):
                os.kill(worker.process.pid, signal.SIGUSR1)

    def sending(self) -> list[str]:
        """`interrupt.Relay`: what the workers published they are sending."""
        return [label for worker in self.workers
                for label in bytes(worker.sending.value).decode(errors="replace").splitlines() if label]

    def close(self) -> None:
        if self in interrupt.relays:
            interrupt.relays.remove(self)
        _end(self.workers)
        self.locks.cleanup()


@contextlib.contextmanager
def writing(provider: str, concurrent: bool = False) -> Iterator[None]:
    """Hold `provider`'s write lock while sending to it, in a worker (see the module
    docstring); nothing to hold in a process that applies in threads, one per provider,
    nor for a provider that takes `concurrent` writes to different zones. A file lock:
    the kernel releases it when a worker dies holding it."""
    if _locks is None or concurrent:
        yield
        return
    with open(_locks / f"{provider.replace('/', '_')}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


class LocalPlans:
    """Live plans held by this process (planned in threads), offering what HeldPlans
    offers, so that apply runs the same way wherever its plans are."""

    def __init__(self, lives: list[Any]):
        self.lives = lives

    @property
    def data(self) -> list[ProviderPlan]:
        return [live.data for live in self.lives]

    def call(self, function: Callable[..., Any], *args: Any) -> list[Any]:
        """`function(live_plans, *args)`, here: one result."""
        return [function(self.lives, *args)]

    def close(self) -> None:
        """Nothing to end: no worker holds them."""


#: a plan's live plans, wherever they are held
Lives = LocalPlans | HeldPlans


def _answer(worker: _Worker) -> Any:
    status, value = worker.conn.recv()
    if status == "error":
        raise value
    return value


def _end(workers: list[_Worker]) -> None:
    for worker in workers:
        with contextlib.suppress(OSError):
            worker.conn.send(None)
        worker.conn.close()
    for worker in workers:
        worker.process.join(10)
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join()


def _serve(conn: Connection, share: list[Task], plan_share: PlanShare, sending: Any, parent: int,
           locks: Path) -> None:
    """A worker's life: plan the share, send its data, then run what the parent asks on
    the live plans until told to end (None) or the parent is gone."""
    global _locks
    freeze_inherited()
    _die_with(parent)
    _locks = locks
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what Ctrl-C does
    interrupt.STOP.clear()
    signal.signal(signal.SIGUSR1, lambda *_: interrupt.STOP.set())

    def publish(labels: list[str]) -> None:
        sending.value = "\n".join(labels).encode()[:_SENDING_BYTES - 1]

    interrupt.publish = publish
    try:
        lives = plan_share(share)
        _reply(conn, ("ok", [live.data for live in lives]))
    except BaseException as e:  # whatever it is: the parent plans in threads instead
        _reply(conn, ("error", e))
        return
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        function, args = message
        try:
            result = ("ok", function(lives, *args))
        except BaseException as e:  # raised again in the parent
            result = ("error", e)
        _reply(conn, result)


def _reply(conn: Connection, message: tuple[str, Any]) -> None:
    """Send `message`; an error that cannot be pickled goes as its text."""
    try:
        conn.send(message)
    except (TypeError, AttributeError, ValueError, RecursionError) as e:
        if message[0] == "ok":
            raise
        conn.send(("error", DnssyncError(f"{type(message[1]).__name__}: {message[1]} ({e})")))


def _die_with(parent: int) -> None:
    """End this worker when the parent dies (Linux's PR_SET_PDEATHSIG), even by SIGKILL:
    a worker must never go on sending for an apply nobody is waiting for."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before the above took effect
        os._exit(1)


def plan_in_threads(tasks: list[Task], plan_task: Callable[[Task], Any], threads: int) -> list[Any]:
    """Plan `tasks` by `plan_task` in up to `threads` threads, in task order."""
    with ThreadPoolExecutor(max_workers=max(1, min(threads, len(tasks) or 1))) as pool:
        return list(pool.map(plan_task, tasks))
