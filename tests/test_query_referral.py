"""query/referral.py: a referral read off the wire gives what dnspython's parse of the
whole reply gives (the cut, the NS names, their glue), for referrals and authoritative
NS answers with compressed, escaped, mixed-case names, their truncations and thousands
of corruptions; and Malformed, never another error, where it cannot read them."""

from __future__ import annotations

import contextlib

import dns.message
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest

from dnssync.query import wire
from dnssync.query.referral import referral_of
from tests.wirecases import damaged


def dnspythons(message: dns.message.Message) -> tuple[dns.name.Name | None, set[str], dict[str, set[str]]]:
    """The reading the wire one replaced, on dnspython's parse of the whole reply (the oracle)."""
    cut, names = None, set()
    for rrset in (*message.answer, *message.authority):
        if rrset.rdtype == dns.rdatatype.NS:
            cut = rrset.name
            names = {rdata.target.to_text().lower() for rdata in rrset}
            break
    glue: dict[str, set[str]] = {}
    for rrset in message.additional:
        owner = rrset.name.to_text().lower()
        if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA) and rrset.rdclass == dns.rdataclass.IN \
                and owner in names:  # (the old reading took any class: another class's A crashed it)
            glue.setdefault(owner, set()).update(rdata.address for rdata in rrset)
    return cut, names, glue


def referral(authoritative: bool) -> bytes:
    query = dns.message.make_query("www.Child.Example.com.", "A")
    response = dns.message.make_response(query)
    section = response.answer if authoritative else response.authority
    section.append(dns.rrset.from_text("child.EXAMPLE.com.", 300, "IN", "NS", "NS1.child.example.com.",
                                       "odd\\.label.example.NET.", "ns\\032x.child.example.com.",
                                       "ns2.Elsewhere.example."))
    if authoritative:  # an NS RRset elsewhere in a later section is not the cut
        response.authority.append(dns.rrset.from_text("example.com.", 300, "IN", "NS", "ns9.example.com."))
    response.additional.append(dns.rrset.from_text("ns1.CHILD.example.com.", 300, "IN", "A",
                                                   "192.0.2.1", "192.0.2.2"))
    response.additional.append(dns.rrset.from_text("ns1.child.example.com.", 300, "IN", "AAAA",
                                                   "2001:db8::1", "::ffff:192.0.2.9"))
    response.additional.append(dns.rrset.from_text("ns\\032x.child.example.com.", 300, "IN", "A", "198.51.100.7"))
    response.additional.append(dns.rrset.from_text("stranger.example.com.", 300, "IN", "A", "203.0.113.1"))
    response.additional.append(dns.rrset.from_text("ns1.child.example.com.", 300, "IN", "TXT", "not glue"))
    return response.to_wire()


@pytest.mark.parametrize("authoritative", [False, True], ids=["referral", "authoritative-ns"])
def test_a_referral_read_off_the_wire_is_dnspythons(authoritative: bool):
    data = referral(authoritative)
    whole = referral_of(wire.parse_reply(data))
    assert whole == dnspythons(dns.message.from_wire(data))
    cut, names, glue = whole
    assert cut == dns.name.from_text("child.example.com.")
    assert names == {"ns1.child.example.com.", "odd\\.label.example.net.", "ns\\032x.child.example.com.",
                     "ns2.elsewhere.example."}
    assert glue == {"ns1.child.example.com.": {"192.0.2.1", "192.0.2.2", "2001:db8::1", "::ffff:192.0.2.9"},
                    "ns\\032x.child.example.com.": {"198.51.100.7"}}

    compared = 0
    for case in damaged(data, 17):
        try:
            reply = wire.parse_reply(case)
        except wire.Malformed:
            continue
        try:
            message = dns.message.from_wire(case, ignore_trailing=True)
        except Exception:  # dnspython refuses the whole reply: the wire reading may still
            # read what it needs, or say Malformed, and nothing else
            with contextlib.suppress(wire.Malformed):
                referral_of(reply)
            continue
        assert referral_of(reply) == dnspythons(message)
        compared += 1
    assert compared > 500
