"""`dnssync soa` against the real lab: every provider's SOA side by side, asked of each
nameserver; a negative TTL that differs and an EXPIRE under a day are flagged."""

from __future__ import annotations

import json

from tests.conftest import unique_zone
from tests.lab.lab import NET
from tests.test_drift_lab import nsupdate

ZONE = "www:\n  type: A\n  value: 192.0.2.1\n"


def test_soa_side_by_side_in_agreement(make_repo, lab):
    zone = unique_zone()
    repo = make_repo({zone: ZONE})
    result = repo.run("soa", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["findings"] == []
    views = {v["provider"]: v for v in data["soa"]}
    assert set(views) == set(lab.servers)
    for name, server in lab.servers.items():
        assert views[name]["mname"] == server.nameserver  # each provider owns its SOA
        assert (views[name]["expire"], views[name]["minimum"], views[name]["negative_ttl"]) == (604800, 5, 5)
    text = repo.run("soa")
    assert "negative TTL" in text.output and "ns1.bind.lab" in text.output


def test_negative_ttl_differing_and_short_expire_are_flagged(make_repo, lab):
    zone = unique_zone()
    repo = make_repo({zone: ZONE})
    nsupdate(lab, "bind", f"update add {zone} 600 SOA {lab.bind.nameserver} hostmaster.{zone}"
                          " 2 3600 600 3600 300")
    result = repo.run("soa", "--format", "json")
    assert result.exit_code == 1, result.output
    found = {f["code"]: f for f in json.loads(result.stdout)["findings"]}
    assert set(found) == {"verify.negative-ttl", "soa.expire-short"}
    assert found["verify.negative-ttl"]["severity"] == "error"
    assert found["verify.negative-ttl"]["observed"] == {"bind": 300, "knot": 5, "pdns": 5}
    assert (found["soa.expire-short"]["provider"], found["soa.expire-short"]["observed"]) == ("bind", 3600)
    assert found["soa.expire-short"]["severity"] == "warning"

    accepted = make_repo({zone: ZONE}, create=False, config={"policy": {"parity": {"types": {"SOA": "warn"}}}})
    result = accepted.run("soa", "--format", "markdown")
    assert result.exit_code == 0, result.output
    assert "| bind | ns1.bind.lab" in result.output and "`verify.negative-ttl`" in result.output


def test_nameserver_not_answering_and_serials_split(make_repo, lab):
    zone = unique_zone()
    knot = {"nameservers": [{"name": lab.knot.nameserver, "address": lab.knot.address},
                            {"name": "ns2.knot.lab.", "address": lab.bind.address}]}
    pdns = {"nameservers": [{"name": lab.pdns.nameserver, "address": f"{NET}.250"}]}
    repo = make_repo({zone: ZONE}, provider_extra={"knot": knot, "pdns": pdns})
    nsupdate(lab, "bind", f"update add bump.{zone} 60 A 192.0.2.9")  # BIND's serial moves on
    result = repo.run("soa", "--format", "json")
    assert result.exit_code == 1, result.output
    found = {f["code"]: f for f in json.loads(result.stdout)["findings"]}
    assert found["soa.unanswered"]["provider"] == "pdns"
    assert found["soa.unanswered"]["nameserver"] == f"ns1.pdns.lab ({NET}.250)"
    # "knot" now has a second nameserver that is really BIND: its serial differs from Knot's
    split = found["verify.soa-serial"]
    assert split["provider"] == "knot" and len(set(split["observed"].values())) == 2


def test_serials_split_alone_fail_as_the_help_says(make_repo, lab):
    """Serials that differ among one provider's nameservers: one of them serves an older
    zone. That is an error (exit 1), in `soa` as in verify, and its help says so."""
    zone = unique_zone()
    knot = {"nameservers": [{"name": lab.knot.nameserver, "address": lab.knot.address},
                            {"name": "ns2.knot.lab.", "address": lab.bind.address}]}
    repo = make_repo({zone: ZONE}, provider_extra={"knot": knot})
    nsupdate(lab, "bind", f"update add bump.{zone} 60 A 192.0.2.9")
    result = repo.run("soa", "--format", "json")
    assert result.exit_code == 1, result.output
    findings = json.loads(result.stdout)["findings"]
    assert [(f["code"], f["severity"], f["provider"]) for f in findings] == [
        ("verify.soa-serial", "error", "knot")]
    help_text = " ".join(repo.run("soa", "--help").output.split())
    assert "Exit 1 when a nameserver does not answer, when one provider's nameservers answer" \
           " different serials" in help_text
    assert "serials split" not in help_text
