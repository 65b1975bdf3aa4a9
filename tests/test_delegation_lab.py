"""The parent delegation check against a real parent: Knot holding `test.` on {net}.5
delegates each test's child zone to the three lab providers, rightly or wrongly."""

from __future__ import annotations

import asyncio
import json
import os
from unittest.mock import patch

from dnssync.repo.repository import Repository
from dnssync.verify.delegation import check_delegations
from tests.conftest import unique_zone
from tests.lab.lab import NET

ZONE = "www:\n  type: A\n  value: 192.0.2.1\n"
PARENT = {"parent": {"nameservers": [f"{NET}.5"]}}  # as the lab writes it; explicit here


def check(repo) -> dict[tuple[str, str | None], dict]:
    with patch.dict(os.environ, repo.env):
        loaded = Repository.load(repo.root)
    findings = asyncio.run(check_delegations(loaded.config, loaded.desired, loaded.managed))
    return {(f.code, f.nameserver): json.loads(json.dumps(f.to_dict())) for f in findings}


def test_a_right_delegation_has_no_finding(make_repo, lab, parent):
    zone = unique_zone()
    repo = make_repo({zone: ZONE})  # the lab delegates every zone it creates, and points repos at it
    assert parent.delegations[zone] == set(lab.nameservers)
    assert check(repo) == {}


def test_delegation_missing_one_provider(make_repo, lab, parent):
    zone = unique_zone()
    repo = make_repo({zone: ZONE}, config=PARENT)
    parent.delegate(zone, [lab.pdns.nameserver, lab.bind.nameserver])
    found = check(repo)
    assert set(found) == {("delegation.missing", "ns1.knot.lab.")}
    missing = found[("delegation.missing", "ns1.knot.lab.")]
    assert missing["provider"] == "knot"
    assert missing["expected"] == lab.nameservers
    assert missing["observed"] == sorted([lab.pdns.nameserver, lab.bind.nameserver])


def in_zone_nameservers(lab, zone: str) -> tuple[str, dict]:
    """Providers whose nameservers are named inside the zone (so the parent needs glue),
    and the zone file with their A records."""
    extra = {name: {"nameservers": [{"name": f"ns-{name}.{zone}", "address": s.address}]}
             for name, s in lab.servers.items()}
    records = "".join(f"ns-{name}:\n  type: A\n  value: {s.address}\n" for name, s in lab.servers.items())
    return records + ZONE, extra


def test_glue_differing_from_the_zones_own_address(make_repo, lab, parent):
    zone = unique_zone()
    text, extra = in_zone_nameservers(lab, zone)
    repo = make_repo({zone: text}, config=PARENT, provider_extra=extra)
    assert repo.run("apply", "--yes", "--force").exit_code == 0
    wrong = f"{NET}.99"
    glue = {f"ns-{name}.{zone}": [s.address] for name, s in lab.servers.items()}
    glue[f"ns-knot.{zone}"] = [wrong]
    parent.delegate(zone, sorted(glue), glue)
    found = check(repo)
    bad = found[("delegation.glue", f"ns-knot.{zone}")]
    assert bad["expected"] == [lab.knot.address] and bad["observed"] == [wrong]
    assert {code for code, _ in found} <= {"delegation.glue", "delegation.lame"}
    assert [ns for code, ns in found if code == "delegation.glue"] == [f"ns-knot.{zone}"]
    # resolvers follow the wrong glue to an address where nothing answers
    assert ("delegation.lame", f"ns-knot.{zone.rstrip('.')} ({wrong})") in found


def test_lame_server_that_does_not_have_the_zone(make_repo, lab, parent):
    zone = unique_zone()
    repo = make_repo({zone: ZONE}, config=PARENT, create=False)
    lab.add_zone(zone, ["pdns", "bind"])  # the zone was never created at knot
    parent.delegate(zone, lab.nameservers)
    found = check(repo)
    where = f"ns1.knot.lab ({lab.knot.address})"
    assert set(found) == {("delegation.lame", where)}
    assert "REFUSED" in found[("delegation.lame", where)]["observed"]


def test_extra_nameserver_in_the_delegation(make_repo, lab, parent):
    zone = unique_zone()
    repo = make_repo({zone: f"ns-old:\n  type: A\n  value: {lab.pdns.address}\n" + ZONE}, config=PARENT)
    old = f"ns-old.{zone}"
    parent.delegate(zone, [*lab.nameservers, old], {old: [lab.pdns.address]})
    assert set(check(repo)) == {("delegation.extra", old)}


def test_parent_found_by_walking_down_from_the_root(make_repo, lab, parent):
    """`roots` stands in for the root servers: the walk follows referrals from there."""
    zone, undelegated = unique_zone(), unique_zone()
    repo = make_repo({zone: ZONE, undelegated: ZONE}, config={"parent": {"roots": [f"{NET}.5"]}})
    parent.delegate(zone, [lab.pdns.nameserver, lab.bind.nameserver])
    parent.undelegate(undelegated)
    found = check(repo)
    assert ("delegation.missing", "ns1.knot.lab.") in found
    [(code, _)] = [k for k, f in found.items() if f["zone"] == undelegated]
    assert code == "delegation.parent-error"
    assert "no delegation" in found[(code, None)]["message"]


def test_parent_not_answering_is_a_finding(make_repo, lab):
    zone = unique_zone()
    repo = make_repo({zone: ZONE}, config={"parent": {"nameservers": [f"{NET}.250"]}})
    [(code, where)] = list(check(repo))
    assert code == "delegation.parent-error" and where == f"{NET}.250"


def test_verify_delegation_command_and_full_verify(make_repo, lab, parent):
    zone = unique_zone()
    repo = make_repo({zone: ZONE})
    assert repo.run("apply", "--yes").exit_code == 0
    ok = repo.run("verify", "--delegation")
    assert ok.exit_code == 0, ok.output
    assert "Delegation OK: 1 zone(s)" in ok.output
    assert repo.run("verify").exit_code == 0

    parent.delegate(zone, [lab.pdns.nameserver, lab.bind.nameserver])
    only = repo.run("verify", "--delegation", "--format", "json")
    assert only.exit_code == 1
    codes = {(f["code"], f.get("provider")) for f in json.loads(only.stdout)["findings"]}
    assert codes == {("delegation.missing", "knot")}
    full = repo.run("verify", "--format", "json")
    assert full.exit_code == 1
    assert ("delegation.missing", "knot") in {(f["code"], f.get("provider"))
                                              for f in json.loads(full.stdout)["findings"]}


def test_bad_parent_settings_are_input_errors(make_repo):
    repo = make_repo({unique_zone(): ZONE}, create=False, config={"parent": {
        "nameservers": ["[2001:db8::1"], "zones": {"example.com": "not-a-list"}, "root": []}})
    result = repo.run("verify", "--delegation")
    assert result.exit_code == 2, result.output
    for expected in ("dnssync.yaml", "unknown key 'root'", "is not host[:port]",
                     "parent 'example.com' must be a list"):
        assert expected in result.output
    assert "Nothing was sent" in result.output
