"""ALIAS across providers, against the real lab: an apex ALIAS to a "CDN" (a zone on the
lab's parent server, outside the repository) is answered alike by PowerDNS (which expands
it itself, through the lab's Unbound) and by BIND and Knot (which get it flattened); when
the CDN moves, verify names the stale providers, and `apply --refresh-flattened` fixes
only those RRsets."""

from __future__ import annotations

import json
import time

from tests.conftest import unique_zone
from tests.test_push_lab import ask

OLD = ["192.0.2.71", "192.0.2.72", "2001:db8::71"]
NEW = ["198.51.100.9", "2001:db8::99"]


def alias_zone(target: str, extra: str = "") -> str:
    return f"'':\n  ttl: 300\n  type: ALIAS\n  value: {target}\n{extra}"


def apex_sets(lab, zone: str) -> dict[str, tuple[set[str], set[str]]]:
    return {name: (ask(lab, name, zone, "A"), ask(lab, name, zone, "AAAA")) for name in lab.servers}


WWW = "www:\n  type: A\n  value: 192.0.2.1\n"


def cdn_site(make_repo, lab) -> tuple:
    """A CDN with `shop` at the OLD addresses and a zone whose apex is an ALIAS to it (plus
    www), resolved through the lab's Unbound: (cdn, target, zone, repo)."""
    cdn = lab.add_cdn(unique_zone("cdn"))
    target = cdn.set("shop", OLD)
    zone = unique_zone("alias")
    return cdn, target, zone, make_repo({zone: alias_zone(target, WWW)}, config={"resolvers": [lab.resolver]})


def codes(result) -> list[str]:
    return [f["code"] for f in json.loads(result.stdout)["findings"]]


def test_apex_alias_answered_alike_then_stale_then_refreshed(make_repo, lab):
    cdn, target, zone, repo = cdn_site(make_repo, lab)

    applied = repo.run("apply", "--yes", "--wait", "--deadline", "60", "--interval", "0.5")
    assert applied.exit_code == 0, applied.output  # watch: converged, PowerDNS's expansion included
    assert f"A flattened from ALIAS → {target}" in applied.output
    assert "watch.unwatchable" not in applied.output
    seen = apex_sets(lab, zone)
    assert seen["pdns"] == seen["bind"] == seen["knot"] == ({"192.0.2.71", "192.0.2.72"}, {"2001:db8::71"})
    verified = repo.run("verify", "--format", "json")
    assert verified.exit_code == 0 and codes(verified) == [], verified.output

    cdn.set("shop", NEW)  # the CDN moves: no commit anywhere
    time.sleep(cdn.ttl + 1)  # the resolver's cached answer expires
    lab.unbound.flush(cdn.zone)
    stale = repo.run("verify", "--format", "json")
    assert stale.exit_code == 1
    found = [f for f in json.loads(stale.stdout)["findings"] if f["code"] == "alias.stale"]
    assert {f["provider"] for f in found} == {"bind", "knot"}  # pdns expands it afresh itself
    a = next(f for f in found if f["provider"] == "bind" and f["type"] == "A")
    assert a["observed"] == ["192.0.2.71", "192.0.2.72"] and a["expected"] == ["198.51.100.9"]
    assert "bind serves" in a["message"] and "198.51.100.9" in a["message"]

    planned = repo.run("plan", "--format", "json")
    changes = {(p["provider"], c["type"], c["action"]): c for p in json.loads(planned.stdout)["providers"]
               for c in p["changes"]}
    assert set(changes) == {(p, t, "update") for p in ("bind", "knot") for t in ("A", "AAAA")}
    assert all(c["flattened"]["target"] == target for c in changes.values())
    drift = [f for f in json.loads(repo.run("drift", "--format", "json").stdout)["findings"]
             if f["provider"] == "bind" and f["type"] == "A"]
    assert [f["code"] for f in drift] == ["drift.changed"]
    assert f"(A flattened from ALIAS → {target} (resolved at" in drift[0]["message"] and drift[0]["line"] == 1

    (repo.zone_file(zone)).write_text(alias_zone(target, WWW.replace("192.0.2.1", "192.0.2.2")))
    refreshed = repo.run("apply", "--yes", "--refresh-flattened")
    assert refreshed.exit_code == 0, refreshed.output
    seen = apex_sets(lab, zone)
    assert seen["pdns"] == seen["bind"] == seen["knot"] == ({"198.51.100.9"}, {"2001:db8::99"})
    for server in lab.servers:  # the pending www change was not applied: only flattened RRsets
        assert ask(lab, server, f"www.{zone}", "A") == {"192.0.2.1"}
    (repo.zone_file(zone)).write_text(alias_zone(target, WWW))
    unchanged = repo.run("plan")  # nothing to change, and still said where the apex comes from
    assert "No changes" in unchanged.output and "Flattened ALIAS records:" in unchanged.output
    assert f"@ {zone} ALIAS → {target}: A 198.51.100.9; AAAA 2001:db8::99 (TTL 60) for bind, knot" in unchanged.output
    clean = repo.run("verify", "--format", "json")  # PowerDNS's TYPE65401 is its ALIAS, known
    assert clean.exit_code == 0 and codes(clean) == [], clean.output


def test_unresolvable_target_is_refused_with_file_and_line_and_nothing_else_held_back(make_repo, lab):
    cdn, _, zone, repo = cdn_site(make_repo, lab)
    assert repo.run("apply", "--yes").exit_code == 0

    gone = cdn.fqdn("gone")  # NXDOMAIN
    repo.zone_file(zone).write_text(alias_zone(gone, WWW.replace("192.0.2.1", "192.0.2.2")))
    planned = repo.run("plan")
    assert planned.exit_code == 1
    assert (f"{zone}yaml:1: error alias.unresolved: {zone} ALIAS → {gone} did not resolve ({gone} does not"
            " exist (NXDOMAIN") in planned.output
    applied = repo.run("apply", "--yes")
    assert applied.exit_code == 1, applied.output
    for server in lab.servers:  # everything else applied
        assert ask(lab, server, f"www.{zone}", "A") == {"192.0.2.2"}
    for server in ("bind", "knot"):  # never flattened to nothing: the addresses they had stay
        assert ask(lab, server, zone, "A") == {"192.0.2.71", "192.0.2.72"}
        assert ask(lab, server, zone, "AAAA") == {"2001:db8::71"}


def test_cname_chain_followed_and_loop_named(make_repo, lab):
    cdn = lab.add_cdn(unique_zone("cdn"))
    cdn.set("edge", ["192.0.2.80"])
    chained = cdn.cname("shop", "edge")
    first, second = cdn.cname("a", "b"), cdn.cname("b", "a")
    ok, looping = unique_zone("alias"), unique_zone("alias")
    repo = make_repo({ok: alias_zone(chained), looping: alias_zone(first)}, config={"resolvers": [lab.resolver]})
    planned = repo.run("plan", "--format", "json")
    document = json.loads(planned.stdout)
    flat = {f["zone"]: f for f in document["flattened"]}
    assert flat[ok]["chain"] == [chained, cdn.fqdn("edge")] and flat[ok]["values"] == {"A": ["192.0.2.80"]}
    [refused] = [f for f in document["findings"] if f["code"] == "alias.unresolved"]
    assert refused["zone"] == looping and f"loop: {first} → {second} → {first}" in refused["message"], refused


def test_without_resolvers_the_targets_own_servers_and_a_reviewed_plan_keeps_its_addresses(make_repo, lab, tmp_path):
    cdn = lab.add_cdn(unique_zone("cdn"))
    target = cdn.set("shop", OLD)
    zone = unique_zone("alias")
    repo = make_repo({zone: alias_zone(target)})  # no `resolvers:`: referrals from the parent
    saved = tmp_path / "plan.json"
    planned = repo.run("plan", "--save-plan", str(saved), "--format", "markdown")
    assert planned.exit_code == 0, planned.output
    assert f"A flattened from ALIAS → {target}" in planned.output
    assert (f"#### Flattened ALIAS records\n\n- @ {zone} ALIAS → {target}: A 192.0.2.71, 192.0.2.72; AAAA"
            f" 2001:db8::71 (TTL 60) for bind, knot; native at pdns") in planned.output
    [flat] = json.loads(saved.read_text())["flattened"]
    assert flat["via"] == f"authoritative {lab.parent.address}" and flat["target_ttl"] == cdn.ttl
    assert (flat["ttl"], flat["providers"], flat["native"]) == (60, ["bind", "knot"], ["pdns"])

    cdn.set("shop", NEW)  # moved after the review: apply --plan sends what was reviewed
    applied = repo.run("apply", "--plan", str(saved), "--yes")
    assert applied.exit_code == 0, applied.output
    assert ask(lab, "bind", zone, "A") == ask(lab, "knot", zone, "A") == {"192.0.2.71", "192.0.2.72"}


def test_route53_alias_flattened_for_providers_that_cannot_hold_it(make_repo, lab):
    """octodns-route53's own ALIAS type (loaded from its plugin) of type A: served as the
    target's A addresses by PowerDNS, BIND and Knot alike."""
    cdn = lab.add_cdn(unique_zone("cdn"))
    target = cdn.set("lb", OLD)
    zone = unique_zone("r53")
    text = f"'':\n  ttl: 300\n  type: Route53Provider/ALIAS\n  values:\n  - name: {target}\n    type: A\n"
    repo = make_repo({zone: text}, config={"resolvers": [lab.resolver]})
    applied = repo.run("apply", "--yes")
    assert applied.exit_code == 0, applied.output
    assert f"A flattened from Route53Provider/ALIAS → {target}" in applied.output
    for server in lab.servers:
        assert ask(lab, server, zone, "A") == {"192.0.2.71", "192.0.2.72"}
        assert ask(lab, server, zone, "AAAA") == set()  # an alias of type A stands for A alone
    verified = repo.run("verify", "--format", "json")  # AAAA is not asked: the alias is of type A
    assert verified.exit_code == 0 and codes(verified) == [], verified.output


def test_policy_native_only_and_error_keep_the_parity_gate(make_repo, lab):
    cdn = lab.add_cdn(unique_zone("cdn"))
    target = cdn.set("shop", OLD)
    native, refused = unique_zone("alias"), unique_zone("alias")
    repo = make_repo({native: alias_zone(target), refused: alias_zone(target)},
                     config={"resolvers": [lab.resolver], "policy": {
                         "parity": "warn", "alias": {"zones": {native: "native-only", refused: "error"}}}})
    planned = repo.run("plan", "--format", "json")
    document = json.loads(planned.stdout)
    assert document["flattened"] == []
    found = {(f["zone"], f["code"]) for f in document["findings"]}
    assert (native, "parity.unsupported") in found and (refused, "alias.refused") in found
    applied = repo.run("apply", "--yes")  # parity warn accepts native-only; alias error refuses
    assert applied.exit_code == 1 and "refusing to apply (nothing was sent)" in applied.output
    assert f" in {refused} (bind,knot)" in applied.output
    assert ask(lab, "pdns", native, "A") == set()  # nothing was sent


def test_refresh_flattened_skips_a_provider_without_the_zone(make_repo, lab, moto):
    """Review finding 14: Route53 (moto) does not have the zone yet. A refresh there would
    create it holding only the flattened A/AAAA; it is skipped and said, BIND is refreshed."""
    from tests.route53_repo import route53_repo

    cdn = lab.add_cdn(unique_zone("cdn"))
    target = cdn.set("shop", OLD)
    zone = unique_zone("alias")
    repo = route53_repo(make_repo, lab, moto, {zone: alias_zone(target, WWW)}, config={"resolvers": [lab.resolver]},
                        providers=["bind"])
    refreshed = repo.run("apply", "--yes", "--refresh-flattened")
    assert refreshed.exit_code == 0, refreshed.output
    assert (f"--refresh-flattened skips route53/{zone}: the provider does not have the zone yet, and a refresh"
            " never creates one") in refreshed.output
    assert zone not in {z["Name"] for z in moto.client().list_hosted_zones()["HostedZones"]}
    assert ask(lab, "bind", zone, "A") == {"192.0.2.71", "192.0.2.72"}  # the pair that has the zone: refreshed
    assert ask(lab, "bind", f"www.{zone}", "A") == set()  # and only the flattened RRsets
