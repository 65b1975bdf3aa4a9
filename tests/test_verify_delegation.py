"""Delegation checks without a server (the lab tests are in test_delegation_lab.py)."""

from __future__ import annotations

from dnssync.verify.delegation import managed_parent


def test_managed_parent_is_the_closest_enclosing_zone_of_the_repository():

    names = {"example.test.", "sub.example.test.", "other.test."}
    assert managed_parent("deep.sub.example.test.", names) == "sub.example.test."
    assert managed_parent("sub.example.test.", names) == "example.test."
    assert managed_parent("example.test.", names) is None  # test. itself is not managed


def test_a_lame_check_reads_the_soa_off_the_wire_and_a_broken_one_is_malformed():
    """An authoritative answer counts only with an SOA in it, and an SOA whose RDATA does
    not parse is a malformed reply (as dnspython's parse of the whole reply said)."""
    import dns.message
    import dns.rrset
    import pytest

    from dnssync.query import wire
    from dnssync.verify.delegation import _soa_in

    query = dns.message.make_query("example.test.", "SOA")
    response = dns.message.make_response(query)
    response.answer.append(dns.rrset.from_text("example.test.", 300, "IN", "SOA",
                                               "ns1.example.test. hostmaster.example.test. 7 3600 600 86400 5"))
    data = response.to_wire()
    assert _soa_in(wire.parse_reply(data))
    empty = dns.message.make_response(query)
    empty.authority.append(dns.rrset.from_text("example.test.", 300, "IN", "NS", "ns1.example.test."))
    assert not _soa_in(wire.parse_reply(empty.to_wire()))
    # the SOA's RDATA cut short by 4 octets, its RDLENGTH with it: the reply still frames
    rr = wire.parse_reply(data).answer[0]
    short = (data[:rr.offset - 2] + (rr.length - 4).to_bytes(2, "big")
             + data[rr.offset:rr.offset + rr.length - 4] + data[rr.offset + rr.length:])
    with pytest.raises(wire.Malformed):
        _soa_in(wire.parse_reply(short))
