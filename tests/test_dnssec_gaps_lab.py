"""verify --dnssec finding codes that need a particular real-server case (issue 15's
"every point has a test against the real servers"): CDS/CDNSKEY that disagree
(`dnssec.cds`), one provider's nameservers serving different DNSKEY sets
(`dnssec.dnskey-differ`), a DS matching no key (`dnssec.ds-stale`), signatures not valid
yet (`dnssec.not-yet-valid`), an RRset served without RRSIG (`dnssec.unsigned-rrset`),
and NSEC3 denial at PowerDNS (valid) and in a presigned zone with a broken chain."""

from __future__ import annotations

import dns.dnssec
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.zone
import pytest
import requests

from tests.conftest import Repo, unique_zone
from tests.lab.signing import set_ds
from tests.test_dnssec_verify_lab import EMPTY, MULTI, findings, ksk, presigned_verify, zsk

#: a DS (SHA-256) of a key that exists nowhere: what a KSK retired without telling the registrar leaves
STALE_DS = "4242 13 2 " + "ab" * 32


def codes(result) -> set[str]:
    return {f["code"] for f in findings(result)}


def publish_cds(lab, zone: str) -> None:
    """Ask PowerDNS to publish CDS (SHA-256) and CDNSKEY for its KSK (zone metadata, RFC 7344)."""
    for kind, value in (("PUBLISH-CDS", "2"), ("PUBLISH-CDNSKEY", "1")):
        done = requests.put(lab.pdns.api_url(f"zones/{zone}/metadata/{kind}"), timeout=5,
                            headers={"X-API-Key": lab.pdns.api_key}, json={"metadata": [value]})
        assert done.status_code == 200, done.text


def served(address: str, zone: str, rtype: str) -> list[str]:
    query = dns.message.make_query(zone, rtype, want_dnssec=True)
    response = dns.query.tcp(query, address, port=53, timeout=5)
    return sorted(r.to_text() for rrset in response.answer if rrset.rdtype == dns.rdatatype.from_text(rtype)
                  for r in rrset)


@pytest.fixture(scope="module")
def cds_pair(lab):
    """A zone PowerDNS and Knot sign independently, each publishing CDS/CDNSKEY for its own
    KSK only (Knot while its KSK waits for submission, PowerDNS by zone metadata): what a
    multi-signer pair serves before (and, with these servers, after) a key exchange."""
    zone = unique_zone("cds")
    signed = lab.add_signed_zone(zone, providers=["pdns", "knot"])
    publish_cds(lab, zone)
    return zone, signed


def test_cds_that_disagree_between_providers_are_named(lab, make_repo, cds_pair):
    zone, signed = cds_pair
    tags = {name: ksk(keys) for name, keys in signed.keys.items()}
    for name, server in (("pdns", lab.pdns), ("knot", lab.knot)):  # the servers really publish them
        assert [int(r.split()[0]) for r in served(server.address, zone, "CDS")] == [tags[name]], name
        assert served(server.address, zone, "CDNSKEY"), name
    repo = make_repo({zone: EMPTY}, providers=["pdns", "knot"], config=MULTI, create=False)
    result = repo.run("verify", "--dnssec", "--format", "json")
    assert result.exit_code == 1, result.output
    cds = [f for f in findings(result) if f["code"] == "dnssec.cds"]
    differ = sorted(f["message"].split(" sets for")[0] for f in cds if "different" in f["message"])
    assert differ == ["providers publish different CDNSKEY", "providers publish different CDS"], cds
    lacking = {(f["provider"], f["message"].split(" set for")[0].split()[-1], f["message"].split("lacks ")[1][:4])
               for f in cds if "lacks" in f["message"]}
    assert lacking == {("pdns", "CDS", "knot"), ("pdns", "CDNSKEY", "knot"),
                       ("knot", "CDS", "pdns"), ("knot", "CDNSKEY", "pdns")}, cds
    assert any(f"KSK {tags['knot']}" in f["message"] for f in cds if f.get("provider") == "pdns")


def test_cds_are_judged_with_the_parent_unchecked(make_repo, cds_pair):
    """CDS/CDNSKEY are the providers' records, not the parent's: `parent: {check: false}` (or
    a parent that does not answer) must not hide them (it did: they were judged with the DS)."""
    zone, _ = cds_pair
    repo = make_repo({zone: EMPTY}, providers=["pdns", "knot"], config={**MULTI, "parent": {"check": False}},
                     create=False)
    found = findings(repo.run("verify", "--dnssec", "--format", "json"))
    assert sum(f["code"] == "dnssec.cds" for f in found) == 6, found  # 2 differ + 4 lacking, as above
    assert not [f for f in found if f["code"].startswith("dnssec.ds-")], found


@pytest.mark.parametrize("provider", ["pdns", "knot"])
def test_cds_that_cover_the_providers_ksk_are_clean(lab, make_repo, cds_pair, provider):
    """Each of the pair alone: its CDS/CDNSKEY cover its own KSK, so nothing about CDS."""
    zone, _ = cds_pair
    repo = make_repo({zone: EMPTY}, providers=[provider], config=MULTI, create=False)
    result = repo.run("verify", "--dnssec", "--format", "json")
    assert "dnssec.cds" not in codes(result), result.output
    assert "dnssec.ds-stale" in codes(result)  # the parent holds the other one's DS


def test_cds_are_compared_before_the_parent_holds_any_ds(lab, make_repo):
    """CDS/CDNSKEY matter most before the first DS (RFC 8078 bootstrapping): a parent that
    follows them takes whichever provider it asks. No DS yet must not skip the check."""
    zone = unique_zone("cdsb")
    lab.add_signed_zone(zone, providers=["pdns", "knot"], ds=False)
    publish_cds(lab, zone)
    repo = make_repo({zone: EMPTY}, providers=["pdns", "knot"], config=MULTI, create=False)
    found = findings(repo.run("verify", "--dnssec", "--format", "json"))
    assert "dnssec.ds-none" in {f["code"] for f in found}
    assert any(f["code"] == "dnssec.cds" and "different CDS" in f["message"] for f in found), found


def test_a_ds_matching_no_key_is_a_warning(lab, make_repo):
    """A DS at the parent that points at no provider's KSK (one retired without telling the
    registrar): resolvers ignore it while another DS matches, so a warning, not an error."""
    zone = unique_zone("stale")
    signed = lab.add_signed_zone(zone, providers=["knot"])
    set_ds(lab.parent, zone, [*signed.ds, STALE_DS])
    repo = make_repo({zone: EMPTY}, providers=["knot"], config=MULTI, create=False)
    result = repo.run("verify", "--dnssec", "--format", "json")
    assert result.exit_code == 0, result.output
    stale = [f for f in findings(result) if f["code"] == "dnssec.ds-stale"]
    assert [(f["severity"], f["observed"].lower()) for f in stale] == [("warning", STALE_DS)], stale
    assert codes(result) == {"dnssec.ds-stale"}
    lab.validator.flush(zone)
    assert lab.validator.validated(zone, "SOA")  # the matching DS still carries the chain


def test_one_providers_nameservers_serving_different_dnskey_sets(lab, make_repo):
    """A provider whose two nameservers serve different DNSKEY sets (a node still serving an
    old key set, or two signers behind one name): here its nameservers are Knot and BIND,
    each signing the zone with its own keys."""
    zone = unique_zone("differ")
    signed = lab.add_signed_zone(zone, providers=["knot", "bind"])
    nameservers = [{"name": lab.knot.nameserver, "address": f"{lab.knot.address}:53"},
                   {"name": lab.bind.nameserver, "address": f"{lab.bind.address}:53"}]
    repo = make_repo({zone: EMPTY}, providers=["knot"], config=MULTI, create=False,
                     provider_extra={"knot": {"nameservers": nameservers}})
    result = repo.run("verify", "--dnssec", "--format", "json")
    assert result.exit_code == 1, result.output
    (differ,) = [f for f in findings(result) if f["code"] == "dnssec.dnskey-differ"]
    assert differ["provider"] == "knot"
    sets = differ["observed"]
    assert len(sets) == 2 and sets[next(k for k in sets if lab.bind.address in k)] != \
        sets[next(k for k in sets if lab.knot.address in k)], sets
    (at_bind,) = [v for k, v in sets.items() if lab.bind.address in k]
    assert any(str(ksk(signed.keys["bind"])) in key for key in at_bind), sets
    # the message itself names, per nameserver, the keys the others lack (text reports show no `observed`)
    bind_part = differ["message"].split(f"({lab.bind.address}): ")[1].split(";")[0]
    assert f"KSK {ksk(signed.keys['bind'])} " in bind_part and f"ZSK {zsk(signed.keys['bind'])} " in bind_part
    assert str(ksk(signed.keys["knot"])) not in bind_part, differ["message"]

    same = make_repo({zone: EMPTY}, providers=["knot"], config=MULTI, create=False)  # Knot alone: one set
    assert "dnssec.dnskey-differ" not in codes(same.run("verify", "--dnssec", "--format", "json"))


@pytest.fixture(scope="module")
def not_yet_valid(lab, tmp_path_factory):
    """verify --dnssec of a zone whose signatures start two days ahead (a signer with its clock
    wrong; Unbound forgives up to one day of skew, measured: a day ahead still validated there)."""
    zone = unique_zone("nyv")
    lab.add_presigned_zone(zone, [f"www.{zone} 60 IN A 192.0.2.1"], start="now+172800", end="now+2764800")
    root = tmp_path_factory.mktemp("nyv")
    env = lab.write_repo(root, {f"{zone}yaml": "www:\n  ttl: 60\n  type: A\n  value: 192.0.2.1\n"}, ["knot"], MULTI)
    return zone, Repo(root, env).run("verify", "--dnssec", "--format", "json")


def test_signatures_not_valid_yet_are_named(lab, not_yet_valid):
    zone, result = not_yet_valid
    assert result.exit_code == 1, result.output
    early = [f for f in findings(result) if f["code"] == "dnssec.not-yet-valid"]
    assert len(early) == 1 and any(o.startswith(f"www.{zone} A (key") for o in early[0]["observed"]), result.output
    assert codes(result) == {"dnssec.not-yet-valid"}  # neither expired nor bogus
    assert lab.validator.ask(f"www.{zone}", "A").rcode() == dns.rcode.SERVFAIL


def test_an_rrset_counts_once_however_often_it_is_met(not_yet_valid):
    """dnssec-signzone signs the DNSKEY RRset with both keys, and the SOA comes back in three
    answers (SOA, NXDOMAIN, NODATA): one RRset each, counted and named once (it said "7
    RRset(s)" for 4: one per signature and answer)."""
    _, result = not_yet_valid
    (early,) = [f for f in findings(result) if f["code"] == "dnssec.not-yet-valid"]
    rrsets = [o.split(" (key")[0] for o in early["observed"]]
    assert len(rrsets) == len(set(rrsets)) == 4, rrsets  # DNSKEY, SOA, NSEC, www A
    assert f": {len(rrsets)} RRset(s) whose only signatures are not valid yet" in early["message"]


def _without(zone: str, owner: str, covers: str):
    """An `edit` for add_presigned_zone: the signed zone without `owner`'s RRSIG over `covers`."""

    def edit(text: str) -> str:
        signed = dns.zone.from_text(text, zone, relativize=False, check_origin=False)
        signed.delete_rdataset(owner, "RRSIG", covers=covers)
        return signed.to_text(relativize=False)

    return edit


def test_an_rrset_served_without_signature_is_named(lab, make_repo):
    zone = unique_zone("nosig")
    result = presigned_verify(lab, make_repo, zone, edit=_without(zone, f"www.{zone}", "A"))
    assert result.exit_code == 1, result.output
    unsigned = [f for f in findings(result) if f["code"] == "dnssec.unsigned-rrset"]
    assert len(unsigned) == 1 and unsigned[0]["observed"] == [f"www.{zone} A"], result.output
    assert codes(result) == {"dnssec.unsigned-rrset"}  # the rest of the zone is signed and fine
    assert lab.validator.ask(f"www.{zone}", "A").rcode() == dns.rcode.SERVFAIL


def test_nsec3_denial_at_powerdns_is_proven(lab, make_repo):
    """PowerDNS signs with NSEC3: its NXDOMAIN and NODATA answers carry NSEC3 (no NSEC), and
    verify's proof check accepts them (test_one_signer_is_clean... covers the whole zone)."""
    zone = unique_zone("n3p")
    lab.add_signed_zone(zone, providers=["pdns"])
    for name, rtype, rcode in ((f"nothere.{zone}", "A", dns.rcode.NXDOMAIN), (zone, "NAPTR", dns.rcode.NOERROR)):
        response = dns.query.tcp(dns.message.make_query(name, rtype, want_dnssec=True), lab.pdns.address,
                                 port=53, timeout=5)
        assert response.rcode() == rcode and not response.answer
        types = {r.rdtype for r in response.authority}
        assert dns.rdatatype.NSEC3 in types and dns.rdatatype.NSEC not in types, response
    repo = make_repo({zone: EMPTY}, providers=["pdns"], config=MULTI, create=False)
    result = repo.run("verify", "--dnssec", "--format", "json")
    assert result.exit_code == 0, result.output
    assert not codes(result), result.output


def _without_nsec3_of(zone: str, name: str):
    """An `edit`: the signed zone without the NSEC3 record (and its RRSIG) of `name`'s hash."""

    def edit(text: str) -> str:
        signed = dns.zone.from_text(text, zone, relativize=False, check_origin=False)
        param = signed.get_rdataset(zone, "NSEC3PARAM")[0]
        hashed = dns.dnssec.nsec3_hash(name, param.salt, param.iterations, param.algorithm)
        owner = dns.name.from_text(hashed, dns.name.from_text(zone))
        assert signed.get_node(owner) is not None, owner
        signed.delete_node(owner)
        return signed.to_text(relativize=False)

    return edit


def test_nsec3_chain_with_a_hole_fails_the_proofs(lab, make_repo):
    """A presigned NSEC3 zone, intact: clean. Then the same zone without the apex's NSEC3:
    neither the NXDOMAIN (no closest encloser) nor the apex NODATA is proven any more."""
    zone = unique_zone("n3k")
    assert not codes(presigned_verify(lab, make_repo, zone, nsec3=True))
    zone = unique_zone("n3h")
    result = presigned_verify(lab, make_repo, zone, nsec3=True, edit=_without_nsec3_of(zone, zone))
    assert result.exit_code == 1, result.output
    (denial,) = [f for f in findings(result) if f["code"] == "dnssec.denial"]
    observed = " | ".join(denial["observed"])
    assert f"NXDOMAIN for dnssync-dnssec-nx-probe.{zone}: no NSEC3 matches a closest encloser" in observed, denial
    # Knot, finding no NSEC3 for the apex, sends none at all with the apex NODATA
    assert f"NODATA (NAPTR) for {zone}: no NSEC or NSEC3 records in the answer" in observed, denial
    assert lab.validator.ask(f"nothere.{zone}", "A").rcode() == dns.rcode.SERVFAIL
