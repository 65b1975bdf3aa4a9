"""One endpoint's transport inside the engine: a UDP socket with TCP for truncated
replies, congestion control, re-sends, re-queues and the circuit breaker that
`query.engine`'s docstring describes. The engine owns one channel per endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
from collections import deque
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from dnssync.query import wire
from dnssync.query.answer import Answer, Endpoint, Question, classify, question_text
from dnssync.query.wire import Malformed, Reply

if TYPE_CHECKING:  # the engine owns its channels; a channel reads its settings
    from dnssync.query.engine import Engine


#: errors that say nothing came back from the endpoint (they feed the breaker)
_SILENT = frozenset({"timeout", "unreachable", "network"})

BREAKER = 8

REQUEUES = 3  # a question that timed out at an endpoint that answers others is asked again

MAX_SCALE = 8.0  # the most a congested endpoint's timeouts are stretched

RETIRED_IDS = 4096  # message IDs kept out of use after their question ended (late replies)

MIN_RTO = 0.2

TICK = 0.02  # granularity of re-sends and timeouts

#: questions `_send` holds while a burst of replies is read, sent together after it (or
#: once this many are held). Sent one by one as their replies came, each woke the
#: nameserver, and where it shares the CPU (the lab; a CI runner beside its servers)
#: the wake-up took the CPU from the reader: a 200-zone verify had 19,000 involuntary
#: context switches, 14,500 with this, and its query phase took 2.37 s, 1.99 s with
#: this (medians of 8-10). A question waits at most this many replies' work (about a
#: millisecond), and that wait is in its round trip's sample.
OUTBOX = 16

LAG_LIMIT = 4  # the most a question's time is stretched by stalls of this process, in timeouts

MAX_RTO = 1.0

INITIAL_RTO = 0.5  # before the first round trip is measured

_TCP_LENGTH = struct.Struct("!H")


class Pending:
    """One question in flight on a channel."""

    __slots__ = (
        "attempts",
        "callback",
        "deadline",
        "due",
        "earlier",
        "excused",
        "first_sent",
        "interval",
        "mismatches",
        "other_question",
        "qid",
        "qname",
        "question",
        "recursion",
        "requeues",
        "tcp",
        "wire",
    )

    def __init__(self, question: Question, callback: Callable[[Answer], None], tcp: bool,
                 recursion: bool):
        self.question = question
        self.callback = callback
        self.tcp = tcp
        self.recursion = recursion
        if question.wire is not None:
            self.qname = question.wire
        else:
            assert question.name is not None, "a Question needs a name or its wire form"
            self.qname = question.name.to_wire().lower()
        self.qid = 0
        self.wire = b""
        self.attempts = 0
        self.first_sent = 0.0
        self.deadline = 0.0
        self.interval = 0.0
        self.mismatches = 0
        self.other_question = ""
        self.earlier = 0  # tries in earlier rounds (before a congestion re-queue)
        self.requeues = 0
        self.due = 0.0  # when to re-send or give up
        self.excused = 0.0  # seconds this process stalled while it was in flight (not counted)


class Channel:
    """Every question to one endpoint: its UDP socket, window, timers and RTT estimate.

    The socket is a connected, non-blocking UDP socket read straight from the event
    loop's selector, draining every datagram that is ready at each wake-up: at tens
    of thousands of replies a second, one loop iteration per datagram (asyncio's
    DatagramTransport) costs more than the rest of the work."""

    def __init__(self, engine: Engine, endpoint: Endpoint):
        self.engine = engine
        self.endpoint = endpoint
        self.loop = asyncio.get_running_loop()
        self.sock: socket.socket | None = None
        self.tick: asyncio.TimerHandle | None = None
        self.open_error = ""
        self.pending: dict[int, Pending] = {}
        self.waiting: deque[Pending] = deque()
        self.in_flight = 0
        self.srtt: float | None = None
        self.rttvar = 0.0
        self.min_rtt = float("inf")  # the path's delay without queueing
        self.tasks: set[asyncio.Task] = set()  # TCP exchanges in progress
        # the circuit breaker (see the module docstring)
        self.silent = 0  # consecutive questions sent that got nothing back
        self.last_silent = "timeout"
        self.down_until = 0.0  # open until then: questions fail at once
        self.tripped = False  # half-open: the next question is sent as a probe
        self.probe: Pending | None = None  # the probe in flight
        self.held: list[Pending] = []  # questions waiting for the probe's outcome
        # congestion control (see the module docstring)
        self.cwnd = float(engine.window)
        #: questions allowed in flight: the window's whole part, kept beside it (read for
        #: every question sent and answered; it changes only when the window does)
        self.window = engine.window
        self.scale = 1.0  # timeouts are stretched by this while congested
        self.last_heard = 0.0  # when anything last came back from the endpoint
        self.stalled = 0.0  # seconds this process could not run, in all (see `_excuse`)
        self.heard_stalled = 0.0  # `stalled` when the endpoint was last heard
        self.last_decrease = 0.0
        self.requeued = 0
        self.min_window = engine.window
        self.earlier_ids: dict[int, Pending] = {}  # IDs of earlier rounds of questions asked again
        self.expiries: deque[tuple[float, int]] = deque()  # (when, which) questions ran out of time
        self.first_resends: deque[tuple[float, int]] = deque()  # (when, which) questions were first re-sent
        self.retired: deque[int] = deque()  # IDs of ended questions, newest last
        self.retired_set: set[int] = set()
        self.outbox: list[bytes] | None = None  # while replies are read: the questions to send after

    def _set_cwnd(self, cwnd: float) -> None:
        self.cwnd = cwnd
        self.window = max(1, int(cwnd))

    # -- the socket ----------------------------------------------------------------

    def open(self) -> None:
        family = socket.AF_INET6 if ":" in self.endpoint.address else socket.AF_INET
        sock = None
        try:
            sock = socket.socket(family, socket.SOCK_DGRAM)
            sock.setblocking(False)
            sock.connect((self.endpoint.address, self.endpoint.port))
        except OSError as e:
            if sock is not None:
                sock.close()
            self.open_error = (f"cannot open a UDP socket to {self.endpoint.label}:"
                               f" {e.strerror or e}")
            return
        self.sock = sock
        self.loop.add_reader(sock.fileno(), self._readable)

    def close(self) -> None:
        if self.tick is not None:
            self.tick.cancel()
        for task in self.tasks:
            task.cancel()
        if self.sock is not None:
            self.loop.remove_reader(self.sock.fileno())
            self.sock.close()
            self.sock = None

    def _readable(self) -> None:
        tick = self.tick
        if tick is not None and self.loop.time() - tick.when() > TICK:
            tick.cancel()  # the process stalled: count it before any reply is timed
            self._on_tick()  # (it reads the socket once the stall is excused)
            return
        sock = self.sock
        self.outbox = []
        try:
            for _ in range(256):  # bounded, so other endpoints get their turn
                if sock is None:
                    return
                try:
                    data = sock.recv(65535)
                except BlockingIOError:
                    return
                except OSError as e:  # ICMP errors surface here on a connected socket
                    self._fail_all(e)
                    return
                self.datagram_received(data)
                if len(self.outbox) >= OUTBOX:
                    self._flush()
        finally:
            self._flush()
            self.outbox = None

    def _flush(self) -> None:
        """Send the questions `_send` held while replies were read (see OUTBOX)."""
        out, self.outbox = self.outbox or [], []
        for data in out:
            if not self._put(data):
                return  # the socket failed: so does every question in flight

    def _put(self, data: bytes) -> bool:
        """Send one datagram; False when the socket failed."""
        if self.sock is None:
            return False
        try:
            self.sock.send(data)
        except BlockingIOError:
            pass  # the send buffer is full: as good as a lost packet, the timer re-sends
        except OSError as e:  # e.g. an ICMP error from an earlier datagram; deferred,
            self.loop.call_soon(self._fail_all, e)  # as we may be inside a callback
            return False
        return True

    def datagram_received(self, data: bytes) -> None:
        self._hear()  # even a late or broken reply: the endpoint is alive
        if len(data) < 12:
            self.engine.stats["stray"] += 1
            return
        qid = (data[0] << 8) | data[1]
        pending = self.pending.get(qid)
        late = False
        if pending is None:  # a late reply to an earlier round of a question asked again
            earlier = self.earlier_ids.get(qid)
            if earlier is not None and self.pending.get(earlier.qid) is earlier:
                pending, late = earlier, True
        if pending is not None and pending.question.expected is not None \
                and wire.answered_as_expected(data, pending.question.expected, pending.qname):
            self._timed(pending, late)
            self.engine.stats["exact"] += 1
            self._done(pending, None, "", None, "udp", exact=True)
            return
        try:
            reply = wire.parse_reply(data)
        except Malformed as e:
            if pending is not None:
                self._done(pending, "malformed", f"malformed reply: {e}", None, "udp")
            else:
                self.engine.stats["stray"] += 1
            return
        if pending is not None and reply.flags & wire.QR and (reply.qname != pending.qname
                                                              or reply.qtype != pending.question.rdtype):
            pending.other_question = question_text(reply)  # keep waiting: it may be spoofed
            return
        if pending is None or not reply.flags & wire.QR:
            self._mismatch(reply)
            return
        self._timed(pending, late)
        if reply.flags & wire.TC:
            self._forget(pending)
            self.engine.stats["truncated"] += 1
            self._spawn(self._tcp(pending, truncated=True))
            return
        kind, detail = classify(reply, pending.recursion)
        self._done(pending, kind, detail, reply, "udp")

    # -- the window --------------------------------------------------------------

    def submit(self, pending: Pending) -> None:
        if self.in_flight < self.window:
            self._start(pending)
        else:
            self.waiting.append(pending)

    def _start(self, pending: Pending) -> None:
        self.in_flight += 1
        self.engine.stats["queries"] += 1
        if self.open_error:
            self.loop.call_soon(self._done, pending, "network", self.open_error, None, "udp")
            return
        if self.down_until:
            if self.loop.time() < self.down_until:
                self._refuse(pending)
                return
            self.down_until, self.tripped = 0.0, True  # the open time is over: probe again
        if self.probe is not None:
            self.held.append(pending)  # the probe decides whether it is sent
            return
        if self.tripped:
            self.tripped, self.probe = False, pending
        self._send_first(pending)

    def _refuse(self, pending: Pending) -> None:
        """Fail a question without sending it (the breaker is open); it does not count."""
        self.loop.call_soon(self._done, pending, self.last_silent,
                            f"not asked: the last {self.silent} questions sent to this"
                            " nameserver got no reply", None, "udp")

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run a coroutine as a task that is kept (the loop holds only weak references)."""
        task = self.loop.create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _send_first(self, pending: Pending) -> None:
        if pending.tcp or self.sock is None:
            self._spawn(self._tcp(pending, truncated=False))
        else:
            qid = random.getrandbits(16)
            while qid in self.pending or qid in self.retired_set:  # a late reply must not match
                qid = random.getrandbits(16)
            pending.qid = qid
            pending.wire = wire.query_wire(qid, pending.qname, pending.question.rdtype,
                                           pending.recursion, self.engine.payload, self.engine.dnssec)
            self.pending[qid] = pending
            now = self.loop.time()
            pending.first_sent = pending.first_sent or now
            pending.deadline = now + self.engine.timeout * self.scale
            pending.interval = self.rto()
            self._send(pending)

    def _send(self, pending: Pending) -> None:
        pending.attempts += 1
        self.engine.stats["udp_sent"] += 1
        if pending.attempts > 1:
            self.engine.stats["retransmits"] += 1
        if self.outbox is not None:
            self.outbox.append(pending.wire)
        else:
            self._put(pending.wire)
        now = self.loop.time()
        wait = min(pending.interval, pending.deadline - now)
        if self.engine.resends is not None and pending.attempts > self.engine.resends:
            wait = pending.deadline - now  # the last try waits out the whole timeout
        pending.due = now + max(wait, 0.0)
        if self.tick is None:
            self.tick = self.loop.call_later(TICK, self._on_tick)

    def _on_tick(self) -> None:
        """One timer per endpoint, not one per query: it finds the questions due for a
        re-send or a timeout (to within TICK) while any are in flight.

        A tick that runs late says this process could not run (a starved CPU, a callback
        that blocked the loop): a verifier must not report a nameserver silent because it
        was itself late. So the stall is not counted against the questions in flight (see
        `_excuse`), and it is counted before the replies already waiting in the socket are
        read, so none of them is timed as a round trip that the stall stretched (the
        reader runs an overdue tick first for the same reason)."""
        assert self.tick is not None
        stall = self.loop.time() - self.tick.when() - TICK
        self.tick = None
        if stall > 0:
            self._excuse(stall)
        if self.sock is not None:
            self._readable()
        now = self.loop.time()
        for pending in [p for p in self.pending.values() if p.due <= now]:
            self._expired(pending)
        if self.pending and self.tick is None:
            self.tick = self.loop.call_later(TICK, self._on_tick)

    def _excuse(self, stall: float) -> None:
        """Move the timers of the questions in flight on by `stall` seconds the process
        could not run (a nameserver sharing the process, as the embedded ones do, could not
        answer either), up to `LAG_LIMIT` timeouts per question: a nameserver that really
        stays silent is still reported, and the breaker still trips, in bounded time."""
        self.stalled += stall
        limit = LAG_LIMIT * self.engine.timeout * self.scale
        for pending in self.pending.values():
            excuse = min(stall, limit - pending.excused)
            if excuse > 0:
                pending.excused += excuse
                pending.deadline += excuse
                pending.due += excuse

    def _expired(self, pending: Pending) -> None:
        if self.pending.get(pending.qid) is not pending:
            return
        resends = self.engine.resends
        if (resends is None or pending.attempts <= resends) \
                and self.loop.time() < pending.deadline:
            pending.interval = min(pending.interval * 2, max(MAX_RTO, pending.interval))
            lost = pending.attempts == 1 and not (pending.mismatches or pending.other_question)
            lost = lost and self.last_heard >= pending.first_sent
            if lost and self._queueing() and self._recent(self.first_resends, pending, 3):
                self._slow_down(scale=False)  # losses while replies queue up: the server is overloaded
            self._send(pending)
            return
        silent = not (pending.mismatches or pending.other_question)  # else a reply came: not lost
        if silent and pending.requeues < REQUEUES and self._alive():
            self._ask_again(pending, self._congestion(pending))  # it answers others: not dead
            return
        if pending.other_question:
            detail = (f"the reply with this query's message ID answered another question"
                      f" ({pending.other_question}), and no reply to this one came in {self.engine.timeout:g} s")
            self._done(pending, "wrong-question", detail, None, "udp")
        elif pending.mismatches:
            detail = (f"{pending.mismatches} reply(ies) with the wrong message ID,"
                      f" and no matching reply in {self.engine.timeout:g} s")
            self._done(pending, "id-mismatch", detail, None, "udp")
        else:
            rounds = f" in {pending.requeues + 1} rounds" if pending.requeues else ""
            stalled = (f", not counting {pending.excused:.1f} s this process could not run"
                       if pending.excused else "")
            self._done(pending, "timeout", f"no reply in {self.engine.timeout * self.scale:g} s"
                       f" ({pending.earlier + pending.attempts} tries over UDP{rounds}{stalled})",
                       None, "udp")

    def _mismatch(self, reply: Reply) -> None:
        for pending in self.pending.values():
            if pending.qname == reply.qname and pending.question.rdtype == reply.qtype:
                pending.mismatches += 1
                return
        self.engine.stats["stray"] += 1

    def _fail_all(self, exc: Exception) -> None:
        kind = "unreachable" if isinstance(exc, ConnectionRefusedError) else "network"
        detail = ("nothing listens there (ICMP port unreachable)" if kind == "unreachable"
                  else f"{type(exc).__name__}: {exc}")
        for pending in list(self.pending.values()):
            self._done(pending, kind, detail, None, "udp")

    def _forget(self, pending: Pending) -> None:
        if self.pending.get(pending.qid) is pending:
            del self.pending[pending.qid]
            self.retired.append(pending.qid)
            self.retired_set.add(pending.qid)
            if len(self.retired) > RETIRED_IDS:
                self.retired_set.discard(self.retired.popleft())

    def _queueing(self) -> bool:
        """Replies take well over the path's own delay: they wait in the server's queue."""
        return self.srtt is not None and self.srtt > 2 * self.min_rtt + 0.005

    def _loaded(self) -> bool:
        """Slowed down to already, or replies queueing: a TCP timeout may be load, not a filter."""
        return self.scale > 1 or self.cwnd < self.engine.window or self._queueing()

    def _hear(self) -> None:
        self.last_heard = self.loop.time()
        self.heard_stalled = self.stalled

    def _alive(self) -> bool:
        """Whether the endpoint answered anything within the last two (stretched) timeouts
        of time this process could run: a question lost at the very end of a run, when
        nothing else is in flight, is a loss, not a dead server; and an endpoint that could
        not answer while this process stalled (one sharing its CPU or its process) has not
        fallen silent. Never heard at all is silence, however long the stalls."""
        silence = self.loop.time() - self.last_heard - (self.stalled - self.heard_stalled)
        return bool(self.last_heard) and silence <= 2 * self.engine.timeout * self.scale

    def _recent(self, events: deque[tuple[float, int]], pending: Pending, at_least: int) -> bool:
        """Note a loss of `pending` now; whether `at_least` different questions were lost
        within one timeout (congestion or a lossy path, not one name a server ignores)."""
        now = self.loop.time()
        events.append((now, id(pending)))
        while events and events[0][0] < now - self.engine.timeout * self.scale:
            events.popleft()
        return len({key for _, key in events}) >= at_least

    def _congestion(self, pending: Pending) -> bool:
        """Whether questions running out of time here look like congestion (several
        within one timeout, or replies slow against the timeout)."""
        slow = self.srtt is not None and self.srtt > self.engine.timeout * self.scale / 4
        return self._recent(self.expiries, pending, 2) or slow

    def _slow_down(self, scale: bool) -> None:
        """Multiplicative decrease, at most once per round trip: halve the window and,
        when questions run out of time (not merely need a re-send), stretch timeouts."""
        now = self.loop.time()
        if now - self.last_decrease <= max(self.srtt or INITIAL_RTO, MIN_RTO):
            return
        self.last_decrease = now
        self._set_cwnd(max(1.0, self.cwnd / 2))
        self.min_window = min(self.min_window, self.window)
        if scale:
            self.scale = min(MAX_SCALE, self.scale * 2)

    def _ask_again(self, pending: Pending, congested: bool) -> None:
        """A question ran out of time while the endpoint answered others: a loss, or
        congestion, not a dead server. Under congestion slow down first; either way ask
        it again from the front of the queue (a late reply to this round still counts)."""
        self.earlier_ids[pending.qid] = pending
        self._forget(pending)
        self.in_flight -= 1
        if pending is self.probe:  # the endpoint answered meanwhile: close the breaker, else the
            self._heard()  # probe would queue behind itself, with nothing left to send it
        if congested:
            self._slow_down(scale=True)
            self.requeued += 1
            self.engine.stats["throttled"] += 1
        pending.earlier += pending.attempts
        pending.attempts = 0
        pending.requeues += 1
        pending.mismatches, pending.other_question = 0, ""
        self.waiting.appendleft(pending)
        while self.waiting and self.in_flight < self.window:
            self._start(self.waiting.popleft())

    def _done(self, pending: Pending, error: str | None, detail: str, reply: Reply | None,
              transport: str, exact: bool = False) -> None:
        self._forget(pending)
        if pending.requeues:
            for qid in [q for q, p in self.earlier_ids.items() if p is pending]:
                del self.earlier_ids[qid]
        self.in_flight -= 1
        if pending.attempts:  # only questions really sent tell whether the endpoint answers
            if error in _SILENT:
                self._silence(pending, error or "timeout")
            else:  # something came back, even if wrong (malformed, wrong ID): it answers
                self._hear()
                if self.silent or self.probe is not None or self.held or self.down_until \
                        or self.tripped:
                    self._heard()  # (nothing to do at a healthy endpoint, the usual case)
                if self.cwnd < self.engine.window:
                    self._grow()
        elapsed = self.loop.time() - pending.first_sent if pending.first_sent else 0.0
        answer = Answer(pending.question, self.endpoint, error, detail, reply, transport, elapsed,
                        pending.earlier + pending.attempts, exact)
        while self.waiting and self.in_flight < self.window:
            self._start(self.waiting.popleft())
        pending.callback(answer)

    # -- the circuit breaker ---------------------------------------------------------

    def _grow(self) -> None:
        """Additive increase: one more question in flight per window's worth of replies;
        back at the full window, timeouts are no longer stretched."""
        if self.cwnd < self.engine.window:
            self._set_cwnd(min(float(self.engine.window), self.cwnd + 1 / self.cwnd))
            if self.cwnd >= self.engine.window:
                self.scale = 1.0

    def _silence(self, pending: Pending, error: str) -> None:
        if error == "timeout" and self._alive():
            return  # the endpoint answered meanwhile: a lost question, not a dead server
        self.silent += 1
        self.last_silent = error
        if pending is self.probe:  # still down: open, and fail what waited for the probe
            self.probe = None
            self.down_until = self.loop.time() + self.engine.timeout
            held, self.held = self.held, []
            for waiting in held:
                self._refuse(waiting)
        elif self.silent >= BREAKER and self.probe is None and not self.down_until:
            self.tripped = True

    def _heard(self) -> None:
        """Something came back: the endpoint answers. Close the breaker, send what waited."""
        self.silent = 0
        self.down_until, self.tripped, self.probe = 0.0, False, None
        held, self.held = self.held, []
        for waiting in held:
            self._send_first(waiting)

    # -- retransmission timeout ----------------------------------------------------

    def _timed(self, pending: Pending, late: bool) -> None:
        """A reply's round trip into the estimate when it is unambiguous (Karn): the first
        try's reply, not a late one to an earlier round, not stretched by a stall of ours."""
        if pending.attempts == 1 and not late and not pending.excused:
            self._sample(self.loop.time() - pending.first_sent)

    def _sample(self, rtt: float) -> None:
        self.min_rtt = min(self.min_rtt, rtt)
        if self.srtt is None:
            self.srtt, self.rttvar = rtt, rtt / 2
        else:
            self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - rtt)
            self.srtt = 0.875 * self.srtt + 0.125 * rtt

    def rto(self) -> float:
        timeout = self.engine.timeout * self.scale
        if self.srtt is None:  # no sample yet: leave room for every retry in the timeout
            tries = 3 if self.engine.resends is None else self.engine.resends + 1
            return min(INITIAL_RTO * self.scale, timeout / tries)
        return min(max(self.srtt + 4 * self.rttvar, MIN_RTO * self.scale), timeout)

    # -- TCP -------------------------------------------------------------------------

    async def _tcp(self, pending: Pending, truncated: bool) -> None:
        """Ask over TCP (RFC 7766), one connection per question: TCP is the fallback
        for truncated replies and the reachability check, never the bulk path."""
        self.engine.stats["tcp"] += 1
        if not pending.first_sent:
            pending.first_sent = self.loop.time()
        pending.attempts += 1
        qid = random.getrandbits(16)
        query = wire.query_wire(qid, pending.qname, pending.question.rdtype, pending.recursion,
                                self.engine.payload, self.engine.dnssec)
        reply = None
        # whatever happens (even a bug below, or the engine closing), the question ends:
        # a caller awaiting it must never hang
        kind, detail = "network", "the TCP exchange ended unexpectedly"
        try:
            reply = await self._tcp_patiently(query)
            if reply.id != qid:
                kind, detail = "id-mismatch", "the TCP reply has the wrong message ID"
                reply = None
            elif reply.qname != pending.qname or reply.qtype != pending.question.rdtype:
                kind = "wrong-question"
                detail = f"the TCP reply answered another question ({question_text(reply)})"
                reply = None
            else:
                kind, detail = classify(reply, pending.recursion)
                if kind is None and reply.flags & wire.TC:
                    kind, detail = "malformed", "the TCP reply has TC set"
        except TimeoutError:
            kind, detail = "timeout", f"no reply over TCP in {self.engine.timeout:g} s"
        except ConnectionRefusedError:
            kind, detail = "unreachable", "TCP connection refused"
        except Malformed as e:
            kind, detail = "malformed", f"malformed reply over TCP: {e}"
        except (OSError, asyncio.IncompleteReadError) as e:
            kind, detail = "network", f"TCP failed: {type(e).__name__}: {e}".rstrip(": ")
        finally:
            if truncated and kind is not None:
                detail = f"the UDP reply was truncated; over TCP: {kind}: {detail}"
                kind = "truncated"
            self._done(pending, kind, detail, reply, "tcp")

    async def _tcp_patiently(self, query: bytes) -> Reply:
        """One TCP exchange. At a loaded endpoint (slowed down to, or its UDP replies
        queueing) a TCP exchange that runs out of time while UDP replies still come is
        tried again with twice the time, `REQUEUES` times: a loaded server accepts late.
        Elsewhere a TCP timeout is the finding (TCP filtered), at once."""
        timeout = self.engine.timeout * self.scale
        rounds = 0
        while True:
            started = self.loop.time()
            try:
                return await asyncio.wait_for(self._tcp_exchange(query), timeout)
            except TimeoutError:
                if rounds == REQUEUES or not self._loaded() or self.last_heard < started:
                    raise
                rounds += 1
                self.engine.stats["throttled"] += 1
                timeout *= 2

    async def _tcp_exchange(self, query: bytes) -> Reply:
        reader, writer = await asyncio.open_connection(self.endpoint.address, self.endpoint.port)
        try:
            writer.write(_TCP_LENGTH.pack(len(query)) + query)
            await writer.drain()
            (length,) = _TCP_LENGTH.unpack(await reader.readexactly(2))
            return wire.parse_reply(await reader.readexactly(length))
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
