"""The plan tells the truth (issue 10, apply side), against the real PowerDNS, BIND and Knot:

* what a server refuses is known at plan time (acceptance rules), named as
  "cannot hold" with the rule and the server option, and the rest is applied;
* a batch refused anyway is split down to the refused RRsets, each named with the
  server's answer, never retried and never "re-run apply";
* after apply every provider is read back, and what it did not store is a failure;
* a provider's own form of a record (PowerDNS's TYPE65401 for ALIAS) is not an extra;
* plan, drift and verify share one meaning of "the same value".
"""

from __future__ import annotations

import json

import dns.message
import dns.query
import dns.rdatatype
import dns.update
import requests

from dnssync.applying.apply import run_apply
from dnssync.applying.record import Outcome
from dnssync.applying.run import ApplyRun
from dnssync.embedded.fleet import Fleet
from dnssync.repo.repository import Repository, load_settings
from tests.conftest import unique_zone
from tests.embedded_repo import run, write_repo
from tests.test_push_lab import ask
from tests.test_verify_lab import nsupdate, verify_json

WARN = {"policy": {"parity": "warn"}}

REFUSED_BY_SOME = """\
_acme-challenge.docs:
  type: A
  value: 0.0.0.0
_sip._tcp:
  type: SRV
  value: {port: 5060, priority: 10, target: sip_gw.example.net., weight: 5}
legacy_cas_acp:
  type: A
  value: 192.0.2.7
mx:
  type: MX
  value: {exchange: mail_relay.example.net., preference: 10}
tokens:
  type: TXT
  values:
TOKENS
www:
  type: A
  value: 192.0.2.1
""".replace("TOKENS\n", "".join(f"    - verification-token-{i:03d}\n" for i in range(103)))


def plan_json(repo, *args: str) -> dict:
    result = repo.run("plan", "--format", "json", *args)
    assert result.exit_code in (0, 3), result.output
    return json.loads(result.stdout)


def unsupported(plan: dict) -> dict[tuple[str, str], dict]:
    return {(f["name"], f["type"]): f for f in plan["findings"] if f["code"] == "parity.unsupported"}


def clean_after(repo) -> None:
    """A second plan, drift and verify all agree that every provider serves git."""
    assert repo.run("plan", "--detailed-exitcode").exit_code == 0
    drift = repo.run("drift")
    assert drift.exit_code == 0, drift.output
    code, data = verify_json(repo)
    assert code == 0, [f["message"] for f in data["findings"] if f["severity"] == "error"]


def test_server_acceptance_rules_are_known_at_plan_time(make_repo, lab):
    zone = unique_zone("acc")
    repo = make_repo({zone: REFUSED_BY_SOME}, config=WARN)
    found = unsupported(plan_json(repo))
    assert set(found) == {("_acme-challenge.docs", "A"), ("legacy_cas_acp", "A"), ("mx", "MX"),
                          ("_sip._tcp", "SRV"), ("tokens", "TXT")}
    acme = found[("_acme-challenge.docs", "A")]
    assert acme["provider"] == "bind" and acme["line"] == 1 and acme["file"].endswith(f"{zone}yaml")
    assert ("BIND refuses it (REFUSED, rule check-names): its owner name _acme-challenge.docs."
            f"{zone} is not a host name; `check-names primary ignore;` in named.conf allows it") in acme["message"]
    assert found[("mx", "MX")]["provider"] == "bind,pdns"  # Knot holds it
    assert "PowerDNS refuses it (HTTP 422 non-hostname content, rule hostname-targets)" in found[("mx", "MX")][
        "message"]
    tokens = found[("tokens", "TXT")]
    assert tokens["provider"] == "bind"
    assert ("BIND refuses it (SERVFAIL, rule max-records-per-type): it has 103 records, over the limit of 100;"
            " raise `max-records-per-type` in named.conf") in tokens["message"]

    applied = repo.run("apply", "--yes")
    assert applied.exit_code == 0, applied.output  # parity: warn: the rest of the zone is applied
    assert ask(lab, "bind", f"www.{zone}", "A") == {"192.0.2.1"}
    assert ask(lab, "bind", f"_acme-challenge.docs.{zone}", "A") == set()
    assert ask(lab, "knot", f"_acme-challenge.docs.{zone}", "A") == {"0.0.0.0"}
    assert len(served_everywhere(lab, f"tokens.{zone}", "TXT")["pdns"]) == 103
    clean_after(repo)


def test_a_rule_switched_off_in_the_provider_file_is_sent_and_its_refusal_named(make_repo, lab):
    """The user says BIND allows these (capabilities), but the lab's BIND does not: the
    refused update is split, exactly the two refused RRsets are named with BIND's
    answers, everything else is applied, and nothing is retried."""
    zone = unique_zone("acc")
    repo = make_repo({zone: REFUSED_BY_SOME}, providers=["bind"], config=WARN, provider_extra={
        "bind": {"capabilities": {"check_names": False, "max_records_per_type": 0}}})
    plan = plan_json(repo)
    assert unsupported(plan) == {}  # the provider file says BIND holds all of it
    result = repo.run("apply", "--yes", "--format", "json")
    assert result.exit_code == 1
    [outcome] = json.loads(result.stdout)["apply"]["outcomes"]
    assert outcome["attempts"] == 1 and outcome["retryable"] is False
    error = outcome["error"]
    assert "refused 5 of 6 RRset change(s), the other 1 were applied" in error
    for refused in ("create _acme-challenge.docs A: REFUSED", "create legacy_cas_acp A: REFUSED",
                    "create mx MX: REFUSED", "create _sip._tcp SRV: REFUSED",
                    "create tokens TXT: SERVFAIL for this record each time it was sent"):
        assert refused in error
    assert outcome["pending"] == 5
    assert ask(lab, "bind", f"www.{zone}", "A") == {"192.0.2.1"}
    text = repo.run("apply", "--yes")
    assert "re-run apply" not in text.output and "PARTIALLY APPLIED: 5 of 5" not in text.output


def test_powerdns_422_is_split_to_the_refused_rrset(make_repo, lab):
    """PowerDNS refuses the whole PATCH for one RRset (its hostname rule, switched off in
    the provider file so nothing predicts it): the request is split, the rest applied."""
    zone = unique_zone("acc")
    repo = make_repo({zone: REFUSED_BY_SOME}, providers=["pdns"], config=WARN,
                     provider_extra={"pdns": {"capabilities": {"hostname_targets": False}}})
    result = repo.run("apply", "--yes", "--format", "json")
    assert result.exit_code == 1
    [outcome] = json.loads(result.stdout)["apply"]["outcomes"]
    assert outcome["attempts"] == 1 and outcome["retryable"] is False and outcome["pending"] == 2
    assert "refused 2 of 6 RRset change(s), the other 4 were applied" in outcome["error"]
    assert (f"mx.{zone} MX: HTTP 422: RRset mx.{zone} IN MX non-hostname content mail_relay.example.net."
            in outcome["error"])
    assert f"_sip._tcp.{zone} SRV: HTTP 422" in outcome["error"]
    assert ask(lab, "pdns", f"legacy_cas_acp.{zone}", "A") == {"192.0.2.7"}


RACE = "api:\n  type: A\n  value: 192.0.2.10\nwww:\n  type: A\n  value: 192.0.2.1\n"


def apply_while_a_cname_appears(root, zone: str, add_cname) -> Outcome:
    """Plan, then a CNAME appears at api out of band (`add_cname()`), then apply: the
    server ignores the A add beside it (RFC 2136 3.4.2.2) and answers NOERROR. No rule
    and no plan could predict it: only reading back shows it."""
    loaded = Repository.load(root)
    prepared = ApplyRun.fresh(loaded)
    add_cname()
    prepared.retries = 0
    result = run_apply(prepared)
    [outcome] = result.outcomes
    return outcome


def assert_not_stored(outcome: Outcome, zone: str) -> None:
    # the A it ignored, and the CNAME (not in git) that made it ignore it: a re-run would
    # delete the CNAME first, so here re-running helps, and apply says so
    assert outcome.status == "failed" and outcome.pending == 2 and outcome.retryable
    assert outcome.error.startswith("applied, but 2 RRset(s) not stored: the provider reported success")
    assert "create api A 3600 192.0.2.10" in outcome.error and f"delete api CNAME 300 www.{zone}" in outcome.error
    assert outcome.detail.endswith("[read back: 2 change(s) still pending; re-run apply to converge]")


def test_apply_reads_back_and_a_silently_dropped_rrset_is_a_failure(make_repo, lab, monkeypatch):
    zone = unique_zone("rb")
    repo = make_repo({zone: RACE}, providers=["knot"])
    for key, value in lab.env().items():
        monkeypatch.setenv(key, value)
    outcome = apply_while_a_cname_appears(repo.root, zone, lambda: nsupdate(
        lab, "knot", zone, ("add", f"api.{zone}", 300, "CNAME", f"www.{zone}")))
    assert_not_stored(outcome, zone)
    assert ask(lab, "knot", f"www.{zone}", "A") == {"192.0.2.1"}


def test_apply_reads_back_the_embedded_server_too(tmp_path):
    zone = "readback.test."
    root = tmp_path / "repo"
    ports = write_repo(root, {f"{zone}yaml": RACE}, ["solo"])

    def add_cname() -> None:
        update = dns.update.UpdateMessage(zone)
        update.add(f"api.{zone}", 300, "CNAME", f"www.{zone}")
        assert dns.query.tcp(update, "127.0.0.1", port=ports["solo"], timeout=3).rcode() == 0

    with Fleet.for_config(load_settings(root), tmp_path / "data"):
        assert_not_stored(apply_while_a_cname_appears(root, zone, add_cname), zone)
        assert run(root, "apply", "--yes").exit_code == 0  # as it said: the re-run converges
        assert run(root, "plan", "--detailed-exitcode").exit_code == 0


def test_a_delete_removes_what_the_server_holds_not_what_octodns_re_renders(make_repo, lab):
    """A TXT written out of band as several strings is read by octoDNS as one joined
    string; deleting it value by value sent RDATA the server does not have, which RFC
    2136 ignores in silence, so it stayed (and apply said "complete"). It is now deleted
    as an RRset, and the read-back would have caught it."""
    zone = unique_zone("rb")
    repo = make_repo({zone: "www:\n  type: A\n  value: 192.0.2.1\n"}, providers=["bind", "knot"])
    assert repo.run("apply", "--yes").exit_code == 0
    for server in ("bind", "knot"):
        nsupdate(lab, server, zone, ("add", f"old.{zone}", 300, "TXT", '"v=spf1" " -all"'))
    result = repo.run("apply", "--yes", "--force")
    assert result.exit_code == 0, result.output
    for server in ("bind", "knot"):
        assert ask(lab, server, f"old.{zone}", "TXT") == set()
    clean_after(repo)


def test_powerdns_lua_type_65402_is_not_an_extra(make_repo, lab):
    """PowerDNS keeps a `PowerDnsProvider/LUA` record as TYPE65402, which its zone transfer
    shows: verify knows it as PowerDNS's form of a record git has (an ALIAS's TYPE65401
    is aliaswire's, tests/test_alias_lab.py). Before, verify stopped with an internal error."""
    zone = unique_zone("al")
    repo = make_repo({zone: "lua:\n  type: PowerDnsProvider/LUA\n  value: {script: \"'192.0.2.1'\", type: A}\n"
                            "www:\n  type: A\n  value: 192.0.2.1\n"}, config=WARN)
    applied = repo.run("apply", "--yes")
    assert applied.exit_code == 0, applied.output
    axfr = dns.query.xfr(lab.pdns.address, zone)
    assert any(rrset.rdtype == 65402 for message in axfr for rrset in message.answer)  # what AXFR shows
    code, data = verify_json(repo)
    assert code == 0, [f["message"] for f in data["findings"]]
    assert not [f for f in data["findings"] if f["code"] == "verify.extra"]
    assert [(f["code"], f["provider"]) for f in data["findings"] if f["name"] == "lua"] == [
        ("verify.unverifiable", "pdns")]


SAME_VALUE = r"""quoted:
  type: TXT
  value: say \"hi\" and back\\slash
twice:
  type: A
  values: [192.0.2.2, 192.0.2.2, 192.0.2.3]
mail:
  type: MX
  values:
    - {exchange: MX1.Example.NET., preference: 10}
    - {exchange: mx1.example.net., preference: 10}
"""


def served_everywhere(lab, name: str, rtype: str) -> dict[str, set[bytes]]:
    """Each server's RDATA for name/type, as dnspython reads the wire (canonical form)."""
    found = {}
    for server in lab.servers:
        reply = dns.query.tcp(dns.message.make_query(name, rtype), lab.servers[server].address, timeout=3)
        found[server] = {r.to_digestable() for rrset in reply.answer
                         if rrset.rdtype == dns.rdatatype.from_text(rtype) for r in rrset}
    return found


def test_one_meaning_of_the_same_value_for_plan_drift_and_verify(make_repo, lab):
    zone = unique_zone("same")
    repo = make_repo({zone: SAME_VALUE})
    plan = plan_json(repo)
    assert not [f for f in plan["findings"] if f["code"].startswith("parity.")]  # duplicates are no difference
    result = repo.run("apply", "--yes")
    assert result.exit_code == 0, result.output  # PowerDNS no longer answers 422 to a duplicate
    for name, rtype in (("quoted", "TXT"), ("twice", "A"), ("mail", "MX")):
        served = served_everywhere(lab, f"{name}.{zone}", rtype)
        assert served["pdns"] == served["bind"] == served["knot"], (name, served)
    assert served_everywhere(lab, f"quoted.{zone}", "TXT")["pdns"] == {b'\x1asay \\"hi\\" and back\\\\slash'}
    clean_after(repo)  # and plan does not loop on them
    assert repo.run("plan", "--detailed-exitcode").exit_code == 0


def test_powerdns_txt_written_the_old_way_is_seen_by_plan_drift_and_verify(make_repo, lab):
    """octodns-powerdns stored octoDNS's value unescaped (`say "hi"` for git's `say \\"hi\\"`)
    while reading it back as git's: plan and drift said in sync, verify did not. Such a
    record (written here through the API as the plugin did) is now a pending change that
    all three report, and one apply makes it converge."""
    zone = unique_zone("same")
    repo = make_repo({zone: 'quoted:\n  type: TXT\n  value: say \\"hi\\"\n'}, providers=["pdns"])
    requests.patch(lab.pdns.api_url(f"zones/{zone}"), headers={"X-API-Key": lab.pdns.api_key}, timeout=5,
                   json={"rrsets": [{"name": f"quoted.{zone}", "type": "TXT", "ttl": 3600, "changetype": "REPLACE",
                                     "records": [{"content": '"say \\"hi\\""', "disabled": False}]}]}
                   ).raise_for_status()
    assert ask(lab, "pdns", f"quoted.{zone}", "TXT") == {'"say \\"hi\\""'}
    assert repo.run("plan", "--detailed-exitcode").exit_code == 3
    assert repo.run("drift").exit_code == 1
    assert verify_json(repo)[0] == 1
    assert repo.run("apply", "--yes").exit_code == 0
    assert ask(lab, "pdns", f"quoted.{zone}", "TXT") == {'"say \\\\\\"hi\\\\\\""'}
    clean_after(repo)


APEX_CNAME = ("'':\n  octodns: {lenient: true}\n  type: CNAME\n  value: web.example.org.\n"
              "www:\n  type: A\n  value: 192.0.2.1\n")


def test_an_apex_cname_is_named_in_the_plan_at_every_server(make_repo, lab):
    """A CNAME at the apex (octoDNS takes it as `lenient`, as zones made for providers
    that flatten it have) sits beside the SOA and NS: no server in the lab holds it."""
    zone = unique_zone("rb")
    repo = make_repo({zone: APEX_CNAME}, config=WARN)
    [apex] = [f for f in plan_json(repo)["findings"] if f["code"] == "parity.unsupported"]
    assert (apex["name"], apex["type"], apex["provider"]) == ("", "CNAME", "bind,knot,pdns")
    assert "rule apex-cname): it is a CNAME at the zone apex" in apex["message"]
    applied = repo.run("apply", "--yes")
    assert applied.exit_code == 0, applied.output
    clean_after(repo)


def test_a_record_every_server_drops_or_refuses_is_named_after_apply(make_repo, lab):
    """The apex CNAME again, with the rule switched off in every provider file (as if
    the servers held it): nothing predicts it now. BIND and Knot answer NOERROR and drop
    it (RFC 2136 3.4.2.2), PowerDNS refuses it. The read-back names it at BIND and Knot,
    the split request at PowerDNS; sending it again would be ignored again, so apply
    does not say "re-run"."""
    zone = unique_zone("rb")
    off = {"capabilities": {"apex_cname": False}}
    repo = make_repo({zone: APEX_CNAME}, config=WARN, provider_extra={"bind": off, "knot": off, "pdns": off})
    result = repo.run("apply", "--yes", "--format", "json")
    assert result.exit_code == 1
    outcomes = {o["provider"]: o for o in json.loads(result.stdout)["apply"]["outcomes"]}
    for server in ("bind", "knot"):
        assert outcomes[server]["error"] == ("applied, but 1 RRset(s) not stored: the provider reported success,"
                                             " and reading it back, these changes are still pending: create @"
                                             " CNAME 3600 web.example.org.")
        assert outcomes[server]["retryable"] is False and outcomes[server]["pending"] == 1
    assert "refused 1 of 2 RRset change(s), the other 1 were applied" in outcomes["pdns"]["error"]
    assert f"{zone} CNAME: HTTP 422" in outcomes["pdns"]["error"]
    for server in lab.servers:
        assert ask(lab, server, f"www.{zone}", "A") == {"192.0.2.1"}
    text = repo.run("apply", "--yes")
    assert text.exit_code == 1 and "re-run apply" not in text.output


def test_a_server_that_refuses_every_update_is_not_blamed_on_records(make_repo, lab, monkeypatch):
    """BIND's allow-update names the key; an unsigned update (the provider's key dropped
    after it was read) is refused whatever it carries. One empty update shows that, so
    apply says the server refuses this client, splits nothing and names no record."""
    zone = unique_zone("rb")
    repo = make_repo({zone: "".join(f"h{i}:\n  type: A\n  value: 192.0.2.{i}\n" for i in range(1, 7))},
                     providers=["bind"])
    for key, value in lab.env().items():
        monkeypatch.setenv(key, value)
    loaded = Repository.load(repo.root)
    prepared = ApplyRun.fresh(loaded)
    prepared.lives.lives[0].provider.key_name = None  # unsigned from here on
    prepared.retries = 0
    [outcome] = run_apply(prepared).outcomes
    assert outcome.status == "failed" and outcome.attempts == 1 and not outcome.retryable
    assert "answered REFUSED" in outcome.error
    assert "(even to an update that changes nothing, so no record is to blame)" in outcome.error
    assert "refused 6 of 6" not in outcome.error and "re-run" not in outcome.detail
