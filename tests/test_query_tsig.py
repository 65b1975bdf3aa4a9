"""A transfer's query is signed (TSIG) by dnssync's own HMAC, not by dnspython's
`dns.tsig.sign`: the two must give the same MAC, for every HMAC algorithm, and
dnspython must find the record valid (the messages differ only in how dnspython
compresses the key's name)."""

from __future__ import annotations

import base64
import time

import dns.message
import dns.name
import dns.rdatatype
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
