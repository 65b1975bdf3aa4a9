"""What each provider's nameservers must answer, from the same desired zones as plan.

The expectations come from `Repository.desired` (git plus the managed apex NS),
passed through each provider's own `planning.adjust.adjustments` (what it can hold), and
turned into RDATA by octoDNS's `record.to_rrset()` and dnspython: the very
values plan and apply send. So verify and plan can never disagree about what
git says, and a record a provider cannot hold is not reported missing there.

Every expectation says how it is checked:

* `data`: asked directly; the nameserver must answer it with AA=1.
* `referral`: an NS RRset below the apex is a delegation; the parent's
  nameservers answer it with a referral (AA=0, NS in the authority section).
* `glue`: an A/AAAA at or below a delegation is glue; it comes back in the
  referral's additional section, never as an authoritative answer.
* `probe`: a wildcard is also asked at a name it must synthesise, because the
  literal `*` owner answers even where expansion is broken.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import dns.name
import dns.rdatatype
from octodns.provider.base import BaseProvider
from octodns.record import Record
from octodns.zone import Zone

from dnssync.model.findings import Finding, Severity
from dnssync.model.plan import Adjustment
from dnssync.model.records import meant_for, rrset_data
from dnssync.model.sameness import canonical, plain_name
from dnssync.planning.adjust import adjustments
from dnssync.providers.aliaswire import wire_type
from dnssync.providers.capabilities import capabilities_of
from dnssync.query.wire import PLAIN_TYPES, expected_reply
from dnssync.repo.targets import ADDRESS_TYPES, alias_target, is_alias_type

#: octoDNS types that are not DNS types: the provider serves something else in their place
UNVERIFIABLE_TYPES = {"ALIAS", "URLFWD"}


def unverifiable(rtype: str) -> bool:
    """Not a DNS type: ALIAS, URLFWD, or a provider's own (`PowerDnsProvider/LUA`)."""
    return rtype in UNVERIFIABLE_TYPES or "/" in rtype


#: the label asked under a wildcard to see it expand (a name nobody writes in a zone)
PROBE_LABEL = b"dnssync-wildcard-probe"
_ADDRESS = (dns.rdatatype.A, dns.rdatatype.AAAA)


@dataclass(eq=False, slots=True)
class Expected:
    """One RRset a provider's nameservers must serve, in the forms compare needs."""

    record: Record
    kind: str  # data | referral | glue | probe
    owner: bytes  # what is asked and the owner the answer must carry, lower-case wire form
    rdtype: int
    ttl: int
    keys: frozenset[bytes]  # canonical RDATA (RFC 4034 6.2)
    glue: list[Expected] | None = None  # referral: its in-bailiwick glue
    _reply: bytes | None = field(default=None, init=False, repr=False)  # b"": there is none

    @property
    def reply(self) -> bytes | None:
        """The question and answer of the reply that is exactly git's (wire.expected_reply),
        for an RRset asked for itself: one value whose bytes are its canonical form, as
        servers send it (a name in the RDATA may be compressed any way, and the order of
        several values is the server's: such replies are always parsed and judged). Made
        when first asked for, once for every provider and address that serves the record
        unchanged; never in `--axfr` mode, which asks no record."""
        if self._reply is None:
            eligible = self.kind in ("data", "probe") and len(self.keys) == 1 and self.rdtype in PLAIN_TYPES
            self._reply = expected_reply(self.owner, self.rdtype, self.ttl, next(iter(self.keys))) \
                if eligible else b""
        return self._reply or None

    @property
    def qname(self) -> dns.name.Name:
        """The owner as a dnspython name (made when needed: large zones keep only bytes)."""
        return dns.name.from_wire(self.owner, 0)[0]

    @property
    def name(self) -> str:
        """The record's name relative to the zone ('' for the apex), as git writes it."""
        return self.record.name

    @property
    def type(self) -> str:
        return self.record._type

    @property
    def values(self) -> dict:
        """TTL and values as plan shows them, for findings."""
        return rrset_data(self.record)

    @property
    def fqdn(self) -> str:
        return self.qname.to_text() if self.kind == "probe" else self.record.fqdn


@dataclass
class ZoneExpectation:
    """Everything one provider must serve for one zone."""

    zone: str
    provider: str
    items: list[Expected]
    apex_ns: Record | None  # checked by zonechecks against the union of nameservers
    skipped: list[Adjustment]  # records this provider holds otherwise or not at all (plan's)
    known: set[tuple[bytes, int]]  # (owner, type) of every record git has for this provider
    findings: list[Finding] = field(default_factory=list)
    #: (name, type) of the records this provider cannot hold at all: it neither agrees
    #: nor differs about them (a record it serves adjusted, e.g. clamped, still does)
    unsupported: frozenset[tuple[str, str]] = field(init=False)

    def __post_init__(self) -> None:
        self.unsupported = frozenset((a.name, a.type) for a in self.skipped
                                     if a.kind == "unsupported")

    @property
    def asked(self) -> list[Expected]:
        """What is asked in queries mode: glue rides along with its referral."""
        return [e for e in self.items if e.kind != "glue"]


def owner_wire(fqdn: str) -> bytes:
    """An absolute name's lower-case wire form (dnspython only for names that are not
    plain host names: escapes, non-ASCII, odd characters)."""
    wire = plain_name(fqdn)
    return dns.name.from_text(fqdn).to_wire().lower() if wire is None else wire


def _key(fqdn: str, rtype: str) -> tuple[bytes, int] | None:
    """(owner wire, type) of a name and octoDNS type; None for a type DNS does not have."""
    try:
        rdtype = wire_type(rtype)  # ALIAS: the TYPE65401 a server holding it transfers
    except dns.rdatatype.UnknownRdatatype:
        return None
    return owner_wire(fqdn), rdtype


class _Builder:
    """Builds Expected objects once per octoDNS record and shares them between
    providers that serve the record unchanged (large zones stay small in memory)."""

    def __init__(self, zone: Zone):
        self.origin = owner_wire(zone.name)
        self.cuts = {owner_wire(r.fqdn) for r in zone.records if r._type == "NS" and r.name}
        # keyed by id(): octoDNS records compare equal by name and type alone, so a
        # provider's adjusted copy (a clamped TTL) would find git's record's entry. Each
        # entry keeps its record alive: a freed copy's id could be reused by another
        # provider's copy, which would then get the freed copy's expectations
        self.cache: dict[int, tuple[Record, list[Expected]]] = {}

    def build(self, record: Record) -> list[Expected]:
        entry = self.cache.get(id(record))
        if entry is None:
            entry = self.cache[id(record)] = (record, self._build(record))
        return entry[1]

    def cut_above(self, owner: bytes) -> bytes | None:
        """The highest delegation point (wire form) at or above `owner`, if any: servers
        refer there, and a cut below it is hidden by it. Walks up label by label, never
        scans the cuts."""
        if not self.cuts:
            return None
        found = None
        while len(owner) > len(self.origin):
            if owner in self.cuts:
                found = owner
            owner = owner[owner[0] + 1:]
        return found

    def occluded(self, item: Expected | Record, provider: str, zone: str) -> Finding:
        """The note for a record verify does not ask: a delegation hides it."""
        record = item.record if isinstance(item, Expected) else item
        cut = self.cut_above(owner_wire(record.fqdn))
        where = dns.name.from_wire(cut, 0)[0].to_text() if cut else "?"
        return Finding(Severity.INFO, "verify.occluded",
                       f"{record.fqdn} {record._type} is at or below the delegation {where}: not asked, as"
                       f" {provider}'s servers answer it with the referral there (see zone.occluded)",
                       zone=zone, name=record.name, type=record._type, provider=provider)

    def _build(self, record: Record) -> list[Expected]:
        rdtype, keys = canonical(record)
        owner = owner_wire(record.fqdn)
        cut = self.cut_above(owner)
        if cut is not None and not (rdtype == dns.rdatatype.DS and owner == cut):
            if rdtype == dns.rdatatype.NS and owner == cut:
                return [Expected(record, "referral", owner, rdtype, record.ttl, keys)]
            if rdtype in _ADDRESS:
                return [Expected(record, "glue", owner, rdtype, record.ttl, keys)]
            return []  # occluded: served by the child zone's nameservers, not these
        found = [Expected(record, "data", owner, rdtype, record.ttl, keys)]
        if owner.startswith(b"\x01*"):
            probe = bytes((len(PROBE_LABEL),)) + PROBE_LABEL + owner[2:]
            found.append(Expected(record, "probe", probe, rdtype, record.ttl, keys))
        return found


def _attach_glue(builder: _Builder, items: list[Expected]) -> tuple[list[Expected], list[Expected]]:
    """Hang each glue record on the referral whose NS targets name it; an address
    below a delegation that no NS names is occluded data: not asked, returned apart."""
    if not builder.cuts:
        return items, []  # no delegation: no referral, no glue
    referrals = {e.owner: e for e in items if e.kind == "referral"}
    targets = {cut: {owner_wire(v) for v in ref.record.values} for cut, ref in referrals.items()}
    kept, occluded = [], []
    for item in items:
        if item.kind == "glue":
            cut = builder.cut_above(item.owner)
            if cut not in referrals or item.owner not in targets[cut]:
                occluded.append(item)
                continue
            referral = referrals[cut]
            if referral.glue is None:
                referral.glue = []
            if not any(g is item for g in referral.glue):
                referral.glue.append(item)
        kept.append(item)
    return kept, occluded


def expectations(zone: Zone, providers: dict[str, BaseProvider]) -> list[ZoneExpectation]:
    """For each named provider, what its nameservers must serve of `zone`."""
    builder = _Builder(zone)
    result = []
    for name, provider in providers.items():
        skipped, served = adjustments(provider, zone)
        apex_ns = None
        items: list[Expected] = []
        findings: list[Finding] = []
        known = {_key(f"{a.name}.{zone.name}" if a.name else zone.name, t) for a in skipped
                 for t in ((a.type, *ADDRESS_TYPES) if is_alias_type(a.type) else (a.type,))}
        represents = capabilities_of(provider).represents
        for record in served.records:
            if not meant_for(record, name):
                continue
            rtype = record._type
            odd = unverifiable(rtype)
            built = builder.build(record) if not odd else []
            known.add((built[0].owner, built[0].rdtype) if built else _key(record.fqdn, rtype))
            if rtype in represents:  # the provider's own form of a record git has is no extra
                known.update(_key(record.fqdn, own) for own in represents[rtype])
            if rtype == "NS" and record.name == "":
                apex_ns = record
            elif odd:
                if is_alias_type(record._type) and alias_target(record):
                    continue  # its answers are held to a fresh resolution (verify/aliases.py)
                findings.append(Finding(
                    Severity.INFO, "verify.unverifiable",
                    f"{record.fqdn} {record._type} is not a DNS type: {name} serves other"
                    " records in its place, so DNS cannot show whether it matches git",
                    zone=zone.name, name=record.name, type=record._type, provider=name))
            elif not built:
                findings.append(builder.occluded(record, name, zone.name))
            else:
                items.extend(built)
        known.discard(None)
        known = next((r.known for r in result if r.known == known), known)  # share when equal
        asked, occluded = _attach_glue(builder, items)
        findings.extend(builder.occluded(item, name, zone.name) for item in occluded)
        result.append(ZoneExpectation(zone.name, name, asked, apex_ns,
                                      skipped, known, findings))  # type: ignore[arg-type]
    return result
