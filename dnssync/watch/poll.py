"""Ask every nameserver and resolver about every watched change, once per interval.

Questions go through the verify query engine (`dnssync.query.engine`): one
asyncio loop, one UDP socket per endpoint, all questions of a round in flight
at once. A round is a handful of datagrams, so polling every second costs little
CPU (bench/bench_watch.py measures it), and a dead nameserver costs one timeout per round, not
one per question. Authoritative servers are asked with RD=0 and must answer with
AA set; resolvers are asked with RD=1, as a stub resolver would.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from dnssync.model.address import Nameserver, parse_address
from dnssync.query.answer import Answer, Endpoint, soa_of
from dnssync.query.engine import Engine, resolve_all
from dnssync.query.wire import Malformed
from dnssync.watch.changes import ChangedRRset, RRsetState, Watched
from dnssync.watch.propagation import Event, Polled, Propagation, SoaSerial

#: UDP re-sends per question within a round: a lost datagram is asked again within the
#: round, yet a dead nameserver costs one query timeout, not a pile of re-sends (the next
#: round asks again anyway)
RESENDS = 2


@dataclass(frozen=True)
class Asked:
    """One nameserver (or resolver) as watch asks it: its label in events, its provider
    ('' for a resolver), and its endpoint, or why it has none (its name does not resolve)."""

    provider: str
    label: str
    endpoint: Endpoint | None
    problem: str = ""


async def nameserver_endpoints(providers: dict[str, list[Nameserver]]) -> list[Asked]:
    """Every address of every nameserver; a name with several addresses is several rows."""
    asked = []
    for row in await resolve_all(providers):
        if not row.endpoints:
            asked.append(Asked(row.provider, row.nameserver.label, None, row.why))
        elif len(row.endpoints) == 1:
            asked.append(Asked(row.provider, row.nameserver.label, row.endpoints[0]))
        else:
            asked += [Asked(row.provider, e.label, e) for e in row.endpoints]
    return asked


async def resolver_endpoints(resolvers: list[str]) -> list[Asked]:
    """The resolvers of dnssync.yaml (host[:port], checked when the config was loaded)."""
    addresses = [parse_address(text) for text in resolvers]
    rows = await resolve_all({"": [Nameserver(host, host, port) for host, port in addresses]})
    return [Asked("", text, row.endpoints[0] if row.endpoints else None, row.why)
            for text, row in zip(resolvers, rows, strict=True)]


def _failure(answer: Answer) -> str | None:
    if answer.error:
        return f"{answer.error}: {answer.detail}"
    return None if answer.reply is not None else "no reply"


def served(answer: Answer) -> Polled:
    """The RRset an answer holds for the question (NXDOMAIN/NODATA as an empty one), or
    why there is no usable answer. A delegation's NS RRset and its glue are answered
    in a referral (authority and additional sections), not authoritatively."""
    failure = _failure(answer)
    if failure or answer.reply is None:
        return failure or "no reply"
    if answer.nxdomain:
        return RRsetState(negative="NXDOMAIN")
    reply = answer.reply
    section = reply.authority + reply.additional if answer.referral else reply.answer
    records = [rr for rr in section if rr.owner == reply.qname and rr.rdtype == reply.qtype]
    if not records:
        return RRsetState(negative="NODATA")
    try:
        values = frozenset(reply.rdata(rr) for rr in records)
    except Malformed as e:
        return f"malformed: {e}"
    return RRsetState(values, min(rr.ttl for rr in records))


def soa(answer: Answer) -> SoaSerial | str:
    """The zone's SOA serial and negative-cache TTL, min(MINIMUM, SOA TTL) (RFC 2308 5)."""
    failure = _failure(answer)
    if failure or answer.reply is None:
        return failure or "no reply"
    if answer.referral:
        return "referral: the server delegates the zone instead of serving it (lame)"
    try:
        found = soa_of(answer)
    except Malformed as e:
        return f"malformed: {e}"
    if found is None:
        return "no SOA record in the answer (is the zone served there?)"
    return SoaSerial(found.serial, found.negative_ttl)


async def poll_round(engine: Engine, prop: Propagation, nameservers: list[Asked],
                     resolvers: list[Asked], clock: Callable[[], float]) -> list[Event]:
    """Ask everything once, then feed the model: nameservers, settle, resolvers, conclude.
    Resolvers are fed after settling so that, within a round, convergence comes first."""
    auth: list[tuple[Asked, ChangedRRset]] = [(a, t) for a in nameservers for t in prop.changed
                                       if a.provider in t.new]
    zones = [(a, zone) for a in nameservers for zone in prop.zones(a.provider)]
    recursive = [(r, t) for r in resolvers for t in prop.changed]

    async def ask(asked: Asked, name: str, rdtype: str, recursion: bool = False) -> Answer | str:
        if asked.endpoint is None:
            return asked.problem
        return await engine.ask(asked.endpoint, name, rdtype, recursion=recursion)

    answers = await asyncio.gather(
        *(ask(a, t.name, t.type) for a, t in auth),
        *(ask(a, zone, "SOA") for a, zone in zones),
        *(ask(r, t.name, t.type, recursion=True) for r, t in recursive))
    now = clock()
    events: list[Event] = []
    for (asked, target), answer in zip(auth, answers, strict=False):
        reply = answer if isinstance(answer, str) else served(answer)
        events += prop.nameserver(now, asked.provider, asked.label, target, reply)
    for (asked, zone), answer in zip(zones, answers[len(auth):], strict=False):
        events += prop.serial(now, asked.provider, asked.label, zone,
                              answer if isinstance(answer, str) else soa(answer))
    events += prop.settle(now)
    if not prop.outcome:
        for (asked, target), answer in zip(recursive, answers[len(auth) + len(zones):],
                                           strict=True):
            reply = answer if isinstance(answer, str) else served(answer)
            events += prop.resolver(now, asked.label, target, reply)
    return events + prop.conclude(now)


OnEvents = Callable[[Propagation, list[Event]], None]


async def follow(watched: Watched, providers: dict[str, list[Nameserver]], resolvers: list[str],
                 on_events: OnEvents, timeout: float | None, interval: float = 1.0,
                 query_timeout: float = 3.0, clock: Callable[[], float] = time.time) -> int:
    """Watch until fully propagated, timed out or wrong; `on_events` gets each round's
    events (possibly none, so a live view can tick). Returns the exit code."""
    nameservers = await nameserver_endpoints(
        {p: providers[p] for p in sorted({p for t in watched.changed for p in t.new})})
    watched_resolvers = await resolver_endpoints(resolvers)
    labels: dict[str, list[str]] = {}
    for asked in nameservers:
        labels.setdefault(asked.provider, []).append(asked.label)
    prop = Propagation(watched.apply_id, watched.changed, labels,
                       [r.label for r in watched_resolvers], clock(), timeout, watched.failed)
    on_events(prop, prop.start() + [prop.finding(prop.started, f) for f in watched.findings])
    async with Engine(timeout=query_timeout, resends=RESENDS) as engine:
        while not prop.outcome:
            began = clock()
            on_events(prop, await poll_round(engine, prop, nameservers, watched_resolvers, clock))
            if not prop.outcome:
                await asyncio.sleep(max(0.0, prop.next_wake(began, interval) - clock()))
    return prop.exit_code
