"""What verify prepares before it asks anything: the expected RDATA of every record.
The direct encodings of common values must equal dnspython's canonical form exactly,
or every record of a fleet would be reported as differing."""

from __future__ import annotations

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest

from dnssync.model.sameness import rdata_key
from dnssync.verify.expect import owner_wire

VALUES = [
    ("CNAME", "www.example.com."), ("CNAME", "WWW.Example.COM."), ("CNAME", "_svc._tcp.x.test."),
    ("CNAME", "*.wild.test."), ("CNAME", "a-b.c-d.test."), ("CNAME", "relative.name"),
    ("CNAME", "@"), ("CNAME", "a\\.b.test."), ("CNAME", "a\\032b.test."), ("CNAME", "."),
    ("NS", "ns1.Provider.NET."), ("PTR", "host.example."), ("DNAME", "Target.Example."),
    ("CNAME", "x" * 63 + ".test."), ("CNAME", ("a" * 60 + ".") * 4),
    ("MX", "10 mail.example.com."), ("MX", "0 MX.Example.Com."), ("MX", "65535 mx.test."),
    ("MX", "010 mx.test."), ("MX", "10  mx.test."), ("MX", "10 ."), ("MX", "10 mx"),
    ("TXT", '"v=spf1 -all"'), ("TXT", '"a" "b"'), ("TXT", '""'), ("TXT", '"a;b (c) @"'),
    ("TXT", '"a\\"b"'), ("TXT", '"a\\\\b"'), ("TXT", '"caf\\195\\169"'), ("TXT", '"tab\there"'),
    ("TXT", '"' + "x" * 255 + '" "' + "y" * 10 + '"'), ("TXT", '"a""b"'), ("TXT", "bare"),
    ("SPF", '"v=spf1 include:_spf.example.com ~all"'),
    ("CAA", '0 issue "ca.example.net"'), ("SRV", "10 20 443 target.example."),
    ("CAA", '128 iodef "mailto:hostmaster@example.com"'), ("CAA", '0 issuewild ";"'),
    ("CAA", '0 issue ""'), ("CAA", '0 Issue "ca.example.net; account=12"'), ("CAA", "0 issue bare"),
    ("CAA", '010 issue "x"'), ("CAA", '256 issue "x"'), ("CAA", '0 is-sue "x"'), ("CAA", '0 issue "a b" "c"'),
    ("CAA", '0  issue "x"'), ("CAA", '0 issue "tab\there"'), ("CAA", '0 issue "a\\"b"'), ("CAA", '0 issue "("'),
    ("CAA", '0 ' + 't' * 256 + ' "x"'), ("CAA", '0 issue "caf\u00e9"'),
]


@pytest.mark.parametrize("rtype,text", VALUES)
def test_rdata_key_equals_dnspython(rtype: str, text: str) -> None:
    rdtype = dns.rdatatype.from_text(rtype)
    try:
        expected = dns.rdata.from_text(dns.rdataclass.IN, rdtype, text).to_digestable()
    except dns.exception.DNSException as e:
        with pytest.raises(type(e)):
            rdata_key(rdtype, text)
        return
    assert rdata_key(rdtype, text) == expected


@pytest.mark.parametrize("name", ["www.example.com.", "WWW.Example.COM.", "_dmarc.x.test.",
                                  "*.x.test.", "a\\.b.test.", "caf\u00e9.test.", "a(b.test.",
                                  "x.test"])
def test_owner_wire_equals_dnspython(name: str) -> None:
    assert owner_wire(name) == dns.name.from_text(name).to_wire().lower()


def test_all_sub_zones_equals_the_scan() -> None:
    """The index of sub-zones gives what a scan of every name gives, for nested zones."""
    from dnssync.repo.zones import all_sub_zones

    names = ["example.com.", "a.example.com.", "b.a.example.com.", "x.b.a.example.com.",
             "other.com.", "com.", "example.org.", "notexample.com."]
    index = all_sub_zones(names)
    for name in names:
        suffix = "." + name
        scanned = {o[: -len(suffix)] for o in names if o != name and o.endswith(suffix)}
        assert index[name] == scanned, name
    assert index["example.com."] == {"a", "b.a", "x.b.a"}
    assert index["com."] == {"example", "a.example", "b.a.example", "x.b.a.example", "other",
                             "notexample"}


@pytest.mark.parametrize("rtype,text", [("CNAME", "Target.Example.COM."), ("NS", "ns1.example.com."),
                                        ("PTR", "host.Example.com."), ("MX", "10 Mail.example.com."),
                                        ("MX", "0 example.com."), ("CNAME", "example.com.")])
def test_reply_rdata_key_equals_dnspython(rtype: str, text: str) -> None:
    """Names in answers are read by dnssync.query.wire, compressed or not: the canonical form
    must be dnspython's, or every CNAME and MX of a zone would differ from git."""
    import dns.message
    import dns.rrset

    from dnssync.query import wire

    query = dns.message.make_query("www.Example.com.", rtype)
    response = dns.message.make_response(query)
    response.answer.append(dns.rrset.from_text("www.Example.com.", 60, "IN", rtype, text))
    rdtype = dns.rdatatype.from_text(rtype)
    expected = dns.rdata.from_text(dns.rdataclass.IN, rdtype, text).to_digestable()
    reply = wire.parse_reply(response.to_wire())  # the target compressed against the owner
    (rr,) = [r for r in reply.answer if r.rdtype == rdtype]
    assert reply.rdata_key(rr) == expected


def test_reply_rdata_key_of_a_broken_name_is_malformed_as_before() -> None:
    """A CNAME whose name runs past its RDATA: dnspython's words, as before the fast path."""
    import dns.message
    import dns.rrset

    from dnssync.query import wire

    query = dns.message.make_query("a.example.", "CNAME")
    response = dns.message.make_response(query)
    response.answer.append(dns.rrset.from_text("a.example.", 60, "IN", "CNAME", "b.example."))
    reply = wire.parse_reply(response.to_wire())
    (rr,) = reply.answer
    short = wire.RR(rr.owner, rr.rdtype, rr.rdclass, rr.ttl, rr.offset, rr.length - 1, rr.start)
    broken = wire.Reply(reply.wire, reply.id, reply.flags, reply.rcode, reply.qname, reply.qtype,
                        [short], [], [])
    with pytest.raises(wire.Malformed, match="CNAME RDATA"):
        broken.rdata_key(broken.answer[0])


def _message_with_compression() -> bytes:
    """A reply whose owners point into the question's name (the zone's name in the
    authority section), at names written out elsewhere, and at the root."""
    import dns.message
    import dns.rrset

    query = dns.message.make_query("WWW.Sub.Example.COM.", "A", use_edns=0)
    response = dns.message.make_response(query)
    response.answer.append(dns.rrset.from_text("www.sub.example.com.", 60, "IN", "A", "192.0.2.1"))
    response.authority.append(dns.rrset.from_text("Sub.Example.COM.", 60, "IN", "NS", "ns1.other.test."))
    response.authority.append(dns.rrset.from_text("example.com.", 60, "IN", "NS", "ns.example.com."))
    response.additional.append(dns.rrset.from_text("ns1.other.test.", 60, "IN", "A", "192.0.2.2"))
    response.additional.append(dns.rrset.from_text("x.ns1.other.test.", 60, "IN", "AAAA", "2001:db8::1"))
    return response.to_wire()


def test_reply_owners_are_dnspython_s_whatever_the_compression() -> None:
    """Owners read off the question's name, followed through pointers, or written out in
    full: each the lower-case wire form of the name dnspython reads there."""
    import dns.message

    from dnssync.query import wire

    data = _message_with_compression()
    assert b"\xc0\x10" in data  # an owner pointing at the second label of the question's name
    reply = wire.parse_reply(data)
    message = dns.message.from_wire(data)
    for ours, theirs in ((reply.answer, message.answer), (reply.authority, message.authority),
                         (reply.additional, message.additional)):
        assert [(rr.owner, rr.rdtype) for rr in ours if rr.rdtype != wire.OPT] == [
            (rrset.name.to_wire().lower(), rrset.rdtype) for rrset in theirs for _ in rrset]
    assert reply.qname == b"\x03www\x03sub\x07example\x03com\x00"


def test_reply_owner_pointing_inside_a_label_of_the_question_is_malformed() -> None:
    """A pointer into the middle of a label of the question's name is not read as a
    shorter name: it reads the label's text as a length, as any pointer would."""
    from dnssync.query import wire

    data = bytearray(_message_with_compression())
    at = data.index(b"\xc0\x10")
    data[at + 1] = 0x11  # one octet into the label "sub"
    with pytest.raises(wire.Malformed):
        wire.parse_reply(bytes(data))
