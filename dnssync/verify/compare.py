"""Judging what a nameserver answered against what git says, and gathering the
verdicts of every provider into findings that say who agrees with git.

RRsets compare as sets of canonical RDATA (RFC 2181 5, RFC 4034 6.2): order and
the case of names never matter. TXT strings that join to the same text but are
split differently are the same data to every consumer, so that is a warning,
not a mismatch (its TTL is still checked). RDATA that does not parse is a
`verify.malformed` finding, never an exception. Verdicts are kept only for what
went wrong, so a clean 100,000-record zone costs no memory here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import dns.name
import dns.rcode
import dns.rdatatype

from dnssync.model.findings import Finding, Severity
from dnssync.query import wire
from dnssync.query.answer import FAILURES, Answer
from dnssync.query.wire import RR, Malformed, Reply
from dnssync.verify.expect import Expected

#: the finding codes of the engine's failure kinds (its table, `FAILURES`, is the one source)
FAILURE_CODES = frozenset(failure.code for failure in FAILURES.values())
_TXT_TYPES = (dns.rdatatype.TXT, dns.rdatatype.SPF)
_NXDOMAIN = dns.rcode.NXDOMAIN


@dataclass(slots=True)
class Observed:
    """An RRset as a server has it: TTLs (one, unless the server is broken) and
    canonical RDATA. Canonical RDATA is uncompressed wire, so it parses back."""

    rdtype: int
    ttls: set[int]
    keys: set[bytes]

    def values(self) -> dict[str, Any]:
        """TTL and values in presentation format; RDATA that does not parse is shown in
        the generic form of RFC 3597 (`\\# length hex`), so showing never fails."""
        ttl: Any = next(iter(self.ttls)) if len(self.ttls) == 1 else sorted(self.ttls)
        return {"ttl": ttl, "values": sorted(_rdata_text(self.rdtype, key) for key in self.keys)}

    def malformed(self) -> str | None:
        """Why some RDATA does not parse (None: all of it does)."""
        for key in self.keys:
            try:
                wire.rdata_from_wire(self.rdtype, key)
            except Malformed as e:
                return str(e)
        return None

    @classmethod
    def from_reply(cls, reply: Reply, records: list[RR]) -> Observed:
        return cls(records[0].rdtype, {rr.ttl for rr in records},
                   {reply.rdata_key(rr) for rr in records})


@dataclass(slots=True)
class Issue:
    """One way a nameserver's answer differs from git, about one expected RRset."""

    expected: Expected
    code: str
    severity: Severity
    observed: Any
    detail: str


def _rdata_text(rdtype: int, key: bytes) -> str:
    try:
        return wire.rdata_from_wire(rdtype, key).to_text()
    except Malformed:
        return f"\\# {len(key)} {key.hex()}".rstrip()


def compare_rrset(exp: Expected, observed: Observed | None, code: str = "verify.values"
                  ) -> list[Issue]:
    """Values as a set, and the TTL: every difference, each its own issue (a re-split
    TXT must not hide a wrong TTL). `code` names a values mismatch (glue has its own)."""
    if observed is None:
        return [Issue(exp, "verify.nodata" if code == "verify.values" else code, Severity.ERROR,
                      None, f"no {exp.type} RRset at {exp.fqdn}")]
    issues = []
    if observed.keys != exp.keys:
        broken = observed.malformed()
        if broken:
            return [Issue(exp, "verify.malformed", Severity.ERROR, observed.values(),
                          f"malformed reply: {broken}")]
        if exp.rdtype in _TXT_TYPES and {wire.txt_joined(k) for k in observed.keys} == {
                wire.txt_joined(k) for k in exp.keys}:
            issues.append(Issue(exp, "verify.txt-split", Severity.WARNING, observed.values(),
                                "the same text, split into different strings"))
        else:
            return [Issue(exp, code, Severity.ERROR, observed.values(), "different values")]
    if observed.ttls != {exp.ttl}:
        issues.append(Issue(exp, "verify.ttl", Severity.ERROR, observed.values(),
                            f"TTL {observed.values()['ttl']} where git says {exp.ttl}"))
    return issues


def _select(records: list[RR], owner: bytes, rdtype: int) -> list[RR]:
    return [rr for rr in records if rr.rdtype == rdtype and rr.owner == owner]


def judge(exp: Expected, answer: Answer) -> list[Issue]:
    """Everything wrong with one answer to one expected RRset (empty: it matches)."""
    if answer.error:
        return [Issue(exp, FAILURES[answer.error].code, Severity.ERROR, None, answer.detail)]
    if answer.exact:
        return []  # byte for byte the reply git's RRset makes (Expected.reply)
    reply = answer.reply
    assert reply is not None
    try:
        return _judge(exp, reply)
    except Malformed as e:  # RDATA a server got wrong is its finding, never a crash
        return [Issue(exp, "verify.malformed", Severity.ERROR, None, f"malformed reply: {e}")]


def _judge(exp: Expected, reply: Reply) -> list[Issue]:
    if exp.kind == "referral":
        return _judge_referral(exp, reply)
    if reply.referral:
        cut = next(rr.owner for rr in reply.authority if rr.rdtype == wire.NS)
        return [Issue(exp, "verify.referral", Severity.ERROR, f"referral to {_name_text(cut)}",
                      "a referral (a delegation git does not have) where git has data")]
    if reply.rcode == _NXDOMAIN:
        return [Issue(exp, "verify.nxdomain", Severity.ERROR, "NXDOMAIN",
                      f"NXDOMAIN: the server says {exp.fqdn} does not exist")]
    records = _select(reply.answer, exp.owner, exp.rdtype)
    if len(records) == 1 and records[0].ttl == exp.ttl and len(exp.keys) == 1 \
            and reply.rdata_key(records[0]) in exp.keys:
        return []  # one record, git's value and TTL: the usual answer, judged without an Observed
    if not records:
        cname = _select(reply.answer, exp.owner, dns.rdatatype.CNAME)
        if cname and exp.rdtype != dns.rdatatype.CNAME:
            observed = Observed.from_reply(reply, cname).values()
            return [Issue(exp, "verify.values", Severity.ERROR, {"CNAME": observed["values"]},
                          "a CNAME where git has other data")]
    return compare_rrset(exp, Observed.from_reply(reply, records) if records else None)


def _judge_referral(exp: Expected, reply: Reply) -> list[Issue]:
    """A delegation: the NS RRset in the authority section (AA=0) and the glue in the
    additional section. A server that also hosts the child answers the NS with AA=1;
    that answer is compared too, but it carries no glue to check."""
    if reply.flags & wire.AA:
        records = _select(reply.answer, exp.owner, exp.rdtype)
        if not records:
            status = "NXDOMAIN" if reply.rcode == dns.rcode.NXDOMAIN else "no NS RRset"
            return [Issue(exp, "verify.referral", Severity.ERROR, status,
                          f"an authoritative answer ({status}) where git delegates {exp.fqdn}")]
        return compare_rrset(exp, Observed.from_reply(reply, records))
    records = _select(reply.authority, exp.owner, exp.rdtype)
    if not records:
        owners = sorted({_name_text(rr.owner) for rr in reply.authority if rr.rdtype == wire.NS})
        return [Issue(exp, "verify.referral", Severity.ERROR,
                      f"referral to {', '.join(owners)}" if owners else "no referral",
                      f"no referral for {exp.fqdn}")]
    issues = compare_rrset(exp, Observed.from_reply(reply, records))
    for glue in exp.glue or ():
        found = _select(reply.additional, glue.owner, glue.rdtype)
        issues += compare_rrset(glue, Observed.from_reply(reply, found) if found else None,
                                "verify.glue")
    return issues


def _name_text(owner: bytes) -> str:
    return dns.name.from_wire(owner, 0)[0].to_text()


@dataclass
class Verdicts:
    """Every issue of one zone, by record and provider, plus each endpoint's tally,
    turned into findings once every answer is in."""

    zone: str  # as octoDNS names it (IDNA, ASCII: xn--...), as every finding carries it
    providers: list[str]
    #: (name, type) -> provider -> [(nameserver, issue)]
    issues: dict[tuple[str, str], dict[str, list[tuple[str, Issue]]]] = field(default_factory=dict)
    asked: Counter = field(default_factory=Counter)  # nameserver -> questions
    failed: dict[str, Counter] = field(default_factory=dict)  # nameserver -> error code -> n
    provider_of: dict[str, str] = field(default_factory=dict)  # nameserver -> provider

    def add(self, provider: str, nameserver: str, issues: Iterable[Issue], asked: int = 1) -> None:
        self.provider_of[nameserver] = provider
        self.asked[nameserver] += asked
        for issue in issues:
            key = (issue.expected.name, issue.expected.type)
            self.issues.setdefault(key, {}).setdefault(provider, []).append((nameserver, issue))
            if issue.code in FAILURE_CODES:
                self.failed.setdefault(nameserver, Counter())[issue.code] += 1

    def count_failure(self, provider: str, nameserver: str, code: str) -> None:
        """A zone-level question (SOA, NS, TCP) that got no usable answer."""
        self.provider_of[nameserver] = provider
        self.asked[nameserver] += 1
        self.failed.setdefault(nameserver, Counter())[code] += 1

    def count(self, provider: str, nameserver: str) -> None:
        self.provider_of[nameserver] = provider
        self.asked[nameserver] += 1

    def down(self) -> dict[str, str]:
        """Nameservers that answered nothing usable: nameserver -> the most common failure.
        (Every question failed; a mix of kinds, e.g. UDP timeouts and a refused TCP
        connection, is still one dead nameserver.)"""
        result = {}
        for nameserver, codes in self.failed.items():
            if sum(codes.values()) == self.asked[nameserver]:
                result[nameserver] = codes.most_common(1)[0][0]
        return result

    def findings(self, serves: Callable[[str, str, str], bool],
                 details: dict[str, str] | None = None) -> list[Finding]:
        """`serves(provider, name, type)`: whether git expects the provider to serve it
        (a provider that cannot hold a record neither agrees nor differs)."""
        down = self.down()
        findings = [Finding(Severity.ERROR, code,
                            f"{nameserver} answered none of {self.asked[nameserver]} question(s):"
                            f" {(details or {}).get(nameserver, code.split('.', 1)[1])}",
                            zone=self.zone, provider=self.provider_of[nameserver],
                            nameserver=nameserver, extra={"questions": self.asked[nameserver]})
                    for nameserver, code in sorted(down.items())]
        down_providers = {self.provider_of[ns] for ns in down}
        for (name, rtype), by_provider in sorted(self.issues.items()):
            serving = [p for p in self.providers if serves(p, name, rtype)]
            differ = sorted(set(by_provider) | (down_providers & set(serving)))
            agree = sorted(set(serving) - set(differ))
            for provider, items in sorted(by_provider.items()):
                for nameserver, issue in items:
                    if nameserver in down:
                        continue
                    findings.append(self._finding(provider, nameserver, issue, agree, differ))
        return findings

    def _finding(self, provider: str, nameserver: str, issue: Issue, agree: list[str],
                 differ: list[str]) -> Finding:
        exp = issue.expected
        what = f"{exp.fqdn} {exp.type}"
        if exp.kind == "glue":
            what = f"glue {what}"
        parties = f"agree with git: {', '.join(agree) or 'none'}; differ: {', '.join(differ)}"
        return Finding(
            issue.severity, issue.code, f"{what}: {issue.detail} ({parties})",
            zone=self.zone, name=exp.name, type=exp.type, provider=provider,
            nameserver=nameserver, expected=exp.values, observed=issue.observed,
            extra={"agree": agree, "differ": differ, "kind": exp.kind},
        )
