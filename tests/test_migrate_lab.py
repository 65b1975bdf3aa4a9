"""Issue 10, the loading side, against the real servers: what an existing octoDNS repository
writes is read the way its author meant, pushed the same to PowerDNS, BIND and Knot, and
whatever cannot be is named at validate or in the plan, never a surprise at apply."""

from __future__ import annotations

import json

import requests

from tests.conftest import unique_zone
from tests.test_push_lab import ask

WARN = {"policy": {"parity": "warn"}}


def findings(result, prefix: str = "") -> list[dict]:
    return [f for f in json.loads(result.stdout)["findings"] if f["code"].startswith(prefix)]


def validated(repo, prefix: str) -> list[dict]:
    """`validate` accepts the repository; its findings whose code starts with `prefix`."""
    result = repo.run("validate", "--format", "json")
    assert result.exit_code == 0, result.output
    return findings(result, prefix)


def converged(repo) -> None:
    """Applied, verified clean, and a second plan has nothing to do."""
    applied = repo.run("apply", "--yes")
    assert applied.exit_code == 0, applied.output
    verified = repo.run("verify", "--format", "json")
    assert verified.exit_code == 0, verified.output
    again = repo.run("plan", "--detailed-exitcode")
    assert again.exit_code == 0, again.output


def test_relative_targets_are_absolute_on_every_server(make_repo, lab):
    zone = unique_zone()
    text = ("_sip._tcp:\n  type: SRV\n  value: {port: 5060, priority: 10, target: sip.example.org, weight: 5}\n"
            "mail:\n  type: MX\n  values:\n    - {exchange: mx1.sendgrid.net, preference: 10}\n"
            "    - {exchange: mx2.sendgrid.net., preference: 20}\n"
            "ptr:\n  type: PTR\n  value: host.example.org\n"
            "www:\n  type: CNAME\n  value: sendgrid.net\n")
    repo = make_repo({zone: text})
    relative = {(f["name"], f["line"]): f["message"] for f in validated(repo, "zone.relative-target")}
    assert set(relative) == {("_sip._tcp", 3), ("mail", 7), ("ptr", 11), ("www", 14)}
    assert relative[("www", 14)].endswith("every provider serves the absolute name sendgrid.net. (as Route53"
                                          " reads it), never one relative to the zone; write `sendgrid.net.`")
    text_out = repo.run("validate").output
    assert f"{zone}yaml:14: warning zone.relative-target: www.{zone} CNAME target 'sendgrid.net'" in text_out
    converged(repo)
    for server in lab.servers:
        assert ask(lab, server, f"www.{zone}", "CNAME") == {"sendgrid.net."}
        assert ask(lab, server, f"mail.{zone}", "MX") == {"10 mx1.sendgrid.net.", "20 mx2.sendgrid.net."}
        assert ask(lab, server, f"_sip._tcp.{zone}", "SRV") == {"10 5 5060 sip.example.org."}
        assert ask(lab, server, f"ptr.{zone}", "PTR") == {"host.example.org."}


def test_unquoted_yaml_keys_are_the_labels_written_never_the_apex(make_repo, lab):
    zone = unique_zone()
    text = ("'':\n  type: A\n  value: 192.0.2.1\n"
            "null:\n  type: A\n  value: 192.0.2.2\n"
            "on:\n  type: A\n  value: 192.0.2.3\n"
            "1.5:\n  type: A\n  value: 192.0.2.4\n"
            "2024-01-01:\n  type: TXT\n  value: dated\n"
            "42:\n  type: A\n  value: 192.0.2.5\n")
    repo = make_repo({zone: text})
    unquoted = {(f["name"], f["line"]) for f in validated(repo, "zone.name-unquoted")}
    assert unquoted == {("null", 4), ("on", 7), ("1.5", 10), ("2024-01-01", 13), ("42", 16)}
    assert f"the name 'null' is unquoted, and YAML reads it as a null: dnssync takes it as written, null.{zone}" \
           " (never the apex); quote it ('null':)" in repo.run("validate").output
    converged(repo)
    for server in lab.servers:
        assert ask(lab, server, zone, "A") == {"192.0.2.1"}
        assert ask(lab, server, f"null.{zone}", "A") == {"192.0.2.2"}
        assert ask(lab, server, f"on.{zone}", "A") == {"192.0.2.3"}
        assert ask(lab, server, f"1.5.{zone}", "A") == {"192.0.2.4"}
        assert ask(lab, server, f"2024-01-01.{zone}", "TXT") == {'"dated"'}
        assert ask(lab, server, f"42.{zone}", "A") == {"192.0.2.5"}


CNAME_AND_DATA = ("www:\n  - type: CNAME\n    value: web.example.org.\n{lenient}"
                  "  - type: MX\n    value: {{exchange: mx.example.org., preference: 10}}\n{lenient}"
                  "  - type: TXT\n    value: verify-me\n{lenient}")


def test_cname_beside_data_is_a_validate_error_at_the_cname(make_repo):
    zone = unique_zone()
    repo = make_repo({zone: CNAME_AND_DATA.format(lenient="")}, create=False)
    result = repo.run("validate")
    assert result.exit_code == 2
    assert (f"{zone}yaml:2: error zone.cname-other: www.{zone} CNAME beside MX, TXT at the same name is invalid"
            " DNS (RFC 1034 3.6.2): PowerDNS refuses the change (HTTP 422") in result.output
    assert repo.run("plan").exit_code == 2


def test_cname_beside_data_under_lenient_is_named_in_the_plan_and_withheld(make_repo, lab):
    zone = unique_zone()
    repo = make_repo({zone: CNAME_AND_DATA.format(lenient="    octodns: {lenient: true}\n")}, config=WARN)
    checked = repo.run("validate")
    assert checked.exit_code == 0, checked.output
    assert "Under lenient dnssync sends every provider the CNAME alone and withholds the MX, TXT" \
           in checked.output
    plan = repo.run("plan", "--format", "json")
    assert plan.exit_code == 0, plan.output
    withheld = {(f["name"], f["type"]): f for f in findings(plan, "parity.")}
    assert set(withheld) == {("www", "MX"), ("www", "TXT")}
    txt = withheld[("www", "TXT")]
    assert (txt["severity"], txt["line"], txt["provider"]) == ("warning", 8, "bind,knot,pdns")
    assert "pdns would refuse the zone's change (HTTP 422 'Conflicts with pre-existing RRset')" in txt["message"]
    assert "bind would answer NOERROR yet keep only one side" in txt["message"]
    changes = {(c["name"], c["type"]) for p in json.loads(plan.stdout)["providers"] for c in p["changes"]}
    assert ("www", "CNAME") in changes and ("www", "TXT") not in changes and ("www", "MX") not in changes
    converged(repo)
    for server in lab.servers:  # every provider serves the same: the CNAME, and only it
        assert ask(lab, server, f"www.{zone}", "CNAME") == {"web.example.org."}
        assert ask(lab, server, f"www.{zone}", "TXT") == set()


def test_lenient_cname_added_beside_served_data_replaces_it_everywhere(make_repo, lab):
    """A name already served with TXT gains a lenient CNAME: the TXT is withheld, so the plan
    deletes it and creates the CNAME in one change; no server keeps the old side."""
    zone = unique_zone()
    repo = make_repo({zone: "www:\n  type: TXT\n  value: first\n"}, config=WARN)
    converged(repo)
    repo.zone_file(zone).write_text(CNAME_AND_DATA.format(lenient="    octodns: {lenient: true}\n"))
    converged(repo)
    for server in lab.servers:
        assert ask(lab, server, f"www.{zone}", "CNAME") == {"web.example.org."}
        assert ask(lab, server, f"www.{zone}", "TXT") == set()


def test_cname_beside_data_under_lenient_with_parity_error_sends_nothing(make_repo, lab):
    zone = unique_zone()
    text = CNAME_AND_DATA.format(lenient="") + "other:\n  type: A\n  value: 192.0.2.7\n"
    repo = make_repo({zone: text}, config={"lenient": ["*"]})
    assert repo.run("plan").exit_code == 1
    applied = repo.run("apply", "--yes")
    assert applied.exit_code == 1
    assert "refusing to apply (nothing was sent)" in applied.output
    for server in lab.servers:
        assert ask(lab, server, f"other.{zone}", "A") == set()


def test_zone_discovery_skips_what_octodns_would_not_read_and_creates_nothing(make_repo, lab):
    zone = unique_zone()
    base = zone.rstrip(".")
    repo = make_repo({zone: "www:\n  type: A\n  value: 192.0.2.1\n"})
    folder = repo.root / "zones"
    (folder / f"{base}._0_base.yaml").write_text("mail:\n  type: A\n  value: 192.0.2.9\n")
    (folder / "production.yaml").write_text(
        "providers:\n  config:\n    class: octodns.provider.yaml.YamlProvider\n    directory: .\n"
        f"zones:\n  {zone}:\n    sources: [config]\n    targets: [config]\n")
    (folder / "README.md").write_text("notes\n")
    checked = repo.run("validate", "--format", "json")
    assert checked.exit_code == 0, checked.output
    data = json.loads(checked.stdout)
    assert data["zones"] == [zone]
    skipped = {f["file"].rsplit("/", 1)[-1]: f for f in findings(checked, "config.zone-skipped")}
    assert set(skipped) == {f"{base}._0_base.yaml", "production.yaml"}
    assert "its last label '_0_base' is no top-level domain" in skipped[f"{base}._0_base.yaml"]["message"]
    assert f"move it into the split folder {base}./" in skipped[f"{base}._0_base.yaml"]["message"]
    assert "it is an octoDNS config" in skipped["production.yaml"]["message"]
    converged(repo)
    pdns = lab.servers["pdns"]
    listed = requests.get(pdns.api_url("zones"), headers={"X-API-Key": pdns.api_key}, timeout=5).json()
    assert not [z["name"] for z in listed if "_0_base" in z["name"] or z["name"] == "production."]


def test_zone_level_lenient_keeps_records_and_lists_what_it_hides(make_repo, lab):
    zone = unique_zone()
    text = "sip.tcp:\n  type: SRV\n  value: {port: 5060, priority: 10, target: sip.example.org., weight: 5}\n"
    strict = make_repo({zone: text}, create=False)
    refused = strict.run("validate")
    assert refused.exit_code == 2 and "zone.record" in refused.output
    repo = make_repo({zone: text}, config={"lenient": [zone.rstrip(".")]})
    checked = repo.run("validate")
    assert checked.exit_code == 0, checked.output
    assert f"{zone}yaml:1: warning zone.record: sip.tcp.{zone}: invalid name for SRV record, via: srv-name"\
           " (accepted: lenient)" in checked.output
    converged(repo)
    for server in lab.servers:
        assert ask(lab, server, f"sip.tcp.{zone}", "SRV") == {"10 5 5060 sip.example.org."}


def test_plugin_record_type_loads_and_is_a_parity_finding(make_repo, lab):
    """`PowerDnsProvider/LUA` is registered by octodns_powerdns; neither BIND nor Knot can
    hold it. dnssync.yaml mode loads it as --octodns-config does and the plan names it."""
    zone = unique_zone()
    text = ("lua:\n  type: PowerDnsProvider/LUA\n  value: {script: \"ifportup(443, {'192.0.2.1'})\", type: A}\n"
            "www:\n  type: A\n  value: 192.0.2.1\n")
    repo = make_repo({zone: text}, providers=["bind", "knot"], config=WARN)
    plan = repo.run("plan", "--format", "json")
    assert plan.exit_code == 0, plan.output
    [lua] = findings(plan, "parity.")
    assert (lua["code"], lua["name"], lua["type"], lua["provider"], lua["line"]) == \
        ("parity.unsupported", "lua", "PowerDnsProvider/LUA", "bind,knot", 1)
    converged(repo)
    for server in ("bind", "knot"):
        assert ask(lab, server, f"www.{zone}", "A") == {"192.0.2.1"}


def test_plugin_record_type_whose_plugin_is_missing_names_the_line(make_repo):
    zone = unique_zone()
    text = "www:\n  type: A\n  value: 192.0.2.1\nzoo:\n  type: ExampleDnsProvider/ALIAS\n" \
           "  value: {name: www, type: A}\n"
    result = make_repo({zone: text}, create=False).run("validate")
    assert result.exit_code == 2
    assert (f"{zone}yaml:4: error zone.record-type: zoo.{zone}: record type 'ExampleDnsProvider/ALIAS':"
            " its plugin, octodns_exampledns (ExampleDnsProvider), is not installed: pip install"
            " octodns-exampledns") \
        in result.output


def test_data_at_and_below_a_delegation_is_named_and_verify_refers_at_the_highest_cut(make_repo, lab):
    zone = unique_zone()
    text = ("deep.sub:\n  type: A\n  value: 192.0.2.30\n"
            "inner.sub:\n  type: NS\n  value: ns.elsewhere.example.\n"
            "ns1.sub:\n  type: A\n  value: 192.0.2.53\n"
            "sub:\n  - type: MX\n    value: {exchange: mx.example.org., preference: 10}\n"
            f"  - type: NS\n    value: ns1.sub.{zone}\n"
            "  - type: TXT\n    value: beside-the-cut\n"
            "www:\n  type: A\n  value: 192.0.2.1\n")
    repo = make_repo({zone: text})
    occluded = {(f["name"], f["type"], f["line"]) for f in validated(repo, "zone.occluded")}
    assert occluded == {("deep.sub", "A", 1), ("sub", "MX", 11), ("sub", "TXT", 15)}
    [nested] = validated(repo, "zone.nested-delegation")
    assert (nested["name"], nested["line"]) == ("inner.sub", 4)
    assert f"is below the delegation sub.{zone}" in repo.run("validate").output
    applied = repo.run("apply", "--yes")
    assert applied.exit_code == 0, applied.output
    verified = repo.run("verify", "--format", "json")
    assert verified.exit_code == 0, verified.output  # servers refer at sub: nobody is blamed
    codes = {(f["code"], f["name"], f["type"]) for f in findings(verified)}
    assert not [c for c in codes if c[0] in ("verify.referral", "verify.values", "verify.nxdomain")]
    noted = {(name, rtype) for code, name, rtype in codes if code == "verify.occluded"}
    assert noted == {("deep.sub", "A"), ("sub", "MX"), ("sub", "TXT"), ("inner.sub", "NS")}
    assert repo.run("plan", "--detailed-exitcode").exit_code == 0
