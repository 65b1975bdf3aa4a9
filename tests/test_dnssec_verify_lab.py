"""verify --dnssec against the real lab servers signing zones themselves (tests/lab/signing.py):
PowerDNS (NSEC3), Knot and BIND (NSEC), presigned zones served by Knot for signatures a
running signer never serves (expired, not matching their data), and the validating Unbound
showing what resolvers meet."""

from __future__ import annotations

import itertools
import json

import dns.rcode
import pytest
import requests

from dnssync.model.dnskeys import key_tag
from tests import test_dnssec_apply_lab as apply_lab
from tests.conftest import unique_zone
from tests.lab.signing import set_ds

#: the embedded signer on {net}.9 and a BIND + embedded multi-signer repository, as the apply side's tests make them
embedded = apply_lab.embedded
multi_signer_repo = apply_lab._multi_signer_repo
MULTI = {"policy": {"dnssec": "multi-signer"}}
EMPTY = "--- {}\n"  # the zone's apex SOA/NS only: what the lab created is what git says


def findings(result) -> list[dict]:
    return json.loads(result.output)["findings"]


def zsk(keys) -> int:
    """The tag of the one ZSK (flags 256) of a lab server's DNSKEY set."""
    (tag,) = [key_tag(k) for k in keys if k.flags == 256]
    return tag


def ksk(keys) -> int:
    (tag,) = [key_tag(k) for k in keys if k.flags == 257]
    return tag


def presigned_verify(lab, make_repo, zone: str, value: str = "192.0.2.1", **presign):
    """verify --dnssec of `zone` (www A 192.0.2.1) signed offline and served by Knot as it is
    (`presign`: start, end, tamper, algorithm; see Lab.add_presigned_zone); git says www is `value`."""
    lab.add_presigned_zone(zone, [f"www.{zone} 60 IN A 192.0.2.1"], **presign)
    repo = make_repo({zone: f"www:\n  ttl: 60\n  type: A\n  value: {value}\n"}, providers=["knot"],
                     config=MULTI, create=False)
    return repo.run("verify", "--dnssec", "--format", "json")


def test_independent_signers_fail_naming_each_missing_key_and_resolvers_fail(lab, make_repo):
    """Done when (issue 15): PowerDNS, Knot and BIND signing independently: verify fails and
    names the missing keys per provider, and the validating Unbound sees failures."""
    zone = unique_zone("ms")
    signed = lab.add_signed_zone(zone)
    repo = make_repo({zone: EMPTY}, config=MULTI, create=False)
    result = repo.run("verify", "--dnssec", "--format", "json")
    assert result.exit_code == 1, result.output
    found = findings(result)
    missing = {(f["provider"], f["extra"]["owner"], f["extra"]["key_tag"]) for f in found
               if f["code"] == "dnssec.zsk-missing"}
    providers = ["bind", "knot", "pdns"]
    assert missing == {(holder, owner, zsk(signed.keys[owner]))
                       for holder, owner in itertools.permutations(providers, 2)}
    matrix = next(z for z in json.loads(result.output)["dnssec"] if z["zone"] == zone)["matrix"]
    for signer, holder in itertools.product(providers, providers):
        cell = matrix[signer][holder]
        assert cell["total"] > 0
        assert cell["valid"] == (cell["total"] if signer == holder else 0), (signer, holder, cell)
    assert sum(f["code"] == "dnssec.cross-invalid" for f in found) == 6
    # the parent holds every KSK's DS, the signatures themselves are fine: nothing else is wrong
    assert {f["code"] for f in found} <= {"dnssec.zsk-missing", "dnssec.cross-invalid", "dnssec.cds"}

    text = repo.run("verify", "--dnssec")
    assert "lacks knot's ZSK" in text.output and "resolvers holding pdns's DNSKEY set will fail" in text.output
    assert "signer \\ keys of" in text.output and "DNSSEC FAILED" in text.output

    # a resolver that cached one provider's keys and then asks another: SERVFAIL, every pair
    for first, then in itertools.permutations(providers, 2):
        lab.validator.flush(zone)
        lab.validator.control("flush_bogus")
        lab.validator.point(zone, [lab.servers[first].address])
        assert lab.validator.validated(zone, "DNSKEY"), first  # alone, each provider validates
        lab.validator.point(zone, [lab.servers[then].address])
        assert lab.validator.ask(zone, "NS").rcode() == dns.rcode.SERVFAIL, (first, then)

    # the parent's DS set missing two providers' KSKs: named per provider
    set_ds(lab.parent, zone, [ds for ds in signed.ds if int(ds.split()[0]) == ksk(signed.keys["pdns"])])
    found = findings(repo.run("verify", "--dnssec", "--format", "json"))
    assert sorted(f["provider"] for f in found if f["code"] == "dnssec.ds-missing") == ["bind", "knot"]


def test_unsigned_policy_names_the_provider_that_signs_on_its_own(lab, make_repo):
    zone = unique_zone("us")
    lab.add_zone(zone, signed=["bind"])
    repo = make_repo({zone: EMPTY}, create=False)  # policy.dnssec: unsigned, the default
    result = repo.run("verify", "--format", "json")
    assert result.exit_code == 1, result.output
    unexpected = [f for f in findings(result) if f["code"] == "dnssec.unexpected"]
    assert [f["provider"] for f in unexpected] == ["bind"]
    assert "policy.dnssec is unsigned" in unexpected[0]["message"]
    assert not [f for f in findings(result) if f["code"].startswith("dnssec.") and f["provider"] != "bind"]


@pytest.mark.parametrize("provider", ["pdns", "knot", "bind"])
def test_one_signer_is_clean_and_the_expiry_margin_warns(lab, make_repo, provider):
    """Every RRSIG validates, NXDOMAIN and NODATA are proven (NSEC3 at PowerDNS, NSEC at Knot
    and BIND), the DS matches: verify --dnssec is clean. A margin longer than the servers'
    signature validity turns every signature into a warning, and the exit stays 0."""
    zone = unique_zone("one")
    lab.add_signed_zone(zone, providers=[provider])
    repo = make_repo({zone: "www:\n  type: A\n  value: 192.0.2.7\n"}, providers=[provider], config=MULTI,
                     create=False)
    assert repo.run("apply", "--yes").exit_code == 0
    result = repo.run("verify", "--dnssec", "--format", "json")
    assert result.exit_code == 0, result.output
    assert not [f for f in findings(result) if f["code"].startswith("dnssec.")], result.output
    data = json.loads(result.output)
    assert data["stats"]["dnssec"]["validated"] >= 6  # DNSKEY, SOA, NS, www A, NX and NODATA proofs
    repo = make_repo({zone: "www:\n  type: A\n  value: 192.0.2.7\n"}, providers=[provider], create=False,
                     config={"policy": {"dnssec": {"default": "multi-signer", "expiry_margin": "400d"}}})
    result = repo.run("verify", "--dnssec", "--format", "json")
    assert result.exit_code == 0, result.output
    assert [f["code"] for f in findings(result)] == ["dnssec.expiring"]
    assert findings(result)[0]["severity"] == "warning"


def test_dnskey_set_without_the_signing_key(lab, make_repo):
    """PowerDNS keeps signing with a ZSK it no longer publishes (cryptokey published: false)."""
    zone = unique_zone("nokey")
    signed = lab.add_signed_zone(zone, providers=["pdns"])
    pdns = lab.pdns
    keys = requests.get(pdns.api_url(f"zones/{zone}/cryptokeys"), headers={"X-API-Key": pdns.api_key},
                        timeout=5).json()
    zsk_id = next(k["id"] for k in keys if k["keytype"] == "zsk")
    done = requests.put(pdns.api_url(f"zones/{zone}/cryptokeys/{zsk_id}"), headers={"X-API-Key": pdns.api_key},
                        json={"active": True, "published": False}, timeout=5)
    assert done.status_code == 204, done.text
    repo = make_repo({zone: EMPTY}, providers=["pdns"], config=MULTI, create=False)
    result = repo.run("verify", "--dnssec", "--format", "json")
    assert result.exit_code == 1, result.output
    missing = [f for f in findings(result) if f["code"] == "dnssec.signer-missing"]
    assert missing and f"key {zsk(signed.keys['pdns'])}" in missing[0]["message"], result.output
    assert not lab.validator.validated(zone, "SOA")


def test_expired_signatures_are_named(lab, make_repo):
    zone = unique_zone("exp")
    result = presigned_verify(lab, make_repo, zone, start="20200101000000", end="20200201000000")
    assert result.exit_code == 1, result.output
    expired = [f for f in findings(result) if f["code"] == "dnssec.expired"]
    assert expired and "2020-02-01" in expired[0]["message"], result.output
    assert lab.validator.ask(f"www.{zone}", "A").rcode() == dns.rcode.SERVFAIL


def test_signature_that_does_not_validate(lab, make_repo):
    zone = unique_zone("bog")
    result = presigned_verify(lab, make_repo, zone, value="192.0.2.66", tamper=("192.0.2.1", "192.0.2.66"))
    assert result.exit_code == 1, result.output
    bogus = [f for f in findings(result) if f["code"] == "dnssec.bogus"]
    assert bogus and f"www.{zone} A" in bogus[0]["message"], result.output
    assert lab.validator.ask(f"www.{zone}", "A").rcode() == dns.rcode.SERVFAIL
    assert lab.validator.validated(zone, "SOA")  # the rest of the zone still validates


def test_multi_signer_pair_after_apply_is_clean_and_embedded_faults_are_named(lab, embedded, tmp_path):
    """BIND and the embedded server after `dnssync apply` exchanged their keys: the matrix
    is all valid and verify --dnssec is clean, the parent holding what `dnssync ds` prints.
    Then the embedded server's faults: broken and expired RRSIGs, each a named finding."""
    zone = unique_zone("msv")
    lab.add_signed_zone(zone, ["bind"], ds=False)
    repo = multi_signer_repo(lab, tmp_path, zone, ["bind"], embedded=embedded)
    assert repo.run("apply", "--yes", "--force").exit_code == 0
    ds = json.loads(repo.run("ds", zone, "--format", "json").output)
    set_ds(lab.parent, zone, [d["ds"] for d in ds["ds"]])
    result = repo.run("verify", "--dnssec", "--format", "json")
    assert result.exit_code == 0, result.output
    assert not [f for f in findings(result) if f["code"].startswith("dnssec.")], result.output
    matrix = next(z for z in json.loads(result.output)["dnssec"] if z["zone"] == zone)["matrix"]
    assert all(c["valid"] == c["total"] > 0 for row in matrix.values() for c in row.values()), matrix

    embedded.set_faults(rrsig="broken")
    found = findings(repo.run("verify", "--dnssec", "--format", "json"))
    assert {f["provider"] for f in found if f["code"] == "dnssec.bogus"} == {"emb"}
    embedded.set_faults(rrsig="expired")
    found = findings(repo.run("verify", "--dnssec", "--format", "json"))
    assert {f["provider"] for f in found if f["code"] == "dnssec.expired"} == {"emb"}
    embedded.clear_faults()


def test_an_algorithm_resolvers_may_not_validate_is_a_warning(lab, make_repo):
    """RSASHA1 (RFC 8624: NOT RECOMMENDED; RHEL 9's resolvers refuse SHA-1): signed by BIND's
    dnssec-signzone, served by Knot; every signature still validates here."""
    zone = unique_zone("sha1")
    result = presigned_verify(lab, make_repo, zone, algorithm="RSASHA1")
    assert result.exit_code == 0, result.output
    found = findings(result)
    assert {f["code"] for f in found} == {"dnssec.algorithm"}, found
    assert all(f["severity"] == "warning" and "RSASHA1 (algorithm 5)" in f["message"] for f in found)


def test_a_nxdomain_without_a_proof_is_named(lab, make_repo):
    """Knot serves a signed zone whose apex NSEC was changed after signing to end at aaa.<zone>:
    nothing covers the names between aaa and www any more, so a NXDOMAIN there is unproven."""
    zone = unique_zone("nsec")
    result = presigned_verify(lab, make_repo, zone, tamper=(f"NSEC\twww.{zone}", f"NSEC\taaa.{zone}"))
    assert result.exit_code == 1, result.output
    denial = [f for f in findings(result) if f["code"] == "dnssec.denial"]
    assert denial and "NXDOMAIN for dnssync-dnssec-nx-probe." in denial[0]["message"], result.output
    assert "no NSEC covers" in denial[0]["message"]
    assert lab.validator.ask(f"nothere.{zone}", "A").rcode() == dns.rcode.SERVFAIL
