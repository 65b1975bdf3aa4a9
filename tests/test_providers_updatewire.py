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

from dnssync.providers.updatewire import RawUpdate, rrset_rrs

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
           for rr in rrset_rrs(action, dns.name.from_text(owner), dns.rdatatype.from_text(rtype), ttl,
                               rdatas(rtype, values))]
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
