"""Checks of a zone as a whole, from each nameserver's apex: SOA serial agreement,
negative-cache TTL parity, the apex NS, and reachability over UDP and TCP.

Each provider owns its SOA, so serials differ between providers by design but
must agree among one provider's nameservers (else some still serve an old
version). The negative-cache TTL, min(SOA MINIMUM, SOA TTL) (RFC 2308 5), is
how long resolvers remember that a name does not exist: providers that differ
make a new name appear at different times, a parity finding. The apex NS of
every provider must list every provider's nameservers (RFC 2181 5.4.1), or
resolvers that reach one provider stop using the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import dns.name
import dns.rdatatype
from octodns.record import Record

from dnssync.model.findings import Finding, Severity
from dnssync.query.answer import FAILURES, Answer, Question, soa_of
from dnssync.query.wire import Malformed

SOA, NS = dns.rdatatype.SOA, dns.rdatatype.NS


@dataclass
class ApexView:
    """What one nameserver answers at the zone's apex."""

    provider: str
    nameserver: str
    serial: int | None = None
    negative_ttl: int | None = None
    ns: list[str] | None = None
    ns_ttl: int | None = None
    udp_error: tuple[str, str] | None = None  # (code, detail) of the SOA over UDP
    tcp_error: tuple[str, str] | None = None
    errors: list[tuple[str, str, str]] = field(default_factory=list)  # (type, code, detail)

    def take(self, answer: Answer) -> None:
        """File one apex answer (SOA over UDP or TCP, NS over UDP)."""
        rdtype = answer.question.rdtype
        tcp = answer.question.tag == "tcp"
        if answer.error:
            failure = (FAILURES[answer.error].code, answer.detail)
            if tcp:
                self.tcp_error = failure
            else:
                self.errors.append((dns.rdatatype.to_text(rdtype), *failure))
                if rdtype == SOA:
                    self.udp_error = failure
            return
        if tcp:
            return  # over TCP only whether it answers counts
        reply = answer.reply
        assert reply is not None
        rtype = dns.rdatatype.to_text(rdtype)
        try:
            if rdtype == SOA:
                soa = soa_of(answer)
                if soa is not None:
                    self.serial, self.negative_ttl = soa.serial, soa.negative_ttl
                    return
            else:
                records = [rr for rr in reply.answer if rr.rdtype == rdtype and rr.owner == reply.qname]
                if records:
                    self.ns = sorted({reply.target_text(rr) for rr in records})
                    self.ns_ttl = records[0].ttl
                    return
        except Malformed as e:
            failure = ("verify.malformed", f"malformed reply: {e}")
            self.errors.append((rtype, *failure))
            if rdtype == SOA:
                self.udp_error = failure
            return
        self.errors.append((rtype, "verify.nodata", f"no {rtype} RRset at the apex"))


def udp_questions(zone: str) -> list[Question]:
    """What every nameserver is asked at the apex over UDP, besides the records: the SOA
    (first: a zone transfer waits for its answer) and the NS."""
    apex = dns.name.from_text(zone)
    return [Question(apex, SOA, "udp"), Question(apex, NS, "udp")]


def tcp_question(zone: str) -> Question:
    """The SOA asked over TCP: whether the nameserver answers over TCP at all."""
    return Question(dns.name.from_text(zone), SOA, "tcp")


def zone_findings(zone: str, views: list[ApexView], union: list[str],
                  apex_ns: Mapping[str, Record | None], negative_ttl_severity: Severity
                  ) -> list[Finding]:
    """Every zone-level finding from the nameservers' apex views; `apex_ns` is each
    provider's own apex NS record (its TTL may be adjusted, e.g. clamped)."""
    findings: list[Finding] = []
    for view in views:
        findings.extend(_view_findings(zone, view, union, apex_ns.get(view.provider), views))
    findings.extend(_serial_findings(zone, views))
    findings.extend(_negative_ttl_findings(zone, views, negative_ttl_severity))
    return findings


def _view_findings(zone: str, view: ApexView, union: list[str], apex_ns: Record | None,
                   views: list[ApexView]) -> list[Finding]:
    where = {"zone": zone, "provider": view.provider, "nameserver": view.nameserver}
    found = [Finding(Severity.ERROR, code, f"{zone} {rtype} at the apex: {detail}", name="",
                     type=rtype, **where) for rtype, code, detail in view.errors]
    if view.tcp_error and not view.udp_error:
        code, detail = view.tcp_error
        found.append(Finding(Severity.ERROR, "verify.tcp",
                             f"{view.nameserver} answers over UDP but not over TCP ({detail});"
                             " large answers and zone transfers need TCP (RFC 7766)",
                             extra={"error": code}, **where))
    if view.ns is not None and view.ns != union:
        missing = sorted(set(union) - set(view.ns))
        extra = sorted(set(view.ns) - set(union))
        agree = sorted({v.provider for v in views if v.ns == union})
        differ = sorted({v.provider for v in views if v.ns is not None and v.ns != union})
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
            [f"not a provider's nameserver: {', '.join(extra)}"] if extra else [])
        found.append(Finding(
            Severity.ERROR, "verify.apex-ns",
            f"{zone} NS must list every provider's nameservers: {'; '.join(parts)} (agree:"
            f" {', '.join(agree) or 'none'}; differ: {', '.join(differ)})",
            name="", type="NS", expected=union, observed=view.ns,
            extra={"agree": agree, "differ": differ}, **where))
    if apex_ns is not None and view.ns_ttl is not None and view.ns_ttl != apex_ns.ttl:
        found.append(Finding(Severity.ERROR, "verify.ttl",
                             f"{zone} NS: TTL {view.ns_ttl} where git says {apex_ns.ttl}",
                             name="", type="NS", expected={"ttl": apex_ns.ttl},
                             observed={"ttl": view.ns_ttl}, **where))
    return found


def _serial_findings(zone: str, views: list[ApexView]) -> list[Finding]:
    found = []
    for provider in sorted({v.provider for v in views}):
        serials = {v.nameserver: v.serial for v in views
                   if v.provider == provider and v.serial is not None}
        if len(set(serials.values())) > 1:
            found.append(Finding(
                Severity.ERROR, "verify.soa-serial",
                f"{provider}'s nameservers answer different SOA serials for {zone}: some still"
                " serve an older version of the zone",
                zone=zone, name="", type="SOA", provider=provider, observed=serials))
    return found


def _negative_ttl_findings(zone: str, views: list[ApexView], severity: Severity) -> list[Finding]:
    by_provider: dict[str, set[int]] = {}
    for view in views:
        if view.negative_ttl is not None:
            by_provider.setdefault(view.provider, set()).add(view.negative_ttl)
    if len({ttl for ttls in by_provider.values() for ttl in ttls}) <= 1:
        return []
    observed = {p: (min(t) if len(t) == 1 else sorted(t)) for p, t in sorted(by_provider.items())}
    listing = ", ".join(f"{p} {v}s" for p, v in observed.items())
    return [Finding(severity, "verify.negative-ttl",
                    f"providers make resolvers cache 'does not exist' for different times in"
                    f" {zone} (min of SOA MINIMUM and SOA TTL, RFC 2308): {listing}",
                    zone=zone, name="", type="SOA", observed=observed)]
