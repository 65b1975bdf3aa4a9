"""The DNSKEYs a provider serves for a zone, read over DNS from its nameservers.

In a multi-signer setup (RFC 8901) every provider's DNSKEY RRset holds keys of two
kinds: its own, which it signs with, and the other providers' zone-signing keys,
which it only publishes. No API says which is which, but the signatures do: a
key whose tag is on the RRSIG over the SOA signs the zone's data (a ZSK or a
CSK), a key on the RRSIG over the DNSKEY RRset is a key-signing key. So asking
each nameserver for the DNSKEY and SOA RRsets with the DO bit tells, per
provider, which keys it owns, which it publishes for others, the DNSKEY TTL
(what a resolver may cache it for), and which KSKs the parent's DS must cover.

The key exchange on apply, `dnssync ds` and verify's DNSSEC checks all read keys
through `read_served_keys`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
from dns.rdtypes.ANY.DNSKEY import DNSKEY

from dnssync.model.address import Nameserver
from dnssync.model.dnskeys import is_ksk, key_tag, unique
from dnssync.query.engine import resolve

#: the EDNS payload asked for: DNSKEY RRsets with signatures of several providers are large
PAYLOAD = 1232


@dataclass
class NameserverKeys:
    """What one nameserver address answered: the DNSKEY RRset and who signed what."""

    nameserver: str  # its label, e.g. "ns1.bind.lab (127.0.32.3)"
    keys: list[DNSKEY] = field(default_factory=list)
    ttl: int = 0
    dnskey_signers: set[int] = field(default_factory=set)  # key tags on the RRSIGs over DNSKEY
    soa_signers: set[int] = field(default_factory=set)  # key tags on the RRSIGs over the SOA
    error: str | None = None


@dataclass
class ServedKeys:
    """One provider's DNSKEYs for one zone, as its nameservers serve them."""

    provider: str
    zone: str
    nameservers: list[NameserverKeys] = field(default_factory=list)

    @property
    def answered(self) -> list[NameserverKeys]:
        return [ns for ns in self.nameservers if ns.error is None]

    @property
    def error(self) -> str | None:
        """Why no nameserver of the provider could be read (None when one was)."""
        if self.answered:
            return None
        return "; ".join(f"{ns.nameserver}: {ns.error}" for ns in self.nameservers) or "no nameserver"

    @property
    def signed(self) -> bool:
        """Whether the provider signs the zone at all (an RRSIG over its SOA)."""
        return any(ns.soa_signers for ns in self.answered)

    @property
    def keys(self) -> list[DNSKEY]:
        """Every key any of its nameservers serves in the DNSKEY RRset."""
        return unique(k for ns in self.answered for k in ns.keys)

    @property
    def ttl(self) -> int:
        """The longest DNSKEY TTL served: how long a resolver may keep this set."""
        return max((ns.ttl for ns in self.answered), default=0)

    def _signing(self, tags: set[int]) -> list[DNSKEY]:
        return [k for k in self.keys if key_tag(k) in tags]

    @property
    def zone_signing(self) -> list[DNSKEY]:
        """The keys it signs the zone's data with (ZSK, or CSK): the ones every other
        provider must publish (RFC 8901 model 2)."""
        return self._signing({t for ns in self.answered for t in ns.soa_signers})

    @property
    def key_signing(self) -> list[DNSKEY]:
        """Its keys that sign the DNSKEY RRset and are KSKs (SEP; a CSK too): what the
        parent's DS set must cover."""
        signing = self._signing({t for ns in self.answered for t in ns.dnskey_signers})
        return [k for k in signing if is_ksk(k)] or signing

    @property
    def own(self) -> list[DNSKEY]:
        return unique([*self.zone_signing, *self.key_signing])

    @property
    def foreign(self) -> list[DNSKEY]:
        """Keys it publishes without signing with them: other providers' (or stale ones)."""
        own = {k.to_digestable() for k in self.own}
        return [k for k in self.keys if k.to_digestable() not in own]


def _signers(message: dns.message.Message, name: dns.name.Name, covered: int) -> set[int]:
    return {rrsig.key_tag for rrset in message.answer if rrset.name == name
            and rrset.rdtype == dns.rdatatype.RRSIG for rrsig in rrset if rrsig.type_covered == covered}


async def _ask(address: str, port: int, zone: dns.name.Name, rdtype: int,
               timeout: float) -> dns.message.Message:
    query = dns.message.make_query(zone, rdtype, want_dnssec=True, payload=PAYLOAD)
    query.flags &= ~dns.flags.RD
    reply, _ = await dns.asyncquery.udp_with_fallback(query, address, timeout=timeout, port=port)
    if reply.rcode() != dns.rcode.NOERROR:
        raise dns.exception.DNSException(f"answered {dns.rcode.to_text(reply.rcode())}")
    if not reply.flags & dns.flags.AA:
        raise dns.exception.DNSException("answered without authority (AA not set)")
    return reply


async def _read_one(label: str, address: str, port: int, zone: dns.name.Name,
                    timeout: float) -> NameserverKeys:
    found = NameserverKeys(label)
    try:
        keys, soa = await asyncio.gather(_ask(address, port, zone, dns.rdatatype.DNSKEY, timeout),
                                         _ask(address, port, zone, dns.rdatatype.SOA, timeout))
    except dns.exception.Timeout:
        found.error = f"no answer within {timeout:g}s"
        return found
    except (dns.exception.DNSException, OSError) as e:
        found.error = str(e) or type(e).__name__
        return found
    rrset = keys.get_rrset(keys.answer, zone, dns.rdataclass.IN, dns.rdatatype.DNSKEY)
    if rrset is not None:
        found.keys = [k for k in rrset if isinstance(k, DNSKEY)]
        found.ttl = rrset.ttl
    found.dnskey_signers = _signers(keys, zone, dns.rdatatype.DNSKEY)
    found.soa_signers = _signers(soa, zone, dns.rdatatype.SOA)
    return found


async def read_served_keys(provider: str, zone: str, nameservers: Sequence[Nameserver],
                           timeout: float = 3.0) -> ServedKeys:
    """Ask every address of every nameserver of `provider` for `zone`'s DNSKEY and SOA
    (with DO); never raises for a DNS or network failure (see `ServedKeys.error`)."""
    origin = dns.name.from_text(zone)
    served = ServedKeys(provider, zone)
    reads = []
    for nameserver in nameservers:
        endpoints, problem = await resolve(nameserver)
        if problem:
            served.nameservers.append(NameserverKeys(nameserver.label, error=problem))
        for endpoint in endpoints:
            label = f"{nameserver.name.rstrip('.')} ({endpoint.address}:{endpoint.port})" \
                if endpoint.port != 53 else f"{nameserver.name.rstrip('.')} ({endpoint.address})"
            reads.append(_read_one(label, endpoint.address, endpoint.port, origin, timeout))
    served.nameservers += await asyncio.gather(*reads)
    return served


async def read_all(providers: dict[str, Sequence[Nameserver]], zone: str,
                   timeout: float = 3.0) -> dict[str, ServedKeys]:
    """`read_served_keys` for several providers of one zone, concurrently."""
    names = sorted(providers)
    found = await asyncio.gather(*(read_served_keys(p, zone, providers[p], timeout) for p in names))
    return dict(zip(names, found, strict=True))
