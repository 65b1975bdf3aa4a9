"""`dnssync drift` against the real lab: records changed out of band, by an operator with
nsupdate and the TSIG key, or through the PowerDNS API, are found; nothing is changed."""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET

import requests
import yaml

from tests.conftest import unique_zone
from tests.test_push_lab import ask

ZONE = "www:\n  type: A\n  value: 192.0.2.1\n"


def nsupdate(lab, server: str, commands: str) -> None:
    s = lab.servers[server]
    script = f"server {s.address} {s.port}\n{commands}\nsend\n"
    done = subprocess.run(["nsupdate", "-y", f"hmac-sha256:{s.key_name}:{s.key_secret}"], input=script,
                          capture_output=True, text=True, timeout=20)
    assert done.returncode == 0, done.stderr


def pdns_add(lab, zone: str, name: str, rtype: str, content: str) -> None:
    pdns = lab.pdns
    response = requests.patch(pdns.api_url(f"zones/{zone}"), headers={"X-API-Key": pdns.api_key},
                              timeout=5, json={"rrsets": [{
                                  "name": name, "type": rtype, "ttl": 300, "changetype": "REPLACE",
                                  "records": [{"content": content, "disabled": False}]}]})
    assert response.status_code == 204, response.text


def test_in_sync_then_out_of_band_changes_are_found_and_left_alone(make_repo, lab, junit_schema):
    zone = unique_zone()
    repo = make_repo({zone: ZONE})
    assert repo.run("apply", "--yes").exit_code == 0
    clean = repo.run("drift")
    assert clean.exit_code == 0, clean.output
    assert "In sync: 3 provider/zone pair(s)" in clean.output

    nsupdate(lab, "knot", f"update delete www.{zone} A\nupdate add www.{zone} 3600 A 192.0.2.66")
    pdns_add(lab, zone, f"rogue.{zone}", "TXT", '"added by hand"')

    result = repo.run("drift", "--format", "json")
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert not data["in_sync"]
    assert {(d["provider"]) for d in data["drifted"]} == {"knot", "pdns"}
    found = {(f["code"], f["provider"], f["name"], f["type"]): f for f in data["findings"]}
    assert set(found) == {("drift.changed", "knot", "www", "A"), ("drift.extra", "pdns", "rogue", "TXT")}
    changed = found[("drift.changed", "knot", "www", "A")]
    assert (changed["expected"], changed["observed"]) == ("3600 192.0.2.1", "3600 192.0.2.66")
    assert changed["file"].endswith(f"{zone}yaml") and changed["line"] == 1  # the record name's line
    extra = found[("drift.extra", "pdns", "rogue", "TXT")]
    assert (extra["expected"], extra["observed"]) == ("absent", '300 "added by hand"')

    text = repo.run("drift")
    assert text.exit_code == 1 and "Drift at knot/" in text.output and "pdns/" in text.output
    junit = repo.run("drift", "--format", "junit")
    assert junit.exit_code == 1 and junit.output.count("<failure") == 2
    junit_schema.validate(junit.stdout)
    assert 'failures="2"' in junit.output
    # one case per provider's live state: the drifted pairs fail their own case, and no
    # other case (per provider, or "agreement between providers") is made up
    cases = {c.get("classname"): c for c in ET.fromstring(junit.stdout).iter("testcase")}
    assert {c.get("name") for c in cases.values()} == {"live state"}
    assert {cls.rsplit(".", 1)[1]: c.find("failure") is not None for cls, c in cases.items()} == {
        "bind": False, "knot": True, "pdns": True}
    markdown = repo.run("drift", "--format", "markdown")
    assert markdown.output.startswith("## dnssync drift\n") and "dnssync verify" not in markdown.output
    # drift never changes anything
    assert ask(lab, "knot", f"www.{zone}", "A") == {"192.0.2.66"}
    assert ask(lab, "pdns", f"rogue.{zone}", "TXT") == {'"added by hand"'}


def test_zone_missing_at_a_provider(make_repo, lab):
    zone = unique_zone()
    repo = make_repo({zone: ZONE}, providers=["bind", "knot"])
    (repo.root / "providers" / "pdns.yaml").write_text(
        yaml.safe_dump(lab.provider_file("pdns")))
    result = repo.run("drift", "--format", "json", "--provider", "pdns")
    assert result.exit_code == 1
    [finding] = json.loads(result.stdout)["findings"]
    assert (finding["code"], finding["provider"]) == ("drift.zone-missing", "pdns")


def test_unreadable_provider_is_a_finding(make_repo, lab):
    zone = unique_zone()
    repo = make_repo({zone: ZONE}, providers=["bind"])
    repo.env = {**repo.env, "DNSSYNC_LAB_BIND_TSIG": "d3JvbmctYnV0LXZhbGlkLWJhc2U2NC1zZWNyZXQ="}
    result = repo.run("drift", "--format", "markdown")
    assert result.exit_code == 1
    assert "plan.provider-error" in result.output and "BADSIG" in result.output
