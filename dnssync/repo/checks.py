"""Offline zone checks that octoDNS's record validation leaves out.

octoDNS accepts an MX whose exchange is `1.2.3.4.`, an NS pointing at a CNAME,
or an MX whose in-zone target has no address; real servers then refuse the
update (BIND) or resolvers fail at lookup time. These checks run in `validate`
and before every plan, each pointing at the record's file and line.
"""

from __future__ import annotations

import io

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
from octodns.record import Record

from dnssync.model.findings import Finding, Severity
from dnssync.model.records import ZoneIndex, looks_like_address, pointed_names
from dnssync.repo.zones import DesiredZone

#: below this many octets of presentation text an RRset cannot reach a DNS message's limit
_SIZE_SHORTCUT = 16_384
_MAX_MESSAGE = 65_535
_OPT = 11  # the EDNS OPT record a large answer needs
#: the longest presentation text of one value, for the types where it is fixed: most
#: records are known small from their count of values, without rendering them
_LONGEST_VALUE = {"A": len("255.255.255.255"), "AAAA": len("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")}
#: the types whose value's text (octoDNS's str of it) holds all of its data: its RDATA is at
#: most 4 octets per character (UTF-8, a name's length octets included) and a few fixed
#: octets, so a short text is known small without rendering it (a tenth of the cost)
_TEXT_TYPES = frozenset({"CNAME", "DNAME", "NS", "PTR", "TXT", "SPF", "MX", "SRV", "CAA"})
#: the fixed octets of one value at most (SRV's priority, weight and port; CAA's flags and tag length)
_FIXED_OCTETS = 8


def _short_text(record: Record) -> bool:
    """Whether the record's values are too short to near a message's size, by their text."""
    values = record.values if hasattr(record, "values") else [record.value]
    return sum(4 * len(str(value)) + _FIXED_OCTETS for value in values) < _SIZE_SHORTCUT


def _oversized(record: Record) -> str | None:
    """Why no server can serve `record` (its answer needs a DNS message over 65,535 octets:
    a TXT of 64 KiB, or thousands of values), or None. octoDNS accepts any size, and the
    provider then fails the apply forever. The answer is written as a server would
    (header, question, the RRs with names compressed, an OPT record), one pass."""
    longest = _LONGEST_VALUE.get(record._type)
    if longest is not None and len(record.values) * longest < _SIZE_SHORTCUT:
        return None  # the commonest case, without rendering anything
    if record._type in _TEXT_TYPES and _short_text(record):
        return None
    try:
        rdatas = record.to_rrset().rdatas
    except Exception:  # a type octoDNS cannot render as RDATA: not this check's business
        return None
    if sum(len(r) for r in rdatas) < _SIZE_SHORTCUT:
        return None  # the common case, without writing anything
    try:
        owner = dns.name.from_text(record.fqdn)
        rdtype = dns.rdatatype.from_text(record._type)
        wire = io.BytesIO(bytes(12))  # the header
        compress: dict = {}
        owner.to_wire(wire, compress)
        wire.write(bytes(4))  # the question's type and class
        for text in rdatas:
            rdata = dns.rdata.from_text(dns.rdataclass.IN, rdtype, text, origin=dns.name.root)
            wire.write(bytes(12))  # owner (a compression pointer), type, class, TTL, RDLENGTH
            before = wire.tell()
            rdata.to_wire(wire, compress, dns.name.root)
            size = wire.tell() - before
            if size > _MAX_MESSAGE or wire.tell() + _OPT > _MAX_MESSAGE:
                what = f"one value is {size:,} octets" if size > _MAX_MESSAGE else f"{len(rdatas)} value(s)"
                return (f"{record.fqdn} {record._type}: {what}, more than fits in one DNS message"
                        f" ({_MAX_MESSAGE:,} octets, RFC 1035 4.2.2): no server can serve it")
    except (dns.exception.DNSException, ValueError):
        return None  # a value dnspython reads differently: octoDNS validation speaks for it
    return None


def check_targets(desired: DesiredZone) -> list[Finding]:
    zone = desired.zone
    findings: list[Finding] = []
    targets = ZoneIndex(zone)

    def add(record: Record, severity: Severity, message: str, code: str = "zone.target") -> None:
        file, line = desired.location(record.name, record._type)
        findings.append(Finding(severity, code, message, zone=zone.name,
                                name=record.name, type=record._type, file=file, line=line))

    for record in desired.records:
        too_big = _oversized(record)
        if too_big:
            add(record, Severity.ERROR, too_big, "zone.size")
        for target in pointed_names(record):
            if record._type != "PTR" and looks_like_address(target):
                add(record, Severity.WARNING,
                    f"{record.fqdn} {record._type} target {target} is an address, not a host name")
                continue
            if not targets.in_zone(target):
                continue
            if record._type in ("NS", "MX", "SRV") and "CNAME" in targets.types.get(target.lower(), set()):
                add(record, Severity.ERROR,
                    f"{record.fqdn} {record._type} target {target} is a CNAME; it must be the"
                    " canonical name (RFC 2181 10.3)")
            elif record._type in ("MX", "SRV", "NS") and not targets.has_address(target):
                if record._type != "NS" and targets.below_delegation(target):
                    continue  # served by the child zone, not this one
                what = "glue (A/AAAA)" if record._type == "NS" else "A/AAAA record"
                hint = " BIND refuses such an update (check-integrity)." if record._type == "MX" else ""
                add(record, Severity.WARNING,
                    f"{record.fqdn} {record._type} target {target} is in the zone but has no"
                    f" {what}.{hint}")
    return findings
