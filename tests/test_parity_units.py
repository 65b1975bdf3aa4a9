"""Parity and capabilities without servers: the comparison itself and capability data."""

from __future__ import annotations

from octodns.provider.yaml import YamlProvider
from octodns.record import Record
from octodns.zone import Zone
from octodns_cloudflare import CloudflareProvider

from dnssync.model.plan import Plan, ProviderPlan
from dnssync.planning.adjust import adjustments
from dnssync.planning.parity import check_plan
from dnssync.providers.capabilities import DECLARED_ATTR, capabilities_of, rechunk_txt, served_zone
from dnssync.repo.config import Policy


def zone_with(*records: tuple[str, dict]) -> Zone:
    zone = Zone("example.com.", [])
    for name, data in records:
        zone.add_record(Record.new(zone, name, data))
    return zone


def nowhere(zone: str, name: str, rtype: str) -> tuple[None, None]:
    return None, None


def test_rechunk_txt_joins_and_resplits_strings():
    assert rechunk_txt('"abc" "def"', 4) == '"abcd" "ef"'
    assert rechunk_txt('"' + "x" * 255 + '" "' + "x" * 45 + '"', 100).count('" "') == 2
    assert rechunk_txt('"a\\"b"', 255) == '"a\\"b"'


def test_cloudflare_min_ttl_comes_from_the_plugin_and_a_file_can_override_it():
    cloudflare = CloudflareProvider("cf", token="unused")
    assert capabilities_of(cloudflare).min_ttl == 120
    desired = zone_with(("www", {"type": "A", "ttl": 60, "value": "192.0.2.1"}),
                        ("slow", {"type": "A", "ttl": 600, "value": "192.0.2.2"}))
    served = {r.name: r.ttl for r in served_zone(cloudflare, desired).records}
    assert served == {"www": 120, "slow": 600}
    assert {r.name: r.ttl for r in desired.records} == {"www": 60, "slow": 600}  # untouched
    setattr(cloudflare, DECLARED_ATTR, {"min_ttl": 30})
    assert capabilities_of(cloudflare).min_ttl == 30


def test_excluded_provider_is_not_compared_and_policy_per_type(tmp_path):
    """Through the real path: the planner's adapter (`adjustments`) records what each
    provider would serve, `check_plan` judges it. Cloudflare raises TTL 60 to 120; the A
    record excluded from it is not compared for it at all."""
    desired = zone_with(("a", {"type": "A", "ttl": 60, "value": "192.0.2.1", "octodns": {"excluded": ["two"]}}),
                        ("t", {"type": "TXT", "ttl": 60, "value": "x"}))
    providers = {"one": YamlProvider("one", str(tmp_path)), "two": CloudflareProvider("two", token="unused")}
    plans = [ProviderPlan(name, desired.name, adjustments=adjustments(p, desired)[0])
             for name, p in providers.items()]
    policy = Policy(parity="error", parity_types={"TXT": "warn"})
    findings = check_plan(Plan({}, plans), {desired.name: desired}, providers, policy, nowhere)
    assert [(f.name, f.severity.value, f.provider) for f in findings] == [("t", "warning", "two")]
    assert findings[0].observed == {"one": '60 "x"', "two": '120 "x"'}
    policy = Policy(parity="error")
    [finding] = check_plan(Plan({}, plans), {desired.name: desired}, providers, policy, nowhere)
    assert finding.severity.value == "error"
