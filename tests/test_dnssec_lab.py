"""DNSSEC in the lab (tests/lab/signing.py): each real server signs a zone with its own keys,
the signed parent holds the DS, and the validating Unbound answers with AD. Also what each
server does with another signer's DNSKEY, which decides who can take part in RFC 8901
multi-signer (issue 15: tried by hand, confirmed here)."""

from __future__ import annotations

import base64
import time

import dns.dnssec
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.tsigkeyring
import dns.update
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec

from tests.conftest import unique_zone
from tests.lab.signing import SEP, dnskeys, set_ds


@pytest.mark.parametrize("provider", ["pdns", "bind", "knot"])
def test_one_signer_validates_with_ad_through_the_signed_parent(lab, provider):
    zone = unique_zone("sig")
    signed = lab.add_signed_zone(zone, providers=[provider])
    keys = signed.keys[provider]
    assert sorted(k.flags & SEP for k in keys) == [0, SEP]  # a ZSK and a KSK, as configured
    response = lab.validator.ask(zone, "SOA")
    assert response.rcode() == dns.rcode.NOERROR and response.flags & dns.flags.AD
    # the chain is real: without the DS at the parent the answer is no longer authenticated
    set_ds(lab.parent, zone, [])
    lab.validator.flush(zone)
    lab.validator.control("flush_bogus")
    lab.validator.control("flush_negative")
    lab.validator.control("flush_infra", "all")
    assert not lab.validator.validated(zone, "NS")


def test_each_server_signs_with_keys_of_its_own(lab):
    zone = unique_zone("sig")
    signed = lab.add_signed_zone(zone)
    tags = {name: {dns.dnssec.key_id(k) for k in keys} for name, keys in signed.keys.items()}
    assert set(tags) == {"pdns", "bind", "knot"}
    assert not (tags["pdns"] & tags["bind"] or tags["pdns"] & tags["knot"] or tags["bind"] & tags["knot"])
    assert len(signed.ds) == 3  # one KSK each, all three at the parent


def _foreign_key() -> dns.rdata.Rdata:
    key = ec.generate_private_key(ec.SECP256R1())
    return dns.dnssec.make_dnskey(key.public_key(), dns.dnssec.Algorithm.ECDSAP256SHA256, flags=256)


def _update(server, zone: str, key) -> str:
    keyring = dns.tsigkeyring.from_text({server.key_name: server.key_secret})
    update = dns.update.UpdateMessage(zone, keyring=keyring, keyname=server.key_name,
                                      keyalgorithm=dns.tsig.HMAC_SHA256)
    update.add(zone, 300, key)
    return dns.rcode.to_text(dns.query.tcp(update, server.address, port=server.port, timeout=5).rcode())


def _serves(server, zone: str, key, timeout: float = 3) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if key in (dnskeys(server.address, zone, server.port) or []):
            return True
        time.sleep(0.2)
    return False


def test_foreign_dnskey_bind_serves_knot_ignores_powerdns_stores_but_does_not_serve(lab):
    """BIND 9.18 (dnssec-policy) accepts and serves a foreign DNSKEY sent by RFC 2136; Knot 3.2
    (automatic signing) answers NOERROR and changes nothing; PowerDNS 4.7 stores a DNSKEY RRset
    sent through its API but serves only its own keys for a zone it signs."""
    zone = unique_zone("sig")
    lab.add_signed_zone(zone, ds=False)
    foreign = _foreign_key()
    assert _update(lab.bind, zone, foreign) == "NOERROR"
    assert _serves(lab.bind, zone, foreign)
    assert _update(lab.knot, zone, foreign) == "NOERROR"
    assert not _serves(lab.knot, zone, foreign)
    assert "no changes to the zone were made" in lab.knot.log_tail(40)
    pdns = lab.pdns
    content = f"{foreign.flags} 3 {foreign.algorithm.value} {base64.b64encode(foreign.key).decode()}"
    done = requests.patch(pdns.api_url(f"zones/{zone}"), headers={"X-API-Key": pdns.api_key}, timeout=5,
                          json={"rrsets": [{"name": zone, "type": "DNSKEY", "ttl": 300, "changetype": "REPLACE",
                                            "records": [{"content": content, "disabled": False}]}]})
    assert done.status_code == 204, done.text
    stored = requests.get(pdns.api_url(f"zones/{zone}"), headers={"X-API-Key": pdns.api_key}, timeout=5).json()
    assert [r["content"] for s in stored["rrsets"] if s["type"] == "DNSKEY" for r in s["records"]] == [content]
    assert not _serves(pdns, zone, foreign)
