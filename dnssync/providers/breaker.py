"""A provider that gives no answer is asked twice, not once per zone.

Every read of a provider and every write to it waits up to its timeout when no
answer comes (a zone transfer four times that), and a fleet asks each provider once
per zone, a few threads or processes at a time. With one of three providers silent
(a hung server, a firewall dropping its packets), a plan of 200 zones took ten
minutes and a verify six, each saying the same thing 200 times; at 2,000 zones that
is over an hour of a CI job that had nothing more to learn after the second zone.

So each provider object carries a breaker, per process (a forked worker starts with
its parent's state, not its lock). After `TRIP_AFTER` requests in a row that got no
answer at all (refused, unreachable, timed out: what `hints.unreachable` calls so),
the provider's next requests are not sent: they fail at once with `NotAsked`, which
names the failure that tripped it. After one miss, requests go one at a time until
the next outcome, so that the threads of a pool do not each start a request of their
own into the silence. A while after the last miss (twice as long as that miss took,
at least `COOL` seconds: probes never hold more than a third of the time) one
request goes through as a probe, and any answer closes the breaker again, so a
provider that comes back during a long apply (a restart that refused connections for
a moment) is used again. An answer of any kind, an error too (HTTP 404, REFUSED),
proves the provider is there and resets the count: only silence trips it, never a
zone's own problem.

`NotAsked` is transient (a re-run when the provider is back converges), but apply
does not pause and retry it: that would only be refused again until the probe.
Instead apply's sending is `patient`: a zone's update waits for the next probe and
is that probe, for up to `PATIENCE` seconds after the breaker opened, so that a
provider restarting in the middle of a long apply costs a few zones, not the rest
of the apply; after that its remaining zones are not sent. Reads (plan, verify, the
read-back) are never patient: a read that is not asked costs a re-run at most.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from octodns.provider.base import BaseProvider

from dnssync.model import interrupt
from dnssync.model.errors import DnssyncException
from dnssync.providers.hints import describe_error, unreachable

#: requests in a row without an answer that open a provider's breaker
TRIP_AFTER = 2
#: seconds after the last miss before one request may probe the provider again, at least
#: (twice the time the last miss took, when that is longer)
COOL = 1.0
#: seconds after the breaker opened during which a patient request (apply's sending)
#: waits for the next probe instead of failing at once
PATIENCE = 15.0
#: the longest a patient request waits before it looks at Ctrl-C again
_SLICE = 0.25
#: the attribute holding a provider's (pid, Breaker)
_ATTR = "_dnssync_breaker"
_CREATING = threading.Lock()


class NotAsked(DnssyncException):
    """A request not sent: its provider gave no answer to the last ones (see the module)."""

    transient = True
    worded = True  # hints.describe_error keeps this message as it is


class Breaker:
    """The state of one provider's breaker in one process, shared by its threads.

    Closed (no miss since the last answer): every request goes. Suspect (a miss, fewer
    than TRIP_AFTER): one request at a time, the others wait for its outcome, so that
    the requests a thread pool starts meanwhile are not each a timeout of their own.
    Open: NotAsked at once, except one probe a while after the last miss (`_cool`); a
    patient request waits to be that probe, or for its outcome, while PATIENCE lasts."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._state = threading.Condition()
        self._misses = 0
        self._in_flight = 0
        self._opened: float | None = None  # the last miss while open (or the one that tripped it)
        self._tripped = 0.0  # when it opened, in this run of misses
        self._probing = False
        self._cool = COOL  # seconds from the last miss to the next probe
        self._why = ""  # the last miss, worded

    def admit(self, what: str, patient: bool = False) -> None:
        """Return once a request about `what` may be sent (a probe, when the breaker is
        open and has cooled); raise NotAsked when it may not. A `patient` request waits
        for the next probe (and is it) while PATIENCE lasts."""
        with self._state:
            while self._opened is None and self._misses and self._in_flight:
                self._state.wait()  # suspect: the request in flight decides
            while self._opened is not None:
                until_probe = self._opened + self._cool - self._clock()
                if not self._probing and until_probe <= 0:
                    self._probing = True
                    break
                patience = self._tripped + PATIENCE - self._clock()
                if not patient or patience <= 0:
                    raise NotAsked(f"{self._why} (not asked for {what}: its last {self._misses} requests got"
                                   f" no answer; it is tried again {self._cool:.3g} s after the last)")
                # the probe's time, or (another request is the probe) its outcome; Ctrl-C
                # ends the wait at once, as it ends apply's other pauses
                self._state.wait(min(_SLICE, patience, until_probe if not self._probing else patience))
                interrupt.checkpoint()
            self._in_flight += 1

    def answered(self) -> None:
        with self._state:
            self._in_flight -= 1
            self._misses, self._opened, self._probing = 0, None, False
            self._state.notify_all()

    def released(self) -> None:
        """A request that ended without an outcome (Ctrl-C): it decides nothing (if it
        was the probe, the next request may probe)."""
        with self._state:
            self._in_flight -= 1
            self._probing = False
            self._state.notify_all()

    def missed(self, why: str, seconds: float = 0.0) -> None:
        """A request that got no answer, after `seconds` of waiting for one."""
        with self._state:
            self._in_flight -= 1
            self._misses += 1
            self._why = why
            self._cool = max(COOL, 2 * seconds)
            if self._opened is None and self._misses >= TRIP_AFTER:
                self._tripped = self._clock()
            if self._probing or self._opened is not None or self._misses >= TRIP_AFTER:
                self._opened, self._probing = self._clock(), False
            self._state.notify_all()

    def inherited(self) -> Breaker:
        """This breaker's state in a new one with a lock of its own: what a forked worker
        starts with. Read without the lock (another thread of the parent may have held it
        at the fork): at worst a miss counted and the opening not yet noted, which the
        child's next outcome settles. No request of the parent's is in flight in it."""
        child = Breaker(self._clock)
        child._misses, child._opened, child._tripped = self._misses, self._opened, self._tripped
        child._cool, child._why = self._cool, self._why
        return child


def breaker_of(provider: BaseProvider) -> Breaker:
    """The provider's breaker in this process. A forked worker starts with what its
    parent knew, in a breaker of its own (the parent's lock may have been held by
    another thread at the fork): a provider the parent found silent (`nameservers:
    auto` reads every zone's before plan forks) is not asked again by every worker."""
    held = getattr(provider, _ATTR, None)
    if held is None or held[0] != os.getpid():
        with _CREATING:
            held = getattr(provider, _ATTR, None)
            if held is None or held[0] != os.getpid():
                held = (os.getpid(), Breaker() if held is None else held[1].inherited())
                setattr(provider, _ATTR, held)
    return held[1]


@contextmanager
def asking(provider: BaseProvider, what: str, patient: bool = False) -> Iterator[None]:
    """One request to `provider` about `what` (a zone name): NotAsked at once when its
    breaker is open (a `patient` one waits for the next probe first, see the module); a
    failure that is no answer at all counts towards opening it, and anything else (an
    answer, an error the provider answered with) closes it. Not re-entrant: a request
    does not ask the same provider again inside this block."""
    breaker = breaker_of(provider)
    breaker.admit(what, patient)
    started = time.monotonic()
    try:
        yield
    except Exception as e:
        if unreachable(e):
            breaker.missed(describe_error(e, provider), time.monotonic() - started)
        else:
            breaker.answered()
        raise
    except BaseException:
        breaker.released()
        raise
    breaker.answered()
