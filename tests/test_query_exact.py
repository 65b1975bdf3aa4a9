"""A reply that is byte for byte the one git's RRset makes is taken without parsing
(`wire.answered_as_expected`, `Answer.exact`). What makes that safe: whatever it takes,
the whole path it skips (parse_reply, the channel's checks, classify, compare.judge)
finds nothing wrong with. Held here on real replies of PowerDNS, BIND (whose replies
carry the zone's NS RRset in the authority section) and Knot, and on every one-byte
change, truncation and extension of them."""

from __future__ import annotations

import socket

import pytest
from octodns.record import Record
from octodns.zone import Zone

from dnssync.model.sameness import canonical
from dnssync.query import wire
from dnssync.query.answer import Answer, Endpoint, Question, classify
from dnssync.verify import compare
from dnssync.verify.expect import Expected, owner_wire
from tests.conftest import unique_zone

RECORDS = {  # name -> (type, TTL, value), one value each: the RRsets that get a template
    "a": ("A", 300, "192.0.2.1"),
    "v6": ("AAAA", 600, "2001:db8::1"),
    "txt": ("TXT", 120, '"v=spf1 -all"'),
}
NOWHERE = Endpoint("192.0.2.255")


def expected(zone: str, name: str) -> Expected:
    rtype, ttl, value = RECORDS[name]
    record = Record.new(Zone(zone, []), name, {"type": rtype, "ttl": ttl,
                                               "value": value.strip('"')})
    rdtype, keys = canonical(record)
    return Expected(record, "data", owner_wire(record.fqdn), rdtype, ttl, keys)


def judged_fine(exp: Expected, data: bytes) -> bool:
    """What the channel and compare make of `data` the long way: a usable reply to the
    question that matches git (no finding)."""
    try:
        reply = wire.parse_reply(data)
    except wire.Malformed:
        return False
    if not reply.flags & wire.QR or reply.flags & wire.TC or reply.qname != exp.owner \
            or reply.qtype != exp.rdtype or classify(reply, False)[0] is not None:
        return False
    answer = Answer(Question(None, exp.rdtype, exp, exp.owner), NOWHERE, None, "", reply)
    return compare.judge(exp, answer) == []


def ask(address: str, exp: Expected) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3)
        sock.sendto(wire.query_wire(0x1234, exp.owner, exp.rdtype), (address, 53))
        return sock.recv(65535)


@pytest.fixture(scope="module")
def replies(lab) -> list[tuple[str, Expected, bytes]]:
    """(server, what git says, the server's reply) for every record at every server."""
    zone = unique_zone("exact")
    lab.add_zones([zone], None, {zone: [(f"{name}.{zone}", rtype, ttl, [value])
                                        for name, (rtype, ttl, value) in RECORDS.items()]})
    found = []
    for server, lab_server in lab.servers.items():
        for name in RECORDS:
            exp = expected(zone, name)
            found.append((server, exp, ask(lab_server.address, exp)))
    return found


def test_every_server_s_reply_of_git_s_value_is_taken_without_parsing(replies):
    authority = set()
    for server, exp, data in replies:
        assert exp.reply is not None
        assert judged_fine(exp, data), (server, exp.fqdn)
        assert wire.answered_as_expected(data, exp.reply, exp.owner), (server, exp.fqdn, data.hex())
        authority.add((server, data[8:10] != b"\x00\x00"))
    assert ("bind", True) in authority  # an authority section was walked, not only skipped


@pytest.mark.parametrize("change", ["ttl", "value", "tc", "servfail", "not-aa", "extended-rcode",
                                    "options-cut-short", "trailing-byte", "glue-count"])
def test_a_reply_that_differs_anywhere_that_matters_is_parsed_and_judged(replies, change):
    for server, exp, data in replies:
        answer_at = 12 + len(exp.owner) + 4 + 2  # the answer's TYPE, after its owner pointer
        opt_at = len(data) - 11
        body = bytearray(data)
        if change == "ttl":
            body[answer_at + 7] ^= 1
        elif change == "value":
            body[answer_at + 10] ^= 0x40
        elif change == "tc":
            body[2] |= 0x02
        elif change == "servfail":
            body[3] |= 0x02
        elif change == "not-aa":
            body[2] &= ~0x04
        elif change == "extended-rcode":
            body[opt_at + 5] = 1
        elif change == "options-cut-short":
            body[opt_at + 10] = 2  # an RDATA length of 2: too short for an option
            body += b"\x00\x0a"
        elif change == "trailing-byte":
            body += b"\x00"
        elif change == "glue-count":
            body[11] = 2
        assert not wire.answered_as_expected(bytes(body), exp.reply, exp.owner), (server, change)


def test_whatever_is_taken_without_parsing_the_long_way_finds_nothing_wrong_with(replies):
    """Every one-byte change (four values at every offset), every truncation and a byte
    added: never taken where the long way has a finding or an error."""
    taken = 0
    for server, exp, data in replies:
        variants = [data[:size] for size in range(len(data))] + [data + b"\x00", data + b"\xc0"]
        for offset in range(len(data)):
            for value in {data[offset] ^ 1, data[offset] ^ 0x80, 0, 0xFF, (data[offset] + 1) % 256}:
                variants.append(data[:offset] + bytes((value,)) + data[offset + 1:])
        for variant in variants:
            if wire.answered_as_expected(variant, exp.reply, exp.owner):
                taken += 1
                assert judged_fine(exp, variant), (server, exp.fqdn, variant.hex())
    assert taken  # some changes matter to nobody (the ID, RD, the OPT's payload size)
