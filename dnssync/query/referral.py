"""Referrals: a reply read as a delegation (the child's NS names and their glue), the
servers it names, and a walk down from the root to a zone's parent. Shared by the
delegation check and ALIAS target resolution, which both follow referrals.
"""

from __future__ import annotations

import dns.name
import dns.rcode
import dns.rdatatype

from dnssync.model.address import Nameserver
from dnssync.query.answer import Answer, Endpoint
from dnssync.query.engine import Engine, resolve
from dnssync.query.wire import CLASS_IN, NS, Malformed, Reply, name_text

#: a walk that has not reached the zone after this many referrals is a loop
MAX_REFERRALS = 16

_ADDRESS_TYPES = (dns.rdatatype.A, dns.rdatatype.AAAA)


def why_unreadable(answer: Answer, malformed: Malformed | None = None) -> str:
    if answer.error:
        return f"{answer.error}{': ' + answer.detail if answer.detail else ''}"
    if malformed is not None:
        return f"malformed reply: {malformed}"
    if answer.reply is not None:
        try:
            answer.reply.message()
        except Malformed as e:
            return f"malformed reply: {e}"
    rcode = dns.rcode.to_text(answer.rcode) if answer.rcode is not None else "no reply"
    return f"{rcode}, {'authoritative' if answer.aa else 'not authoritative'}"


Referral = tuple[dns.name.Name | None, set[str], dict[str, set[str]]]


def referral_of(reply: Reply) -> Referral:
    """The cut a referral (or an authoritative NS answer) points to, its NS names (lower
    case) and their glue addresses: the first NS RRset of the answer, else of the
    authority section, and the A/AAAA records of the additional section at those names.
    Read off the wire, as dnspython's parse of the whole reply would read them (a parent
    answering a fleet's delegations was most of the delegation check's CPU in that
    parse); Malformed when an NS target or a glue address does not parse."""
    cut, names = None, set()
    for section in (reply.answer, reply.authority):
        first = next((rr for rr in section if rr.rdtype == NS), None)
        if first is not None:
            cut = dns.name.from_wire(first.owner, 0)[0]
            names = {reply.target_text(rr) for rr in section  # the RRset: same owner, type and class
                     if rr.rdtype == NS and rr.owner == first.owner and rr.rdclass == first.rdclass}
            break
    glue: dict[str, set[str]] = {}
    for rr in reply.additional:
        if rr.rdtype in _ADDRESS_TYPES and rr.rdclass == CLASS_IN:
            owner = name_text(rr.owner)
            if owner in names:
                glue.setdefault(owner, set()).add(reply.value_text(rr))
    return cut, names, glue


async def servers_of(names: set[str], glue: dict[str, set[str]]) -> list[Endpoint]:
    endpoints = []
    for name in sorted(names):
        if glue.get(name):
            endpoints += [Endpoint(a, 53, name) for a in sorted(glue[name])]
        else:
            found, _ = await resolve(Nameserver(name))
            endpoints += found
    return endpoints


async def _first_answer(engine: Engine, servers: list[Endpoint], zone: str) -> Answer | None:
    """The first usable reply to `zone NS` from `servers`, tried in turn."""
    last = None
    for server in servers:
        last = await engine.ask(server, zone, "NS")
        if last.error is None:
            return last
    return last


async def find_parent(engine: Engine, zone: str, roots: list[Endpoint]) -> tuple[list[Endpoint], str | None]:
    """The parent zone's nameservers, found by following referrals from `roots`."""
    target = dns.name.from_text(zone)
    servers = roots
    seen: set[dns.name.Name] = set()
    for _ in range(MAX_REFERRALS):
        answer = await _first_answer(engine, servers, zone)
        if answer is None or answer.error:
            return [], ("no server answered while walking down from the root"
                        + (f" (last: {answer.endpoint.label}: {why_unreadable(answer)})" if answer else ""))
        try:
            cut, names, glue = referral_of(answer.reply) if answer.reply else (None, set(), {})
        except Malformed as e:
            return [], f"{answer.endpoint.label} has no delegation for {zone} ({why_unreadable(answer, e)})"
        if answer.referral and cut == target:
            return servers, None
        if answer.referral and cut is not None and target.is_subdomain(cut) and cut not in seen:
            seen.add(cut)
            servers = await servers_of(names, glue)
            if not servers:
                return [], f"the servers of {cut} could not be found (no glue, no address)"
            continue
        if answer.aa and cut == target:
            return servers, None  # parent and zone on the same servers: they answer from the zone
        return [], f"{answer.endpoint.label} has no delegation for {zone} ({why_unreadable(answer)})"
    return [], f"more than {MAX_REFERRALS} referrals while walking down from the root"
