"""What a provider really serves, in full: by zone transfer (AXFR) from each
nameserver, signed with the provider's TSIG key when it has one, or else from
the provider's API (its octoDNS `populate`). Used to find extra records (names
and types git does not have) and, with `verify --axfr`, to compare the whole
zone in one TCP stream per nameserver instead of one query per record.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass

import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.tsig
from octodns.provider.base import BaseProvider
from octodns.zone import Zone

from dnssync.model.sameness import canonical
from dnssync.providers.breaker import asking
from dnssync.providers.hints import describe_error
from dnssync.query import axfr
from dnssync.query.answer import Endpoint
from dnssync.query.wire import RR, Reply
from dnssync.verify.compare import Observed
from dnssync.verify.expect import unverifiable

#: types a server adds by itself (SOA, DNSSEC signing): never "extra"
SERVER_TYPES = frozenset(dns.rdatatype.from_text(t) for t in (
    "SOA", "RRSIG", "NSEC", "NSEC3", "NSEC3PARAM", "DNSKEY", "CDS", "CDNSKEY", "ZONEMD",
    "TYPE65534",  # BIND's private signing-state records
))


def tsig_of(provider: BaseProvider) -> dns.tsig.Key | None:
    """The TSIG key an RFC 2136 provider (octodns-bind's options) signs with, if any."""
    return axfr.tsig_key(getattr(provider, "key_name", None), getattr(provider, "key_secret", None),
                         getattr(provider, "key_algorithm", None))


@dataclass
class Listing:
    """A zone as one source (a nameserver's transfer, or the provider's API) lists it:
    (owner wire, type) -> Observed, or why it could not be listed."""

    source: str
    rrsets: dict[tuple[bytes, int], Observed]
    error: str | None = None
    elapsed: float = 0.0
    nameserver: str | None = None  # the endpoint's label for a transfer; None for the API


async def transfer(endpoint: Endpoint, zone: str, tsig: dns.tsig.Key | None, timeout: float,
                   skip: set[tuple[bytes, int]] | None = None, small: bool = False,
                   connections: axfr.Connections | None = None) -> Listing:
    """AXFR `zone` from one nameserver (dnssync.query.axfr: in a thread, or for a `small` zone
    on the event loop, on a connection of `connections` when one is kept); never raises.
    The stream is kept as compact RRsets (no dnspython Zone); RRsets whose (owner, type)
    is in `skip` are not kept, so looking for extra records in a 100,000-record zone keeps
    only the extras."""
    source, label = f"AXFR from {endpoint.label}", endpoint.label
    start = time.perf_counter()
    args = (endpoint.address, zone, endpoint.port, tsig, timeout * 4)
    try:
        if small:
            rrsets = _collect(await axfr.transfer_async(*args, connections, answer_within=timeout),
                              skip or set())
        else:
            rrsets = await asyncio.to_thread(lambda: _collect(axfr.transfer(*args), skip or set()))
    except (OSError, EOFError, dns.exception.DNSException) as e:  # wire.Malformed is one too
        return Listing(source, {}, axfr.failure_text(e, timeout * 4), nameserver=label)
    return Listing(source, rrsets, elapsed=time.perf_counter() - start, nameserver=label)


def _collect(records: Iterable[tuple[Reply, RR]], skip: set[tuple[bytes, int]]
             ) -> dict[tuple[bytes, int], Observed]:
    """The stream's RRsets, less those in `skip` and what a server adds by itself
    (SERVER_TYPES): git holds none of those, so neither comparing nor looking for extras
    reads them, and an SOA's RDATA, which every transfer carries twice, cost more to put
    in canonical form (dnspython, about 0.1 ms) than the rest of a 40-record zone."""
    rrsets: dict[tuple[bytes, int], Observed] = {}
    for reply, rr in records:
        rrset_key = (rr.owner, rr.rdtype)
        if rrset_key in skip or rr.rdtype in SERVER_TYPES:
            continue
        observed = rrsets.get(rrset_key)
        if observed is None:
            observed = rrsets[rrset_key] = Observed(rr.rdtype, set(), set())
        observed.ttls.add(rr.ttl)
        observed.keys.add(reply.rdata_key(rr))
    return rrsets


def populate(provider_name: str, provider: BaseProvider, zone: Zone) -> Listing:
    """The zone as the provider's API holds it (octoDNS populate); never raises."""
    source = f"{provider_name} API"
    live = Zone(zone.name, zone.sub_zones)
    start = time.perf_counter()
    try:
        with asking(provider, zone.name):
            provider.populate(live, lenient=True)
    except Exception as e:  # any provider failure is a finding, never fatal
        return Listing(source, {}, describe_error(e, provider))
    rrsets = {}
    for record in live.records:
        if unverifiable(record._type):
            continue  # not a DNS type (ALIAS, a provider's own): nothing DNS could show
        try:
            rdtype, keys = canonical(record)
        except (dns.exception.DNSException, ValueError):
            continue  # not a DNS type (ALIAS...): nothing DNS could show
        owner = dns.name.from_text(record.fqdn).to_wire().lower()
        rrsets[(owner, rdtype)] = Observed(rdtype, {record.ttl}, set(keys))
    return Listing(source, rrsets, elapsed=time.perf_counter() - start)


async def populate_async(provider_name: str, provider: BaseProvider, zone: Zone) -> Listing:
    return await asyncio.to_thread(populate, provider_name, provider, zone)


def extras(served: Listing, known: set[tuple[bytes, int]], origin: bytes
           ) -> list[tuple[str, int, Observed]]:
    """(owner, type, data) served but not in git; the apex NS and what servers add
    themselves (SOA, DNSSEC) are left out: zonechecks owns the apex NS."""
    found = []
    for (owner, rdtype), observed in served.rrsets.items():
        if rdtype in SERVER_TYPES or (owner, rdtype) in known:
            continue
        if owner == origin and rdtype == dns.rdatatype.NS:
            continue
        found.append((dns.name.from_wire(owner, 0)[0].to_text(), rdtype, observed))
    return sorted(found, key=lambda f: (f[0], f[1]))
