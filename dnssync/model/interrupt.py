"""Ctrl-C during apply: stop sending at the next batch boundary, never mid-message.

A KeyboardInterrupt raised in the main thread while provider threads send would
either be ignored until every thread finished (the whole zone pushed, no summary,
no apply record) or kill the process between two halves of an update. Instead the
first SIGINT sets `STOP`; every place that is about to send a batch (the RFC 2136
and PowerDNS providers, apply before each provider and zone, a retry's back-off)
calls `checkpoint()`, which raises `Interrupted` once it is set. apply then re-reads
each provider, reports what is still pending and writes its record as usual. A second
SIGINT stops at once, saying which provider/zone pairs were in the middle of
sending (their state is unknown until the next plan).

Pairs sent by other processes (planning/held.py's workers) take part through a
`Relay`: the first Ctrl-C is passed on to them, and the second names what they were
sending, which each worker `publish`es as it goes.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

from dnssync.model.errors import DnssyncException

#: set by the first Ctrl-C: no new batch is sent
STOP = threading.Event()
_lock = threading.Lock()
_sending: set[str] = set()


class Relay(Protocol):
    """Other processes sending for this apply (forked workers)."""

    def stop(self) -> None:
        """Pass the first Ctrl-C on: they stop at their next batch boundary."""

    def sending(self) -> list[str]:
        """The pairs (provider/zone) they are in the middle of sending."""


#: the relays of this process's apply (registered while their workers live)
relays: list[Relay] = []
#: in a worker: told the pairs this process is sending whenever they change
publish: Callable[[list[str]], None] | None = None


class Interrupted(DnssyncException):
    """Sending stopped at a batch boundary because the user pressed Ctrl-C."""

    def __init__(self) -> None:
        super().__init__("stopped by Ctrl-C before the next batch was sent")


def checkpoint() -> None:
    """Raise Interrupted when Ctrl-C was pressed: call before sending each batch."""
    if STOP.is_set():
        raise Interrupted


def pause(seconds: float) -> None:
    """Sleep (a retry's back-off), waking at once on Ctrl-C to raise Interrupted."""
    if STOP.wait(seconds):
        raise Interrupted


@contextmanager
def sending(label: str) -> Iterator[None]:
    """Mark `label` (provider/zone) as possibly mid-batch, for a second Ctrl-C to name."""
    with _lock:
        _sending.add(label)
        _published()
    try:
        yield
    finally:
        with _lock:
            _sending.discard(label)
            _published()


def _published() -> None:
    if publish is not None:
        publish(sorted(_sending))


def unknown() -> list[str]:
    with _lock:
        here = set(_sending)
    return sorted(here.union(*(relay.sending() for relay in relays)))


@contextmanager
def sigint_stops(say: Callable[[str], None]) -> Iterator[None]:
    """While the block runs (in the main thread), the first Ctrl-C sets STOP and the
    second exits at once (130) after `say`ing what is unknown. STOP is cleared on entry."""
    STOP.clear()
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        if not STOP.is_set():
            STOP.set()
            for relay in relays:
                relay.stop()
            say("Ctrl-C: stopping at the next batch boundary, then re-reading every provider"
                " (Ctrl-C again to stop at once).")
            return
        pairs = unknown()
        say("Stopped at once. " + (
            f"Unknown: how much of the batch in flight reached {', '.join(pairs)}; every other pair"
            " is as the last batch left it." if pairs else "No batch was in flight.")
            + " Run `dnssync plan` to see where every provider stands; re-run apply to converge.")
        os._exit(130)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
