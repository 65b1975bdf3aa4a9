"""The apply side of DNSSEC across providers (issue 15), against the real lab:

* the embedded server's online signing judged by the lab's validating Unbound (AD for
  answers, NXDOMAIN, NODATA and wildcards; SERVFAIL for its broken and expired RRSIGs);
* the key exchange of a multi-signer zone between BIND (dnssec-policy) and the embedded
  server: after `dnssync apply` every provider's signatures validate against every
  provider's DNSKEY set, the validating Unbound answers with AD through each provider,
  and `dnssync ds` is the DS set the parent needs;
* Knot 3.2 and PowerDNS 4.7, which cannot publish another signer's keys, named at plan
  time with their versions, and apply refusing instead of a silent partial setup.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import dns.dnssec
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.tsigkeyring
import dns.update
import pytest
import yaml

from dnssync.embedded.server import EmbeddedServer
from dnssync.embedded.zonedata import SoaSettings
from tests.conftest import Repo, unique_zone
from tests.lab.servers import ensure_address
from tests.lab.signing import dnskeys, set_ds

#: the embedded signer's SOA (and so DNSKEY) TTL: short, as the lab's servers' 5 s DNSKEY TTL
SHORT = SoaSettings(minimum=5, dnskey_ttl=5)
EMBEDDED_NS = "ns1.emb.lab."


def _net(lab) -> str:
    return lab.parent.address.rsplit(".", 1)[0]


@pytest.fixture
def embedded(lab, tmp_path):
    """An embedded server signing every zone, on {net}.9 port 53 (where resolvers look)."""
    address = f"{_net(lab)}.9"
    ensure_address(address)
    server = EmbeddedServer(address, 53, EMBEDDED_NS, tmp_path / "emb", soa=SHORT, signs=True).start()
    yield server
    server.stop()


def _ask(address: str, name: str, rtype: str) -> dns.message.Message:
    query = dns.message.make_query(name, rtype, want_dnssec=True)
    query.flags &= ~dns.flags.RD
    return dns.query.tcp(query, address, port=53, timeout=5)


def _validate_all(reply: dns.message.Message, keys: dns.rrset.RRset) -> None:
    """Every RRset of the answer and authority sections against `keys` (raises if one fails)."""
    for section in (reply.answer, reply.authority):
        sigs = {(r.name, r.covers): r for r in section if r.rdtype == dns.rdatatype.RRSIG}
        for rrset in section:
            if rrset.rdtype != dns.rdatatype.RRSIG and (rrset.rdtype != dns.rdatatype.NS or rrset.name == keys.name):
                dns.dnssec.validate(rrset, sigs[(rrset.name, rrset.rdtype)], {keys.name: keys})


def _wait_validated(lab, name: str, rtype: str, timeout: float = 15) -> dns.message.Message:
    deadline = time.monotonic() + timeout
    while True:
        reply = lab.validator.ask(name, rtype)
        if reply.flags & dns.flags.AD or time.monotonic() > deadline:
            return reply
        time.sleep(0.5)


def _foreign_zsk(zone: str):
    """A ZSK no lab provider holds: made by a throwaway embedded server signing `zone`."""
    other = EmbeddedServer(soa=SHORT, signs=True).start()
    try:
        dns.query.tcp(dns.update.UpdateMessage(zone), other.host, port=other.port, timeout=5)
        return next(k for k in dnskeys(other.host, zone, other.port) if k.flags == 256)
    finally:
        other.stop()


def test_embedded_signing_validates_at_the_real_validating_resolver(lab, embedded, tmp_path):
    zone = unique_zone("emb")
    update = dns.update.UpdateMessage(zone)
    update.add("www", 300, "A", "192.0.2.1")
    update.add("*.wild", 300, "TXT", '"any"')
    update.add("a.b", 300, "A", "192.0.2.2")
    assert dns.query.tcp(update, embedded.host, port=53, timeout=5).rcode() == dns.rcode.NOERROR
    keys = dnskeys(embedded.host, zone)
    assert keys is not None and sorted(k.flags for k in keys) == [256, 257]
    lab.start_validator()
    lab.parent.delegate_also(zone, [EMBEDDED_NS])
    set_ds(lab.parent, zone, [dns.dnssec.make_ds(zone, k, "SHA256").to_text() for k in keys if k.flags & 1])
    lab.validator.add_stub(zone, [embedded.host])

    answers = {(f"www.{zone}", "A"): dns.rcode.NOERROR, (f"nowhere.{zone}", "A"): dns.rcode.NXDOMAIN,
               (f"www.{zone}", "MX"): dns.rcode.NOERROR, (f"x.wild.{zone}", "TXT"): dns.rcode.NOERROR,
               (f"x.wild.{zone}", "A"): dns.rcode.NOERROR, (f"b.{zone}", "A"): dns.rcode.NOERROR}
    for (name, rtype), rcode in answers.items():
        reply = lab.validator.ask(name, rtype)
        assert (reply.rcode(), bool(reply.flags & dns.flags.AD)) == (rcode, True), (name, rtype, reply)

    embedded.set_faults(rrsig="broken")
    lab.validator.flush(zone)
    assert lab.validator.ask(f"www.{zone}", "A").rcode() == dns.rcode.SERVFAIL
    embedded.set_faults(rrsig="expired")
    lab.validator.flush(zone)
    assert lab.validator.ask(f"www.{zone}", "A").rcode() == dns.rcode.SERVFAIL
    embedded.clear_faults()
    lab.validator.flush(zone)
    assert lab.validator.validated(f"www.{zone}", "A")

    # a foreign DNSKEY added by RFC 2136 is served, signed by the embedded KSK
    foreign = _foreign_zsk(zone)
    update = dns.update.UpdateMessage(zone)
    update.add(zone, 5, foreign)
    assert dns.query.tcp(update, embedded.host, port=53, timeout=5).rcode() == dns.rcode.NOERROR
    served = _ask(embedded.host, zone, "DNSKEY")
    rrset = served.find_rrset(served.answer, dns.name.from_text(zone), dns.rdataclass.IN, dns.rdatatype.DNSKEY)
    assert foreign in rrset and len(rrset) == 3
    _validate_all(served, rrset)

    # the keys are the server's for good: a restart with the same data directory signs with them
    embedded.stop()
    embedded.start()
    assert {k for k in dnskeys(embedded.host, zone) if k.flags == 257} == {k for k in keys if k.flags == 257}


def _multi_signer_repo(lab, tmp_path: Path, zone: str, providers: list[str], parity: str = "error",
                       embedded: EmbeddedServer | None = None) -> Repo:
    text = "'':\n  - type: A\n    value: 192.0.2.10\nwww:\n  type: A\n  value: 192.0.2.11\n"
    root = tmp_path / "repo"
    env = lab.write_repo(root, {f"{zone}yaml": text}, providers,
                         {"policy": {"dnssec": "multi-signer", "parity": parity}})
    if embedded is not None:
        (root / "providers" / "emb.yaml").write_text(yaml.safe_dump({
            "class": "embedded", "host": embedded.host, "port": 53,
            "nameservers": [{"name": EMBEDDED_NS, "address": embedded.host}]}))
    return Repo(root, env)


def test_multi_signer_bind_and_embedded_after_apply(lab, embedded, tmp_path):
    """Done-when of issue 15: BIND (dnssec-policy) and the embedded server as a multi-signer
    pair. After `dnssync apply`: each provider's signatures validate against each provider's
    DNSKEY set, `dnssync ds` covers both KSKs and, put at the parent, the validating Unbound
    answers with AD through each provider alone."""
    zone = unique_zone("ms")
    lab.add_signed_zone(zone, ["bind"], ds=False)
    repo = _multi_signer_repo(lab, tmp_path, zone, ["bind"], embedded=embedded)

    planned = repo.run("plan")
    assert "dnssec.keys-pending" in planned.output and "does not exist at emb yet" in planned.output

    started = time.monotonic()
    applied = repo.run("apply", "--yes", "--force")
    took = time.monotonic() - started
    assert applied.exit_code == 0, applied.output
    assert "planned now that the zone exists everywhere" in applied.output
    assert "waiting 5s (the longest DNSKEY TTL)" in applied.output
    assert took >= 5  # it waited out the DNSKEY TTL before returning
    assert sum("DNSKEY" in line and "applied" in line for line in applied.output.splitlines()) == 2

    # the matrix: every provider's signatures against every provider's DNSKEY set
    addresses = {"bind": lab.bind.address, "emb": embedded.host}
    keysets = {p: dnskeys(a, zone) for p, a in addresses.items()}
    for signer, address in addresses.items():
        for name, rtype in ((zone, "SOA"), (f"www.{zone}", "A"), (f"nowhere.{zone}", "A")):
            reply = _ask(address, name, rtype)
            assert reply.answer or reply.authority, (signer, name)
            for holder, keys in keysets.items():
                try:
                    _validate_all(reply, keys)
                except dns.dnssec.ValidationFailure as e:
                    raise AssertionError(f"{signer}'s {name} {rtype} against {holder}'s DNSKEYs: {e}") from None

    # nothing left to do: the plan is clean, keys and all
    again = repo.run("plan", "--detailed-exitcode")
    assert again.exit_code == 0, again.output

    ds = repo.run("ds", zone, "--format", "json")
    assert ds.exit_code == 0, ds.output
    found = json.loads(ds.output)
    assert sorted(d["provider"] for d in found["ds"]) == ["bind", "emb"]
    assert all(d["key"].startswith("KSK ") for d in found["ds"])
    text = repo.run("ds", zone)
    assert f"{zone} IN DS " in text.output and f"{zone} IN DNSKEY 257 3 13 " in text.output

    set_ds(lab.parent, zone, [d["ds"] for d in found["ds"]])
    lab.parent.delegate(zone, ["ns1.bind.lab.", EMBEDDED_NS])
    verified = repo.run("verify")  # the whole verify: records, SOA, delegation, DNSSEC (DS at the parent too)
    assert verified.exit_code == 0 and "Verify OK" in verified.output, verified.output
    for address in addresses.values():  # each provider alone, with a cold cache
        lab.validator.add_stub(zone, [address])
        lab.validator.flush(zone)
        for name, rtype in ((f"www.{zone}", "A"), (zone, "SOA")):
            reply = _wait_validated(lab, name, rtype)
            assert reply.flags & dns.flags.AD, (address, name, reply)
    # and with both, a cache filled at one and asked at the other
    lab.validator.add_stub(zone, list(addresses.values()))
    for _ in range(6):
        assert lab.validator.validated(f"www.{zone}", "A")
        assert lab.validator.ask(f"n{_}.{zone}", "A").flags & dns.flags.AD


def test_servers_that_cannot_publish_foreign_keys_are_named_at_plan_time(lab, tmp_path):
    """Knot 3.2.6 (drops foreign DNSKEYs under automatic signing) and PowerDNS 4.7.3 (serves only
    its own keys) are parity findings with server, version and missing feature, before anything
    is sent; BIND gets the others' ZSKs. Under policy.parity: warn, apply publishes at BIND and
    reads it back."""
    zone = unique_zone("ms")
    lab.add_signed_zone(zone, ds=False)
    repo = _multi_signer_repo(lab, tmp_path, zone, ["pdns", "bind", "knot"])
    planned = repo.run("plan", "--format", "json")
    assert planned.exit_code == 1
    plan = json.loads(planned.output)
    named = {f["provider"]: f["message"] for f in plan["findings"] if f["code"] == "parity.dnssec-foreign-keys"}
    assert set(named) == {"knot", "pdns"}, plan["findings"]
    assert "Knot DNS 3.2" in named["knot"] and "dnskey-management" in named["knot"]
    assert "PowerDNS 4.7" in named["pdns"] and "serves only its own" in named["pdns"]
    bind = next(p for p in plan["providers"] if p["provider"] == "bind")
    notes = sorted(c["note"] for c in bind["keys"])
    assert len(notes) == 2 and any("of knot" in n for n in notes) and any("of pdns" in n for n in notes)
    assert all(c["action"] == "create" and c["type"] == "DNSKEY" for c in bind["keys"])

    before = dnskeys(lab.bind.address, zone)
    refused = repo.run("apply", "--yes", "--force")
    assert refused.exit_code == 1 and "nothing was sent" in refused.output
    assert set(dnskeys(lab.bind.address, zone)) == set(before)

    (repo.root / "dnssync.yaml").write_text(
        (repo.root / "dnssync.yaml").read_text().replace("parity: error", "parity: warn"))
    applied = repo.run("apply", "--yes", "--force")
    assert applied.exit_code == 0, applied.output
    after = dnskeys(lab.bind.address, zone)
    others = {k for p in ("knot", "pdns") for k in dnskeys(lab.servers[p].address, zone) if k.flags == 256}
    assert others <= set(after)


def test_a_reviewed_plan_whose_key_exchange_went_stale_is_refused(lab, embedded, tmp_path):
    """apply --plan sends the reviewed DNSKEY changes or nothing: when a provider's keys change
    after the review (here the embedded server's zone is re-keyed), apply refuses, nothing sent."""
    zone = unique_zone("ms")
    lab.add_signed_zone(zone, ["bind"], ds=False)
    repo = _multi_signer_repo(lab, tmp_path, zone, ["bind"], embedded=embedded)
    assert repo.run("apply", "--yes", "--force").exit_code == 0
    update = dns.update.UpdateMessage(zone)  # a retired key bind still publishes: the plan deletes it
    retired = _foreign_zsk(zone)
    update.add(zone, 5, retired)
    update_bind = dns.update.UpdateMessage(zone, keyring=dns.tsigkeyring.from_text(
        {lab.bind.key_name: lab.bind.key_secret}), keyname=lab.bind.key_name, keyalgorithm=dns.tsig.HMAC_SHA256)
    update_bind.add(zone, 5, retired)
    assert dns.query.tcp(update_bind, lab.bind.address, port=53, timeout=5).rcode() == dns.rcode.NOERROR
    saved = tmp_path / "plan.json"
    planned = repo.run("plan", "--save-plan", str(saved))
    assert "no provider signs with it" in planned.output, planned.output
    assert dns.query.tcp(update, embedded.host, port=53, timeout=5).rcode() == dns.rcode.NOERROR  # keys change
    refused = repo.run("apply", "--yes", "--plan", str(saved))
    assert refused.exit_code != 0 and "DNSKEYs it serves changed since the plan was made" in refused.output
    assert retired in set(dnskeys(lab.bind.address, zone))  # nothing was sent
    applied = repo.run("apply", "--yes")  # a fresh plan retires it everywhere, after the wait
    assert applied.exit_code == 0, applied.output
    assert all(retired not in set(dnskeys(a, zone)) for a in (lab.bind.address, embedded.host))
