"""DNSSEC across providers (`verify --dnssec`, and part of a full verify).

A zone several providers sign fails quietly: a validating resolver caches provider
A's DNSKEY set, then asks provider B and gets signatures made with keys it has never
seen, and answers SERVFAIL, while each provider's own view is fine. RFC 8901
("multi-signer", model 2) is the fix: every provider signs with its own ZSK and
publishes every provider's ZSK, and the parent's DS set covers every provider's KSK.

So for a `multi-signer` zone (policy.dnssec) every address of every provider's
nameservers is asked, with the DO bit, for the DNSKEY RRset, every RRset git has, a
name that does not exist and a type the apex lacks, and CDS/CDNSKEY; then:

* per provider: every RRSIG verifies with its own DNSKEY set (`dnssec.bogus`,
  `dnssec.signer-missing`), inside its validity window (`dnssec.expired`; within
  `policy.dnssec.expiry_margin`: `dnssec.expiring`), denials are proven by NSEC or
  NSEC3 (`dnssec.denial`), algorithms are ones resolvers validate (`dnssec.algorithm`);
* across providers: every provider's zone-signing keys are in every provider's DNSKEY
  set (`dnssec.zsk-missing`, naming the key, where it is missing and who fails), and
  the matrix: each provider's signatures against every provider's DNSKEY set
  (`dnssec.cross-invalid`; `ZoneDnssec.matrix` for reporters);
* at the parent: the DS set points at a KSK of every provider (`dnssec.ds-missing`,
  `dnssec.ds-stale`, `dnssec.ds-none`), and CDS/CDNSKEY, where published, agree (`dnssec.cds`).

For an `unsigned` zone a provider that serves DNSSEC records on its own is
`dnssec.unexpected`: once any DS reaches the parent, its answers decide for everyone.
Judging is in `dnssync.signatures` (pure); questions go through the verify engine.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection
from dataclasses import dataclass, field

import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from dns.rdtypes.ANY.DNSKEY import DNSKEY
from dns.rdtypes.ANY.DS import DS

from dnssync.model.dnskeys import describe, ds_matches, key_tag, unique
from dnssync.model.findings import Finding, Severity
from dnssync.model.signatures import (
    KeyRing,
    Signed,
    algorithm_problem,
    denial_problem,
    signed_rrsets,
    timing,
    verifying_key,
)
from dnssync.planning.dsset import ds_set
from dnssync.query.answer import Answer, Endpoint, Question
from dnssync.query.engine import Engine, resolve_all
from dnssync.query.servedkeys import NameserverKeys, ServedKeys
from dnssync.query.wire import Malformed
from dnssync.repo.config import Config
from dnssync.repo.repository import Repository
from dnssync.verify.delegation import parent_servers
from dnssync.verify.expect import expectations

#: the label of the name asked to see a NXDOMAIN proof (nobody writes it in a zone)
NX_LABEL = "dnssync-dnssec-nx-probe"
#: types asked at the apex to see a NODATA proof: the first that git lacks there
NODATA_TYPES = ("NAPTR", "SSHFP", "LOC", "HINFO")
EXAMPLES = 3  # RRsets named in one aggregated finding's message
KEPT = 20  # RRsets kept in its `observed` (a zone of 100,000 expiring signatures is one finding)


@dataclass
class Cell:
    """One cell of the matrix: RRsets one provider served, and how many validate with
    another provider's DNSKEY set."""

    valid: int = 0
    total: int = 0


@dataclass
class ZoneDnssec:
    """What the DNSSEC check saw for one multi-signer zone, for reporters."""

    zone: str
    providers: list[str]
    #: (signer, key set) -> Cell: the signer's RRsets validated with the key set's DNSKEYs
    matrix: dict[tuple[str, str], Cell] = field(default_factory=dict)
    keys: dict[str, list[str]] = field(default_factory=dict)  # provider -> its DNSKEY set, described
    ds: list[str] = field(default_factory=list)  # the parent's DS set


@dataclass
class DnssecResult:
    findings: list[Finding]
    zones: list[ZoneDnssec]
    stats: dict[str, float] = field(default_factory=dict)


@dataclass
class _Problems:
    """RRset-level problems of one kind at one provider, gathered into one finding."""

    where: set[str] = field(default_factory=set)  # nameservers
    #: what each problem is about (an RRset, a denial): the same SOA in three answers, at three
    #: nameservers or under two signatures is one RRset with the problem, not three
    about: set[str] = field(default_factory=set)
    examples: dict[str, str] = field(default_factory=dict)  # about -> its first description, KEPT at most

    @property
    def count(self) -> int:
        return len(self.about)

    @property
    def what(self) -> list[str]:
        return list(self.examples.values())

    def add(self, nameserver: str, what: str, about: str) -> None:
        self.where.add(nameserver)
        self.about.add(about)
        if len(self.examples) < KEPT:
            self.examples.setdefault(about, what)


def message_of(answer: Answer) -> dns.message.Message | None:
    """The reply as a dnspython message, which the DNSSEC checks validate signatures on;
    None when there is none or it does not parse (`why_unreadable` then says which)."""
    if answer.reply is None:
        return None
    try:
        return answer.reply.message()
    except Malformed:
        return None


@dataclass
class _Served:
    """What one address of one provider's nameservers answered."""

    provider: str
    label: str
    answers: dict[tuple[str, str], Answer] = field(default_factory=dict)  # (kind, name/type) -> answer
    parsed: dict[tuple[str, str], dns.message.Message | None] = field(default_factory=dict)

    def message(self, key: tuple[str, str]) -> dns.message.Message | None:
        """The answer to one question parsed (once), None when there is no usable reply."""
        if key not in self.parsed:
            answer = self.answers.get(key)
            self.parsed[key] = message_of(answer) if answer is not None and answer.error is None else None
        return self.parsed[key]


class _ZoneCheck:
    """The DNSSEC judgement of one multi-signer zone, once every answer is in."""

    def __init__(self, zone: str, served: list[_Served], margin: float, now: float, stats: dict[str, float]):
        self.zone = zone
        self.origin = dns.name.from_text(zone)
        self.served = served
        self.margin = margin
        self.now = now
        self.stats = stats
        self.findings: list[Finding] = []
        self.problems: dict[tuple[str, str], _Problems] = {}  # (provider, code) -> problems
        self.providers = sorted({s.provider for s in served})
        self.keys = {p: self._served_keys(p) for p in self.providers}
        self.union = unique(k for keys in self.keys.values() for k in keys.keys)
        #: provider -> its DNSKEY RRset as a set of RDATA, asked once per signature
        self.published = {p: {k.to_digestable() for k in keys.keys} for p, keys in self.keys.items()}
        self.ring = KeyRing(self.union)  # every provider's keys: the matrix needs each signature's key
        self.result = ZoneDnssec(zone, self.providers)

    def _served_keys(self, provider: str) -> ServedKeys:
        """The provider's keys as `servedkeys` models them (own vs others'), from our answers."""
        keys = ServedKeys(provider, self.zone)
        for served in self.served:
            if served.provider != provider:
                continue
            found = NameserverKeys(served.label)
            dnskey, soa = served.message(("dnskey", "")), served.message(("soa", ""))
            if dnskey is None or soa is None:
                answer = served.answers.get(("dnskey", "")) or served.answers.get(("soa", ""))
                found.error = answer.detail if answer is not None else "not asked"
            else:
                rrset = _rrset(dnskey, self.origin, dns.rdatatype.DNSKEY)
                found.keys = [k for k in rrset or () if isinstance(k, DNSKEY)]
                found.ttl = rrset.ttl if rrset is not None else 0
                found.dnskey_signers = _signer_tags(dnskey, self.origin, dns.rdatatype.DNSKEY)
                found.soa_signers = _signer_tags(soa, self.origin, dns.rdatatype.SOA)
            keys.nameservers.append(found)
        return keys

    def _problem(self, provider: str, code: str, nameserver: str, what: str, about: str | None = None) -> None:
        """`what` is shown; `about` (default: `what`) is what is counted once, e.g. the RRset."""
        self.problems.setdefault((provider, code), _Problems()).add(nameserver, what, about or what)

    def run(self) -> tuple[list[Finding], ZoneDnssec]:
        for provider in self.providers:
            keys = self.keys[provider]
            self.result.keys[provider] = [describe(k) for k in keys.keys]
            if keys.error:
                continue  # unreachable: the main verify reports it
            if not keys.keys:
                self.findings.append(Finding(
                    Severity.ERROR, "dnssec.no-dnskey",
                    f"{provider} serves no DNSKEY RRset for {self.zone}, but policy.dnssec is multi-signer:"
                    " it does not sign the zone, so resolvers that ask it get unsigned answers and fail",
                    zone=self.zone, provider=provider))
                continue
            self._algorithms(provider, keys)
            self._nameservers_agree(provider, keys)
        for signer in self.providers:
            for holder in self.providers:
                self.result.matrix[(signer, holder)] = Cell()
        for served in self.served:
            if not self.published[served.provider]:
                continue
            for key, answer in served.answers.items():
                self._answer(served, key, answer)
        self._zsk_exchange()
        self._matrix_findings()
        self._gathered()
        self._cds()
        return self.findings, self.result

    # --- per provider ---------------------------------------------------------------------

    def _algorithms(self, provider: str, keys: ServedKeys) -> None:
        for key in keys.keys:
            problem = algorithm_problem(key.algorithm)
            if problem:
                severity, why = problem
                self.findings.append(Finding(
                    Severity(severity), "dnssec.algorithm",
                    f"{provider}'s {describe(key)} for {self.zone}: {why}", zone=self.zone,
                    provider=provider, extra={"key_tag": key_tag(key), "algorithm": int(key.algorithm)}))

    def _nameservers_agree(self, provider: str, keys: ServedKeys) -> None:
        sets = {ns.nameserver: sorted(describe(k) for k in ns.keys) for ns in keys.answered}
        if len({tuple(v) for v in sets.values()}) > 1:
            everywhere = set.intersection(*(set(v) for v in sets.values()))
            only = "; ".join(f"{ns}: {', '.join(k for k in v if k not in everywhere) or 'none of the others'}"
                             for ns, v in sorted(sets.items()))
            self.findings.append(Finding(
                Severity.ERROR, "dnssec.dnskey-differ",
                f"{provider}'s nameservers serve different DNSKEY sets for {self.zone} (keys not served by"
                f" all: {only}): a resolver that cached one nameserver's set fails to validate answers"
                " signed with a key only another serves", zone=self.zone, provider=provider, observed=sets))

    def _answer(self, served: _Served, key: tuple[str, str], answer: Answer) -> None:
        message = served.message(key)
        if message is None:
            return  # the main verify reports unreachable and failing servers
        kind, _ = key
        sections = [message.answer]
        if kind in ("nx", "nodata"):
            sections.append(message.authority)
            self._denial(served, kind, answer, message)
        for signed in signed_rrsets(sections):
            if signed.rrset.rdtype == dns.rdatatype.NS and signed.rrset.name != self.origin:
                continue  # a referral's NS is the child's, never signed here
            self._judge(served, signed)

    def _judge(self, served: _Served, signed: Signed) -> None:
        """One RRset: valid with the provider's own keys? with each other provider's?"""
        provider, label = served.provider, served.label
        if not signed.rrsigs:
            self._problem(provider, "dnssec.unsigned-rrset", label, signed.label)
            return
        own = self.published[provider]
        good: list[tuple[DNSKEY, int]] = []  # verifying key, expiration
        why: list[tuple[str, str]] = []
        for rrsig in signed.rrsigs:
            self.stats["signatures"] += 1
            key, reason = verifying_key(signed, rrsig, self.ring)
            if key is None:
                code = "dnssec.signer-missing" if reason.startswith("no DNSKEY") else "dnssec.bogus"
                why.append((code, f"{signed.label} (key {rrsig.key_tag}: {reason})"))
                continue
            self.stats["validated"] += 1
            when = timing(rrsig, self.now, 0)
            if when:
                why.append((f"dnssec.{when}", f"{signed.label} (key {rrsig.key_tag}, RRSIG"
                                              f" {_date(rrsig.inception)} to {_date(rrsig.expiration)})"))
                continue
            good.append((key, rrsig.expiration))
        if not any(k.to_digestable() in own for k, _ in good):
            missing = [k for k, _ in good]
            if missing:  # verifies, but with a key the provider does not publish itself
                self._problem(provider, "dnssec.signer-missing", label,
                              f"{signed.label} (signed by {describe(missing[0])}, not in its own DNSKEY set)",
                              signed.label)
            for code, what in why:
                self._problem(provider, code, label, what, signed.label)
        elif max(e for k, e in good if k.to_digestable() in own) < self.now + self.margin:
            self._problem(provider, "dnssec.expiring", label,
                          f"{signed.label} (valid until {_date(max(e for _, e in good))})", signed.label)
        if signed.rrset.rdtype == dns.rdatatype.DNSKEY:
            return  # each provider's DNSKEY set is validated through the DS, not through others' keys
        verified = {k.to_digestable() for k, _ in good}
        for holder in self.providers:
            cell = self.result.matrix[(provider, holder)]
            cell.total += 1
            if verified & self.published[holder]:
                cell.valid += 1

    def _denial(self, served: _Served, kind: str, answer: Answer, message: dns.message.Message) -> None:
        qname = answer.question.name
        if kind == "nx" and answer.rcode != dns.rcode.NXDOMAIN:
            return  # a wildcard answered: there is no NXDOMAIN to prove
        if kind == "nodata" and (answer.rcode != dns.rcode.NOERROR or message.answer):
            return
        problem = denial_problem(qname, answer.question.rdtype, self.origin, kind == "nx", message.authority)
        if problem:
            what = "NXDOMAIN" if kind == "nx" else f"NODATA ({dns.rdatatype.to_text(answer.question.rdtype)})"
            self._problem(served.provider, "dnssec.denial", served.label, f"{what} for {qname}: {problem}")

    # --- across providers -----------------------------------------------------------------

    def _zsk_exchange(self) -> None:
        """RFC 8901 model 2: every provider's zone-signing keys in every provider's DNSKEY set."""
        for signer in self.providers:
            for key in self.keys[signer].zone_signing:
                for holder in self.providers:
                    if holder == signer or not self.keys[holder].keys or key in self.keys[holder].keys:
                        continue
                    self.findings.append(Finding(
                        Severity.ERROR, "dnssec.zsk-missing",
                        f"{holder}'s DNSKEY RRset for {self.zone} lacks {signer}'s {describe(key)}:"
                        f" resolvers holding {holder}'s DNSKEY set will fail to validate {signer}'s"
                        " answers (SERVFAIL)", zone=self.zone, provider=holder,
                        expected=describe(key), observed=[describe(k) for k in self.keys[holder].keys],
                        extra={"key_tag": key_tag(key), "algorithm": int(key.algorithm), "owner": signer}))

    def _matrix_findings(self) -> None:
        for (signer, holder), cell in sorted(self.result.matrix.items()):
            if signer == holder or not cell.total or cell.valid == cell.total:
                continue
            self.findings.append(Finding(
                Severity.ERROR, "dnssec.cross-invalid",
                f"{cell.total - cell.valid} of {cell.total} RRsets {signer} serves for {self.zone} do not"
                f" validate with {holder}'s DNSKEY set: a resolver that cached {holder}'s keys gets"
                f" SERVFAIL when it asks {signer}", zone=self.zone, provider=signer,
                extra={"key_set": holder, "valid": cell.valid, "total": cell.total}))

    def _gathered(self) -> None:
        for (provider, code), found in sorted(self.problems.items()):
            severity = Severity.WARNING if code == "dnssec.expiring" else Severity.ERROR
            examples = "; ".join(found.what[:EXAMPLES]) + (" ..." if len(found.what) > EXAMPLES else "")
            self.findings.append(Finding(
                severity, code, f"{provider}, {self.zone}: {found.count} {_MEANING[code]}: {examples}",
                zone=self.zone, provider=provider, nameserver=", ".join(sorted(found.where)),
                observed=found.what))

    def _ksks(self) -> dict[str, list[DNSKEY]]:
        """provider -> the KSKs it signs its DNSKEY set with: what `dnssync ds` covers."""
        signing: dict[str, list[DNSKEY]] = {}
        for provider, key in ds_set(self.keys, self.zone).ksks:
            signing.setdefault(provider, []).append(key)
        return signing

    def parent(self, ds: list[DS]) -> None:
        """The parent's DS set against every provider's KSKs."""
        self.result.ds = [d.to_text() for d in ds]
        needed = ds_set(self.keys, self.zone)  # what `dnssync ds` prints
        signing = self._ksks()
        if not ds:
            self.findings.append(Finding(
                Severity.WARNING, "dnssec.ds-none",
                f"the parent holds no DS for {self.zone}: resolvers treat the zone as unsigned (`dnssync ds"
                f" {self.zone.rstrip('.')}` prints the DS set to give the registrar)", zone=self.zone,
                expected=[d.to_text() for _, d in needed.ds]))
            return
        for provider, ksks in signing.items():
            if not any(ds_matches(d, self.zone, k) for d in ds for k in ksks):
                self.findings.append(Finding(
                    Severity.ERROR, "dnssec.ds-missing",
                    f"the parent's DS set for {self.zone} matches no KSK {provider} signs its DNSKEY set with"
                    f" ({', '.join(describe(k) for k in ksks)}): resolvers that fetch the DNSKEY set from"
                    f" {provider} cannot validate it (SERVFAIL); `dnssync ds {self.zone.rstrip('.')}` prints"
                    " the DS set the parent needs", zone=self.zone, provider=provider,
                    expected=[d.to_text() for p, d in needed.ds if p == provider], observed=self.result.ds))
        for d in ds:
            if not any(ds_matches(d, self.zone, k) for _, k in needed.ksks):
                self.findings.append(Finding(
                    Severity.WARNING, "dnssec.ds-stale",
                    f"the parent's DS {d.to_text()} for {self.zone} matches no KSK any provider signs with",
                    zone=self.zone, observed=d.to_text()))

    def _cds(self) -> None:
        """CDS/CDNSKEY, where published, agree between providers and cover every provider's KSK.
        Independent of the parent: before the first DS they are what a parent bootstraps from
        (RFC 8078), and they are judged when the parent is unchecked or does not answer too."""
        cds: dict[str, list[dns.rrset.RRset]] = {}
        for answered in self.served:
            for key in (("cds", "CDS"), ("cds", "CDNSKEY")):
                message = answered.message(key)
                cds.setdefault(answered.provider, []).extend(message.answer if message else ())
        signing = self._ksks()
        ksks = [k for keys in signing.values() for k in keys]
        for rdtype in (dns.rdatatype.CDS, dns.rdatatype.CDNSKEY):
            name = dns.rdatatype.to_text(rdtype)
            published = {p: sorted(r.to_text() for rrset in sets if rrset.rdtype == rdtype for r in rrset)
                         for p, sets in cds.items()}
            published = {p: v for p, v in published.items() if v}
            if len({tuple(v) for v in published.values()}) > 1:
                self.findings.append(Finding(
                    Severity.ERROR, "dnssec.cds",
                    f"providers publish different {name} sets for {self.zone}: a parent that follows"
                    f" {name} (RFC 7344, RFC 8078) would take whichever it asked", zone=self.zone,
                    observed=published))
            for provider, texts in published.items():
                rdatas = [r for rrset in cds[provider] if rrset.rdtype == rdtype for r in rrset]
                for key in ksks:
                    covered = any(_points_at(r, self.zone, key) for r in rdatas)
                    if not covered:
                        owner = next(p for p, keys in signing.items() if key in keys)
                        self.findings.append(Finding(
                            Severity.ERROR, "dnssec.cds",
                            f"{provider}'s {name} set for {self.zone} lacks {owner}'s {describe(key)}: a parent"
                            f" that follows it would drop the DS resolvers need to validate {owner}",
                            zone=self.zone, provider=provider, observed=texts))


_MEANING = {
    "dnssec.unsigned-rrset": "RRset(s) served without an RRSIG",
    "dnssec.bogus": "RRset(s) whose signature does not validate",
    "dnssec.signer-missing": "RRset(s) signed with a key missing from its own DNSKEY RRset",
    "dnssec.expired": "RRset(s) whose only signatures have expired",
    "dnssec.not-yet-valid": "RRset(s) whose only signatures are not valid yet",
    "dnssec.expiring": "RRset(s) whose signatures expire within policy.dnssec.expiry_margin",
    "dnssec.denial": "negative answer(s) without a valid NSEC/NSEC3 proof",
}


def _points_at(record: dns.rdata.Rdata, zone: str, key: DNSKEY) -> bool:
    """Whether a CDS (as the DS it asks for) or a CDNSKEY names `key`."""
    if record.rdtype == dns.rdatatype.CDNSKEY:
        return record.to_digestable() == key.to_digestable()
    ds = DS(dns.rdataclass.IN, dns.rdatatype.DS, record.key_tag, record.algorithm,  # type: ignore[attr-defined]
            record.digest_type, record.digest)  # type: ignore[attr-defined]
    return ds_matches(ds, zone, key)


def _date(timestamp: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(timestamp))


def _rrset(message: dns.message.Message, name: dns.name.Name, rdtype: int) -> dns.rrset.RRset | None:
    return next((r for r in message.answer if r.name == name and r.rdtype == rdtype), None)


def _signer_tags(message: dns.message.Message, name: dns.name.Name, covered: int) -> set[int]:
    return {sig.key_tag for r in message.answer if r.name == name and r.rdtype == dns.rdatatype.RRSIG
            for sig in r if sig.type_covered == covered}


def _questions(zone: str, asked: list[tuple[str, int]]) -> list[Question]:
    """What every address is asked: keys, SOA, CDS/CDNSKEY, every RRset git has, a NXDOMAIN
    and a NODATA."""
    apex_types = {t for name, t in asked if name == zone}
    nodata = next(t for t in NODATA_TYPES if dns.rdatatype.from_text(t) not in apex_types)
    questions = [Question.of(zone, "DNSKEY", ("dnskey", "")), Question.of(zone, "SOA", ("soa", "")),
                 Question.of(zone, "CDS", ("cds", "CDS")), Question.of(zone, "CDNSKEY", ("cds", "CDNSKEY")),
                 Question.of(f"{NX_LABEL}.{zone}", "A", ("nx", "")),
                 Question.of(zone, nodata, ("nodata", ""))]
    questions += [Question.of(name, rdtype, ("data", f"{name} {rdtype}")) for name, rdtype in asked
                  if not (name == zone and rdtype == dns.rdatatype.SOA)]
    return questions


async def _ask(engine: Engine, provider: str, endpoint: Endpoint, questions: list[Question]) -> _Served:
    served = _Served(provider, endpoint.label)

    def got(answer: Answer) -> None:
        served.answers[answer.question.tag] = answer

    await engine.ask_many(endpoint, questions, got)
    return served


async def _parent_ds(engine: Engine, config: Config, zone: str, managed: Collection[str]
                     ) -> tuple[list[DS], str | None]:
    """The DS set the parent's first answering nameserver serves for `zone`."""
    parents, problem = await parent_servers(engine, config, zone, managed)
    for parent in parents:
        answer = await engine.ask(parent, zone, "DS")
        message = message_of(answer)
        if answer.error or message is None:
            problem = f"{parent.label}: {answer.detail or 'no answer'}"
            continue
        rrset = _rrset(message, dns.name.from_text(zone), dns.rdatatype.DS)
        return [d for d in rrset or () if isinstance(d, DS)], None
    return [], problem or "no parent nameserver"


async def _unsigned(engine: Engine, zone: str, endpoints: dict[str, list[Endpoint]]) -> list[Finding]:
    """policy.dnssec unsigned: a provider serving DNSKEYs or RRSIGs on its own is a finding."""
    findings = []
    for provider, addresses in sorted(endpoints.items()):
        signing: dict[str, list[str]] = {}
        for endpoint in addresses:
            answer = await engine.ask(endpoint, zone, "DNSKEY")
            reply = answer.reply if answer.error is None else None
            # the whole message is parsed only when the answer holds a DNSKEY to describe
            held = reply is not None and any(rr.rdtype == dns.rdatatype.DNSKEY for rr in reply.answer)
            message = message_of(answer) if held else None
            keys = [k for r in (message.answer if message else ()) if r.rdtype == dns.rdatatype.DNSKEY for k in r]
            if keys:
                signing[endpoint.label] = [describe(k) for k in keys]
        if signing:
            findings.append(Finding(
                Severity.ERROR, "dnssec.unexpected",
                f"{provider} serves DNSSEC records for {zone} ({', '.join(next(iter(signing.values())))}) but"
                " policy.dnssec is unsigned for it: other providers serve it unsigned, so a DS at the parent"
                " would break them; turn signing off there, or set policy.dnssec to multi-signer",
                zone=zone, provider=provider, nameserver=", ".join(sorted(signing)), observed=signing))
    return findings


async def _zone(engine: Engine, repo: Repository, zone: str, providers: list[str], managed: Collection[str],
                stats: dict[str, float], down: Collection[str]) -> tuple[list[Finding], ZoneDnssec | None]:
    config = repo.config
    rows = await resolve_all({p: config.providers[p].nameservers_for(zone) for p in providers})
    endpoints: dict[str, list[Endpoint]] = {p: [] for p in providers}
    for row in rows:
        # one without an address, or found down by the main verify: that verify says so
        endpoints[row.provider] += [e for e in row.endpoints if e.label not in down]
    if config.policy.dnssec_for(zone) != "multi-signer":
        return await _unsigned(engine, zone, endpoints), None
    built = repo.providers()
    plans = expectations(repo.desired[zone], {p: built[p] for p in providers})
    asked = sorted({(e.qname.to_text(), e.rdtype) for plan in plans for e in plan.items if e.kind == "data"})
    questions = _questions(zone, asked)
    served = await asyncio.gather(*(_ask(engine, p, e, questions) for p in providers for e in endpoints[p]))
    check = _ZoneCheck(zone, list(served), config.policy.dnssec_expiry_margin, time.time(), stats)
    findings, result = check.run()
    ds, problem = await _parent_ds(engine, config, zone, managed) if config.parent.check else ([], "unchecked")
    if problem is None:
        check.parent(ds)
    return findings, result


async def check_dnssec(repo: Repository, serves: dict[str, list[str]], timeout: float,
                       resends: int | None = None, window: int = 64, down: Collection[str] = ()
                       ) -> DnssecResult:
    """DNSSEC findings for every zone (see the module's docstring), zones concurrently;
    nameservers in `down` (labels the main verify found silent) are not asked again."""
    started = time.perf_counter()
    stats: dict[str, float] = {"signatures": 0, "validated": 0}
    managed = repo.managed
    async with Engine(timeout, resends, window, dnssec=True) as engine:
        done = await asyncio.gather(*(_zone(engine, repo, zone, providers, managed, stats, down)
                                      for zone, providers in sorted(serves.items())))
        stats["queries"] = engine.stats["queries"]
    stats["seconds"] = time.perf_counter() - started
    return DnssecResult([f for found, _ in done for f in found], [z for _, z in done if z is not None], stats)
