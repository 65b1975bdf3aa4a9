"""RFC 2136 dynamic updates applied to a `ZoneData`, as BIND applies them.

This is how the embedded provider writes: dnssync's own Rfc2136Provider sends
these messages, so the demo exercises the code path used for BIND and Knot.
Prerequisites are checked first (3.2), then every update RR in order (3.4.2):
adds replace the RRset's TTL, the apex SOA is the server's own, deletes of the
whole apex NS RRset are ignored and its last value is never deleted, CNAMEs do
not coexist with other data. Any change bumps the SOA serial.
"""

from __future__ import annotations

import dns.rcode
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rrset
import dns.update
from dns.name import Name
from dns.rdataset import Rdataset

from dnssync.embedded.zonedata import NS, SOA, ZoneData
from dnssync.model.errors import DnssyncException

ANY, NONE, IN = dns.rdataclass.ANY, dns.rdataclass.NONE, dns.rdataclass.IN
CNAME = dns.rdatatype.CNAME
_META = (dns.rdatatype.ANY, dns.rdatatype.AXFR, dns.rdatatype.IXFR, dns.rdatatype.MAILA,
         dns.rdatatype.MAILB, dns.rdatatype.OPT, dns.rdatatype.TSIG)


class UpdateRefused(DnssyncException):
    """The update cannot be applied; `rcode` is what the server answers."""

    def __init__(self, rcode: int, why: str):
        super().__init__(why)
        self.rcode = rcode


class _Working:
    """The zone being changed: RRsets read through to the original until written."""

    def __init__(self, zone: ZoneData):
        self.zone = zone
        self.changes: dict[Name, dict[int, Rdataset | None]] = {}

    def get(self, name: Name, rdtype: int) -> Rdataset | None:
        if name in self.changes and rdtype in self.changes[name]:
            return self.changes[name][rdtype]
        return self.zone.get(name, rdtype)

    def types(self, name: Name) -> set[int]:
        found = set(self.zone.nodes.get(name, {}))
        for rdtype, rds in self.changes.get(name, {}).items():
            if rds:
                found.add(rdtype)
            else:
                found.discard(rdtype)
        return found

    def put(self, name: Name, rdtype: int, rds: Rdataset | None) -> None:
        self.changes.setdefault(name, {})[rdtype] = rds if rds else None


def _type(rdtype: int) -> str:
    return dns.rdatatype.to_text(rdtype)


def _check_prerequisites(work: _Working, message: dns.update.UpdateMessage) -> None:
    values: dict[tuple[Name, int], set] = {}
    for rr in message.prerequisite:
        if not rr.name.is_subdomain(work.zone.origin):
            raise UpdateRefused(dns.rcode.NOTZONE, f"prerequisite {rr.name} outside the zone")
        deleting = rr.deleting
        if deleting == ANY and rr.rdtype == dns.rdatatype.ANY:
            if not work.types(rr.name):
                raise UpdateRefused(dns.rcode.NXDOMAIN, f"{rr.name} is not in use")
        elif deleting == ANY:
            if work.get(rr.name, rr.rdtype) is None:
                raise UpdateRefused(dns.rcode.NXRRSET, f"{rr.name} has no {_type(rr.rdtype)}")
        elif deleting == NONE and rr.rdtype == dns.rdatatype.ANY:
            if work.types(rr.name):
                raise UpdateRefused(dns.rcode.YXDOMAIN, f"{rr.name} is in use")
        elif deleting == NONE:
            if work.get(rr.name, rr.rdtype) is not None:
                raise UpdateRefused(dns.rcode.YXRRSET, f"{rr.name} has {_type(rr.rdtype)}")
        else:
            values.setdefault((rr.name, rr.rdtype), set()).update(rr)
    for (name, rdtype), wanted in values.items():
        have = work.get(name, rdtype)
        if have is None or set(have) != wanted:
            raise UpdateRefused(dns.rcode.NXRRSET, f"{name} {_type(rdtype)} differs")


def _add(work: _Working, rr: dns.rrset.RRset) -> None:
    name, rdtype, origin = rr.name, rr.rdtype, work.zone.origin
    if rdtype == SOA:
        return  # the server owns the SOA (its serial counts this server's changes)
    others = work.types(name) - {CNAME}
    if (rdtype == CNAME and others) or (rdtype != CNAME and CNAME in work.types(name)):
        return  # RFC 2136 3.4.2.2: a CNAME and other data do not mix; ignored like BIND
    if name == origin and rdtype == CNAME:
        return
    current = work.get(name, rdtype)
    rds = current.copy() if current is not None else dns.rdataset.Rdataset(IN, rdtype)
    for rdata in rr:
        rds.add(rdata)
    rds.ttl = rr.ttl
    work.put(name, rdtype, rds)


def _delete(work: _Working, rr: dns.rrset.RRset) -> None:
    name, origin = rr.name, work.zone.origin
    if rr.deleting == ANY:
        rdtypes = work.types(name) if rr.rdtype == dns.rdatatype.ANY else {rr.rdtype}
        for rdtype in rdtypes:
            if name == origin and rdtype in (SOA, NS):
                continue  # 3.4.2.3: the apex SOA and NS RRsets are never deleted whole
            work.put(name, rdtype, None)
        return
    if rr.rdtype == SOA and name == origin:
        return
    current = work.get(name, rr.rdtype)
    if current is None:
        return
    rds = current.copy()
    for rdata in rr:
        rds.discard(rdata)
    if name == origin and rr.rdtype == NS and not rds:
        return  # 3.4.2.4: the last apex NS stays
    work.put(name, rr.rdtype, rds)


def _differs(old: Rdataset | None, new: Rdataset | None) -> bool:
    if old is None or new is None:
        return old is not new
    return old != new or old.ttl != new.ttl


def apply_update(zone: ZoneData, message: dns.update.UpdateMessage) -> ZoneData:
    """The zone after `message` (parsed with one RR per RRset, to keep the order);
    the same object when nothing changed. Raises UpdateRefused."""
    work = _Working(zone)
    _check_prerequisites(work, message)
    for rr in message.update:
        if not rr.name.is_subdomain(zone.origin):
            raise UpdateRefused(dns.rcode.NOTZONE, f"{rr.name} is outside {zone.origin}")
        if rr.deleting is None and rr.rdtype in _META:
            raise UpdateRefused(dns.rcode.FORMERR, f"cannot add a {_type(rr.rdtype)}")
    for rr in message.update:
        if rr.deleting is None:
            _add(work, rr)
        else:
            _delete(work, rr)
    changed = {name: types for name, types in work.changes.items()
               if any(_differs(zone.get(name, t), rds) for t, rds in types.items())}
    if not changed:
        return zone
    return zone.with_changes(changed).with_serial(zone.serial + 1)
