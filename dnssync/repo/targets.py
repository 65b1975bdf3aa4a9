"""Resolving ALIAS targets: the A and AAAA sets a target name stands for, right now.

A provider that cannot hold ALIAS gets the target's addresses instead (planning/flatten.py),
and verify holds every provider's apex answer to a fresh resolution; both need the
same answer to "what does this target resolve to?", so it is computed here once,
for many targets at once, through the async query engine (query/engine.py): 500
targets cost about one round trip, not 500.

Where the answer comes from, in this order:

* a target inside one of the repository's own zones is read from git's desired
  zone (what dnssync makes every provider serve), so no network is needed and a
  zone's first apply can flatten to a name that the same apply creates;
* otherwise the configured `resolvers` (RD=1);
* with none, the target's own authoritative servers, found by following
  referrals from the configured parent nameservers (`parent:`), else the roots.

A chain (the target is itself a CNAME, or an ALIAS in a repository zone) is
followed up to MAX_CHAIN names; a loop is an error naming the chain. A target
that does not resolve (NXDOMAIN, SERVFAIL, timeout, no address at all) is an
error, never an empty set: flattening it would take the site off the air.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import dns.name
import dns.rdatatype
from octodns.record import Record
from octodns.zone import Zone

from dnssync.model.address import Nameserver, parse_address
from dnssync.query.answer import Answer, Endpoint
from dnssync.query.engine import Engine, resolve
from dnssync.query.referral import MAX_REFERRALS, referral_of, servers_of
from dnssync.query.wire import Malformed
from dnssync.repo.config import Config
from dnssync.repo.cuts import Cuts

#: the longest chain of names followed from a target (CNAME/ALIAS hops)
MAX_CHAIN = 8
#: referrals followed when asking the target's authoritative servers
ADDRESS_TYPES = ("A", "AAAA")


def is_alias_type(rtype: str) -> bool:
    """An ALIAS-like type: octoDNS's ALIAS or a provider's own (`Route53Provider/ALIAS`)."""
    return rtype == "ALIAS" or rtype.endswith("/ALIAS")


def is_alias(record: Record) -> bool:
    return is_alias_type(record._type)


def _alias_values(record: Record) -> list:
    values = getattr(record, "values", None)
    return list(values) if isinstance(values, list | tuple) else [getattr(record, "value", None)]


def alias_target(record: Record) -> str | None:
    """The DNS name an ALIAS-like record points to (lower case, absolute), or None when
    its value is not a name. Route53's alias values are mappings whose `name` is a
    service's FQDN (a load balancer) or a name of the same zone ('' for the apex)."""
    value = _alias_values(record)[0] if _alias_values(record) else None
    if isinstance(value, dict):
        value = value.get("name")
        if isinstance(value, str) and not value.endswith("."):  # same-zone: relative
            value = f"{value}.{record.zone.name}" if value else record.zone.name
    if not isinstance(value, str) or not value.strip():
        return None
    name = value.strip().lower()
    return name if name.endswith(".") else name + "."


def alias_types(record: Record) -> tuple[str, ...]:
    """The address types the record stands for: both for ALIAS; for Route53's alias, the
    `type` each of its values names (an alias of type A stands for the A RRset alone)."""
    named = {v.get("type") for v in _alias_values(record) if isinstance(v, dict)}
    return tuple(t for t in ADDRESS_TYPES if t in named) if named else ADDRESS_TYPES


@dataclass
class Resolution:
    """What one target resolved to, when and how; `error` set when it did not."""

    target: str
    values: dict[str, list[str]] = field(default_factory=dict)  # "A"/"AAAA" -> sorted addresses
    ttl: int | None = None  # the smallest TTL met along the chain
    via: str = ""
    at: str = ""
    chain: list[str] = field(default_factory=list)  # the target, then every name it led to
    error: str | None = None


class _Step:
    """One name looked up: its addresses, or the next name of the chain, or an error."""

    def __init__(self, via: str, values: dict[str, list[str]] | None = None, ttl: int | None = None,
                 hops: list[str] | None = None, error: str | None = None):
        self.via, self.values, self.ttl, self.hops, self.error = via, values or {}, ttl, hops or [], error


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _min(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


class TargetResolver:
    """Resolves many targets concurrently (`resolve_all`), in one engine."""

    def __init__(self, desired: dict[str, Zone], resolvers: list[Endpoint], start: list[Endpoint],
                 timeout: float = 3.0):
        self.zones = {name.lower(): zone for name, zone in desired.items()}
        self.resolvers = resolvers
        self.start = start
        self.timeout = timeout

    @classmethod
    async def for_config(cls, config: Config, desired: dict[str, Zone]) -> TargetResolver:
        """`resolvers:` when configured, else a walk from `parent:`'s nameservers and roots."""
        resolvers = [Nameserver(text, *parse_address(text)) for text in config.resolvers]
        # the parent's nameservers when configured (private and test setups never leave them)
        start = (config.parent.nameservers or config.parent.roots) if not resolvers else []
        found = await asyncio.gather(*(resolve(ns) for ns in resolvers or start))
        endpoints = [Endpoint(e.address, e.port) for row, _ in found for e in row]  # labelled by address
        return cls(desired, endpoints if resolvers else [], [] if resolvers else endpoints,
                   config.defaults.timeout)

    async def resolve_all(self, targets: Iterable[str], engine: Engine | None = None) -> dict[str, Resolution]:
        """Every target resolved at once, in `engine` (else one of its own)."""
        names = sorted(set(targets))
        if not names:
            return {}
        if engine is None:
            async with Engine(self.timeout) as own:  # the default window: a bigger one overruns servers
                return await self.resolve_all(names, own)
        results = await asyncio.gather(*(self.resolve(engine, t) for t in names))
        return dict(zip(names, results, strict=True))

    async def resolve(self, engine: Engine, target: str) -> Resolution:
        result = Resolution(target, at=_now(), chain=[target])
        name, vias = target, []
        while True:
            step = self._from_git(name) or await self._ask(engine, name)
            if step.via not in vias:
                vias.append(step.via)
            result.via = ", ".join(vias)
            if step.error:
                result.error = step.error if name == target else f"{name} (reached from {target}): {step.error}"
                return result
            result.ttl = _min(result.ttl, step.ttl)
            for hop in step.hops:
                if hop in result.chain:
                    result.error = "loop: " + " → ".join([*result.chain, hop])
                    return result
                result.chain.append(hop)
                if len(result.chain) > MAX_CHAIN:
                    result.error = f"chain longer than {MAX_CHAIN} names: " + " → ".join(result.chain)
                    return result
            if any(step.values.values()) or not step.hops:
                break
            name = step.hops[-1]
        result.values = {t: sorted(v) for t, v in step.values.items() if v}
        if not result.values:
            result.error = f"{result.chain[-1]} has no A or AAAA records"
        return result

    def _zone_of(self, name: str) -> Zone | None:
        labels = name.split(".")
        for i in range(len(labels) - 1):
            zone = self.zones.get(".".join(labels[i:]))
            if zone is not None:
                return zone
        return None

    def _from_git(self, name: str) -> _Step | None:
        """The name looked up in the repository's desired zones; None when it is not in
        one (or is below one of their delegations: the child zone answers for it)."""
        zone = self._zone_of(name)
        if zone is None:
            return None
        relative = name[: -len(zone.name)].rstrip(".")
        if Cuts(zone).highest(relative) is not None:
            return None
        records = [r for r in zone.records if r.name == relative]
        via = f"git ({zone.decoded_name})"
        values = {r._type: [str(v) for v in r.values] for r in records if r._type in ADDRESS_TYPES}
        ttls = [r.ttl for r in records if r._type in ADDRESS_TYPES]
        if values:
            return _Step(via, values, min(ttls))
        for record in records:
            next_name = (alias_target(record) if is_alias(record)
                         else str(record.value).lower() if record._type == "CNAME" else None)
            if next_name:
                return _Step(via, ttl=record.ttl, hops=[next_name])
        return _Step(via, error=f"{name} is not in zone {zone.decoded_name} in git" if not records
                     else f"{name} has no A, AAAA, CNAME or ALIAS record in git")

    async def _ask(self, engine: Engine, name: str) -> _Step:
        """A and AAAA of `name`, asked at once, through resolvers or authoritatively."""
        asked = await asyncio.gather(*(self._ask_type(engine, name, t) for t in ADDRESS_TYPES))
        first = asked[0]
        for step in asked:
            if step.error:
                return await self._loop_in(engine, name) or step
        values = {t: s.values.get(t, []) for t, s in zip(ADDRESS_TYPES, asked, strict=True)}
        ttl = None
        for step in asked:
            ttl = _min(ttl, step.ttl)
        return _Step(first.via, values, ttl, first.hops)

    async def _loop_in(self, engine: Engine, name: str) -> _Step | None:
        """A CNAME loop behind a failure (resolvers answer SERVFAIL for one): the chain
        asked link by link (qtype CNAME is answered without following), so the error
        names it; None when there is no loop."""
        chain = [name]
        for _ in range(MAX_CHAIN):
            step = await self._ask_type(engine, chain[-1], "CNAME")
            if step.error or not step.values.get("CNAME"):
                return None
            chain.append(step.values["CNAME"][0].lower())
            if chain[-1] in chain[:-1]:
                return _Step(step.via, error="loop: " + " → ".join(chain))
        return None

    async def _ask_type(self, engine: Engine, name: str, rtype: str) -> _Step:
        if self.resolvers:
            answer = await _first_usable(engine, self.resolvers, name, rtype, recursion=True)
            return _read(answer, name, rtype, f"resolver {answer.endpoint.label}")
        servers = self.start
        for _ in range(MAX_REFERRALS):
            if not servers:
                break
            answer = await _first_usable(engine, servers, name, rtype, recursion=False)
            if answer.error or answer.reply is None or not answer.referral:
                return _read(answer, name, rtype, f"authoritative {answer.endpoint.label}")
            try:
                _, names, glue = referral_of(answer.reply)
            except Malformed as e:
                return _Step(f"authoritative {answer.endpoint.label}", error=f"{name} {rtype} did not resolve:"
                             f" a malformed referral: {e} ({answer.endpoint.label})")
            servers = await servers_of(names, glue)
        return _Step("authoritative", error=f"no authoritative answer for {name} after"
                     f" {MAX_REFERRALS} referrals")


async def _first_usable(engine: Engine, endpoints: list[Endpoint], name: str, rtype: str,
                        recursion: bool) -> Answer:
    """The first answer that is not a transport failure or SERVFAIL, each endpoint in turn."""
    answer = None
    for endpoint in endpoints:
        answer = await engine.ask(endpoint, name, rtype, recursion=recursion)
        if answer.error is None:
            return answer
    assert answer is not None
    return answer


def _read(answer: Answer, name: str, rtype: str, via: str) -> _Step:
    """The addresses of `name` in an answer, following the CNAMEs it carries. Read from
    the located records (wire.Reply): only CNAME targets are parsed, addresses are
    bytes, so hundreds of answers cost little next to their round trip."""
    if answer.nxdomain:
        return _Step(via, error=f"{name} does not exist (NXDOMAIN from {answer.endpoint.label})")
    reply = answer.reply
    if answer.error or reply is None:
        return _Step(via, error=f"{name} {rtype} did not resolve: {answer.error}"
                     f"{': ' + answer.detail if answer.detail else ''} ({answer.endpoint.label})")
    rdtype = dns.rdatatype.from_text(rtype)
    by_owner: dict[tuple[bytes, int], list] = {}
    for rr in reply.answer:
        by_owner.setdefault((rr.owner, rr.rdtype), []).append(rr)
    owner, hops, ttl = dns.name.from_text(name).to_wire().lower(), [], None
    try:
        for _ in range(MAX_CHAIN + 1 if rdtype != dns.rdatatype.CNAME else 0):
            cname = by_owner.get((owner, dns.rdatatype.CNAME))
            if not cname:
                break
            ttl = _min(ttl, cname[0].ttl)
            target = reply.rdata(cname[0]).target
            owner = target.to_wire().lower()
            hops.append(target.to_text().lower())
            if hops.count(hops[-1]) > 1:
                break
        found = by_owner.get((owner, rdtype))
        if not found:
            return _Step(via, ttl=ttl, hops=hops)
        values = [reply.value_text(rr) for rr in found]
    except (Malformed, ValueError) as e:
        return _Step(via, error=f"{name} {rtype}: malformed reply from {answer.endpoint.label}: {e}")
    return _Step(via, {rtype: values}, _min(ttl, min(rr.ttl for rr in found)), hops)
