"""A transfer's query is signed (TSIG) by dnssync's own HMAC, not by dnspython's
`dns.tsig.sign`: the two must give the same MAC, for every HMAC algorithm, and
dnspython must find the record valid (the messages differ only in how dnspython
compresses the key's name). Its replies' signatures are checked without dnspython's
objects too, and must be judged exactly as `dns.tsig.validate` judges them."""

from __future__ import annotations

import base64
import time

import dns.message
import dns.name
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.tsigkeyring
import pytest

from dnssync.query import axfr, wire

ALGORITHMS = [dns.tsig.HMAC_MD5, dns.tsig.HMAC_SHA1, dns.tsig.HMAC_SHA224, dns.tsig.HMAC_SHA256,
              dns.tsig.HMAC_SHA256_128, dns.tsig.HMAC_SHA384, dns.tsig.HMAC_SHA384_192,
              dns.tsig.HMAC_SHA512, dns.tsig.HMAC_SHA512_256]


@pytest.mark.parametrize("algorithm", ALGORITHMS, ids=lambda a: a.to_text())
def test_a_signed_transfer_query_is_what_dnspython_signs(algorithm, monkeypatch):
    """The same MAC as dnspython's for the same message and time, and a record that
    dnspython, reading the query as a server would, finds valid."""
    monkeypatch.setattr(time, "time", lambda: 1_764_000_000.5)
    secret = base64.b64encode(b"a secret of 32 octets, no more.!").decode()
    name = "Transfer-Key.Example."  # case kept on the wire, folded in the MAC
    zone = "Zone.Example."
    keyring = dns.tsigkeyring.from_text({name: (algorithm.to_text(), secret)})
    theirs = dns.message.make_query(zone, dns.rdatatype.AXFR)
    theirs.id = 4321
    theirs.use_tsig(keyring, name, fudge=300)
    theirs.to_wire()
    ours, mac = axfr.tsig_signed(wire.query_wire(4321, dns.name.from_text(zone).to_wire(), dns.rdatatype.AXFR,
                                                 recursion=True, payload=0), dns.tsig.Key(name, secret, algorithm))
    assert mac == theirs.mac
    read = dns.message.from_wire(ours, keyring=keyring)  # raises unless the signature verifies
    assert read.had_tsig and read.mac == mac and read.keyname == dns.name.from_text(name)
    assert (read.keyalgorithm, read.id, read.question) == (algorithm, 4321, theirs.question)
    assert read.tsig[0].time_signed == 1_764_000_000 and read.tsig[0].fudge == 300


def test_a_key_of_an_algorithm_not_hmac_is_signed_by_dnspython():
    """What the table does not name goes to dnspython, which says it cannot sign it."""
    key = dns.tsig.Key("k.", base64.b64encode(b"k" * 32).decode(), "hmac-unheard-of.")
    with pytest.raises(NotImplementedError):
        axfr.tsig_signed(wire.query_wire(1, b"\x00", dns.rdatatype.AXFR, recursion=True, payload=0), key)


def _signed_reply(algorithm: dns.name.Name, secret: str, name: str) -> tuple[bytes, bytes]:
    """A transfer's one-message reply signed by dnspython as a server signs it, and the
    MAC of the query it answers."""
    keyring = dns.tsigkeyring.from_text({name: (algorithm.to_text(), secret)})
    query = dns.message.make_query("Zone.Example.", dns.rdatatype.AXFR)
    query.use_tsig(keyring, name, fudge=300)
    query.to_wire()
    reply = dns.message.make_response(query)
    soa = dns.rrset.from_text("zone.example.", 300, "IN", "SOA", "ns. host. 1 2 3 4 5")
    reply.answer += [soa, dns.rrset.from_text("www.zone.example.", 300, "IN", "A", "192.0.2.1"), soa]
    return reply.to_wire(), query.mac


def _outcome(check, *args) -> str:
    try:
        check(*args)
    except Exception as e:  # the kind of refusal is what is compared
        return type(e).__name__
    return "valid"


def _dnspython(reply: wire.Reply, key: dns.tsig.Key, request_mac: bytes) -> None:
    """What `_check_tsig` did before it read the TSIG record itself."""
    last = reply.additional[-1]
    owner = dns.name.from_wire(last.owner, 0)[0]
    if owner != key.name:
        raise dns.tsig.BadKey
    dns.tsig.validate(reply.wire, key, owner, reply.rdata(last), int(time.time()), request_mac,
                      last.start, None, True)


@pytest.mark.parametrize("algorithm", ALGORITHMS, ids=lambda a: a.to_text())
def test_a_signed_reply_is_judged_as_dnspython_judges_it_whatever_its_bytes(algorithm, monkeypatch):
    """A reply dnspython signed is valid, read here without dnspython's objects (the fast
    way taken: `_validated` gives the next message's context); every one-byte change of
    it, and a signature from another time, another key or another secret, has the outcome
    dnspython's own `validate` gives it."""
    now = 1_764_000_000
    monkeypatch.setattr(time, "time", lambda: now + 0.5)
    secret = base64.b64encode(b"a secret of 32 octets, no more.!").decode()
    name = "Transfer-Key.Example."
    key = dns.tsig.Key(name, secret, algorithm)
    data, request_mac = _signed_reply(algorithm, secret, name)
    reply = wire.parse_reply(data)
    assert axfr._validated(reply, reply.additional[-1], key, request_mac, None) is not None
    assert _outcome(axfr._check_tsig, reply, key, request_mac, None) == "valid"
    others = [dns.tsig.Key(name, base64.b64encode(b"w" * 32).decode(), algorithm),
              dns.tsig.Key("other-key.example.", secret, algorithm)]
    for other in others:
        assert _outcome(axfr._check_tsig, reply, other, request_mac, None) \
            == _outcome(_dnspython, reply, other, request_mac) != "valid"
    monkeypatch.setattr(time, "time", lambda: now + 301.5)  # past the fudge
    assert _outcome(axfr._check_tsig, reply, key, request_mac, None) == "BadTime"
    monkeypatch.setattr(time, "time", lambda: now + 0.5)
    compared = 0
    for offset in range(len(data)):
        for value in {data[offset] ^ 1, data[offset] ^ 0x20, 0, 0xFF}:
            changed = data[:offset] + bytes((value,)) + data[offset + 1:]
            try:
                parsed = wire.parse_reply(changed)
            except wire.Malformed:
                continue
            if not parsed.additional or parsed.additional[-1].rdtype != dns.rdatatype.TSIG:
                continue
            compared += 1
            assert _outcome(axfr._check_tsig, parsed, key, request_mac, None) \
                == _outcome(_dnspython, parsed, key, request_mac), (offset, value)
    assert compared > 2 * len(data)


def test_real_servers_signed_transfers_take_the_fast_check(lab, monkeypatch):
    """BIND's and Knot's signatures (one message for a small zone, many for a large one,
    unsigned messages between) are checked on their bytes, not handed to dnspython."""
    from tests.conftest import unique_zone

    fast = []
    checked = axfr._validated
    monkeypatch.setattr(axfr, "_validated", lambda *args: fast.append(checked(*args)) or fast[-1])
    small, large = unique_zone("ts"), unique_zone("tl")
    lab.add_zones([small, large], ["bind", "knot"], {
        small: [(f"www.{small}", "A", 300, ["192.0.2.1"])],
        large: [(f"t{i}.{large}", "TXT", 300, [f'"value-{i}-{"x" * 60}"']) for i in range(1500)]})
    for server in (lab.bind, lab.knot):
        key = axfr.tsig_key(server.key_name, server.key_secret)
        for zone, rdtype, records in ((small, dns.rdatatype.A, 1), (large, dns.rdatatype.TXT, 1500)):
            fast.clear()
            found = list(axfr.transfer(server.address, zone, server.port, key))
            assert sum(rr.rdtype == rdtype for _, rr in found) == records, server.name
            assert fast and all(context is not None for context in fast), (server.name, zone)
        assert len(fast) > 1  # the large zone's stream: several signed messages, all checked here
