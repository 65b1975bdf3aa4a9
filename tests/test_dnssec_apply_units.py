"""Units of the apply side of DNSSEC (issue 15): the DS computation against BIND's own
dnssec-dsfromkey, the key plan of a multi-signer zone from what providers serve, the server
verdicts from real version strings, and a plan with DNSKEY changes through its JSON."""

from __future__ import annotations

import shutil
import subprocess

import dns.dnssec
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from dnssync.embedded.signing import ZoneKeys
from dnssync.model.dnskeys import describe, ds_for, ds_matches, ds_set, key_tag
from dnssync.model.findings import Severity
from dnssync.model.plan import Change, Plan, ProviderPlan
from dnssync.planning.keyplan import plan_zone
from dnssync.providers.signers import verdict
from dnssync.query.servedkeys import NameserverKeys, ServedKeys

ZONE = "ms.example."


@pytest.mark.skipif(shutil.which("dnssec-dsfromkey") is None, reason="needs BIND's dnssec-dsfromkey")
def test_ds_is_what_bind_computes(tmp_path):
    keys = ZoneKeys.generate()
    (tmp_path / "k.key").write_text(f"{ZONE} 3600 IN DNSKEY {keys.ksk.to_text()}\n")
    bind = subprocess.run(["dnssec-dsfromkey", "-2", "-f", str(tmp_path / "k.key"), ZONE],
                          capture_output=True, text=True, check=True).stdout.split()
    ours = ds_for(ZONE, keys.ksk)
    assert bind[-4:-1] == [str(ours.key_tag), "13", "2"]
    assert bind[-1].lower() == ours.digest.hex()
    assert ds_matches(ours, ZONE, keys.ksk) and not ds_matches(ours, ZONE, keys.zsk)
    assert [d.key_tag for d in ds_set(ZONE, [keys.zsk, keys.ksk])] == [key_tag(keys.ksk)]
    assert describe(keys.zsk) == f"ZSK {key_tag(keys.zsk)} (ECDSAP256SHA256)"


def _served(provider: str, keys: ZoneKeys, foreign=(), ttl: int = 5) -> ServedKeys:
    ns = NameserverKeys(f"ns1.{provider}", [keys.ksk, keys.zsk, *foreign], ttl,
                        {key_tag(keys.ksk)}, {key_tag(keys.zsk)})
    return ServedKeys(provider, ZONE, [ns])


def test_key_plan_publishes_each_zsk_at_the_others_and_retires_only_when_everyone_was_read():
    a, b, old = ZoneKeys.generate(), ZoneKeys.generate(), ZoneKeys.generate()
    served = {"a": _served("a", a, [old.zsk]), "b": _served("b", b, [a.zsk])}
    able = {"a": verdict("BindProvider", "9.18.28-1~deb12u2-Debian"), "b": verdict("EmbeddedProvider", None)}
    plan = plan_zone(ZONE, served, able, Severity.ERROR)
    assert not plan.findings and plan.wait == 5
    at_a = {(c.action, (c.desired and c.desired["values"][0]) or c.existing["values"][0]) for c in plan.changes["a"]}
    assert at_a == {("create", b.zsk.to_text()), ("delete", old.zsk.to_text())}
    assert "b" not in plan.changes  # already publishes a's ZSK
    # b unreadable: nothing is retired anywhere, and it is named
    served["b"] = ServedKeys("b", ZONE, [NameserverKeys("ns1.b", error="no answer within 2s")])
    plan = plan_zone(ZONE, served, able, Severity.ERROR)
    assert [f.code for f in plan.findings] == ["dnssec.keys-unreadable"] and "a" not in plan.changes


def test_a_server_that_cannot_publish_is_a_parity_finding_naming_it():
    a, k = ZoneKeys.generate(), ZoneKeys.generate()
    served = {"a": _served("a", a), "knot": _served("knot", k)}
    able = {"a": verdict("EmbeddedProvider", "dnssync-embedded 0.1.0"),
            "knot": verdict("KnotProvider", "Knot DNS 3.2.6")}
    plan = plan_zone(ZONE, served, able, Severity.WARNING)
    (finding,) = plan.findings
    assert (finding.code, finding.severity) == ("parity.dnssec-foreign-keys", Severity.WARNING)
    assert finding.provider == "knot"
    assert "Knot DNS 3.2.6" in finding.message and f"ZSK {key_tag(a.zsk)}" in finding.message
    assert [c.note for c in plan.changes["a"]] == [f"ZSK {key_tag(k.zsk)} (ECDSAP256SHA256) of knot"]


@pytest.mark.parametrize(("cls", "version", "software", "can"), [
    ("BindProvider", "9.18.28-1~deb12u2-Debian", "BIND 9.18.28-1~deb12u2-Debian", True),
    ("BindProvider", "9.16.44", "BIND 9.16.44", False),
    ("KnotProvider", "Knot DNS 3.2.6", "Knot DNS 3.2.6", False),
    ("PowerDnsProvider", "PowerDNS Authoritative Server 4.7.3 (built Jan 1 2023)", "PowerDNS 4.7.3", False),
    ("BindProvider", None, "BIND (version hidden)", False),
    ("Route53Provider", None, "Route53Provider", False),
])
def test_verdicts(cls, version, software, can):
    found = verdict(cls, version)
    assert (found.software, found.can) == (software, can)


def test_a_plan_with_key_changes_survives_its_json():
    key = ZoneKeys.generate().zsk.to_text()
    change = Change("create", "", "DNSKEY", desired={"ttl": 5, "values": [key]}, note="ZSK 1 of b")
    plan = Plan(zones={ZONE: []}, providers=[ProviderPlan("a", ZONE, True, keys=[change])])
    again = Plan.from_json(plan.to_json())
    assert again.providers[0].keys == [change] and again.has_changes
    assert again.providers[0].counts() == {"create": 1, "update": 0, "delete": 0}
    # a plan without a key exchange is the document it was before DNSKEY changes existed
    plain = Plan(zones={ZONE: []}, providers=[ProviderPlan("a", ZONE, True)])
    assert '"keys"' not in plain.to_json() and '"note"' not in plain.to_json()


def test_zone_keys_survive_their_json():
    keys = ZoneKeys.generate()
    again = ZoneKeys.from_json(keys.to_json())
    assert (again.ksk, again.zsk) == (keys.ksk, keys.zsk)
    assert isinstance(again.ksk_private, ec.EllipticCurvePrivateKey)
    assert dns.dnssec.key_id(again.ksk) == key_tag(keys.ksk)


def test_key_changes_show_in_every_plan_format():
    from rich.console import Console

    from dnssync.report.github import plan_annotations
    from dnssync.report.junit import plan_cases
    from dnssync.report.markdown import plan_markdown
    from dnssync.report.text import print_plan

    key = ZoneKeys.generate().zsk
    change = Change("create", "", "DNSKEY", desired={"ttl": 5, "values": [key.to_text()]},
                    note=f"{describe(key)} of knot")
    plan = Plan(zones={ZONE: []}, providers=[ProviderPlan("bind", ZONE, True, keys=[change])])
    console = Console(record=True, width=250)
    print_plan(console, plan)
    text = console.export_text()
    assert "DNSKEY" in text and f"{describe(key)} of knot" in text and "1 to create" in text
    assert f"{describe(key)} of knot" in plan_markdown(plan)
    assert "create @ DNSKEY 5 256 3 13" in plan_annotations(plan)
    assert any("create @ DNSKEY" in line for case in plan_cases(plan) for line in case.output)
