"""One meaning of "the same value", for plan, drift and verify alike.

DNS compares RRsets as sets of canonical RDATA (RFC 2181 5, RFC 4034 6.2):
order never matters, the case of names never matters, and a value written twice
is one record; servers store it so (BIND and Knot keep one copy, PowerDNS
refuses the duplicate with HTTP 422). Git may hold either form, so:

* `canonical(record)` is that meaning on the wire: the record's type and the
  set of its canonical RDATA, from the very text plan and apply send (octoDNS's
  `to_rrset()`). verify judges answers by it.
* `normal_zone(zone)` gives the desired zone in that meaning before any
  provider's served zone is made from it (capabilities.served_zone, which plan,
  drift and verify all go through): duplicate values collapse (`distinct`). octoDNS already lower-cases names and
  normalises addresses in values, so after this a record's values compare equal
  exactly when their canonical RDATA does, and a plan made against what a
  server stores converges instead of planning the same update forever.

TXT text with escapes (`\\"`, `\\\\`) means what octoDNS's own rendering says
(its value is raw text, only `;` escaped); every provider is made to store it
so (providers/powerdns.py fixes octodns-powerdns, which sent it unescaped).
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterable
from itertools import pairwise

import dns.exception
import dns.rdata
import dns.rdataclass
import dns.rdatatype
from octodns.record import Record
from octodns.zone import Zone

from dnssync.model.errors import DnssyncException
from dnssync.model.records import kept

#: addresses straight to wire form: dnspython's text parser costs ~50 µs a value,
#: which is most of the time to prepare a 100,000-record zone
_ADDRESS_WIRE = {dns.rdatatype.A: socket.AF_INET, dns.rdatatype.AAAA: socket.AF_INET6}


def canonical(record: Record) -> tuple[int, frozenset[bytes]]:
    """The record's type and its RDATA in canonical wire form, through octoDNS's own
    `to_rrset()` (the text plan and apply send) and dnspython."""
    rrset = record.to_rrset()
    rdtype = _RDTYPES.get(rrset._type)
    if rdtype is None:
        rdtype = _RDTYPES[rrset._type] = dns.rdatatype.from_text(rrset._type)
    return rdtype, canonical_values(rdtype, rrset.rdatas)


#: octoDNS type name -> DNS type number, as dnspython reads it (looked up once per name)
_RDTYPES: dict[str, int] = {}


class NotPlain(DnssyncException):
    """Values that have no canonical form here (a type dnspython lacks, text it cannot
    read): only octoDNS's own planning can judge them."""


def canonical_values(rdtype: int | str, texts: Iterable[str]) -> frozenset[bytes]:
    """The canonical wire form of presentation-format values of one type (a number, or
    its name as a provider's API gives it), as a set: what `canonical` compares. NotPlain
    when they have none."""
    try:
        if isinstance(rdtype, str):
            rdtype = dns.rdatatype.from_text(rdtype)
        family = _ADDRESS_WIRE.get(rdtype)
        if family is not None:
            return frozenset(socket.inet_pton(family, text) for text in texts)
        return frozenset(rdata_key(rdtype, text) for text in texts)
    except (dns.exception.DNSException, ValueError, OSError) as e:
        raise NotPlain(f"{rdtype}: {e}") from None


#: types whose RDATA is one domain name, lower-cased in canonical form (RFC 4034 6.2)
_NAME_TYPES = frozenset((dns.rdatatype.CNAME, dns.rdatatype.NS, dns.rdatatype.PTR))
_TXT_TYPES = frozenset((dns.rdatatype.TXT, dns.rdatatype.SPF))
#: an absolute name of labels (1 to 63 octets) with no character that means something in
#: presentation format (; ( ) " @ \\ ...), each followed by its dot
_PLAIN_NAME = re.compile(r"(?:[a-z0-9_*-]{1,63}\.)+")


def rdata_key(rdtype: int, text: str) -> bytes:
    """One RDATA's canonical wire form from its presentation text. The plain forms of
    the common types (a host name, `preference host`, quoted strings without escapes)
    are encoded directly: dnspython's tokenizer costs ~100 µs a value, the largest
    part of preparing a fleet of small zones. Everything else, and anything unusual
    in those, goes through dnspython, which also defines the result (a test holds the
    two equal)."""
    if text.isascii() and "\\" not in text:
        if rdtype in _NAME_TYPES:
            wire = plain_name(text)
            if wire is not None:
                return wire
        elif rdtype == dns.rdatatype.MX:
            preference, _, exchange = text.partition(" ")
            wire = plain_name(exchange)
            if wire is not None and preference.isdigit() and int(preference) < 65536:
                return int(preference).to_bytes(2, "big") + wire
        elif rdtype in _TXT_TYPES and len(text) > 1 and text[0] == text[-1] == '"':
            strings = text[1:-1].split('" "')
            if all(len(s) < 256 and '"' not in s and s.isprintable() for s in strings):
                return b"".join(bytes((len(s),)) + s.encode() for s in strings)
        elif rdtype == dns.rdatatype.CAA:  # `flags tag "value"`, as octoDNS writes it
            flags, _, rest = text.partition(" ")
            tag, _, value = rest.partition(" ")
            if flags.isdigit() and int(flags) < 256 and tag.isalnum() and len(tag) < 256 \
                    and len(value) > 1 and value[0] == value[-1] == '"' \
                    and '"' not in value[1:-1] and value.isprintable():
                return bytes((int(flags), len(tag))) + tag.encode() + value[1:-1].encode()
    return dns.rdata.from_text(dns.rdataclass.IN, rdtype, text).to_digestable()


def plain_name(text: str) -> bytes | None:
    """An absolute host name's lower-case wire form; None when it is not plain (escapes,
    odd characters, relative): then dnspython reads it."""
    if len(text) > 254:
        return None
    lowered = text.lower()
    if not _PLAIN_NAME.fullmatch(lowered):
        return None
    # "a.b." splits into a, b and the root's empty label: each its length and octets
    return b"".join([bytes((len(label),)) + label for label in lowered.encode().split(b".")])


def _duplicated(record: Record) -> bool:
    """Whether some value is written twice (octoDNS keeps values sorted: twins are adjacent)."""
    values = record.__dict__.get("values")  # single-value types have none (cheap for 100,000 records)
    return values is not None and len(values) > 1 and any(a == b for a, b in pairwise(values))


def distinct(record: Record) -> Record:
    """`record` with each value once (a copy), or `record` itself when it already is."""
    if not _duplicated(record):
        return record
    kept: list = []
    for value in record.values:
        if not kept or kept[-1] != value:
            kept.append(value)
    copy = record.copy()
    copy.values = kept
    return copy


#: where normal_zone keeps a zone's normal form on the zone itself: every provider's
#: served zone starts from it, so a 100,000-record zone is looked through once
_NORMAL_ATTR = "_dnssync_normal"


def normal_zone(zone: Zone) -> Zone:
    """`zone` in DNS's meaning: the zone itself when no record changes (the common
    case), else a copy with `distinct` records. Computed once per zone object."""
    normal = zone.__dict__.get(_NORMAL_ATTR)
    if normal is None:
        changed = [r for r in zone.records if _duplicated(r)]
        normal = zone
        if changed:
            normal = zone.copy()
            for record in changed:
                normal.add_record(distinct(record), replace=True, lenient=True)
        setattr(zone, _NORMAL_ATTR, normal)
    return normal


#: RRsets in DNS's meaning: (lower-case absolute name, octoDNS type) -> (TTL, canonical
#: RDATA). What a provider's `read_names` returns, and `rrsets_of` makes of git's records
Rrsets = dict[tuple[str, str], tuple[int, frozenset[bytes]]]


def rrsets_of(records: Iterable[Record], provider_id: str, names: set[str] | None = None) -> Rrsets | None:
    """The RRsets a provider must hold for `records` (those at `names`; None: all), or
    None when one of them is more than its RDATA can say (see `plain`), so that only
    octoDNS's own planning can judge it."""
    found: Rrsets = {}
    for record in records:
        fqdn = record.fqdn.lower()
        if names is not None and fqdn not in names:
            continue
        if not plain(record, provider_id):
            return None
        try:
            values = _canonical_kept(record)
        except (NotPlain, AttributeError, dns.exception.DNSException):  # a type without
            return None  # presentation text (a plugin's value class), or one dnspython lacks
        found[(fqdn, record._type)] = (record.ttl, values)
    return found


def _canonical_kept(record: Record) -> frozenset[bytes]:
    """`canonical(record)`'s RDATA, made once per record object (records.kept): a zone
    planned at three providers was put in canonical form three times, a fifth of a
    plan's work."""
    return kept(record, "_dnssync_canonical", lambda kept_record: canonical(kept_record)[1])


def plain(record: Record, provider_id: str) -> bool:
    """A record octoDNS plans for this provider by TTL and values alone: not ignored or
    excluded (octoDNS plans nothing for those), not dynamic or geo, not a plugin's type."""
    return not (record.ignored or provider_id in record.excluded
                or (record.included and provider_id not in record.included)
                or getattr(record, "dynamic", None) or getattr(record, "geo", None)
                or "/" in record._type)
