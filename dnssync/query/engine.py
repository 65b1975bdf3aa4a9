"""The DNS query engine: ask nameservers many questions directly, fast, and report
every outcome as data.

verify, watch, delegation and soa checks and ALIAS target resolution ask DNS servers questions and must never crash or
stall on a server that is down, lame, slow or lying; so every outcome, good or
bad, is an `Answer` value, and nothing here raises for a DNS or network failure.

API (stable; other stages build on it)::

    from dnssync.query.engine import Endpoint, Engine, Question, resolve, resolve_all, soa_of

    endpoints, problem = await resolve(nameserver)      # model.address.Nameserver -> [Endpoint]
    rows = await resolve_all({"provider": [nameserver, ...]})   # -> [Resolved], concurrently
    async with Engine(timeout=3.0, window=64, dnssec=False) as engine:  # dnssec: DO bit
        answer = await engine.ask(endpoint, "www.example.com.", "A")
        await engine.ask_many(endpoint, questions, on_answer)   # streams, bounded memory

* `Endpoint(address, port=53, name=None)`: one address of a nameserver, an IPv4
  or IPv6 literal; `name` is the NS-record name, for labels.
* `Question(name, rdtype, tag=None, wire=None)`: `Question.of("www.example.com.",
  "A", tag)` accepts text; `tag` is the caller's, returned untouched on the answer;
  `wire` may carry the name's lower-case wire form when the caller has it (then
  `name` may be None: a large zone need not hold a dnspython Name per record).
* `Answer`: `error` is None when the server gave a usable reply, else a key of
  `FAILURES` (timeout, unreachable, refused, servfail, non-authoritative,
  id-mismatch, truncated, ...) with a one-line `detail`. Also `rcode`, `flags`,
  `aa`, `tc`, `nxdomain`, `referral`, `transport` ("udp"/"tcp"), `elapsed`
  (seconds from first send), `attempts`, and `reply` (a `wire.Reply`: the
  sections as located records; `reply.message()` gives the dnspython Message).
  A referral (AA=0, no answer, NS in authority) is not an error: callers that
  expect authority check `answer.referral`. `soa_of(answer)` gives the SOA record
  at the question's name (serial, negative-cache TTL), the one way every stage reads it.
  Parsing RDATA (`reply.rdata(rr)`, `soa_of`) raises `wire.Malformed` and nothing else.
* `Engine.ask(endpoint, name, rdtype, tcp=False, recursion=False, tag=None)`: one
  question. RD is off unless `recursion=True` (for asking resolvers); then AA is
  not required.
* `Engine.ask_many(endpoint, questions, on_answer, ...)`: every question of an
  iterable, `on_answer(answer)` called as each completes (in completion order).
  Questions are pulled lazily, so a 100,000-record zone never sits in memory as
  100,000 pending queries.
* `Engine.stats`: counters (queries, udp_sent, retransmits, tcp, truncated, stray).
* Zone transfers: `dnssync.verify.extra.transfer(endpoint, zone, tsig, timeout)` (on `dnssync.query.axfr`)
  (AXFR, TSIG-signed when given a key) returns the zone as data the same way.

How it behaves on the wire:

* One connected UDP socket per endpoint (message IDs are random; the source
  port is one per endpoint); at most `window` questions in flight to each
  endpoint, the rest wait (a bounded window, like a TCP window, so a server is
  never flooded and a slow one does not slow the others).
* Lost UDP packets are re-sent (same ID) after a retransmission timeout learned
  from the endpoint's round-trip times (Jacobson/Karn, as TCP does), doubling
  each time up to MAX_RTO, until the per-query `timeout`; `resends` caps the
  re-sends when given. So a lossy path costs a little time, not false findings.
* A reply with TC set is asked again over TCP (RFC 7766); when that fails too
  the error is `truncated`. `tcp=True` asks over TCP directly.
* A reply whose ID or question does not match is ignored (it could be spoofed
  or stale) but remembered: if no matching reply arrives, the error is
  `wrong-question` (a reply with the query's ID answered another question) or
  `id-mismatch` rather than a bare timeout.
* ICMP port unreachable (nothing listens) fails the questions in flight at once
  as `unreachable`.
* Congestion control per endpoint, as TCP does it: the window starts at `window`,
  grows by one question per window's worth of replies, and halves (at most once per
  round trip) when a question runs out of time while the endpoint still answers
  others; the per-question timeout then doubles (up to `MAX_SCALE` times). Such a
  question is not failed: it is asked again, up to `REQUEUES` times. So a slow or
  lossy server is slowed down to, not reported; `Engine.throttled` says which
  endpoints were (for the findings of such a run to say so).
* A circuit breaker per endpoint: after `BREAKER` consecutive questions sent without
  any reply, and nothing at all heard from the endpoint for a whole timeout, one
  question is sent as a probe and the others wait for it. A reply
  (to the probe or to anything still in flight) closes the breaker and the waiting
  questions are sent; a probe without a reply opens it for `timeout` seconds, in
  which questions fail at once (attempts=0, and they do not count: only questions
  really sent trip or re-open the breaker); then the next question probes again.
  So a stopped server costs two timeouts, not one per record, and a server that
  comes back is asked again at the next probe.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import random
import socket
import struct
from collections import deque
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import dns.exception
import dns.name
import dns.rcode
import dns.rdatatype

from dnssync.model.address import Nameserver, format_address
from dnssync.query import wire
from dnssync.query.wire import Malformed, Reply


class Failure(NamedTuple):
    """One kind of `Answer.error`: what it means, the RCODE that is it (None: not an
    RCODE), and the finding code every stage reports it as."""

    meaning: str
    code: str
    rcode: int | None = None


#: every `Answer.error` kind: the one table (the engine classifies RCODEs by it, verify and
#: watch report its codes, and a test checks every code is in the findings registry)
FAILURES: dict[str, Failure] = {
    "timeout": Failure("no reply within the timeout, after every re-send", "verify.timeout"),
    "unreachable": Failure("nothing listens there (ICMP port unreachable, or TCP connection refused)",
                           "verify.unreachable"),
    "network": Failure("the network failed (no route, connection reset or closed early)", "verify.network"),
    "id-mismatch": Failure("only replies with the wrong message ID came back", "verify.id-mismatch"),
    "wrong-question": Failure("a reply with the query's message ID answered another question",
                              "verify.wrong-question"),
    "malformed": Failure("the reply does not parse as a DNS message", "verify.malformed"),
    "truncated": Failure("the UDP reply was truncated (TC) and asking over TCP failed", "verify.truncated"),
    "refused": Failure("the server answered REFUSED (not configured for the zone, or an ACL)",
                       "verify.refused", dns.rcode.REFUSED),
    "servfail": Failure("the server answered SERVFAIL (it failed to load or serve the zone)",
                        "verify.servfail", dns.rcode.SERVFAIL),
    "notauth": Failure("the server answered NOTAUTH (not authoritative for the zone)", "verify.rcode",
                       dns.rcode.NOTAUTH),
    "formerr": Failure("the server answered FORMERR (it could not parse the query)", "verify.rcode",
                       dns.rcode.FORMERR),
    "notimp": Failure("the server answered NOTIMP (it does not implement the query)", "verify.rcode",
                      dns.rcode.NOTIMP),
    "rcode": Failure("the server answered another error RCODE", "verify.rcode"),
    "non-authoritative": Failure("the reply has AA=0 and is not a referral (a lame server)",
                                 "verify.non-authoritative"),
}
_RCODE_FAILURES = {failure.rcode: kind for kind, failure in FAILURES.items() if failure.rcode is not None}
#: errors that say nothing came back from the endpoint (they feed the breaker)
_SILENT = frozenset({"timeout", "unreachable", "network"})
BREAKER = 8
REQUEUES = 3  # a question that timed out at an endpoint that answers others is asked again
MAX_SCALE = 8.0  # the most a congested endpoint's timeouts are stretched
RETIRED_IDS = 4096  # message IDs kept out of use after their question ended (late replies)
MIN_RTO = 0.2
TICK = 0.02  # granularity of re-sends and timeouts
MAX_RTO = 1.0
INITIAL_RTO = 0.5  # before the first round trip is measured
_TCP_LENGTH = struct.Struct("!H")


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One address (IPv4 or IPv6 literal) and port of a nameserver."""

    address: str
    port: int = 53
    name: str | None = None  # the NS-record name, for labels

    @property
    def label(self) -> str:
        where = self.address
        if self.port != 53 or ":" in self.address:  # a bare IPv6 address keeps its port, to read as one
            where = format_address(self.address, self.port)
        return f"{self.name.rstrip('.')} ({where})" if self.name else where


class Question(NamedTuple):
    name: dns.name.Name | None  # None when `wire` is given
    rdtype: int
    tag: Any = None  # the caller's, returned on the Answer
    wire: bytes | None = None  # name.to_wire().lower(), when the caller has it already

    @classmethod
    def of(cls, name: dns.name.Name | str, rdtype: int | str, tag: Any = None) -> Question:
        if isinstance(name, str):
            name = dns.name.from_text(name)
        if isinstance(rdtype, str):
            rdtype = dns.rdatatype.from_text(rdtype)
        return cls(name, int(rdtype), tag)


@dataclass(slots=True)
class Answer:
    """What one question got from one endpoint: a reply, or why there is none."""

    question: Question
    endpoint: Endpoint
    error: str | None
    detail: str = ""
    reply: Reply | None = None
    transport: str = "udp"
    elapsed: float = 0.0
    attempts: int = 0

    @property
    def rcode(self) -> int | None:
        return self.reply.rcode if self.reply else None

    @property
    def flags(self) -> int:
        return self.reply.flags if self.reply else 0

    @property
    def aa(self) -> bool:
        return bool(self.flags & wire.AA)

    @property
    def tc(self) -> bool:
        return bool(self.flags & wire.TC)

    @property
    def nxdomain(self) -> bool:
        return self.rcode == dns.rcode.NXDOMAIN

    @property
    def referral(self) -> bool:
        """A delegation (see `wire.Reply.referral`)."""
        return bool(self.reply and self.reply.referral)


@dataclass(frozen=True, slots=True)
class SoaRecord:
    """A zone's SOA as one nameserver answered it."""

    ttl: int
    rdata: Any  # dns.rdtypes.ANY.SOA.SOA

    @property
    def serial(self) -> int:
        return self.rdata.serial

    @property
    def negative_ttl(self) -> int:
        """How long resolvers cache "no such name" from this server: min(MINIMUM, SOA TTL)
        (RFC 2308 5)."""
        return min(self.rdata.minimum, self.ttl)


def soa_of(answer: Answer) -> SoaRecord | None:
    """The SOA at the question's name in the answer section (None: there is none, e.g.
    NODATA or a referral); raises wire.Malformed when its RDATA does not parse."""
    reply = answer.reply
    if reply is None:
        return None
    for rr in reply.answer:
        if rr.rdtype == dns.rdatatype.SOA and rr.owner == reply.qname:
            return SoaRecord(rr.ttl, reply.rdata(rr))
    return None


class _Pending:
    """One question in flight on a channel."""

    __slots__ = (
        "attempts",
        "callback",
        "deadline",
        "due",
        "earlier",
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


def _question_text(reply: Reply) -> str:
    """The question a reply answered, as `name TYPE` (or why it cannot be shown)."""
    if reply.qname is None or reply.qtype is None:
        return "no question"
    try:
        name = dns.name.from_wire(reply.qname, 0)[0].to_text()
    except dns.exception.DNSException:
        name = "(unreadable name)"
    return f"{name} {dns.rdatatype.to_text(reply.qtype)}"


def _classify(reply: Reply, recursion: bool) -> tuple[str | None, str]:
    """The error kind of a parsed reply (None: usable), with a detail line."""
    kind = _RCODE_FAILURES.get(reply.rcode)
    if kind is None and reply.rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        kind = "rcode"
    if kind:
        return kind, f"the server answered {dns.rcode.to_text(reply.rcode)}"
    if not recursion and not reply.flags & wire.AA and not reply.referral:
        return "non-authoritative", "the reply is not authoritative (AA=0)"
    return None, ""


class _Channel:
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
        self.pending: dict[int, _Pending] = {}
        self.waiting: deque[_Pending] = deque()
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
        self.probe: _Pending | None = None  # the probe in flight
        self.held: list[_Pending] = []  # questions waiting for the probe's outcome
        # congestion control (see the module docstring)
        self.cwnd = float(engine.window)
        self.scale = 1.0  # timeouts are stretched by this while congested
        self.last_heard = 0.0  # when anything last came back from the endpoint
        self.last_decrease = 0.0
        self.requeued = 0
        self.min_window = engine.window
        self.earlier_ids: dict[int, _Pending] = {}  # IDs of earlier rounds of questions asked again
        self.expiries: deque[tuple[float, int]] = deque()  # (when, which) questions ran out of time
        self.first_resends: deque[tuple[float, int]] = deque()  # (when, which) questions were first re-sent
        self.retired: deque[int] = deque()  # IDs of ended questions, newest last
        self.retired_set: set[int] = set()

    @property
    def window(self) -> int:
        return max(1, int(self.cwnd))

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
        sock = self.sock
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

    def datagram_received(self, data: bytes) -> None:
        self.last_heard = self.loop.time()  # even a late or broken reply: the endpoint is alive
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
            pending.other_question = _question_text(reply)  # keep waiting: it may be spoofed
            return
        if pending is None or not reply.flags & wire.QR:
            self._mismatch(reply)
            return
        if pending.attempts == 1 and not late:  # Karn: only unambiguous round trips
            self._sample(self.loop.time() - pending.first_sent)
        if reply.flags & wire.TC:
            self._forget(pending)
            self.engine.stats["truncated"] += 1
            self._spawn(self._tcp(pending, truncated=True))
            return
        kind, detail = _classify(reply, pending.recursion)
        self._done(pending, kind, detail, reply, "udp")

    # -- the window --------------------------------------------------------------

    def submit(self, pending: _Pending) -> None:
        if self.in_flight < self.window:
            self._start(pending)
        else:
            self.waiting.append(pending)

    def _start(self, pending: _Pending) -> None:
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

    def _refuse(self, pending: _Pending) -> None:
        """Fail a question without sending it (the breaker is open); it does not count."""
        self.loop.call_soon(self._done, pending, self.last_silent,
                            f"not asked: the last {self.silent} questions sent to this"
                            " nameserver got no reply", None, "udp")

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run a coroutine as a task that is kept (the loop holds only weak references)."""
        task = self.loop.create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _send_first(self, pending: _Pending) -> None:
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

    def _send(self, pending: _Pending) -> None:
        pending.attempts += 1
        self.engine.stats["udp_sent"] += 1
        if pending.attempts > 1:
            self.engine.stats["retransmits"] += 1
        assert self.sock is not None
        try:
            self.sock.send(pending.wire)
        except BlockingIOError:
            pass  # the send buffer is full: as good as a lost packet, the timer re-sends
        except OSError as e:  # e.g. an ICMP error from an earlier datagram; deferred,
            self.loop.call_soon(self._fail_all, e)  # as we may be inside a callback
        now = self.loop.time()
        wait = min(pending.interval, pending.deadline - now)
        if self.engine.resends is not None and pending.attempts > self.engine.resends:
            wait = pending.deadline - now  # the last try waits out the whole timeout
        pending.due = now + max(wait, 0.0)
        if self.tick is None:
            self.tick = self.loop.call_later(TICK, self._on_tick)

    def _on_tick(self) -> None:
        """One timer per endpoint, not one per query: it finds the questions due for a
        re-send or a timeout (to within TICK) while any are in flight."""
        self.tick = None
        now = self.loop.time()
        for pending in [p for p in self.pending.values() if p.due <= now]:
            self._expired(pending)
        if self.pending and self.tick is None:
            self.tick = self.loop.call_later(TICK, self._on_tick)

    def _expired(self, pending: _Pending) -> None:
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
            self._done(pending, "timeout", f"no reply in {self.engine.timeout * self.scale:g} s"
                       f" ({pending.earlier + pending.attempts} tries over UDP{rounds})", None, "udp")

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

    def _forget(self, pending: _Pending) -> None:
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

    def _alive(self) -> bool:
        """Whether the endpoint answered anything within the last two (stretched) timeouts:
        a question lost at the very end of a run, when nothing else is in flight, is a
        loss, not a dead server."""
        return self.last_heard >= self.loop.time() - 2 * self.engine.timeout * self.scale

    def _recent(self, events: deque[tuple[float, int]], pending: _Pending, at_least: int) -> bool:
        """Note a loss of `pending` now; whether `at_least` different questions were lost
        within one timeout (congestion or a lossy path, not one name a server ignores)."""
        now = self.loop.time()
        events.append((now, id(pending)))
        while events and events[0][0] < now - self.engine.timeout * self.scale:
            events.popleft()
        return len({key for _, key in events}) >= at_least

    def _congestion(self, pending: _Pending) -> bool:
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
        self.cwnd = max(1.0, self.cwnd / 2)
        self.min_window = min(self.min_window, self.window)
        if scale:
            self.scale = min(MAX_SCALE, self.scale * 2)

    def _ask_again(self, pending: _Pending, congested: bool) -> None:
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

    def _done(self, pending: _Pending, error: str | None, detail: str, reply: Reply | None,
              transport: str) -> None:
        self._forget(pending)
        if pending.requeues:
            for qid in [q for q, p in self.earlier_ids.items() if p is pending]:
                del self.earlier_ids[qid]
        self.in_flight -= 1
        if pending.attempts:  # only questions really sent tell whether the endpoint answers
            if error in _SILENT:
                self._silence(pending, error or "timeout")
            else:  # something came back, even if wrong (malformed, wrong ID): it answers
                self.last_heard = self.loop.time()
                self._heard()
                self._grow()
        elapsed = self.loop.time() - pending.first_sent if pending.first_sent else 0.0
        answer = Answer(pending.question, self.endpoint, error, detail, reply, transport, elapsed,
                        pending.earlier + pending.attempts)
        while self.waiting and self.in_flight < self.window:
            self._start(self.waiting.popleft())
        pending.callback(answer)

    # -- the circuit breaker ---------------------------------------------------------

    def _grow(self) -> None:
        """Additive increase: one more question in flight per window's worth of replies;
        back at the full window, timeouts are no longer stretched."""
        if self.cwnd < self.engine.window:
            self.cwnd = min(float(self.engine.window), self.cwnd + 1 / self.cwnd)
            if self.cwnd >= self.engine.window:
                self.scale = 1.0

    def _silence(self, pending: _Pending, error: str) -> None:
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

    async def _tcp(self, pending: _Pending, truncated: bool) -> None:
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
                detail = f"the TCP reply answered another question ({_question_text(reply)})"
                reply = None
            else:
                kind, detail = _classify(reply, pending.recursion)
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


class Engine:
    """Asks endpoints questions; one per event loop (use `async with`)."""

    def __init__(self, timeout: float = 3.0, resends: int | None = None, window: int = 64,
                 payload: int = 1232, dnssec: bool = False):
        if not 1 <= window <= 4096:
            raise ValueError("window must be between 1 and 4096")
        self.timeout = float(timeout)
        self.resends = resends
        self.window = int(window)
        self.payload = int(payload)
        self.dnssec = dnssec  # the DO bit on every question: answers carry RRSIGs, NSEC(3)s
        self.stats: dict[str, int] = dict.fromkeys(
            ("queries", "udp_sent", "retransmits", "tcp", "truncated", "stray", "throttled"), 0)
        self._channels: dict[Endpoint, _Channel] = {}

    @property
    def throttled(self) -> dict[Endpoint, tuple[int, int]]:
        """Endpoints this engine slowed down to: (smallest window used, questions asked
        again after running out of time while the endpoint answered others)."""
        return {e: (c.min_window, c.requeued) for e, c in self._channels.items()
                if c.requeued or c.min_window < self.window}

    async def __aenter__(self) -> Engine:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        for channel in self._channels.values():
            channel.close()
        self._channels.clear()

    def _channel(self, endpoint: Endpoint) -> _Channel:
        channel = self._channels.get(endpoint)
        if channel is None:
            channel = self._channels[endpoint] = _Channel(self, endpoint)
            channel.open()
        return channel

    async def ask(self, endpoint: Endpoint, name: dns.name.Name | str, rdtype: int | str, *,
                  tcp: bool = False, recursion: bool = False, tag: Any = None) -> Answer:
        """Ask one question; never raises for a DNS or network failure."""
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()

        def done(answer: Answer) -> None:
            if not future.done():
                future.set_result(answer)

        channel = self._channel(endpoint)
        channel.submit(_Pending(Question.of(name, rdtype, tag), done, tcp, recursion))
        return await future

    async def ask_many(self, endpoint: Endpoint, questions: Iterable[Question],
                       on_answer: Callable[[Answer], None], *, tcp: bool = False,
                       recursion: bool = False) -> None:
        """Ask every question, at most `window` in flight, calling `on_answer` for each
        as it completes. An exception raised by `on_answer` stops the run and is raised."""
        channel = self._channel(endpoint)
        loop = asyncio.get_running_loop()
        finished: asyncio.Future[None] = loop.create_future()
        source = iter(questions)
        active = 0

        def feed() -> None:
            nonlocal active
            while active < self.window and not finished.done():
                question = next(source, None)
                if question is None:
                    break
                active += 1
                channel.submit(_Pending(question, got, tcp, recursion))
            if active == 0 and not finished.done():
                finished.set_result(None)

        def got(answer: Answer) -> None:
            nonlocal active
            active -= 1
            if finished.done():
                return
            try:
                on_answer(answer)
            except BaseException as e:  # surfaced to the caller of ask_many
                finished.set_exception(e)
                return
            feed()

        feed()
        await finished


async def resolve(nameserver: Nameserver) -> tuple[list[Endpoint], str | None]:
    """The endpoints of a configured nameserver: its address when configured (a
    literal, or a host name to look up), else its NS name looked up. Returns
    the endpoints and, when there are none, why."""
    host = nameserver.host or nameserver.name.rstrip(".")
    try:
        ipaddress.ip_address(host)
        return [Endpoint(host, nameserver.port, nameserver.name)], None
    except ValueError:
        pass
    if host.lower() == "invalid" or host.lower().endswith(".invalid"):
        return [], f"cannot resolve {host}: .invalid names never resolve (RFC 6761 6.4)"
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, nameserver.port, type=socket.SOCK_DGRAM)
    except OSError as e:
        return [], f"cannot resolve {host}: {e.strerror or e}"
    seen: dict[str, None] = {}
    for _family, _type, _proto, _canon, sockaddr in infos:
        seen.setdefault(str(sockaddr[0]), None)
    return [Endpoint(address, nameserver.port, nameserver.name) for address in seen], None


@dataclass(frozen=True, slots=True)
class Resolved:
    """One configured nameserver of one provider, with its endpoints or why it has none."""

    provider: str
    nameserver: Nameserver
    endpoints: list[Endpoint]
    problem: str | None

    @property
    def why(self) -> str:
        return self.problem or "no address"


async def resolve_all(providers: Mapping[str, Iterable[Nameserver]]) -> list[Resolved]:
    """Every nameserver of every provider (provider -> nameservers) resolved, all
    lookups at once, in the order given: the one way every stage finds what to ask."""
    pairs = [(provider, ns) for provider, nameservers in providers.items() for ns in nameservers]
    found = await asyncio.gather(*(resolve(ns) for _, ns in pairs))
    return [Resolved(provider, ns, endpoints, problem)
            for (provider, ns), (endpoints, problem) in zip(pairs, found, strict=True)]
