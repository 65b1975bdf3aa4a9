"""parse_reply reads the usual owners (a pointer to the question's name, one label and
such a pointer, as every record of a zone transfer has) without walking them as
read_name does; it must read exactly what dnspython reads, in lower case."""

from __future__ import annotations

import dns.message
import dns.name
import dns.rrset
import pytest

from dnssync.query import wire

ZONE = "Fleet.Example."


def transfer_message(owners: list[str]) -> bytes:
    """A zone transfer's message as a server writes it (dnspython compresses each owner
    to its first label and a pointer to the question's name)."""
    query = dns.message.make_query(ZONE, "AXFR")
    reply = dns.message.make_response(query)
    for index, owner in enumerate(owners):
        reply.answer.append(dns.rrset.from_text(owner, 300, "IN", "A", f"192.0.2.{index}"))
    return reply.to_wire()


def test_owners_read_cheaply_are_what_dnspython_reads_in_lower_case():
    owners = [ZONE, f"Www.{ZONE}", f"h000001.{ZONE}", f"{'x' * 63}.{ZONE}", f"a.b.{ZONE}",
              f"*.{ZONE}", "other.test."]
    data = transfer_message(owners)
    assert data.count(b"\xc0\x0c") >= 5  # the shapes the cheap paths read are there
    parsed = wire.parse_reply(data)
    assert [rr.owner for rr in parsed.answer] == [dns.name.from_text(o).to_wire().lower() for o in owners]
    assert [rr.ttl for rr in parsed.answer] == [300] * len(owners)


def test_a_label_and_a_pointer_past_255_octets_is_malformed():
    long_zone = ".".join(["z" * 63] * 3) + ".abc."  # 197 octets in wire form
    query = dns.message.make_query(long_zone, "AXFR")
    reply = dns.message.make_response(query)
    reply.answer.append(dns.rrset.from_text(f"{'y' * 57}.{long_zone}", 300, "IN", "A", "192.0.2.1"))
    data = reply.to_wire()
    owner = bytes((57,)) + b"y" * 57
    assert owner + b"\xc0\x0c" in data
    assert len(wire.parse_reply(data).answer[0].owner) == 255  # the longest a name may be
    longer = data.replace(owner + b"\xc0\x0c", bytes((58,)) + b"y" * 58 + b"\xc0\x0c")
    with pytest.raises(wire.Malformed, match="longer than 255"):
        wire.parse_reply(longer)
