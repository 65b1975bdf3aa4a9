"""Unit tests (no servers) for the apply side of issue 10: acceptance rules as data,
the split of a refused batch, and one meaning of "the same value"."""

from __future__ import annotations

import logging

import pytest
from octodns.provider.base import BaseProvider
from octodns.record import Record
from octodns.zone import Zone

from dnssync.model.sameness import canonical, normal_zone
from dnssync.planning.withheld import beside_cname
from dnssync.providers.acceptance import is_hostname, refusal, settings
from dnssync.providers.capabilities import capabilities_of, served_zone
from dnssync.providers.powerdns import PowerDnsProvider
from dnssync.providers.refused import Deterministic, bisect
from dnssync.providers.rfc2136 import BindProvider, KnotProvider


def record(zone: Zone, name: str, data: dict) -> Record:
    return Record.new(zone, name, {"ttl": 300, **data}, lenient=True)


@pytest.mark.parametrize(("name", "wildcard", "expected"), [
    ("", False, True), (".", False, True), ("www", False, True), ("a--b.example.", False, True),
    ("123", False, True), ("*", True, True), ("*.w", True, True), ("*.w", False, False),
    ("-x", False, False), ("x-", False, False), ("x*y", True, False), ("_acme-challenge.docs", True, False),
    ("legacy_cas_acp", False, False), ("mail_x.example.net.", False, False), ("a..b", False, False),
])
def test_hostname_as_bind_reads_it(name, wildcard, expected):
    """The cases the lab's BIND was asked (REFUSED or NOERROR), see acceptance.py."""
    assert is_hostname(name, wildcard) is expected


def test_rules_judge_owners_targets_and_counts():
    zone = Zone("example.com.", [])
    rules = {"check_names": True, "max_records_per_type": 100}
    assert refusal(record(zone, "_acme-challenge.docs", {"type": "A", "value": "0.0.0.0"}), rules).startswith(
        "BIND refuses it (REFUSED, rule check-names): its owner name _acme-challenge.docs.example.com. is not")
    assert refusal(record(zone, "_dmarc", {"type": "TXT", "value": "v=DMARC1"}), rules) is None  # TXT owners: free
    assert refusal(record(zone, "_sip._tcp", {"type": "SRV", "value": {
        "priority": 1, "weight": 1, "port": 5060, "target": "sip.example.net."}}), rules) is None
    mx = record(zone, "", {"type": "MX", "value": {"preference": 10, "exchange": "mail_x.example.net."}})
    assert "its target mail_x.example.net. is not a host name" in refusal(mx, rules)
    assert refusal(record(zone, "", {"type": "MX", "value": {"preference": 0, "exchange": "."}}), rules) is None
    many = record(zone, "t", {"type": "TXT", "values": [f"v{i}" for i in range(101)]})
    assert "it has 101 records, over the limit of 100" in refusal(many, rules)
    assert refusal(many, {"check_names": True, "max_records_per_type": 0}) is None  # 0: no limit
    assert refusal(mx, {"hostname_targets": True}).startswith("PowerDNS refuses it (HTTP 422")
    apex = record(zone, "", {"type": "CNAME", "value": "web.example.org."})
    assert "rule apex-cname): it is a CNAME at the zone apex" in refusal(apex, {"apex_cname": True})
    assert refusal(record(zone, "www", {"type": "CNAME", "value": "web.example.org."}), {"apex_cname": True}) is None


def test_rules_come_from_the_class_and_the_provider_file_wins():
    bind = BindProvider("bind", "127.0.0.1", strict_supports=False)
    assert dict(capabilities_of(bind).rules) == {"check_names": True, "max_records_per_type": 100,
                                                 "hostname_targets": None, "apex_cname": True}
    knot = KnotProvider("knot", "127.0.0.1", strict_supports=False)
    assert [k for k, v in capabilities_of(knot).rules if v] == ["apex_cname"]
    assert settings({"check_names": True}, {"check_names": False})["check_names"] is False
    pdns = PowerDnsProvider("pdns", "127.0.0.1", "key", strict_supports=False)
    assert dict(capabilities_of(pdns).rules)["hostname_targets"] is True
    assert capabilities_of(pdns).represents["PowerDnsProvider/LUA"] == ("TYPE65402",)


def test_served_zone_leaves_out_what_the_server_refuses_with_the_reason():
    zone = Zone("example.com.", [])
    for name, data in {"legacy_cas_acp": {"type": "A", "value": "192.0.2.7"},
                       "www": {"type": "A", "value": "192.0.2.1"}}.items():
        zone.add_record(record(zone, name, data), lenient=True)
    bind = BindProvider("bind", "127.0.0.1", strict_supports=False)
    served = served_zone(bind, zone)
    assert sorted(r.name for r in served.records) == ["www"]
    knot = KnotProvider("knot", "127.0.0.1", strict_supports=False)
    assert sorted(r.name for r in served_zone(knot, zone).records) == ["legacy_cas_acp", "www"]


def test_bisect_sends_everything_but_the_refused():
    sent: list[list[int]] = []

    def send(batch):
        if 3 in batch or 6 in batch:
            raise Deterministic("REFUSED")
        sent.append(list(batch))

    applied, refused = bisect(list(range(8)), send)
    assert applied == 6 and refused == [(3, "REFUSED"), (6, "REFUSED")]
    assert sorted(x for batch in sent for x in batch) == [0, 1, 2, 4, 5, 7]
    assert [x for batch in sent for x in batch] == [0, 1, 2, 4, 5, 7]  # in order


def test_bisect_lets_a_transient_failure_through():
    def send(batch):
        raise TimeoutError("no answer")

    with pytest.raises(TimeoutError):
        bisect([1, 2], send)


def test_duplicate_and_case_variant_values_are_one_record():
    zone = Zone("example.com.", [])
    twice = record(zone, "twice", {"type": "A", "values": ["192.0.2.2", "192.0.2.2", "192.0.2.3"]})
    mx = record(zone, "mx", {"type": "MX", "values": [{"preference": 10, "exchange": "MX1.Example.NET."},
                                                      {"preference": 10, "exchange": "mx1.example.net."}]})
    single = record(zone, "www", {"type": "A", "value": "192.0.2.1"})
    for r in (twice, mx, single):
        zone.add_record(r, lenient=True)
    normal = normal_zone(zone)
    assert normal is not zone and normal_zone(zone) is normal  # computed once
    by_name = {r.name: r for r in normal.records}
    assert by_name["twice"].values == ["192.0.2.2", "192.0.2.3"]
    assert len(by_name["mx"].values) == 1
    assert by_name["www"] is single  # untouched records are shared, not copied
    assert canonical(by_name["twice"]) == canonical(twice)  # the same on the wire, as verify sees it
    clean = Zone("example.org.", [])
    clean.add_record(record(clean, "www", {"type": "A", "value": "192.0.2.1"}), lenient=True)
    assert normal_zone(clean) is clean


def test_a_wrong_rule_setting_in_a_provider_file_is_bad_input(tmp_path):
    """`capabilities:` is checked like every key: file, line, exit 2, nothing sent."""
    from tests.embedded_repo import run, write_repo

    root = tmp_path / "repo"
    write_repo(root, {"example.com.yaml": "www:\n  type: A\n  value: 192.0.2.1\n"}, ["solo"])
    provider = root / "providers" / "solo.yaml"
    provider.write_text(provider.read_text() + "capabilities:\n  check_names: maybe\n  max_records_per_type: -1\n"
                        "  check_name: true\n")
    result = run(root, "validate")
    assert result.exit_code == 2
    assert "solo.yaml:" in result.output and "'check_names' must be a bool, got 'maybe'" in result.output
    assert "capabilities.max_records_per_type must be between 0 and" in result.output
    assert "unknown key 'check_name' in capabilities" in result.output
    assert "Traceback" not in result.output


def test_what_a_server_does_beside_a_cname_is_capability_data_a_subclass_inherits():
    """It was a table keyed by dnssync's own class paths: a subclass (a site's own
    provider class) was "behaviour not known"."""

    class SiteBind(BindProvider):
        pass

    class Unknown(BaseProvider):
        SUPPORTS = {"A"}
        SUPPORTS_GEO = False
        log = logging.getLogger("Unknown")

    bind = BindProvider("bind", host="127.0.0.1")
    assert capabilities_of(bind).beside_cname.startswith("would answer NOERROR yet keep only one side")
    assert beside_cname(SiteBind("site", host="127.0.0.1")) == beside_cname(bind)
    assert beside_cname(KnotProvider("knot", host="127.0.0.1")) == beside_cname(bind)
    assert beside_cname(PowerDnsProvider("pdns", host="127.0.0.1", api_key="unused")).startswith(
        "would refuse the zone's change (HTTP 422")
    assert beside_cname(Unknown("other")) == "behaviour not known to dnssync"
    assert beside_cname(None) == "behaviour not known to dnssync"
