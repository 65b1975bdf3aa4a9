"""Authoritative answers (RFC 1034 4.3.2, RFC 2308, RFC 4592), as data.

What a verifier checks is exactly where small servers cut corners, so this
follows the algorithm of the RFCs and the behaviour of PowerDNS (the test
compares the two answer by answer):

* AA on every answer from a zone the server serves; REFUSED for any other zone.
* NXDOMAIN when the name does not exist, NODATA (NOERROR, empty answer) when it
  exists without the type or is an empty non-terminal; both with the zone's SOA
  in the authority section at the negative-caching TTL.
* CNAMEs answer every type but CNAME; chains inside the zone are followed, and
  the rcode is that of the last name (RFC 6604).
* Wildcards synthesise answers for names below their closest encloser that do
  not exist (RFC 4592), never for existing names or empty non-terminals.
* At and below a delegation the answer is a referral: AA clear, the child's NS in
  authority, glue for in-zone nameservers in additional. DS is the parent's.
* A/AAAA of in-zone MX, SRV and NS targets go in the additional section.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import dns.flags
import dns.message
import dns.rcode
import dns.rdataset
import dns.rdatatype
import dns.rrset
from dns.name import Name
from dns.rdataset import Rdataset

from dnssync.embedded.zonedata import ZoneData, rrset
from dnssync.providers.aliaswire import ALIAS_RDTYPE, alias_target_of

CNAME = dns.rdatatype.CNAME
ALIAS = ALIAS_RDTYPE
#: the longest CNAME chain followed inside one zone (BIND follows 16)
MAX_CHAIN = 16
_ADDRESSES = (dns.rdatatype.A, dns.rdatatype.AAAA)


@dataclass
class Sections:
    """An authoritative server's answer to one question as its sections and flags, before it
    is put on the wire (what a client got back is `query.answer.Answer`)."""

    rcode: int = dns.rcode.NOERROR
    authoritative: bool = True
    answer: list[dns.rrset.RRset] = field(default_factory=list)
    authority: list[dns.rrset.RRset] = field(default_factory=list)
    additional: list[dns.rrset.RRset] = field(default_factory=list)

    def fill(self, response: dns.message.Message) -> dns.message.Message:
        response.set_rcode(self.rcode)
        if self.authoritative:
            response.flags |= dns.flags.AA
        else:
            response.flags &= ~dns.flags.AA
        response.answer = list(self.answer)
        response.authority = list(self.authority)
        response.additional = list(self.additional)
        return response


def zone_for(zones: Mapping[Name, ZoneData], qname: Name) -> ZoneData | None:
    """The most specific zone served that contains `qname`."""
    name = qname
    while True:
        if name in zones:
            return zones[name]
        if name == dns.name.root:
            return None
        name = name.parent()


def answer(zones: Mapping[Name, ZoneData], qname: Name, qtype: int, depth: int = 0) -> Sections:
    """How an authoritative server for `zones` answers `qname`/`qtype` (class IN);
    `depth` counts ALIAS expansions (a loop ends in SERVFAIL)."""
    zone = zone_for(zones, qname)
    if zone is None:
        return Sections(dns.rcode.REFUSED, authoritative=False)
    result = Sections()
    seen: set[Name] = set()
    name = qname
    while True:
        cut = zone.cut_at_or_above(name)
        if cut is not None and not (cut == name and qtype == dns.rdatatype.DS):
            _referral(zone, cut, result)
            return result
        node, owner = zone.nodes.get(name), name
        if node is None:
            if name in zone.names:  # an empty non-terminal: the name exists, without data
                result.authority.append(zone.negative_soa())
                return result
            node = zone.nodes.get(Name(("*", *zone.closest_encloser(name).labels)))
            if node is None:
                result.rcode = dns.rcode.NXDOMAIN
                result.authority.append(zone.negative_soa())
                return result
        if qtype == dns.rdatatype.ANY:
            result.answer += [rrset(owner, rds) for _, rds in sorted(node.items())]
            return result
        if CNAME in node and qtype != CNAME:
            result.answer.append(rrset(owner, node[CNAME]))
            target = node[CNAME][0].target
            seen.add(name)
            if target in seen or len(seen) > MAX_CHAIN or not target.is_subdomain(zone.origin):
                return result
            name = target
            continue
        if qtype in node:
            result.answer.append(rrset(owner, node[qtype]))
            _additional(zone, result, node[qtype])
        elif qtype in _ADDRESSES and ALIAS in node:
            _expand(zones, zone, owner, node[ALIAS], qtype, result, depth)
        else:
            result.authority.append(zone.negative_soa())
        return result


def _expand(zones: Mapping[Name, ZoneData], zone: ZoneData, owner: Name, alias: Rdataset, qtype: int,
            result: Sections, depth: int) -> None:
    """An ALIAS answered as PowerDNS's expand-alias does: the target's addresses at the
    ALIAS owner (TTL the smaller of both). The embedded server has no resolver, so it
    expands targets it serves itself and answers SERVFAIL for any other (PowerDNS answers
    SERVFAIL when its resolver cannot)."""
    target = alias_target_of(alias[0])
    if depth >= MAX_CHAIN or zone_for(zones, target) is None:
        result.rcode = dns.rcode.SERVFAIL
        return
    found = answer(zones, target, qtype, depth + 1)
    if found.rcode == dns.rcode.SERVFAIL:
        result.rcode = dns.rcode.SERVFAIL
        return
    addresses = [r for r in found.answer if r.rdtype == qtype]
    if not addresses:
        result.authority.append(zone.negative_soa())
        return
    rdatas = dns.rdataset.from_rdata_list(min(alias.ttl, addresses[-1].ttl), list(addresses[-1]))
    result.answer.append(rrset(owner, rdatas))


def _referral(zone: ZoneData, cut: Name, result: Sections) -> None:
    """Point at the child zone: its NS, and the glue this zone holds for them."""
    ns = zone.nodes[cut][dns.rdatatype.NS]
    if not result.answer:
        result.authoritative = False
    result.authority.append(rrset(cut, ns))
    _addresses(zone, [rdata.target for rdata in ns], result)


def _additional(zone: ZoneData, result: Sections, rds) -> None:
    if rds.rdtype in (dns.rdatatype.MX, dns.rdatatype.SRV, dns.rdatatype.NS):
        targets = [getattr(rdata, "exchange", None) or rdata.target for rdata in rds]
        _addresses(zone, targets, result)


def _addresses(zone: ZoneData, targets: list[Name], result: Sections) -> None:
    """A/AAAA of the targets this zone holds (glue included), each once."""
    present = {(r.name, r.rdtype) for r in (*result.answer, *result.additional)}
    for target in targets:
        if not target.is_subdomain(zone.origin):
            continue
        for rdtype in _ADDRESSES:
            rds = zone.get(target, rdtype)
            if rds is not None and (target, rdtype) not in present:
                result.additional.append(rrset(target, rds))
                present.add((target, rdtype))
