"""What a provider really serves, in full: by zone transfer (AXFR) from each
nameserver, signed with the provider's TSIG key when it has one, or else from
the provider's API (its octoDNS `populate`). Used to find extra records (names
and types git does not have) and, with `verify --axfr`, to compare the whole
zone in one TCP stream per nameserver instead of one query per record.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any

import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.tsig
from octodns.provider.base import BaseProvider
from octodns.zone import Zone

from dnssync.plan import describe_error
from dnssync.verify import wire
from dnssync.verify.compare import Observed
from dnssync.verify.engine import Endpoint
from dnssync.verify.expect import canonical

#: types a server adds by itself (SOA, DNSSEC signing): never "extra"
SERVER_TYPES = frozenset(dns.rdatatype.from_text(t) for t in (
    "SOA", "RRSIG", "NSEC", "NSEC3", "NSEC3PARAM", "DNSKEY", "CDS", "CDNSKEY", "ZONEMD",
    "TYPE65534",  # BIND's private signing-state records
))


@dataclass(frozen=True)
class TsigKey:
    name: str
    secret: str
    algorithm: str = "hmac-sha256"


def tsig_of(provider: BaseProvider) -> TsigKey | None:
    """The TSIG key an RFC 2136 provider (octodns-bind's options) signs with, if any."""
    name, secret = getattr(provider, "key_name", None), getattr(provider, "key_secret", None)
    if not name or not secret:
        return None
    return TsigKey(name, secret, getattr(provider, "key_algorithm", None) or "hmac-sha256")


@dataclass
class Served:
    """A zone as one source holds it: (owner wire, type) -> Observed, or why not."""

    source: str
    rrsets: dict[tuple[bytes, int], Observed]
    error: str | None = None
    elapsed: float = 0.0
    nameserver: str | None = None  # the endpoint's label for a transfer; None for the API


async def transfer(endpoint: Endpoint, zone: str, tsig: TsigKey | None, timeout: float,
                   skip: set[tuple[bytes, int]] | None = None) -> Served:
    """AXFR `zone` from one nameserver; never raises. The stream is read message by
    message into compact RRsets (no dnspython Zone); RRsets whose (owner, type) is
    in `skip` are not kept, so looking for extra records in a 100,000-record zone
    keeps only the extras."""
    source, label = f"AXFR from {endpoint.label}", endpoint.label
    start = time.perf_counter()
    try:
        rrsets = await asyncio.wait_for(_axfr(endpoint, zone, tsig, timeout, skip or set()),
                                        timeout * 4)
    except _Refused as e:
        return Served(source, {}, str(e), nameserver=label)
    except dns.tsig.PeerError as e:
        return Served(source, {}, f"TSIG rejected by the server ({type(e).__name__})",
                      nameserver=label)
    except (dns.exception.Timeout, TimeoutError):
        return Served(source, {}, f"no complete transfer within {timeout * 4:g} s",
                      nameserver=label)
    except (OSError, EOFError, asyncio.IncompleteReadError, dns.exception.DNSException) as e:
        return Served(source, {}, f"transfer failed: {type(e).__name__}: {e}".rstrip(": "),
                      nameserver=label)
    return Served(source, rrsets, elapsed=time.perf_counter() - start, nameserver=label)


class _Refused(Exception):
    """The server answered the transfer with an error or something that is not one."""


async def _axfr(endpoint: Endpoint, zone: str, tsig: TsigKey | None, timeout: float,
                skip: set[tuple[bytes, int]]) -> dict[tuple[bytes, int], Observed]:
    """Read an AXFR stream with the fast reply walker (a 10,000-record zone in a
    fraction of a second); TSIG is checked by dnspython's own `dns.tsig.validate`,
    on every signed message, the way dnspython's message parser calls it."""
    origin = dns.name.from_text(zone)
    origin_wire = origin.to_wire().lower()
    query = dns.message.make_query(origin, dns.rdatatype.AXFR)
    key = None
    if tsig is not None:
        key = dns.tsig.Key(tsig.name, tsig.secret, tsig.algorithm)
        query.use_tsig(key)
    request = query.to_wire()
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(endpoint.address, endpoint.port), timeout)
    rrsets: dict[tuple[bytes, int], Observed] = {}
    try:
        writer.write(len(request).to_bytes(2, "big") + request)
        await writer.drain()
        tsig_ctx = None
        soas = 0
        signed = False
        while soas < 2:
            length = int.from_bytes(await asyncio.wait_for(reader.readexactly(2), timeout), "big")
            reply = wire.parse_reply(await asyncio.wait_for(reader.readexactly(length), timeout))
            if reply.id != query.id:
                raise _Refused("the transfer reply has the wrong message ID")
            if reply.rcode != dns.rcode.NOERROR:
                hint = " (is the TSIG key right?)" if key and reply.rcode == dns.rcode.NOTAUTH \
                    else ""
                raise _Refused(f"transfer refused ({dns.rcode.to_text(reply.rcode)}){hint}")
            if key is not None:
                tsig_ctx, signed = _check_tsig(reply, key, query.mac, tsig_ctx)
            if not reply.answer and not soas:
                raise _Refused("the server answered without a zone transfer")
            for rr in reply.answer:
                if rr.rdtype == dns.rdatatype.SOA and rr.owner == origin_wire:
                    soas += 1
                    if soas == 2:
                        break
                elif not soas:
                    raise _Refused("the transfer does not start with the zone's SOA")
                rrset_key = (rr.owner, rr.rdtype)
                if rrset_key in skip:
                    continue
                observed = rrsets.get(rrset_key)
                if observed is None:
                    observed = rrsets[rrset_key] = Observed(rr.rdtype, set(), set())
                observed.ttls.add(rr.ttl)
                observed.keys.add(reply.rdata_key(rr))
        if key is not None and not signed:
            raise _Refused("the last message of the transfer is not signed (TSIG)")
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    return rrsets


def _check_tsig(reply: wire.Reply, key: dns.tsig.Key, request_mac: bytes, ctx: Any
                ) -> tuple[Any, bool]:
    """Validate one message of a signed transfer; returns the running context and
    whether this message was signed. The first message must be; later ones may be
    unsigned (RFC 8945 5.3.1), and are then folded into the next signature."""
    last = reply.additional[-1] if reply.additional else None
    if last is None or last.rdtype != dns.rdatatype.TSIG:
        if ctx is None:
            raise _Refused("the transfer is not signed although the query was (TSIG)")
        ctx.update(reply.wire)
        return ctx, False
    owner = dns.name.from_wire(last.owner, 0)[0]
    if owner != key.name:
        raise dns.tsig.BadKey
    rdata = reply.rdata(last)
    return dns.tsig.validate(reply.wire, key, owner, rdata, int(time.time()), request_mac,
                             last.start, ctx, True), True


def populate(provider_name: str, provider: BaseProvider, zone: Zone) -> Served:
    """The zone as the provider's API holds it (octoDNS populate); never raises."""
    source = f"{provider_name} API"
    live = Zone(zone.name, zone.sub_zones)
    start = time.perf_counter()
    try:
        provider.populate(live, lenient=True)
    except Exception as e:  # any provider failure is a finding, never fatal
        return Served(source, {}, describe_error(e))
    rrsets = {}
    for record in live.records:
        try:
            rdtype, keys = canonical(record)
        except (dns.exception.DNSException, ValueError):
            continue  # not a DNS type (ALIAS...): nothing DNS could show
        owner = dns.name.from_text(record.fqdn).to_wire().lower()
        rrsets[(owner, rdtype)] = Observed(rdtype, {record.ttl}, set(keys))
    return Served(source, rrsets, elapsed=time.perf_counter() - start)


async def populate_async(provider_name: str, provider: BaseProvider, zone: Zone) -> Served:
    return await asyncio.to_thread(populate, provider_name, provider, zone)


def extras(served: Served, known: set[tuple[bytes, int]], origin: bytes
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
