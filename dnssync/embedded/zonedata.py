"""One zone as the embedded server holds it: an immutable snapshot with lookup indices.

A snapshot is never changed in place: an update builds a new `ZoneData` and swaps
it in. So a query answered on the event loop, a transfer streaming out, and a
'stale' fault that keeps serving an old snapshot all see consistent data without
locks, and the indices (delegation cuts, empty non-terminals) are computed once
per version instead of once per query.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rrset
import dns.zone
from dns.name import Name
from dns.rdataset import Rdataset

SOA = dns.rdatatype.SOA
NS = dns.rdatatype.NS


@dataclass(frozen=True)
class SoaSettings:
    """The SOA of the zones a server creates (each provider owns its SOA). The defaults
    are a hosted provider's; `minimum` with `ttl` makes the negative-cache TTL,
    min(MINIMUM, SOA TTL) (RFC 2308 5), which the demo shortens to finish in seconds."""

    ttl: int = 3600
    refresh: int = 3600
    retry: int = 600
    expire: int = 604800
    minimum: int = 300
    #: the DNSKEY TTL of a zone the server signs (signing.py): how long a resolver keeps
    #: its keys, so how long a key exchange waits (BIND's dnssec-policy default: 3600)
    dnskey_ttl: int = 3600


#: the SOA a server gives the zones it creates, unless told otherwise
HOSTED_SOA = SoaSettings()

Nodes = Mapping[Name, Mapping[int, Rdataset]]


class ZoneData:
    """The records of one zone (absolute names) and the indices answering needs."""

    def __init__(self, origin: Name, nodes: Nodes):
        self.origin = origin
        self.nodes = nodes

    @classmethod
    def new(cls, origin: Name, nameserver: Name, serial: int = 1,
            settings: SoaSettings = HOSTED_SOA) -> ZoneData:
        """An empty zone as a hosted provider creates it: its own SOA and apex NS."""
        soa = dns.rdata.from_text(dns.rdataclass.IN, SOA,
                                  f"{nameserver} hostmaster.{origin} {serial} {settings.refresh}"
                                  f" {settings.retry} {settings.expire} {settings.minimum}")
        ns = dns.rdata.from_text(dns.rdataclass.IN, NS, str(nameserver))
        return cls(origin, {origin: {SOA: _rdataset(settings.ttl, [soa]),
                                     NS: _rdataset(settings.ttl, [ns])}})

    # -- indices -----------------------------------------------------------------

    @cached_property
    def soa(self) -> Rdataset:
        return self.nodes[self.origin][SOA]

    @property
    def serial(self) -> int:
        return self.soa[0].serial

    @cached_property
    def cuts(self) -> frozenset[Name]:
        """Names below the apex that hold NS: delegations to child zones."""
        return frozenset(n for n, node in self.nodes.items() if n != self.origin and NS in node)

    @cached_property
    def names(self) -> frozenset[Name]:
        """Every owner name and each of its ancestors down to the apex: a name in here
        exists (RFC 4592 2.2.2), possibly as an empty non-terminal."""
        found: set[Name] = set()
        for name in self.nodes:
            while name not in found and name != self.origin:
                found.add(name)
                name = name.parent()
        found.add(self.origin)
        return frozenset(found)

    def get(self, name: Name, rdtype: int) -> Rdataset | None:
        node = self.nodes.get(name)
        return node.get(rdtype) if node else None

    def cut_at_or_above(self, name: Name) -> Name | None:
        """The highest delegation point between the apex (excluded) and `name` (included)."""
        found = None
        while name != self.origin:
            if name in self.cuts:
                found = name
            name = name.parent()
        return found

    def closest_encloser(self, name: Name) -> Name:
        while name not in self.names:
            name = name.parent()
        return name

    def negative_soa(self) -> dns.rrset.RRset:
        """The SOA for the authority section of NXDOMAIN and NODATA answers, with the
        negative-caching TTL min(SOA TTL, SOA MINIMUM) (RFC 2308 3)."""
        rrset = dns.rrset.RRset(self.origin, dns.rdataclass.IN, SOA)
        rrset.update(self.soa)
        rrset.ttl = min(self.soa.ttl, self.soa[0].minimum)
        return rrset

    def rrsets(self) -> Iterator[dns.rrset.RRset]:
        """Every RRset, SOA first (the order of a zone transfer, less the closing SOA)."""
        yield rrset(self.origin, self.soa)
        for name in sorted(self.nodes):
            for rdtype, rds in sorted(self.nodes[name].items()):
                if not (name == self.origin and rdtype == SOA):
                    yield rrset(name, rds)

    # -- new versions ----------------------------------------------------------------

    def with_changes(self, changes: Mapping[Name, Mapping[int, Rdataset | None]]) -> ZoneData:
        """A new version with these RRsets replaced (None deletes one); copies only what changes."""
        nodes = dict(self.nodes)
        for name, types in changes.items():
            node = dict(nodes.get(name, {}))
            for rdtype, rds in types.items():
                if rds is None or len(rds) == 0:
                    node.pop(rdtype, None)
                else:
                    node[rdtype] = rds
            if node:
                nodes[name] = node
            else:
                nodes.pop(name, None)
        return ZoneData(self.origin, nodes)

    def with_serial(self, serial: int) -> ZoneData:
        soa = self.soa[0].replace(serial=serial % 2**32)
        return self.with_changes({self.origin: {SOA: _rdataset(self.soa.ttl, [soa])}})

    # -- files -----------------------------------------------------------------------

    def save(self, path: Path) -> None:
        """Write a master file (absolute names), atomically: a crash never leaves half a zone."""
        tmp = path.with_name(path.name + ".tmp")
        lines = [f"$ORIGIN {self.origin}"]
        lines += [r.to_text(relativize=False) for r in self.rrsets()]
        tmp.write_text("\n".join(lines) + "\n")
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path, origin: Name) -> ZoneData:
        zone = dns.zone.from_file(str(path), origin, relativize=False, check_origin=True)
        nodes = {name: {rds.rdtype: rds for rds in node.rdatasets}
                 for name, node in zone.nodes.items()}
        return cls(origin, nodes)


def _rdataset(ttl: int, rdatas: list[dns.rdata.Rdata]) -> Rdataset:
    rds = dns.rdataset.Rdataset(dns.rdataclass.IN, rdatas[0].rdtype)
    for rdata in rdatas:
        rds.add(rdata)
    rds.ttl = ttl
    return rds


def rrset(name: Name, rds: Rdataset) -> dns.rrset.RRset:
    out = dns.rrset.RRset(name, rds.rdclass, rds.rdtype)
    out.update(rds)
    return out


def zone_file_name(origin: Name) -> str:
    return f"{origin.to_text().lower()}zone"


def origin_of(path: Path) -> Name:
    return dns.name.from_text(path.name[: -len("zone")])
