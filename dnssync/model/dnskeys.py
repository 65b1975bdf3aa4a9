"""DNSKEYs as data: key tags, roles, the DS a parent holds for them (no I/O).

One meaning of these for every stage that touches DNSSEC keys (the embedded
server's signer, the key exchange on apply, `dnssync ds`, verify's checks), so
a key is named the same way everywhere ("ZSK 12345 (ECDSAP256SHA256)") and the
DS set `dnssync ds` prints is exactly the one verify compares with the parent.

dnspython's `dns.dnssec` (and with it `cryptography`) is imported where a key is
looked at, not with this module: every `plan` imports this, most plan no key, and
the import was a tenth of a plan's start-up.
"""

from __future__ import annotations

from collections.abc import Iterable

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
from dns.rdtypes.ANY.DNSKEY import DNSKEY
from dns.rdtypes.ANY.DS import DS

#: the DS digest dnssync computes by default (RFC 8624: SHA-256 MUST be supported)
DEFAULT_DIGEST = "SHA256"
#: the DNSKEY flag of a zone key (RFC 4034 2.1.1); without it a key signs nothing
ZONE_FLAG = 0x0100
#: the Secure Entry Point flag: a key-signing key, the one a DS points at
SEP_FLAG = 0x0001


def key_tag(key: DNSKEY) -> int:
    """The key tag (RFC 4034 Appendix B) RRSIGs and DS records name the key by."""
    import dns.dnssec

    return dns.dnssec.key_id(key)


def is_ksk(key: DNSKEY) -> bool:
    """A key-signing key: SEP set (what registrars and dnssec-policy mean by a KSK)."""
    return bool(key.flags & SEP_FLAG)


def role(key: DNSKEY) -> str:
    return "KSK" if is_ksk(key) else "ZSK"


def algorithm_name(algorithm: int) -> str:
    import dns.dnssec

    return dns.dnssec.algorithm_to_text(algorithm)


def describe(key: DNSKEY) -> str:
    """`ZSK 12345 (ECDSAP256SHA256)`: how findings, plans and `dnssync ds` name a key."""
    return f"{role(key)} {key_tag(key)} ({algorithm_name(key.algorithm)})"


def key_text(key: DNSKEY) -> str:
    """The DNSKEY RDATA as zone files write it (what a registrar's DNSKEY form takes)."""
    return key.to_text()


def parse_key(text: str) -> DNSKEY:
    rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.DNSKEY, text)
    assert isinstance(rdata, DNSKEY)
    return rdata


def same_key(a: DNSKEY, b: DNSKEY) -> bool:
    """Two DNSKEYs are the same key when their RDATA is (flags, protocol, algorithm, key)."""
    return a.to_digestable() == b.to_digestable()


def unique(keys: Iterable[DNSKEY]) -> list[DNSKEY]:
    """Each key once, sorted by role (KSKs first) and tag: a stable order for output."""
    seen: dict[bytes, DNSKEY] = {}
    for key in keys:
        seen.setdefault(key.to_digestable(), key)
    return sorted(seen.values(), key=lambda k: (not is_ksk(k), key_tag(k), k.to_digestable()))


def ds_for(zone: str | dns.name.Name, key: DNSKEY, digest: str = DEFAULT_DIGEST) -> DS:
    """The DS record the parent holds for `key` of `zone` (RFC 4034 5)."""
    import dns.dnssec

    ds = dns.dnssec.make_ds(dns.name.from_text(str(zone)), key, digest)
    assert isinstance(ds, DS)
    return ds


def ds_set(zone: str | dns.name.Name, keys: Iterable[DNSKEY], digest: str = DEFAULT_DIGEST) -> list[DS]:
    """The DS set covering every KSK in `keys`, one DS each, in `unique` order."""
    return [ds_for(zone, key, digest) for key in unique(keys) if is_ksk(key)]


def ds_matches(ds: DS, zone: str | dns.name.Name, key: DNSKEY) -> bool:
    """Whether `ds` (of any digest type dnspython knows) points at `key`."""
    import dns.dnssec

    if ds.key_tag != key_tag(key) or ds.algorithm != key.algorithm:
        return False
    try:
        return ds_for(zone, key, dns.dnssec.DSDigest(ds.digest_type).name) == ds
    except (ValueError, dns.dnssec.UnsupportedAlgorithm):
        return False
