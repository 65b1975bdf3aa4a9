"""ALIAS flattening without servers: policy, TTL, targets inside the repository's own
zones (read from git, so no packet is sent), chains and loops through git, and the plan's
data and text for a flattened RRset."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from octodns.record import Record
from octodns.zone import Zone
from octodns_powerdns import PowerDnsProvider

from dnssync.model.plan import Change
from dnssync.planning.flatten import flatten_ttl, prepare
from dnssync.providers.rfc2136 import Rfc2136Provider
from dnssync.repo.config import Config, Policy, read_config
from dnssync.repo.targets import TargetResolver, alias_target

PROVIDERS = {"pdns": PowerDnsProvider("pdns", host="127.0.0.1", api_key="unused"),
             "bind": Rfc2136Provider("bind", host="127.0.0.1")}


def zone(name: str, *records: tuple[str, dict]) -> Zone:
    result = Zone(name, [])
    for record_name, data in records:
        result.add_record(Record.new(result, record_name, data))
    return result


def nowhere(zone: str, name: str, rtype: str) -> tuple[str, int]:
    return f"zones/{zone}yaml", 7


def offline_config(policy: Policy | None = None) -> Config:
    """No resolvers and no parent: only targets in the repository's zones can resolve."""
    config = Config(Path("."), "dnssync.yaml", Path("zones"), {}, policy=policy or Policy())
    config.parent.roots = []
    return config


SITE = zone("example.com.", ("", {"type": "ALIAS", "ttl": 300, "value": "cdn.example.net."}),
            ("www", {"type": "A", "ttl": 300, "value": "192.0.2.1"}))
CDN = zone("example.net.", ("cdn", {"type": "A", "ttl": 20, "values": ["192.0.2.8", "192.0.2.9"]}),
           ("cdn", {"type": "AAAA", "ttl": 20, "value": "2001:db8::8"}))
SERVES = {"example.com.": ["bind", "pdns"], "example.net.": ["bind", "pdns"]}


def test_flattened_only_where_a_provider_cannot_hold_alias_with_the_floor_ttl():
    flat = prepare(offline_config(), {"example.com.": SITE, "example.net.": CDN}, PROVIDERS, SERVES, nowhere)
    assert not flat.findings
    [record] = flat.records
    assert (record.providers, record.native, record.ttl, record.target_ttl) == (["bind"], ["pdns"], 60, 20)
    assert record.values == {"A": ["192.0.2.8", "192.0.2.9"], "AAAA": ["2001:db8::8"]}
    assert record.via == "git (example.net.)"
    served = {(r.name, r._type): r for r in flat.zones[("bind", "example.com.")].records}
    assert set(served) == {("", "A"), ("", "AAAA"), ("www", "A")} and served[("", "A")].ttl == 60
    assert ("pdns", "example.com.") not in flat.zones  # PowerDNS keeps its ALIAS
    assert {r._type for r in SITE.records} == {"ALIAS", "A"}  # git's zone untouched


def test_ttl_is_the_smaller_of_the_record_and_the_target_never_below_the_floor():
    assert flatten_ttl(300, 20, 60) == 60
    assert flatten_ttl(300, 20, 0) == 20
    assert flatten_ttl(30, 20, 60) == 30  # git's own lower TTL wins
    assert flatten_ttl(300, 3600, 60) == 300


@pytest.mark.parametrize("mode,codes,flattened", [("native-only", [], False), ("error", ["alias.refused"], False)])
def test_policy_native_only_and_error(mode, codes, flattened):
    policy = Policy(alias_zones={"example.com.": mode})
    flat = prepare(offline_config(policy), {"example.com.": SITE, "example.net.": CDN}, PROVIDERS, SERVES, nowhere)
    assert [f.code for f in flat.findings] == codes
    assert bool(flat.records) == flattened
    if codes:
        assert (flat.findings[0].file, flat.findings[0].line) == ("zones/example.com.yaml", 7)


def test_policy_per_record_beats_per_zone(tmp_path):
    (tmp_path / "zones").mkdir()
    (tmp_path / "providers").mkdir()
    (tmp_path / "dnssync.yaml").write_text(
        "policy:\n  alias:\n    default: error\n    zones: {example.com: native-only}\n"
        "    records: {example.com: flatten}\n    ttl_floor: 30\n")
    config, _ = read_config(tmp_path)
    assert config.policy.alias_for("example.com.", "example.com.") == "flatten"
    assert config.policy.alias_for("example.com.", "www.example.com.") == "native-only"
    assert config.policy.alias_for("example.org.", "example.org.") == "error"
    assert config.policy.alias_ttl_floor == 30
    (tmp_path / "dnssync.yaml").write_text("policy:\n  alias: flatter\n")
    _, findings = read_config(tmp_path)
    assert any("alias must be one of flatten, native-only, error, got 'flatter'" in f.message and f.line == 2
               for f in findings)


def test_loop_through_git_is_an_error_naming_the_chain():
    one = zone("one.example.", ("", {"type": "ALIAS", "ttl": 60, "value": "two.example."}))
    two = zone("two.example.", ("", {"type": "ALIAS", "ttl": 60, "value": "one.example."}))
    flat = prepare(offline_config(), {"one.example.": one, "two.example.": two}, PROVIDERS,
                   {"one.example.": ["bind"], "two.example.": ["bind"]}, nowhere)
    messages = sorted(f.message for f in flat.findings)
    assert [f.code for f in flat.findings] == ["alias.unresolved"] * 2
    assert "ALIAS → two.example. did not resolve (loop: two.example. → one.example. → two.example.)" in messages[0]
    assert not flat.zones[("bind", "one.example.")].records  # never flattened to an empty set


def test_missing_name_in_a_repository_zone_does_not_resolve():
    resolver = TargetResolver({"example.net.": CDN}, [], [])
    found = asyncio.run(resolver.resolve_all(["nope.example.net."]))["nope.example.net."]
    assert found.error == "nope.example.net. is not in zone example.net. in git" and not found.values


def test_a_name_at_or_below_a_delegation_is_not_answered_from_git():
    """The child zone's servers answer there (cuts.Cuts, as validate's zone.occluded), not
    the data the parent zone stores beside or below the cut."""
    parent = zone("example.org.", ("sub", {"type": "NS", "ttl": 300, "value": "ns.elsewhere.example."}),
                  ("sub", {"type": "A", "ttl": 300, "value": "192.0.2.50"}),
                  ("www.sub", {"type": "A", "ttl": 300, "value": "192.0.2.51"}),
                  ("www", {"type": "A", "ttl": 300, "value": "192.0.2.52"}))
    resolver = TargetResolver({"example.org.": parent}, [], [])
    assert resolver._from_git("sub.example.org.") is None
    assert resolver._from_git("www.sub.example.org.") is None
    assert resolver._from_git("www.example.org.").values == {"A": ["192.0.2.52"]}


def test_route53_alias_to_a_load_balancer_is_flattened_for_every_other_provider():
    """A `Route53Provider/ALIAS` (octodns-route53's own record type) of type A to a load
    balancer: flattened, as A only, for the providers that cannot hold it."""
    pytest.importorskip("octodns_route53.record")  # registers the type, as loading the plugin does

    lb = "dualstack.lb-1.eu-west-1.elb.amazonaws.com."
    site = zone("example.com.", ("", {"type": "Route53Provider/ALIAS", "ttl": 300, "values": [
        {"name": lb, "type": "A", "hosted-zone-id": "Z32O12XQLNTSW2"}]}))
    elb = zone("elb.amazonaws.com.", ("dualstack.lb-1.eu-west-1", {"type": "A", "ttl": 60, "value": "192.0.2.9"}),
               ("dualstack.lb-1.eu-west-1", {"type": "AAAA", "ttl": 60, "value": "2001:db8::9"}))
    [record] = site.records
    assert alias_target(record) == lb
    flat = prepare(offline_config(), {"example.com.": site, "elb.amazonaws.com.": elb}, PROVIDERS,
                   {"example.com.": ["bind", "pdns"], "elb.amazonaws.com.": []}, nowhere)
    assert [(f.providers, f.native) for f in flat.records] == [(["bind", "pdns"], [])]
    served = {r._type: r.values for r in flat.zones[("bind", "example.com.")].records}
    assert served == {"A": ["192.0.2.9"]}  # an alias of type A stands for the A RRset alone
    same_zone = zone("example.org.", ("www", {"type": "Route53Provider/ALIAS", "ttl": 300,
                                              "values": [{"name": "", "type": "A"}]}))
    assert alias_target(next(iter(same_zone.records))) == "example.org."


def test_flattened_change_names_its_origin():
    change = Change("update", "", "A", {"ttl": 60, "values": ["192.0.2.1"]}, {"ttl": 60, "values": ["192.0.2.2"]},
                    flattened={"from": "ALIAS", "target": "cdn.example.net.", "resolved_at": "T", "via": "R"})
    assert change.origin == "A flattened from ALIAS → cdn.example.net. (resolved at T via R)"
    assert Change("update", "www", "A").origin == ""


def test_plan_format_doc_shows_the_flattened_data_and_text_as_the_code_makes_them():
    """docs/plan-format.md's example `flattened` entry has exactly the keys a plan writes,
    and its example text line is what a flattened change renders."""
    import json
    import re
    from dataclasses import fields

    from dnssync.planning.flatten import Flattened
    from tests.conftest import ROOT

    doc = (ROOT / "docs" / "plan-format.md").read_text()
    example = json.loads(re.search(r"```json\n(.*?)```", doc, re.S).group(1))
    [entry] = example["flattened"]
    assert set(entry) == {f.name for f in fields(Flattened)}
    record = Flattened(**entry)
    change = Change("create", "", "A", None, {"ttl": record.ttl, "values": record.values["A"]},
                    flattened=record.origin)
    assert f"\n{change.origin}\n" in doc


def test_embedded_server_holds_alias_and_answers_it_itself(tmp_path):
    """`expand_alias: true`: the embedded provider sends the ALIAS as TYPE65401 (as PowerDNS
    stores it), reads it back by AXFR (the next plan has no change) and its server answers
    the target's addresses at the apex; the provider without it gets them flattened."""
    import yaml

    from dnssync.embedded.fleet import Fleet
    from dnssync.providers.aliaswire import alias_target_of
    from dnssync.repo.repository import load_settings
    from tests.embedded_repo import ask, run, values, write_repo

    site = ("---\n'':\n  ttl: 300\n  type: ALIAS\n  value: edge.alias.test.\nedge:\n- ttl: 60\n  type: A\n"
            "  value: 192.0.2.80\n- ttl: 60\n  type: AAAA\n  value: 2001:db8::80\n")
    ports = write_repo(tmp_path, {"alias.test.yaml": site}, ["native", "plain"])
    provider = tmp_path / "providers" / "native.yaml"
    provider.write_text(yaml.safe_dump({**yaml.safe_load(provider.read_text()), "expand_alias": True}))
    settings = tmp_path / "dnssync.yaml"  # no parent to walk to: never a packet off this machine
    settings.write_text(yaml.safe_dump({**yaml.safe_load(settings.read_text()), "parent": {"check": False}}))
    with Fleet.for_config(load_settings(tmp_path), tmp_path / "data").start() as _:
        applied = run(tmp_path, "apply", "--yes")
        assert applied.exit_code == 0, applied.output
        assert "A flattened from ALIAS → edge.alias.test. (resolved at" in applied.output
        for port in ports.values():
            assert values(ask(port, "alias.test.")) == {"192.0.2.80"}
            assert values(ask(port, "alias.test.", "AAAA"), "AAAA") == {"2001:db8::80"}
        [held] = ask(ports["native"], "alias.test.", "TYPE65401").answer  # as PowerDNS stores it
        assert alias_target_of(held[0]).to_text() == "edge.alias.test."
        assert not ask(ports["plain"], "alias.test.", "TYPE65401").answer
        again = run(tmp_path, "plan", "--detailed-exitcode")
        assert again.exit_code == 0, again.output  # the ALIAS read back as ALIAS
        verified = run(tmp_path, "verify")
        assert verified.exit_code == 0, verified.output


def test_embedded_server_answers_servfail_for_an_alias_it_cannot_expand(tmp_path):
    """A target the server does not serve (it has no resolver), or an ALIAS loop: SERVFAIL,
    as PowerDNS answers when its resolver fails; never an empty or made-up answer."""
    import dns.query
    import dns.rcode
    import dns.update

    from dnssync.embedded.server import EmbeddedServer
    from dnssync.providers.aliaswire import rdata_from_text
    from tests.embedded_repo import ask, values

    with EmbeddedServer(data_dir=tmp_path) as server:
        for zone, target in (("far.test.", "cdn.elsewhere.example."), ("one.test.", "two.test."),
                             ("two.test.", "one.test."), ("ok.test.", "www.ok.test.")):
            update = dns.update.UpdateMessage(zone)
            update.add(zone, 300, rdata_from_text("ALIAS", target))
            update.add(f"www.{zone}", 60, "A", "192.0.2.7")
            assert dns.query.tcp(update, "127.0.0.1", port=server.port, timeout=5).rcode() == 0
        assert ask(server.port, "far.test.").rcode() == dns.rcode.SERVFAIL
        assert ask(server.port, "one.test.").rcode() == dns.rcode.SERVFAIL
        reply = ask(server.port, "ok.test.")
        assert values(reply) == {"192.0.2.7"} and reply.answer[0].ttl == 60
        assert values(ask(server.port, "ok.test.", "AAAA"), "AAAA") == set()  # NODATA, like the target
