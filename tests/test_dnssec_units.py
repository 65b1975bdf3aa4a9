"""DNSSEC without servers: `policy.dnssec` as read from dnssync.yaml; signatures, their
validity window and NSEC/NSEC3 denial proofs as `dnssync.model.signatures` judges them
(the real servers' answers are judged in tests/test_dnssec_verify_lab.py)."""

from __future__ import annotations

import dns.dnssec
import dns.name
import dns.rdatatype
import dns.rrset
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from dnssync.model.signatures import (
    KeyRing,
    Signed,
    algorithm_problem,
    denial_problem,
    signed_rrsets,
    timing,
    verifying_key,
)
from dnssync.repo.config import read_config


def test_policy_dnssec_default_per_zone_and_margin(tmp_path):
    (tmp_path / "zones").mkdir()
    (tmp_path / "providers").mkdir()
    (tmp_path / "dnssync.yaml").write_text(
        "policy:\n  dnssec:\n    default: unsigned\n    zones: {example.com: multi-signer}\n"
        "    expiry_margin: 12h\n")
    config, findings = read_config(tmp_path)
    assert not [f for f in findings if f.line is not None], findings  # only "no provider files"
    assert config.policy.dnssec_for("example.com.") == "multi-signer"
    assert config.policy.dnssec_for("example.org.") == "unsigned"
    assert config.policy.dnssec_expiry_margin == 12 * 3600
    (tmp_path / "dnssync.yaml").write_text("policy:\n  dnssec: multi-signer\n")
    config, _ = read_config(tmp_path)
    assert config.policy.dnssec_for("example.org.") == "multi-signer"
    assert config.policy.dnssec_expiry_margin == 3 * 86400  # the default: three days


def test_policy_dnssec_default_is_unsigned(tmp_path):
    (tmp_path / "zones").mkdir()
    (tmp_path / "providers").mkdir()
    (tmp_path / "dnssync.yaml").write_text("zones: zones\n")
    config, _ = read_config(tmp_path)
    assert config.policy.dnssec_for("example.com.") == "unsigned"


# --- dnssync.model.signatures: signatures and denial proofs, judged offline -----------------

ORIGIN = dns.name.from_text("example.")


def _key():
    private = ec.generate_private_key(ec.SECP256R1())
    return private, dns.dnssec.make_dnskey(private.public_key(), dns.dnssec.Algorithm.ECDSAP256SHA256)


def _signed(text: str, private, key, inception=1_700_000_000, expiration=1_800_000_000) -> Signed:
    rrset = dns.rrset.from_text("www.example.", 60, "IN", "A", text)
    rrsig = dns.dnssec.sign(rrset, private, ORIGIN, key, inception=inception, expiration=expiration)
    return Signed(rrset, (rrsig,))


def test_verifying_key_names_the_key_or_why_not():
    private, key = _key()
    _, other = _key()
    signed = _signed("192.0.2.1", private, key)
    assert verifying_key(signed, signed.rrsigs[0], KeyRing([other, key])) == (key, "")
    found, why = verifying_key(signed, signed.rrsigs[0], KeyRing([other]))
    assert found is None and why.startswith(f"no DNSKEY with tag {dns.dnssec.key_id(key)}")
    tampered = Signed(dns.rrset.from_text("www.example.", 60, "IN", "A", "192.0.2.66"), signed.rrsigs)
    assert verifying_key(tampered, signed.rrsigs[0], KeyRing([key])) == (None, "the signature does not validate")


def test_timing_expired_not_yet_and_within_the_margin():
    private, key = _key()
    rrsig = _signed("192.0.2.1", private, key, 1000, 2000).rrsigs[0]
    assert timing(rrsig, 2500, 0) == "expired"
    assert timing(rrsig, 500, 0) == "not-yet-valid"
    assert timing(rrsig, 1500, 600) == "expiring"
    assert timing(rrsig, 1500, 100) is None


def test_signed_rrsets_pairs_each_rrset_with_its_rrsigs():
    private, key = _key()
    signed = _signed("192.0.2.1", private, key)
    rrsig = dns.rrset.from_rdata_list(signed.rrset.name, 60, list(signed.rrsigs))
    soa = dns.rrset.from_text("example.", 60, "IN", "SOA", "ns. h. 1 2 3 4 5")
    found = signed_rrsets([[signed.rrset, rrsig], [soa]])
    assert [(s.rrset.rdtype, len(s.rrsigs)) for s in found] == [(dns.rdatatype.A, 1), (dns.rdatatype.SOA, 0)]


def _nsec(owner: str, nxt: str, types: str) -> dns.rrset.RRset:
    return dns.rrset.from_text(owner, 300, "IN", "NSEC", f"{nxt} {types}")


CHAIN = [_nsec("example.", "a.example.", "NS SOA RRSIG NSEC DNSKEY"), _nsec("a.example.", "c.example.", "A RRSIG NSEC"),
         _nsec("c.example.", "example.", "A RRSIG NSEC")]


def test_nsec_nxdomain_needs_the_name_and_the_wildcard_covered():
    name = dns.name.from_text("b.example.")
    assert denial_problem(name, dns.rdatatype.A, ORIGIN, True, CHAIN) is None
    assert denial_problem(name, dns.rdatatype.A, ORIGIN, True, CHAIN[1:]) == \
        "no NSEC proves that *.example. does not exist"
    assert denial_problem(name, dns.rdatatype.A, ORIGIN, True, [CHAIN[0], CHAIN[2]]) == "no NSEC covers b.example."
    assert denial_problem(dns.name.from_text("z.example."), dns.rdatatype.A, ORIGIN, True,
                          [CHAIN[0], CHAIN[2]]) is None  # the last NSEC wraps to the apex


def test_nsec_nodata_needs_the_names_own_nsec_without_the_type():
    name = dns.name.from_text("a.example.")
    assert denial_problem(name, dns.rdatatype.MX, ORIGIN, False, CHAIN) is None
    assert "lists A or CNAME" in denial_problem(name, dns.rdatatype.A, ORIGIN, False, CHAIN)
    assert denial_problem(name, dns.rdatatype.MX, ORIGIN, False, []) == "no NSEC or NSEC3 records in the answer"


def _nsec3_chain(names: list[str]) -> list[dns.rrset.RRset]:
    hashed = sorted((dns.dnssec.nsec3_hash(n, None, 0, 1).lower(), n) for n in names)
    return [dns.rrset.from_text(f"{h}.example.", 300, "IN", "NSEC3",
                                f"1 0 0 - {hashed[(i + 1) % len(hashed)][0]} A RRSIG")
            for i, (h, _) in enumerate(hashed)]


def test_nsec3_nxdomain_closest_encloser_next_closer_and_wildcard():
    chain = _nsec3_chain(["example.", "a.example.", "c.example.", "d.example."])
    name = dns.name.from_text("b.example.")
    assert denial_problem(name, dns.rdatatype.A, ORIGIN, True, chain) is None
    apex = dns.dnssec.nsec3_hash("example.", None, 0, 1).lower()
    without_apex = [r for r in chain if not r.name.to_text().startswith(apex)]
    assert denial_problem(name, dns.rdatatype.A, ORIGIN, True, without_apex) == \
        "no NSEC3 matches a closest encloser of b.example."


@pytest.mark.parametrize("present,qtype,problem", [
    ("a.example.", "MX", None), ("a.example.", "A", "lists A or CNAME"), ("zz.example.", "MX", "no NSEC3 matches")])
def test_nsec3_nodata(present, qtype, problem):
    chain = _nsec3_chain(["example.", "a.example."])
    found = denial_problem(dns.name.from_text(present), dns.rdatatype.from_text(qtype), ORIGIN, False, chain)
    assert (found is None) if problem is None else (problem in found)


def test_algorithms_resolvers_validate():
    assert algorithm_problem(13) is None and algorithm_problem(8) is None
    assert algorithm_problem(5)[0] == "warning"  # RSASHA1
    assert algorithm_problem(3)[0] == "error"  # DSA
    assert algorithm_problem(200)[0] == "error"
