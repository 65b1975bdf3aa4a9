"""The parity gate against the real lab: a record some provider would serve differently
is found before anything is sent, named with each provider and what it would serve;
policy error refuses, policy warn accepts knowingly."""

from __future__ import annotations

import json

import dns.message
import dns.query
import yaml

from tests.conftest import unique_zone
from tests.test_push_lab import ask

SPF = "spf:\n  type: SPF\n  value: v=spf1 -all\nwww:\n  type: A\n  value: 192.0.2.1\n"


def parity(result) -> list[dict]:
    return [f for f in json.loads(result.stdout)["findings"] if f["code"].startswith("parity.")]


def test_type_one_provider_cannot_hold_is_a_parity_error_and_apply_sends_nothing(make_repo, lab):
    zone = unique_zone()
    repo = make_repo({zone: SPF})
    plan = repo.run("plan", "--format", "json")
    assert plan.exit_code == 1, plan.output
    [finding] = parity(plan)
    assert finding["severity"] == "error" and finding["code"] == "parity.unsupported"
    assert (finding["name"], finding["type"], finding["provider"]) == ("spf", "SPF", "pdns")
    assert finding["observed"] == {"pdns": "not served", "bind": '3600 "v=spf1 -all"',
                                   "knot": '3600 "v=spf1 -all"'}
    assert "PowerDnsProvider cannot hold SPF records" in finding["message"]
    assert finding["file"].endswith(f"{zone}yaml") and finding["line"] == 1  # the record name's line
    text = repo.run("plan")
    assert f"{zone}yaml:1: error parity.unsupported: pdns would serve spf.{zone} SPF" in text.output

    applied = repo.run("apply", "--yes")
    assert applied.exit_code == 1
    assert "refusing to apply (nothing was sent): 1 parity error(s): spf SPF" in applied.output
    for server in lab.servers:  # not even the records every provider could hold were sent
        assert ask(lab, server, f"www.{zone}", "A") == set()


def test_policy_warn_per_type_accepts_knowingly(make_repo, lab):
    zone = unique_zone()
    repo = make_repo({zone: SPF}, config={"policy": {"parity": {"types": {"SPF": "warn"}}}})
    plan = repo.run("plan", "--format", "json")
    assert plan.exit_code == 0, plan.output
    assert [f["severity"] for f in parity(plan)] == ["warning"]
    assert repo.run("apply", "--yes").exit_code == 0
    assert ask(lab, "bind", f"spf.{zone}", "SPF") == {'"v=spf1 -all"'}
    assert ask(lab, "pdns", f"spf.{zone}", "SPF") == set()
    assert repo.run("plan", "--detailed-exitcode").exit_code == 0


def test_policy_per_zone(make_repo):
    strict, lenient = unique_zone(), unique_zone()
    repo = make_repo({strict: SPF, lenient: SPF},
                     config={"policy": {"parity": {"default": "error", "zones": {lenient: "warn"}}}})
    found = {(f["zone"], f["severity"]) for f in parity(repo.run("plan", "--format", "json"))}
    assert found == {(strict, "error"), (lenient, "warning")}


def test_cloudflare_min_ttl_clamp_is_reported(make_repo, lab):
    """A real case: octodns-cloudflare raises every TTL under its min_ttl (120 by default,
    as Cloudflare's API does). Its API is pointed at a closed loopback port: parity is
    worked out before anything is sent, so the clamp is reported all the same."""
    zone = unique_zone()
    repo = make_repo({zone: "www:\n  ttl: 60\n  type: A\n  value: 192.0.2.1\n"})
    (repo.root / "providers" / "cloudflare.yaml").write_text(yaml.safe_dump({
        "class": "octodns_cloudflare.CloudflareProvider", "token": "env/TEST_CF_TOKEN",
        "api_url": f"http://{lab.pdns.address.rsplit('.', 1)[0]}.250:9/client/v4", "retry_count": 1,
        "nameservers": [{"name": "ada.ns.cloudflare.com."}],
    }))
    repo.env["TEST_CF_TOKEN"] = "cf-token-not-used"
    result = repo.run("plan", "--format", "json")
    findings = {(f["name"], f["type"]): f for f in parity(result)}
    clamp = findings[("www", "A")]
    assert clamp["code"] == "parity.adjusted" and clamp["provider"] == "cloudflare"
    assert clamp["observed"] == {"bind": "60 192.0.2.1", "cloudflare": "120 192.0.2.1",
                                 "knot": "60 192.0.2.1", "pdns": "60 192.0.2.1"}
    assert "raised to the provider's minimum 120" in clamp["message"]
    # Cloudflare keeps its own apex NS: the union cannot be written there either
    assert findings[("", "NS")]["code"] == "parity.unsupported"
    assert findings[("", "NS")]["provider"] == "cloudflare"
    assert "cf-token-not-used" not in result.output


def test_declared_min_ttl_is_planned_and_converges(make_repo, lab):
    """A provider file can declare a clamp its plugin does not know; dnssync writes the
    raised TTL there, so the next plan shows no change instead of the same update forever."""
    zone = unique_zone()
    repo = make_repo({zone: "www:\n  ttl: 60\n  type: A\n  value: 192.0.2.1\n"},
                     config={"policy": {"parity": "warn"}},
                     provider_extra={"knot": {"capabilities": {"min_ttl": 300}}})
    plan = repo.run("plan", "--format", "json")
    [finding] = parity(plan)
    assert finding["observed"]["knot"] == "300 192.0.2.1" and finding["severity"] == "warning"
    assert repo.run("apply", "--yes").exit_code == 0
    assert repo.run("plan", "--detailed-exitcode").exit_code == 0
    for server, ttl in (("knot", 300), ("bind", 60), ("pdns", 60)):
        answer = dns.query.udp(dns.message.make_query(f"www.{zone}", "A"), lab.servers[server].address,
                               timeout=3).answer
        assert answer[0].ttl == ttl, server


def test_declared_txt_chunking_is_a_parity_finding(make_repo):
    zone = unique_zone()
    long = "v=DKIM1; k=rsa; p=" + "A" * 300
    repo = make_repo({zone: f"dkim:\n  type: TXT\n  value: {long.replace(';', chr(92) + ';')}\n"},
                     provider_extra={"bind": {"capabilities": {"txt_chunk": 200}}})
    [finding] = parity(repo.run("plan", "--format", "json"))
    assert finding["provider"] == "bind" and finding["code"] == "parity.adjusted"
    assert finding["observed"]["bind"].count('" "') == 1 and finding["observed"]["bind"] != \
        finding["observed"]["knot"]
    assert "re-splits TXT strings at 200 bytes" in finding["message"]


def test_capabilities_are_checked_like_any_input(make_repo):
    repo = make_repo({unique_zone(): "www:\n  type: A\n  value: 192.0.2.1\n"}, create=False,
                     provider_extra={"knot": {"capabilities": {"min_ttl": -1, "max_ttl": 5}}})
    result = repo.run("plan")
    assert result.exit_code == 2
    assert "knot.yaml" in result.output and "unknown key 'max_ttl'" in result.output
    assert "capabilities.min_ttl must be between 0" in result.output


DYNAMIC = """dyn:
  dynamic:
    pools:
      eu:
        values:
        - value: 192.0.2.10
      us:
        values:
        - value: 192.0.2.20
    rules:
    - geos: [EU]
      pool: eu
    - pool: us
  type: A
  value: 192.0.2.1
"""


def test_dynamic_record_flattened_everywhere_is_a_parity_finding(make_repo):
    """No lab provider serves geo answers (PowerDNS is asked: no Lua records), so every one
    would flatten the record to its default value; git says the answer varies by client."""
    repo = make_repo({unique_zone(): DYNAMIC})
    result = repo.run("plan", "--format", "json")
    assert result.exit_code == 1
    [finding] = parity(result)
    assert finding["code"] == "parity.adjusted" and finding["provider"] == "bind,knot,pdns"
    assert finding["expected"] == "3600 192.0.2.1 (dynamic: varies by client)"
    assert set(finding["observed"].values()) == {"3600 192.0.2.1"}
    assert "dynamic record flattened" in finding["message"]


def test_a_reviewed_plan_with_parity_errors_is_refused(make_repo, lab, tmp_path):
    zone = unique_zone()
    repo = make_repo({zone: SPF})
    saved = tmp_path / "plan.json"
    assert repo.run("plan", "--save-plan", str(saved)).exit_code == 1  # saved all the same, for review
    result = repo.run("apply", "--yes", "--plan", str(saved))
    assert result.exit_code == 1 and "parity error" in result.output
    assert ask(lab, "bind", f"www.{zone}", "A") == set()
