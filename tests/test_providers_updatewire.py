"""providers/updatewire.py: an update rendered directly carries exactly the RRs that
dnspython's UpdateMessage renders for the same adds, replaces and deletes, in the same
order of RRsets, and its TSIG signature verifies; sent again, it is signed again.
(The lab tests send it to BIND and Knot: tests/test_rfc2136_lab.py and others.)"""

from __future__ import annotations

import dns.message
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.tsig
import dns.tsigkeyring
import dns.update
import pytest

from dnssync.providers.aliaswire import rdata_from_text
from dnssync.providers.updatewire import RawUpdate, name_wire, rdata_wire, rrset_rrs

ZONE = "zone.test."
KEYRING = dns.tsigkeyring.from_text({"key.": "c2VjcmV0c2VjcmV0c2VjcmV0"})
OPS = [  # action, owner, type, ttl, values
    ("delete", "old.zone.test.", "CNAME", 300, []),
    ("add", "www.zone.test.", "A", 60, ["192.0.2.1", "192.0.2.2", "192.0.2.1"]),  # a value twice: sent twice
    ("replace", "zone.test.", "MX", 300, ["10 Mail.Example.NET.", "20 mx2.example.net."]),
    ("replace", "txt.zone.test.", "TXT", 120, ['"a b" "c"', '"v=spf1 -all"']),
    ("add", "v6.zone.test.", "AAAA", 300, ["2001:db8::1"]),
]


def rdatas(rtype: str, values: list[str]) -> list[dns.rdata.Rdata]:
    return [dns.rdata.from_text(dns.rdataclass.IN, rtype, v) for v in values]


def dnspython_update(**auth) -> dns.update.UpdateMessage:
    update = dns.update.UpdateMessage(ZONE, **auth)
    for action, owner, rtype, ttl, values in OPS:
        if action == "delete":
            update.delete(owner, dns.rdatatype.from_text(rtype))
        else:
            getattr(update, action)(owner, ttl, *rdatas(rtype, values))
    return update


def raw_update(**auth) -> RawUpdate:
    rrs = [rr for action, owner, rtype, ttl, values in OPS
           for rr in rrset_rrs(action, name_wire(owner), dns.rdatatype.from_text(rtype), ttl,
                               [rdata_wire(rtype, value) for value in values])]
    return RawUpdate(ZONE, rrs, **auth)


def section(message: dns.message.Message) -> list[tuple]:
    """The update section as RRsets, in order, values as a set (dnspython shuffles them)."""
    return [(r.name, r.rdtype, r.rdclass, r.deleting, r.ttl, frozenset(r)) for r in message.update]


@pytest.mark.parametrize("auth", [{}, {"keyring": KEYRING}], ids=["unsigned", "tsig"])
def test_the_same_rrs_as_dnspythons_update_and_a_valid_signature(auth):
    theirs, ours = dnspython_update(**auth), raw_update(**auth)
    theirs_read = dns.message.from_wire(theirs.to_wire(), keyring=KEYRING if auth else None)
    ours_wire = ours.to_wire()
    ours_read = dns.message.from_wire(ours_wire, keyring=KEYRING if auth else None)  # raises on a bad MAC
    assert section(ours_read) == section(theirs_read)
    assert ours_read.zone[0].name == dns.name.from_text(ZONE) and ours_read.zone[0].rdtype == dns.rdatatype.SOA
    assert ours_read.opcode() == theirs_read.opcode() == dns.opcode.UPDATE
    assert len(ours_read.update) == len(theirs_read.update) == 11  # one RR each: 1 + 3 + 3 + 3 + 1
    exchanges = sorted(rd.exchange.to_text() for r in ours_read.update if r.rdtype == dns.rdatatype.MX
                       and r.deleting is None for rd in r)
    assert exchanges == ["Mail.Example.NET.", "mx2.example.net."]  # each as written
    assert bool(ours_read.had_tsig) == bool(auth)
    if auth:
        assert ours.mac  # dns.query reads the answer's signature against it
        tampered = bytearray(ours_wire)
        tampered[20] ^= 1
        with pytest.raises(dns.exception.DNSException):
            dns.message.from_wire(bytes(tampered), keyring=KEYRING)
        first_mac = ours.mac
        ours.to_wire()  # sent again (a SERVFAIL retried): signed again, as UpdateMessage is
        assert ours.tsig is not None and len(ours.tsig) == 1 and ours.mac is not None
        assert first_mac is not None


@pytest.mark.parametrize("name", ["www.zone.test.", "Mixed-Case.Zone.TEST.", "*.zone.test.", "_dmarc.zone.test.",
                                  ".", "zone.test", "a\\.b.zone.test.", "\\065bc.zone.test.", "x" * 63 + ".test.",
                                  "with space.zone.test."])
def test_a_name_in_wire_form_is_dnspythons(name):
    """The plain names written straight from their text, the rest read by dnspython: the
    same bytes either way (case as written, escapes read, a relative name made absolute)."""
    assert name_wire(name) == dns.name.from_text(name).to_wire()


def test_a_label_too_long_is_refused_as_dnspython_refuses_it():
    with pytest.raises(dns.name.LabelTooLong):
        name_wire("x" * 64 + ".test.")


@pytest.mark.parametrize(("rtype", "text"), [
    ("A", "192.0.2.1"), ("AAAA", "2001:DB8::1"), ("AAAA", "::ffff:192.0.2.1"), ("AAAA", "0001:0002::"),
    ("MX", "10 Mail.Example.NET."), ("MX", "65535 ."), ("MX", "010 mx.example."), ("MX", "10 a\\.b.example."),
    ("TXT", '"a b" "c\\"d"'), ("TXT", '"v=spf1 -all"'), ("TXT", '""'), ("TXT", '"a" "b"  "c"'),
    ("TXT", '"' + "x" * 255 + '" "' + "y" * 255 + '"'), ("TXT", '"caf\\195\\169"'), ("TXT", "unquoted"),
    ("TXT", '"semi\\;colon"'), ("SPF", '"v=spf1 ~all"'),
    ("CNAME", "Target.Example."), ("CNAME", "*.example."), ("CNAME", "a\\.b.example."), ("NS", "ns1.example."),
    ("PTR", "host.example."), ("CAA", '0 issue "ca.example.net"'), ("ALIAS", "target.example.")])
def test_rdata_in_wire_form_is_dnspythons(rtype, text):
    assert rdata_wire(rtype, text) == rdata_from_text(rtype, text).to_wire()


@pytest.mark.parametrize(("rtype", "text"), [
    ("A", "010.0.0.1"), ("A", "1.2.3"), ("A", " 192.0.2.1"), ("AAAA", "1::2::3"), ("TXT", '"' + "x" * 256 + '"'),
    ("MX", "65536 mx.example."), ("CNAME", "x" * 64 + ".example.")])
def test_what_dnspython_refuses_is_refused_the_same_way(rtype, text):
    with pytest.raises(dns.exception.SyntaxError):
        rdata_wire(rtype, text)
