"""Referrals: a reply read as a delegation (the child's NS names and their glue), the
servers it names, and a walk down from the root to a zone's parent. Shared by the
delegation check and ALIAS target resolution, which both follow referrals.
"""

from __future__ import annotations

import dns.message
import dns.name
import dns.rcode
import dns.rdatatype

from dnssync.model.address import Nameserver
from dnssync.query.answer import Answer, Endpoint
from dnssync.query.engine import Engine, resolve
from dnssync.query.wire import Malformed

#: a walk that has not reached the zone after this many referrals is a loop
MAX_REFERRALS = 16

_ADDRESS_TYPES = (dns.rdatatype.A, dns.rdatatype.AAAA)



def message_of(answer: Answer) -> dns.message.Message | None:
    """The reply as a dnspython message; None when there is none or it does not parse
    (`_why` then says which)."""
    if answer.reply is None:
        return None
    try:
        return answer.reply.message()
    except Malformed:
        return None



def why_unreadable(answer: Answer) -> str:
    if answer.error:
        return f"{answer.error}{': ' + answer.detail if answer.detail else ''}"
    if answer.reply is not None:
        try:
            answer.reply.message()
        except Malformed as e:
            return f"malformed reply: {e}"
    rcode = dns.rcode.to_text(answer.rcode) if answer.rcode is not None else "no reply"
    return f"{rcode}, {'authoritative' if answer.aa else 'not authoritative'}"



def referral_of(message: dns.message.Message) -> tuple[dns.name.Name | None, set[str], dict[str, set[str]]]:
    """The cut a referral (or an authoritative NS answer) points to, its NS names and glue."""
    cut, names = None, set()
    for rrset in (*message.answer, *message.authority):
        if rrset.rdtype == dns.rdatatype.NS:
            cut = rrset.name
            names = {rdata.target.to_text().lower() for rdata in rrset}
            break
    glue: dict[str, set[str]] = {}
    for rrset in message.additional:
        owner = rrset.name.to_text().lower()
        if rrset.rdtype in _ADDRESS_TYPES and owner in names:
            glue.setdefault(owner, set()).update(rdata.address for rdata in rrset)
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
        message = message_of(answer)
        cut, names, glue = referral_of(message) if message else (None, set(), {})
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
