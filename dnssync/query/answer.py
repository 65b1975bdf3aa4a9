"""One question to one nameserver address and what came of it: the endpoint asked,
the question, the answer (a reply, or a failure named by kind), and the one table of
DNS failure kinds (`FAILURES`: meaning, RCODE, finding code) every stage reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import dns.exception
import dns.name
import dns.rcode
import dns.rdatatype

from dnssync.model.address import format_address
from dnssync.query import wire
from dnssync.query.wire import Reply


class Failure(NamedTuple):
    """One kind of `Answer.error`: what it means, the RCODE that is it (None: not an
    RCODE), and the finding code every stage reports it as."""

    meaning: str
    code: str
    rcode: int | None = None


#: every `Answer.error` kind: the one table (the engine classifies RCODEs by it, verify and
#: watch report its codes, and a test checks every code is in the findings registry)
FAILURES: dict[str, Failure] = {
    "timeout": Failure("no reply within the timeout, after every re-send", "verify.timeout"),
    "unreachable": Failure("nothing listens there (ICMP port unreachable, or TCP connection refused)",
                           "verify.unreachable"),
    "network": Failure("the network failed (no route, connection reset or closed early)", "verify.network"),
    "id-mismatch": Failure("only replies with the wrong message ID came back", "verify.id-mismatch"),
    "wrong-question": Failure("a reply with the query's message ID answered another question",
                              "verify.wrong-question"),
    "malformed": Failure("the reply does not parse as a DNS message", "verify.malformed"),
    "truncated": Failure("the UDP reply was truncated (TC) and asking over TCP failed", "verify.truncated"),
    "refused": Failure("the server answered REFUSED (not configured for the zone, or an ACL)",
                       "verify.refused", dns.rcode.REFUSED),
    "servfail": Failure("the server answered SERVFAIL (it failed to load or serve the zone)",
                        "verify.servfail", dns.rcode.SERVFAIL),
    "notauth": Failure("the server answered NOTAUTH (not authoritative for the zone)", "verify.rcode",
                       dns.rcode.NOTAUTH),
    "formerr": Failure("the server answered FORMERR (it could not parse the query)", "verify.rcode",
                       dns.rcode.FORMERR),
    "notimp": Failure("the server answered NOTIMP (it does not implement the query)", "verify.rcode",
                      dns.rcode.NOTIMP),
    "rcode": Failure("the server answered another error RCODE", "verify.rcode"),
    "non-authoritative": Failure("the reply has AA=0 and is not a referral (a lame server)",
                                 "verify.non-authoritative"),
}


_RCODE_FAILURES = {failure.rcode: kind for kind, failure in FAILURES.items() if failure.rcode is not None}


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One address (IPv4 or IPv6 literal) and port of a nameserver."""

    address: str
    port: int = 53
    name: str | None = None  # the NS-record name, for labels

    @property
    def label(self) -> str:
        where = self.address
        if self.port != 53 or ":" in self.address:  # a bare IPv6 address keeps its port, to read as one
            where = format_address(self.address, self.port)
        return f"{self.name.rstrip('.')} ({where})" if self.name else where


class Question(NamedTuple):
    name: dns.name.Name | None  # None when `wire` is given
    rdtype: int
    tag: Any = None  # the caller's, returned on the Answer
    wire: bytes | None = None  # name.to_wire().lower(), when the caller has it already
    #: the question and answer record of the reply the caller expects (wire.expected_reply,
    #: `wire` then required): such a reply is not parsed, and its Answer says `exact`
    expected: bytes | None = None

    @classmethod
    def of(cls, name: dns.name.Name | str, rdtype: int | str, tag: Any = None) -> Question:
        if isinstance(name, str):
            name = dns.name.from_text(name)
        if isinstance(rdtype, str):
            rdtype = dns.rdatatype.from_text(rdtype)
        return cls(name, int(rdtype), tag)


@dataclass(slots=True)
class Answer:
    """What one question got from one endpoint: a reply, or why there is none."""

    question: Question
    endpoint: Endpoint
    error: str | None
    detail: str = ""
    reply: Reply | None = None
    transport: str = "udp"
    elapsed: float = 0.0
    attempts: int = 0
    #: the reply was the question's `expected` one, byte for byte (then `reply` is None:
    #: it was not parsed)
    exact: bool = False

    @property
    def rcode(self) -> int | None:
        if self.reply:
            return self.reply.rcode
        return dns.rcode.NOERROR if self.exact else None

    @property
    def flags(self) -> int:
        if self.reply:
            return self.reply.flags
        return wire.QR | wire.AA if self.exact else 0

    @property
    def aa(self) -> bool:
        return bool(self.flags & wire.AA)

    @property
    def tc(self) -> bool:
        return bool(self.flags & wire.TC)

    @property
    def nxdomain(self) -> bool:
        return self.rcode == dns.rcode.NXDOMAIN

    @property
    def referral(self) -> bool:
        """A delegation (see `wire.Reply.referral`)."""
        return bool(self.reply and self.reply.referral)


@dataclass(frozen=True, slots=True)
class SoaRecord:
    """A zone's SOA as one nameserver answered it: its numbers read off the wire, its
    names (`rdata`) parsed by dnspython only for a caller that shows them."""

    ttl: int
    serial: int
    minimum: int
    reply: Reply
    rr: wire.RR

    @property
    def rdata(self) -> Any:  # dns.rdtypes.ANY.SOA.SOA
        return self.reply.rdata(self.rr)

    @property
    def negative_ttl(self) -> int:
        """How long resolvers cache "no such name" from this server: min(MINIMUM, SOA TTL)
        (RFC 2308 5)."""
        return min(self.minimum, self.ttl)


def soa_of(answer: Answer) -> SoaRecord | None:
    """The SOA at the question's name in the answer section (None: there is none, e.g.
    NODATA or a referral); raises wire.Malformed when its RDATA does not parse."""
    reply = answer.reply
    if reply is None:
        return None
    for rr in reply.answer:
        if rr.rdtype == dns.rdatatype.SOA and rr.owner == reply.qname:
            return SoaRecord(rr.ttl, *reply.soa_numbers(rr), reply, rr)
    return None


def question_text(reply: Reply) -> str:
    """The question a reply answered, as `name TYPE` (or why it cannot be shown)."""
    if reply.qname is None or reply.qtype is None:
        return "no question"
    try:
        name = dns.name.from_wire(reply.qname, 0)[0].to_text()
    except dns.exception.DNSException:
        name = "(unreadable name)"
    return f"{name} {dns.rdatatype.to_text(reply.qtype)}"


def classify(reply: Reply, recursion: bool) -> tuple[str | None, str]:
    """The error kind of a parsed reply (None: usable), with a detail line."""
    kind = _RCODE_FAILURES.get(reply.rcode)
    if kind is None and reply.rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        kind = "rcode"
    if kind:
        return kind, f"the server answered {dns.rcode.to_text(reply.rcode)}"
    if not recursion and not reply.flags & wire.AA and not reply.referral:
        return "non-authoritative", "the reply is not authoritative (AA=0)"
    return None, ""
