"""The DNS query engine: ask nameservers many questions directly, fast, and report
every outcome as data.

verify, watch, delegation and soa checks and ALIAS target resolution ask DNS servers questions and must never crash or
stall on a server that is down, lame, slow or lying; so every outcome, good or
bad, is an `Answer` value, and nothing here raises for a DNS or network failure.

API (stable; other stages build on it)::

    from dnssync.query.answer import Endpoint, Question, soa_of
    from dnssync.query.engine import Engine, resolve, resolve_all

    endpoints, problem = await resolve(nameserver)      # model.address.Nameserver -> [Endpoint]
    rows = await resolve_all({"provider": [nameserver, ...]})   # -> [Resolved], concurrently
    async with Engine(timeout=3.0, window=64, dnssec=False) as engine:  # dnssec: DO bit
        answer = await engine.ask(endpoint, "www.example.com.", "A")
        await engine.ask_many(endpoint, questions, on_answer)   # streams, bounded memory

* `Endpoint(address, port=53, name=None)`: one address of a nameserver, an IPv4
  or IPv6 literal; `name` is the NS-record name, for labels.
* `Question(name, rdtype, tag=None, wire=None, expected=None)`: `Question.of("www.example.com.",
  "A", tag)` accepts text; `tag` is the caller's, returned untouched on the answer;
  `wire` may carry the name's lower-case wire form when the caller has it (then
  `name` may be None: a large zone need not hold a dnspython Name per record);
  `expected` the reply the caller expects (`wire.expected_reply`): a reply that is
  exactly that is not parsed, and its answer says `exact`.
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
* `Engine.stats`: counters (queries, udp_sent, retransmits, tcp, truncated, stray,
  exact: replies that were a question's `expected` one, not parsed).
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
* The engine's clock is its own process's: a timer tick that runs late (the process
  was starved of CPU, or a callback blocked the loop) says the process stalled, and the
  stall is not counted against the questions in flight (their timers move on by it, at
  most `LAG_LIMIT` timeouts each). It is counted before the replies that waited through
  it are read (a reader that finds its tick overdue runs the tick first), so no round
  trip the stall stretched is timed, and no question sent after it is excused it. An
  embedded server sharing the process could not answer meanwhile; a nameserver that
  stays silent is still reported.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import dns.exception
import dns.name
import dns.rcode
import dns.rdatatype

from dnssync.model.address import Nameserver
from dnssync.query.answer import Answer, Endpoint, Question
from dnssync.query.channel import Channel, Pending


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
            ("queries", "udp_sent", "retransmits", "tcp", "truncated", "stray", "throttled", "exact"), 0)
        self._channels: dict[Endpoint, Channel] = {}

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

    def _channel(self, endpoint: Endpoint) -> Channel:
        channel = self._channels.get(endpoint)
        if channel is None:
            channel = self._channels[endpoint] = Channel(self, endpoint)
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
        channel.submit(Pending(Question.of(name, rdtype, tag), done, tcp, recursion))
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
                channel.submit(Pending(question, got, tcp, recursion))
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
