"""What an apply changed, as the RRsets `watch` follows.

The old values and TTLs come from the plan saved with the apply (its record in
`<state>/applies/`), never from the live zone: by the time watch runs the live
zone is already (partly) new, and watch may run later or from another CI job.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype

from dnssync.applying.record import ApplyResult
from dnssync.model.findings import Finding, Severity
from dnssync.model.plan import Plan
from dnssync.query.wire import txt_joined
from dnssync.repo.targets import is_alias_type

_TXT_TYPES = (dns.rdatatype.TXT, dns.rdatatype.SPF)


@dataclass(frozen=True)
class RRsetState:
    """An RRset as a server answers it or as the plan expects it. No values means the
    name/type does not exist (NXDOMAIN or NODATA, told apart only in `negative`).
    Two compare by `key` and TTL: see `match_key`."""

    values: frozenset[dns.rdata.Rdata] = field(default=frozenset(), compare=False)
    ttl: int | None = None
    negative: str = field(default="", compare=False)  # NXDOMAIN | NODATA, for display
    #: any TTL will do: a provider that expands an ALIAS itself gives the addresses its own TTL
    any_ttl: bool = field(default=False, compare=False)
    key: frozenset[Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.values and self.ttl is not None:
            object.__setattr__(self, "ttl", None)  # a missing RRset has no TTL to compare
        object.__setattr__(self, "key", frozenset(match_key(v) for v in self.values))

    @property
    def absent(self) -> bool:
        return not self.values

    def texts(self) -> list[str]:
        return sorted(v.to_text() for v in self.values)

    def matches(self, reply: RRsetState) -> bool:
        """Whether `reply` is this RRset (values, and TTL unless any will do)."""
        return reply.key == self.key if self.any_ttl else reply == self

    def describe(self) -> str:
        if self.absent:
            return self.negative or "no such RRset"
        return f"{self.ttl} " + ", ".join(self.texts())

    def to_json(self) -> dict[str, Any]:
        if self.absent:
            return {"exists": False, **({"rcode": self.negative} if self.negative else {})}
        return {"ttl": self.ttl, "values": self.texts()}


def match_key(rdata: dns.rdata.Rdata) -> Any:
    """How one RDATA compares: as dnspython compares it (canonically, names case-
    insensitively), except a TXT/SPF, whose text counts and not how it is split into
    strings (providers re-split long TXT; verify reports that as a warning only)."""
    if rdata.rdtype in _TXT_TYPES:
        return (rdata.rdtype, txt_joined(rdata.to_digestable()))
    return rdata


def served_from_plan(rtype: str, data: dict[str, Any] | None, origin: str) -> RRsetState:
    """A plan change's `existing`/`desired` ({ttl, values} in presentation format) as `RRsetState`.

    Names stay absolute (`relativize=False`): they are compared with names read off the
    wire, and a CNAME target relativised to the zone would match no answer at all."""
    if not data:
        return RRsetState()
    zone = dns.name.from_text(origin)
    values = frozenset(dns.rdata.from_text(dns.rdataclass.IN, rtype, text, origin=zone, relativize=False)
                       for text in data["values"])
    return RRsetState(values, int(data["ttl"]))


@dataclass
class ChangedRRset:
    """One changed RRset and what each provider served before and must serve after.

    A provider that did not change this RRset (it already served the new value)
    has its new value as its old one. `old[p]` is None when the provider's old
    content is unknown (its live state could not be read when planning)."""

    zone: str
    name: str  # absolute, lower case
    type: str
    new: dict[str, RRsetState] = field(default_factory=dict)
    old: dict[str, RRsetState | None] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return (self.name, self.type)

    @property
    def label(self) -> str:
        return f"{self.name} {self.type}"

    @property
    def providers(self) -> list[str]:
        return sorted(self.new)

    @property
    def action(self) -> str:
        olds = [o for o in self.old.values() if o is not None]
        if olds and all(o.absent for o in olds):
            return "create"
        if all(n.absent for n in self.new.values()):
            return "delete"
        return "update"

    def olds(self, provider: str) -> list[RRsetState]:
        """What `provider`'s nameservers may still serve before they converge."""
        known = self.old.get(provider)
        if known is not None:
            return [known]
        return [o for o in self.old.values() if o is not None]

    def _outdated(self) -> list[RRsetState]:
        """The old answers that differ from what their provider serves now: only those
        can be stale in a cache (a provider that already served the new value, as a
        repair apply's healthy providers did, leaves nothing stale behind)."""
        return [o for p, o in self.old.items() if o is not None and o != self.new.get(p)]

    @property
    def old_ttl(self) -> int | None:
        """The largest TTL any resolver may have cached an outdated answer with."""
        ttls = [o.ttl for o in self._outdated() if o.ttl is not None]
        return max(ttls) if ttls else None

    @property
    def was_absent(self) -> bool:
        """Whether a resolver may have cached that the name/type did not exist, while
        it now does at some provider."""
        return any(o.absent for o in self._outdated())

    def to_json(self) -> dict[str, Any]:
        return {"zone": self.zone, "name": self.name, "type": self.type, "action": self.action,
                "old": {p: o.to_json() if o is not None else None
                        for p, o in sorted(self.old.items())},
                "new": {p: n.to_json() for p, n in sorted(self.new.items())}}


def changes_from_plan(plan: Plan) -> tuple[list[ChangedRRset], list[Finding]]:
    """Every RRset the plan changed at any provider, with every provider serving its zone.

    Types that do not exist on the wire (octoDNS's ALIAS, which providers serve
    as A/AAAA) cannot be compared with answers and are reported, not watched."""
    findings: list[Finding] = []
    changed: dict[tuple[str, str], ChangedRRset] = {}
    zone_providers: dict[str, list[str]] = {}
    flattened = {(f["zone"], f["name"]): f for f in plan.flattened if not f["error"]}
    aliased: set[tuple[str, str]] = set()  # flattened ALIAS records whose own change was planned
    for pp in plan.providers:
        zone_providers.setdefault(pp.zone, []).append(pp.provider)
        for change in pp.changes:
            fqdn = (f"{change.name}.{pp.zone}" if change.name else pp.zone).lower()
            if is_alias_type(change.type) and (pp.zone, change.name) in flattened:
                aliased.add((pp.zone, change.name))
                continue  # watched as the A/AAAA it stands for (_natively_expanded)
            try:
                dns.rdatatype.from_text(change.type)
                old = served_from_plan(change.type, change.existing, pp.zone)
                new = served_from_plan(change.type, change.desired, pp.zone)
            except (dns.exception.DNSException, ValueError) as e:
                findings.append(Finding(
                    Severity.WARNING, "watch.unwatchable",
                    f"{change.type} records cannot be compared with DNS answers ({e}); not watched",
                    zone=pp.zone, name=fqdn, type=change.type, provider=pp.provider))
                continue
            rrset = changed.setdefault((fqdn, change.type), ChangedRRset(pp.zone, fqdn, change.type))
            rrset.old[pp.provider], rrset.new[pp.provider] = old, new
    errors = {(p.provider, p.zone) for p in plan.providers if p.error}
    # a provider that cannot hold a record, or serves it its own way, is verify's business
    own_way = {(p.provider, f"{a.name}.{p.zone}" if a.name else p.zone, a.type)
               for p in plan.providers for a in p.adjustments}
    for rrset in changed.values():
        common = Counter(rrset.new.values()).most_common(1)[0][0]
        for provider in zone_providers[rrset.zone]:
            if provider in rrset.new or (provider, rrset.name, rrset.type) in own_way:
                continue
            # it already served the new value, or its live state was unreadable
            rrset.new[provider] = common
            rrset.old[provider] = None if (provider, rrset.zone) in errors else common
    findings += _natively_expanded(flattened.values(), changed, aliased)
    return sorted(changed.values(), key=lambda t: (t.zone, t.name, t.type)), findings


def _natively_expanded(flattened: Iterable[dict[str, Any]], changed: dict[tuple[str, str], ChangedRRset],
                       aliased: set[tuple[str, str]]) -> list[Finding]:
    """A flattened ALIAS converges when every provider serves the addresses its target
    resolved to at apply time: the flattened ones as planned, and those that expand the
    ALIAS themselves (PowerDNS) the same addresses, with a TTL of their choosing."""
    findings = []
    for f in flattened:
        fqdn = (f"{f['name']}.{f['zone']}" if f["name"] else f["zone"]).lower()
        watched = False
        for rtype in ("A", "AAAA"):
            rrset = changed.get((fqdn, rtype))
            if rrset is None:
                continue  # no flattening provider changed it
            watched = True
            expected = served_from_plan(rtype, {"ttl": f["ttl"], "values": f["values"].get(rtype, [])}, f["zone"])
            for provider in f["native"]:
                rrset.new[provider] = replace(expected, any_ttl=True)
                rrset.old[provider] = None  # it expanded the target on its own schedule
        if not watched and (f["zone"], f["name"]) in aliased:
            findings.append(Finding(
                Severity.WARNING, "watch.unwatchable",
                f"{f['type']} records cannot be compared with DNS answers and no flattened A/AAAA"
                " changed with it; not watched", zone=f["zone"], name=fqdn, type=f["type"]))
    return findings


@dataclass
class Watched:
    """What one apply changed, read back from its record."""

    apply_id: str
    changed: list[ChangedRRset]
    failed: dict[str, str]  # provider -> why its apply did not complete
    findings: list[Finding]


def read_apply(path: Path) -> Watched:
    """An apply record (`<state>/applies/<id>.json`, applying/record.py) as the RRsets to
    follow; its seal and its plan's checksum are checked, so an edited record is refused."""
    record = ApplyResult.read(path)
    changed, findings = changes_from_plan(record.plan)
    return Watched(record.id, changed, record.incomplete(), findings)
