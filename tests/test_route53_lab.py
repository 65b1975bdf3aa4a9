"""Route53 for real: moto's server (Route53's API over HTTP, started by the harness) next
to the lab's real PowerDNS, BIND and Knot, in the same runs of dnssync."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
import requests
import yaml

from dnssync.embedded.server import EmbeddedServer
from tests.conftest import ROOT, unique_zone
from tests.corpus import FIXTURES, MISSING
from tests.embedded_repo import free_port
from tests.httpfault import FaultyProxy
from tests.lab.moto import CREDENTIALS, MotoServer
from tests.route53_repo import MOTO_NS, load_stand_in, route53_repo, route53_soa, rrsets, upsert
from tests.test_push_lab import ask

EXAMPLE_COM = (ROOT / "zones" / "example.com.yaml").read_text()
EXAMPLE_NET = (ROOT / "zones" / "example.net.yaml").read_text()


@pytest.mark.skipif(FIXTURES is None, reason=MISSING)
def test_example_zones_and_octodns_fixtures_with_the_lab_in_one_apply(make_repo, lab, moto):
    """The example zones and octoDNS's unit fixture zone (under names of their own, as the
    lab is shared), pushed to Route53, PowerDNS, BIND and Knot in one apply, which
    creates the hosted zones; then a second plan is clean."""
    com, net, unit = unique_zone("excom"), unique_zone("exnet"), unique_zone("unit")
    unit_tests = (FIXTURES / "unit.tests.yaml").read_text()
    repo = route53_repo(make_repo, lab, moto, {com: EXAMPLE_COM, net: EXAMPLE_NET, unit: unit_tests},
                        config={"policy": {"parity": "warn"}})
    assert repo.run("validate").exit_code == 0
    planned = repo.run("plan", "--format", "json")
    assert planned.exit_code == 0, planned.output
    plan = json.loads(planned.stdout)
    # no hosted zone yet: plan says its nameservers come once apply has created it
    pending = {(f["code"], f["zone"]) for f in plan["findings"] if f["code"].startswith("plan.nameservers")}
    assert pending == {("plan.nameservers-pending", z) for z in (com, net, unit)}
    cannot = {(a["name"], a["type"]) for p in plan["providers"] if p["provider"] == "route53"
              for a in p["adjustments"] if a["kind"] == "unsupported"}
    assert {("loc", "LOC"), ("dname", "DNAME"), ("urlfwd", "URLFWD")} <= cannot

    result = repo.run("apply", "--yes")
    assert result.exit_code == 0, result.output
    hosted = {z["Name"] for z in moto.client().list_hosted_zones()["HostedZones"]}
    assert {com, net, unit} <= hosted  # the hosted zones were created
    second = repo.run("plan", "--detailed-exitcode", "--format", "json")
    assert second.exit_code == 0, [(p["provider"], p["zone"], p["changes"]) for p in json.loads(second.stdout)[
        "providers"] if p["changes"]]

    # read back from Route53's API and from the real servers over DNS
    held = rrsets(moto, com)
    assert held[(com, "MX")] == {"10 mail1.example.com.", "20 mail2.example.com."}
    assert held[(com, "A")] == {"192.0.2.10", "192.0.2.11"}
    assert held[(com, "NS")] >= {ns.rstrip(".") + "." for ns in MOTO_NS} | set(lab.nameservers)
    assert rrsets(moto, unit)[(f"_srv._tcp.{unit}", "SRV")] == {
        "10 20 30 foo-1.unit.tests.", "12 20 30 foo-2.unit.tests."}
    for server in lab.servers:  # every provider's apex NS lists Route53's own four
        assert ask(lab, server, com, "NS") >= set(MOTO_NS)
        assert ask(lab, server, f"_srv._tcp.{unit}", "SRV") == {
            "10 20 30 foo-1.unit.tests.", "12 20 30 foo-2.unit.tests."}


def test_drift_import_snapshot_restore(make_repo, lab, moto, tmp_path):
    zone = unique_zone("r53d")
    repo = route53_repo(make_repo, lab, moto, {zone: "www:\n  type: A\n  value: 192.0.2.1\n"})
    applied = repo.run("--debug", "apply", "--yes")  # boto3's and the plugin's debug logs too
    assert applied.exit_code == 0
    assert CREDENTIALS["AWS_SECRET_ACCESS_KEY"] not in applied.output + (applied.stderr or "")
    assert repo.run("drift").exit_code == 0

    # drift: an out-of-band change made with boto3
    upsert(moto, zone, f"www.{zone}", "A", ["192.0.2.66"], ttl=3600)
    result = repo.run("drift", "--format", "json")
    assert result.exit_code == 1, result.output
    found = {(f["code"], f["provider"], f["name"], f["type"]): f for f in json.loads(result.stdout)["findings"]}
    assert set(found) == {("drift.changed", "route53", "www", "A")}
    assert found[("drift.changed", "route53", "www", "A")]["observed"] == "3600 192.0.2.66"

    # import: Route53's zone into zones/, as octoDNS YAML
    onboard = tmp_path / "onboard"
    (onboard / "providers").mkdir(parents=True)
    (onboard / "zones").mkdir()
    (onboard / "dnssync.yaml").write_text(yaml.safe_dump({"zones": "zones", "providers": "providers",
                                                          "parent": {"check": False}}))
    (onboard / "providers" / "route53.yaml").write_text((repo.root / "providers" / "route53.yaml").read_text())
    imported = repo.run("-c", str(onboard), "import", "--provider", "route53", "--zone", zone)
    assert imported.exit_code == 0, imported.output
    data = yaml.safe_load((onboard / "zones" / f"{zone}yaml").read_text())
    assert data["www"] == {"ttl": 3600, "type": "A", "value": "192.0.2.66"}
    assert "" not in data  # the apex NS is dnssync's to manage

    # snapshot then restore: apply takes a snapshot of Route53 too, restore puts it back
    repo.zone_file(zone).write_text("www:\n  type: A\n  value: 192.0.2.2\nnew:\n  type: A\n  value: 192.0.2.3\n")
    applied = repo.run("apply", "--yes", "--force")
    assert applied.exit_code == 0, applied.output
    assert rrsets(moto, zone)[(f"www.{zone}", "A")] == {"192.0.2.2"}
    snapshot = applied.output.split("dnssync restore ")[1].split(")")[0]
    assert "route53/" in repo.run("snapshots").output
    restored = repo.run("restore", snapshot, "--provider", "route53", "--yes")
    assert restored.exit_code == 0, restored.output
    held = rrsets(moto, zone)
    assert held[(f"www.{zone}", "A")] == {"192.0.2.66"} and (f"new.{zone}", "A") not in held
    assert ask(lab, "bind", f"new.{zone}", "A") == {"192.0.2.3"}  # only route53 was restored


def test_route53_outage_while_the_others_are_applied(make_repo, lab, tmp_path):
    """moto's server stopped (its own instance: a stop loses its state) while PowerDNS,
    BIND and Knot are still applied; the next run converges once it is back."""
    with MotoServer(tmp_path / "moto") as own:
        zone = unique_zone("r53o")
        repo = route53_repo(make_repo, lab, own, {zone: "www:\n  type: A\n  value: 192.0.2.1\n"},
                            client_max_attempts=2)
        assert repo.run("apply", "--yes").exit_code == 0
        repo.zone_file(zone).write_text("www:\n  type: A\n  value: 192.0.2.9\n")
        own.stop()
        result = repo.run("apply", "--yes")
        assert result.exit_code == 1
        text = " ".join(result.output.split())
        assert f"provider route53 (route53) at {own.address}:{own.port}: connection refused" in text
        assert "Apply FAILED at route53; the other providers (bind, knot, pdns) were applied." in text
        assert "Traceback" not in result.output
        assert "plan.nameservers-unreadable" in result.output  # and so no apex NS is touched
        for server in lab.servers:
            assert ask(lab, server, f"www.{zone}", "A") == {"192.0.2.9"}
        own.start()  # an empty Route53 again: the next apply creates the zone and converges
        again = repo.run("apply", "--yes")
        assert again.exit_code == 0, again.output
        assert rrsets(own, zone)[(f"www.{zone}", "A")] == {"192.0.2.9"}
        assert repo.run("plan", "--detailed-exitcode").exit_code == 0


def test_a_silent_route53_costs_two_timeouts_of_its_own_not_botocores_per_zone(make_repo, lab, tmp_path):
    """moto's server stopped with SIGSTOP (it takes connections and never answers, as a
    hung endpoint would) under a fleet's plan: with the provider's `timeout` of 0.5 s each
    request gives up in a second; the breaker opens after two (reading `nameservers: auto`,
    before plan forks), the planning workers start from what it found and do not ask
    again, and BIND's pairs are planned. botocore's own 60 s a try would take minutes."""
    zones = {unique_zone("r53s"): "www:\n  type: A\n  value: 192.0.2.1\n" for _ in range(16)}
    with MotoServer(tmp_path / "moto") as own:
        repo = route53_repo(make_repo, lab, own, zones, providers=["bind"], timeout=0.5, client_max_attempts=1)
        assert repo.run("apply", "--yes").exit_code == 0
        for zone in zones:
            repo.zone_file(zone).write_text("www:\n  type: A\n  value: 192.0.2.2\n")
        out = tmp_path / "plan.json"
        own.process.send_signal(signal.SIGSTOP)
        try:
            started = time.monotonic()
            result = repo.run("plan", "--format", "json", "--out", str(out))
            waited = time.monotonic() - started
        finally:
            own.process.send_signal(signal.SIGCONT)
    assert result.exit_code == 1, result.output
    assert waited < 60, f"{waited:.0f} s: botocore's own timeouts, not the provider's"
    pairs = json.loads(out.read_text())["providers"]
    bind = [p for p in pairs if p["provider"] == "bind"]
    route53 = [p for p in pairs if p["provider"] == "route53"]
    assert len(bind) == len(route53) == len(zones)
    assert all(not p["error"] and len(p["changes"]) == 1 for p in bind)
    assert all("no answer (timed out)" in p["error"] for p in route53)
    assert sum("not asked for" in p["error"] for p in route53) >= len(zones) // 2


def test_nameservers_auto_is_a_config_error_where_the_plugin_has_no_list(make_repo, lab):
    repo = make_repo({unique_zone(): "www:\n  type: A\n  value: 192.0.2.1\n"}, providers=["bind"])
    path = repo.root / "providers" / "bind.yaml"
    data = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**data, "nameservers": "auto"}))
    result = repo.run("validate")
    assert result.exit_code == 2
    assert "provider 'bind'" in result.output and "'nameservers: auto' does not work for it" in result.output
    assert Path(str(path)).name in result.output


THROTTLED = (b'<?xml version="1.0"?><ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">'
             b"<Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
             b"<RequestId>1</RequestId></ErrorResponse>")


def test_throttling_is_retried_by_apply_never_a_failure(make_repo, lab, moto):
    """The fault-injecting proxy in front of moto throttles the first three change requests:
    botocore retries once here (client_max_attempts: 1) with backoff, then gives up with an
    error dnssync knows to be transient, and apply retries (re-planning): two attempts."""
    zone = unique_zone("r53t")

    def decide(method: str, path: str, seen: int):
        return (400, THROTTLED) if method == "POST" and path.endswith("/rrset/") and seen < 3 else None

    with FaultyProxy(moto.url, decide) as proxy:
        repo = route53_repo(make_repo, lab, moto, {zone: "www:\n  type: A\n  value: 192.0.2.1\n"},
                            url=f"http://127.0.0.1:{proxy.port}", client_max_attempts=1,
                            config={"defaults": {"retries": 4, "backoff": 0.1}})
        result = repo.run("apply", "--yes")
    assert result.exit_code == 0, result.output
    assert "after 2 attempts" in result.output and "failed" not in result.output
    assert [s for m, p, s in proxy.log if p.endswith("/rrset/")] == [400, 400, 400, 200]
    assert rrsets(moto, zone)[(f"www.{zone}", "A")] == {"192.0.2.1"}


def test_a_change_route53_rejects_is_named_and_the_rest_goes(make_repo, lab, moto):
    zone = unique_zone("r53r")
    values = "".join(f"  - 10.0.{i // 250}.{i % 250 + 1}\n" for i in range(600))
    big = "big:\n  type: A\n  ttl: 60\n  values:\n" + values
    repo = route53_repo(make_repo, lab, moto, {zone: big}, providers=[])
    assert repo.run("apply", "--yes").exit_code == 0
    repo.zone_file(zone).write_text(big.replace("ttl: 60", "ttl: 120") + "new:\n  type: A\n  value: 192.0.2.5\n")
    result = repo.run("apply", "--yes", "--force")
    assert result.exit_code == 1
    assert (f"Route53 rejected 1 RRset change(s) (the other 1 went): big.{zone} A: Number of records limit of"
            " 1000 exceeded.") in " ".join(result.output.split())
    assert rrsets(moto, zone)[(f"new.{zone}", "A")] == {"192.0.2.5"}


def test_verify_route53_hosted_zone_through_a_stand_in_edge(make_repo, lab, moto):
    """verify asks every nameserver of every provider over DNS. Route53's nameservers are
    AWS's edge, and there is none here (moto speaks Route53's API, not DNS), so an embedded
    dnssync server loaded from the zone moto holds (read through the API) STANDS IN FOR
    ROUTE53'S EDGE: the provider file gives it as the address of the four names that
    `nameservers: auto` reads from the hosted zone's delegation set. What this covers is
    what Route53's API holds, served over DNS; not AWS's own DNS servers."""
    zone = unique_zone("r53v")
    port = free_port()
    repo = route53_repo(make_repo, lab, moto, {zone: "www:\n  type: A\n  value: 192.0.2.1\n"},
                        nameservers={"auto": True, "address": f"127.0.0.1:{port}"})
    assert repo.run("apply", "--yes").exit_code == 0
    with EmbeddedServer("127.0.0.1", port, MOTO_NS[0], soa=route53_soa(moto, zone)):
        load_stand_in(moto, zone, port)
        result = repo.run("verify", "--format", "json")
        report = json.loads(result.stdout)
        checked = {c["nameserver"] for c in report["checked"] if c["provider"] == "route53"}
        assert checked == {f"{ns.rstrip('.')} (127.0.0.1:{port})" for ns in MOTO_NS}
        # Route53's SOA (as moto holds it: TTL 900, MINIMUM 86400) makes resolvers cache a
        # "does not exist" for 900 s, the lab's servers for 5 s: a real difference, reported
        [finding] = [f for f in report["findings"] if f["severity"] == "error"]
        assert finding["code"] == "verify.negative-ttl" and finding["observed"]["route53"] == 900
        soa = json.loads(repo.run("soa", "--format", "json").stdout)["soa"]
        route53 = [v for v in soa if v["provider"] == "route53"]
        assert len(route53) == 4 and {v["minimum"] for v in route53} == {86400}
        assert {v["mname"] for v in route53} == {MOTO_NS[0]}

        upsert(moto, zone, f"www.{zone}", "A", ["192.0.2.66"], ttl=3600)  # out of band, at Route53
        load_stand_in(moto, zone, port)
        drifted = repo.run("verify", "--format", "json")
        assert drifted.exit_code == 1
        found = {(f["code"], f.get("provider"), f.get("name")) for f in json.loads(drifted.stdout)["findings"]
                 if f["severity"] == "error" and f["code"] != "verify.negative-ttl"}
        assert found and all(p == "route53" and n == "www" for _, p, n in found), found


def test_a_zone_written_for_route53_works_unchanged_beside_the_lab(make_repo, lab, moto):
    """`Route53Provider/ALIAS` in a zone file (its type registers when the plugin is
    imported) is written to Route53 as its own alias record and read back unchanged, while
    PowerDNS, BIND and Knot serve it flattened (the ALIAS mechanism, planning/flatten.py): one apply,
    the default parity policy, and a clean second plan."""
    zone = unique_zone("r53a")
    text = ("'':\n  type: Route53Provider/ALIAS\n  value:\n    name: www\n    type: A\n"
            "www:\n  type: A\n  value: 192.0.2.7\n")
    repo = route53_repo(make_repo, lab, moto, {zone: text})
    applied = repo.run("apply", "--yes")
    assert applied.exit_code == 0, applied.output
    client = moto.client()
    zone_id = next(z["Id"] for z in client.list_hosted_zones()["HostedZones"] if z["Name"] == zone)
    apex = [r for r in client.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
            if r["Name"] == zone and r["Type"] == "A"]
    assert [r["AliasTarget"]["DNSName"] for r in apex] == [f"www.{zone}"]
    for server in lab.servers:
        assert ask(lab, server, zone, "A") == {"192.0.2.7"}
    second = repo.run("plan", "--detailed-exitcode")
    assert second.exit_code == 0, second.output


def test_debug_never_shows_the_credentials_of_an_assumed_role(make_repo, lab, moto):
    """`role_arn`: the plugin assumes the role through STS (moto's), so the keys it signs
    with never went through config's env/. botocore logs the AssumeRole answer and the
    signed requests at DEBUG: under --debug they stay off; with DNSSYNC_DEBUG_HTTP=1 they
    show, and the assumed keys are masked in every request signed with them."""
    zone = unique_zone("r53k")
    repo = route53_repo(make_repo, lab, moto, {zone: "www:\n  type: A\n  value: 192.0.2.1\n"}, providers=[],
                        role_arn="arn:aws:iam::123456789012:role/dnssync")
    repo.env["AWS_ENDPOINT_URL_STS"] = moto.url

    def assumed() -> list[dict]:
        return requests.get(f"{moto.url}/moto-api/data.json", timeout=10).json().get("sts", {}).get("AssumedRole", [])

    before = len(assumed())
    result = repo.run("--debug", "apply", "--yes")
    output = result.output + (result.stderr or "")
    assert result.exit_code == 0, output
    roles = assumed()[before:]
    assert roles and all(r["role_arn"].endswith("role/dnssync") for r in roles)
    assert "DEBUG Route53Provider[route53]" in output  # --debug is on
    assert "DEBUG botocore" not in output and "DEBUG urllib3" not in output
    for role in roles:
        assert role["secret_access_key"] not in output and role["session_token"] not in output

    repo.zone_file(zone).write_text("www:\n  type: A\n  value: 192.0.2.2\n")
    repo.env["DNSSYNC_DEBUG_HTTP"] = "1"
    before = len(assumed())
    result = repo.run("--debug", "apply", "--yes")
    output = result.output + (result.stderr or "")
    assert result.exit_code == 0, output
    assert "DNSSYNC_DEBUG_HTTP=1: HTTP libraries log requests" in output
    signed = [line for line in output.splitlines() if "x-amz-security-token" in line.lower()]
    assert signed  # the requests signed with the assumed keys are logged...
    for role in assumed()[before:]:  # ...with the keys masked
        assert not any(role["session_token"] in line or role["secret_access_key"] in line for line in signed)


def test_apply_creates_no_hosted_zone_before_the_gates_and_confirmation(make_repo, lab, moto):
    """A new zone for Route53 (`nameservers: auto`): its hosted zone is created only once
    the plan was shown, passed the gates and was confirmed. The example zone has records
    Route53 cannot hold (parity errors): apply refuses, and Route53 has no hosted zone;
    `--refresh-flattened` never creates one; answering "no" creates none."""
    def hosted() -> set[str]:
        return {z["Name"] for z in moto.client().list_hosted_zones()["HostedZones"]}

    gated = unique_zone("r53g")
    repo = route53_repo(make_repo, lab, moto, {gated: EXAMPLE_COM})
    result = repo.run("apply", "--yes")
    assert result.exit_code == 1
    assert "refusing to apply (nothing was sent):" in result.output and "parity error" in result.output
    assert gated not in hosted()

    plain = unique_zone("r53y")
    repo = route53_repo(make_repo, lab, moto, {plain: "www:\n  type: A\n  value: 192.0.2.1\n"})
    assert repo.run("apply", "--yes", "--refresh-flattened").exit_code == 0
    assert plain not in hosted()
    declined = repo.run("apply", input="n\n")
    assert declined.exit_code != 0 and plain not in hosted()
    result = repo.run("apply", "--yes")
    assert result.exit_code == 0, result.output
    assert f"Created route53/{plain} for their nameservers" in result.output
    assert plain in hosted()
    assert ask(lab, next(iter(lab.servers)), plain, "NS") >= set(MOTO_NS)
    assert repo.run("plan", "--detailed-exitcode").exit_code == 0
