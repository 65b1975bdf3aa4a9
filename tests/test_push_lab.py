"""Push zones to the three real providers (PowerDNS, BIND, Knot) and read them back over DNS."""

from __future__ import annotations

import json

import dns.message
import dns.query
import dns.rdatatype
import pytest

from tests.conftest import ROOT, unique_zone

EXAMPLES = {p.name[: -len("yaml")]: p.read_text() for p in (ROOT / "zones").glob("*.yaml")}


def ask(lab, server: str, name: str, rtype: str) -> set[str]:
    """The values one lab server answers for name/type (authoritatively)."""
    address = lab.servers[server].address
    response = dns.query.udp(dns.message.make_query(name, rtype), address, timeout=3)
    assert response.flags & dns.flags.AA, f"{server} not authoritative for {name}"
    return {rdata.to_text() for rrset in response.answer if rrset.rdtype == dns.rdatatype.from_text(rtype)
            for rdata in rrset}


def test_example_zones_push_to_all_three_and_converge(make_repo, lab):
    repo = make_repo(EXAMPLES)
    result = repo.run("apply", "--yes")
    assert result.exit_code == 0, result.output
    assert result.output.count("applied") >= 6  # 2 zones x 3 providers
    again = repo.run("plan", "--detailed-exitcode")
    assert again.exit_code == 0, again.output
    assert "No changes" in again.output
    for server in lab.servers:
        assert ask(lab, server, "mail1.example.com.", "A") == {"192.0.2.25"}
        assert ask(lab, server, "_sip._tcp.example.com.", "SRV") == {
            "10 60 5060 sip.example.com.", "20 40 5060 sip-backup.example.com."}
        assert ask(lab, server, "example.com.", "NS") == set(lab.nameservers)
        assert ask(lab, server, "sip.example.net.", "NAPTR") == {
            '10 100 "S" "SIP+D2U" "" _sip._udp.example.net.'}


def test_edit_and_apply_again(make_repo, lab):
    zone = unique_zone()
    repo = make_repo({zone: "www:\n  type: A\n  value: 192.0.2.1\ntxt:\n  type: TXT\n  value: old\n"})
    assert repo.run("apply", "--yes").exit_code == 0
    repo.zone_file(zone).write_text(
        "mail:\n  type: A\n  value: 192.0.2.9\nwww:\n  ttl: 120\n  type: A\n  values: [192.0.2.2, 192.0.2.3]\n")
    plan = repo.run("plan", "--format", "json", "--detailed-exitcode")
    assert plan.exit_code == 3
    data = json.loads(plan.stdout)
    actions = {(p["provider"], c["action"], c["name"]) for p in data["providers"] for c in p["changes"]}
    for provider in lab.servers:
        assert {(provider, "create", "mail"), (provider, "update", "www"), (provider, "delete", "txt")} <= actions
    result = repo.run("apply", "--yes")
    assert result.exit_code == 0, result.output
    for server in lab.servers:
        assert ask(lab, server, f"www.{zone}", "A") == {"192.0.2.2", "192.0.2.3"}
        assert ask(lab, server, f"mail.{zone}", "A") == {"192.0.2.9"}
        assert ask(lab, server, f"txt.{zone}", "TXT") == set()
    assert repo.run("plan", "--detailed-exitcode").exit_code == 0


@pytest.mark.parametrize("down", ["pdns", "bind", "knot"])
def test_one_provider_down_others_applied_rerun_converges(make_repo, lab, down):
    zone = unique_zone()
    repo = make_repo({zone: "www:\n  type: A\n  value: 192.0.2.1\n"})
    with lab.stopped(down):
        result = repo.run("apply", "--yes", "--format", "json")
        assert result.exit_code == 1, result.output
        outcomes = {o["provider"]: o for o in json.loads(result.stdout)["apply"]["outcomes"]}
        assert outcomes[down]["status"] == "failed"
        assert outcomes[down]["attempts"] == 3  # first try + 2 retries (defaults.retries in the lab repo)
        for other in set(lab.servers) - {down}:
            assert outcomes[other]["status"] == "applied", outcomes[other]
            assert ask(lab, other, f"www.{zone}", "A") == {"192.0.2.1"}
    rerun = repo.run("apply", "--yes")
    assert rerun.exit_code == 0, rerun.output
    assert ask(lab, down, f"www.{zone}", "A") == {"192.0.2.1"}
    assert repo.run("plan", "--detailed-exitcode").exit_code == 0
