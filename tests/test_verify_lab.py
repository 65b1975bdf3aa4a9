"""`dnssync verify` against the lab's real servers (PowerDNS, BIND, Knot): a clean
push verifies with zero findings, and every difference made behind dnssync's back
is named with its record, provider, expected and observed values."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import dns.rcode
import dns.tsigkeyring
import dns.update
import pytest
import requests

from dnssync.query import axfr
from dnssync.verify.run import TRANSFERS_PER_ENDPOINT
from tests.conftest import ROOT, unique_zone

EXAMPLES = {p.name[: -len("yaml")]: p.read_text() for p in (ROOT / "zones").glob("*.yaml")}

#: every record type the issue lists, plus a delegation with glue
RICH_ZONE = """---
'':
  - type: CAA
    values:
    - {flags: 0, tag: issue, value: letsencrypt.org}
    - {flags: 128, tag: iodef, value: 'mailto:security@example.com'}
  - type: MX
    values:
    - {exchange: mail.%(zone)s, preference: 10}
  - type: TXT
    values:
    - v=spf1 mx -all
    - %(long)s
'*.apps':
  type: A
  value: 192.0.2.80
_443._tcp.www:
  type: TLSA
  value:
    certificate_association_data: 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
    certificate_usage: 3
    matching_type: 1
    selector: 1
_sip._udp:
  type: SRV
  values:
  - {port: 5060, priority: 10, target: sip.%(zone)s, weight: 60}
  - {port: 5060, priority: 20, target: sip2.%(zone)s, weight: 40}
café:
  type: A
  value: 192.0.2.51
child:
  type: NS
  values: [ns1.child.%(zone)s, ns.elsewhere.example.]
mail:
  type: A
  value: 192.0.2.25
naptr:
  type: NAPTR
  value: {flags: S, order: 10, preference: 100, regexp: '', replacement: _sip._udp.%(zone)s,
          service: SIP+D2U}
ns1.child:
  type: A
  value: 192.0.2.53
sip:
  type: A
  value: 192.0.2.30
sip2:
  type: AAAA
  value: 2001:db8::30
ssh:
  type: SSHFP
  values:
  - {algorithm: 4, fingerprint: 3b6ba6110f5ffcd29469fc1ec2ee25d61718badd7d1d2b3b3e0f0a2a6f0d6c3b,
     fingerprint_type: 2}
www:
  type: CNAME
  value: mail.%(zone)s
xn--bcher-kva:
  type: A
  value: 192.0.2.50
"""


def rich_zone(zone: str) -> str:
    return RICH_ZONE % {"zone": zone, "long": "k=" + "x" * 400}


def verify_json(repo, *args: str) -> tuple[int, dict]:
    result = repo.run("verify", "--format", "json", *args)
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)


def codes(data: dict) -> list[str]:
    return sorted(f["code"] for f in data["findings"])


def nsupdate(lab, server: str, zone: str, *ops: tuple[str, ...]) -> None:
    """Change a zone behind dnssync's back, the way an operator with the TSIG key would."""
    target = lab.servers[server]
    update = dns.update.UpdateMessage(zone, keyring=dns.tsigkeyring.from_text(
        {target.key_name: target.key_secret}), keyalgorithm="hmac-sha256")
    for op, *args in ops:
        getattr(update, op)(*args)
    response = dns.query.tcp(update, target.address, timeout=5)
    assert response.rcode() == dns.rcode.NOERROR, dns.rcode.to_text(response.rcode())


@pytest.fixture(scope="module")
def pushed(tmp_path_factory, lab):
    """The example zones and a zone of every record type, pushed to all three."""
    from tests.conftest import Repo

    zone = unique_zone("rich")
    zones = {**EXAMPLES, zone: rich_zone(zone)}
    for name in zones:
        if name not in lab.pdns.zones:
            lab.add_zone(name)
    root = tmp_path_factory.mktemp("verify-repo")
    repo = Repo(root, lab.write_repo(root, {f"{z}yaml": t for z, t in zones.items()}))
    applied = repo.run("apply", "--yes")
    assert applied.exit_code == 0, applied.output
    return repo, zone


def test_clean_push_verifies_with_zero_findings(pushed):
    repo, zone = pushed
    status, data = verify_json(repo)
    assert data["findings"] == [], json.dumps(data["findings"], indent=1)
    assert status == 0 and data["ok"]
    checked = {(c["zone"], c["provider"]) for c in data["checked"]}
    assert {(zone, p) for p in ("pdns", "bind", "knot")} <= checked
    text = repo.run("verify")
    assert text.exit_code == 0 and "Verify OK" in text.output and "0 error(s)" in text.output
    axfr = repo.run("verify", "--axfr", "--format", "json")
    assert axfr.exit_code == 0 and json.loads(axfr.stdout)["findings"] == []


SMALL = """---
mail:
  type: A
  value: 192.0.2.25
txt:
  type: TXT
  value: abcdefghij
www:
  ttl: 300
  type: A
  values: [192.0.2.1, 192.0.2.2]
"""


@pytest.fixture
def small(make_repo):
    zone = unique_zone("v")
    repo = make_repo({zone: SMALL})
    applied = repo.run("apply", "--yes")
    assert applied.exit_code == 0, applied.output
    status, data = verify_json(repo)
    assert status == 0 and data["findings"] == []
    return repo, zone


def only(data: dict, code: str) -> dict:
    found = [f for f in data["findings"] if f["code"] == code]
    assert len(found) == 1, json.dumps(data["findings"], indent=1)
    return found[0]


def test_record_changed_behind_our_back_is_named(small, lab):
    repo, zone = small
    nsupdate(lab, "bind", zone, ("replace", f"mail.{zone}", 300, "A", "192.0.2.99"))
    status, data = verify_json(repo)
    assert status == 1 and not data["ok"]
    finding = only(data, "verify.values")
    assert (finding["provider"], finding["name"], finding["type"]) == ("bind", "mail", "A")
    assert finding["nameserver"].startswith("ns1.bind.lab")
    assert finding["expected"] == {"ttl": 3600, "values": ["192.0.2.25"]}
    assert finding["observed"] == {"ttl": 300, "values": ["192.0.2.99"]}
    assert finding["extra"]["agree"] == ["knot", "pdns"] and finding["extra"]["differ"] == ["bind"]
    assert codes(data) == ["verify.values"]
    text = repo.run("verify")
    assert text.exit_code == 1
    assert "192.0.2.99" in text.output and "Verify FAILED" in text.output


def test_ttl_changed_through_the_powerdns_api(small, lab):
    repo, zone = small
    response = requests.patch(lab.pdns.api_url(f"zones/{zone}"), timeout=5,
                              headers={"X-API-Key": lab.pdns.api_key}, json={"rrsets": [{
                                  "name": f"www.{zone}", "type": "A", "ttl": 60,
                                  "changetype": "REPLACE", "records": [
                                      {"content": "192.0.2.1", "disabled": False},
                                      {"content": "192.0.2.2", "disabled": False}]}]})
    assert response.status_code == 204, response.text
    status, data = verify_json(repo)
    finding = only(data, "verify.ttl")
    assert status == 1 and (finding["provider"], finding["name"]) == ("pdns", "www")
    assert finding["observed"]["ttl"] == 60 and finding["expected"]["ttl"] == 300


def test_deleted_extra_and_resplit_records(small, lab):
    repo, zone = small
    nsupdate(lab, "knot", zone, ("delete", f"mail.{zone}"),
             ("add", f"rogue.{zone}", 300, "A", "192.0.2.66"))
    nsupdate(lab, "bind", zone, ("replace", f"txt.{zone}", 3600, "TXT", '"abcde" "fghij"'))
    status, data = verify_json(repo)
    assert status == 1
    missing = only(data, "verify.nxdomain")
    assert (missing["provider"], missing["name"]) == ("knot", "mail")
    assert missing["observed"] == "NXDOMAIN"
    extra = only(data, "verify.extra")
    assert (extra["provider"], extra["name"], extra["type"]) == ("knot", "rogue", "A")
    assert extra["observed"]["values"] == ["192.0.2.66"]
    assert "AXFR" in extra["message"] and extra["extra"]["agree"] == ["bind", "pdns"]
    split = only(data, "verify.txt-split")
    assert split["severity"] == "warning" and split["provider"] == "bind"
    assert codes(data) == ["verify.extra", "verify.nxdomain", "verify.txt-split"]
    # without the extra check, the rogue record is not looked for
    assert "verify.extra" not in codes(verify_json(repo, "--no-extra")[1])


def test_apex_soa_delegation_idn_and_wildcard(make_repo, lab):
    zone = unique_zone("d")
    repo = make_repo({zone: rich_zone(zone)})
    assert repo.run("apply", "--yes").exit_code == 0
    assert verify_json(repo)[0] == 0
    nsupdate(lab, "bind", zone, ("add", zone, 3600, "NS", "ns9.rogue.example."),
             ("replace", f"ns1.child.{zone}", 3600, "A", "192.0.2.54"))
    soa = f"{lab.knot.nameserver} hostmaster.{zone} 99 3600 600 604800 30"
    nsupdate(lab, "knot", zone, ("replace", zone, 60, "SOA", soa),
             ("replace", f"xn--caf-dma.{zone}", 3600, "A", "192.0.2.52"))
    nsupdate(lab, "bind", zone, ("delete", f"*.apps.{zone}"))
    status, data = verify_json(repo)
    assert status == 1
    idn = only(data, "verify.values")  # café, written in Unicode in git
    assert (idn["provider"], idn["name"], idn["observed"]["values"]) == (
        "knot", "xn--caf-dma", ["192.0.2.52"])
    wildcard = [f for f in data["findings"] if f["code"] == "verify.nxdomain"]
    assert {(f["provider"], f["name"], f["extra"]["kind"]) for f in wildcard} == {
        ("bind", "*.apps", "data"), ("bind", "*.apps", "probe")}
    assert any("dnssync-wildcard-probe.apps." in f["message"] for f in wildcard)
    apex = only(data, "verify.apex-ns")
    assert apex["provider"] == "bind" and "ns9.rogue.example." in apex["observed"]
    assert apex["expected"] == lab.nameservers and apex["extra"]["agree"] == ["knot", "pdns"]
    glue = only(data, "verify.glue")
    assert (glue["provider"], glue["name"], glue["type"]) == ("bind", "ns1.child", "A")
    assert glue["observed"]["values"] == ["192.0.2.54"]
    negative = only(data, "verify.negative-ttl")
    assert negative["observed"] == {"bind": 5, "knot": 30, "pdns": 5}
    assert codes(data) == ["verify.apex-ns", "verify.glue", "verify.negative-ttl",
                           "verify.nxdomain", "verify.nxdomain", "verify.values"]


def test_stopped_server_times_out_alone(small, lab):
    repo, _zone = small
    with lab.stopped("knot"):
        result = repo.run("verify", "--format", "json", "--query-timeout", "1")
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    # nothing listens on the stopped server's address: the kernel says so at once
    # (ICMP port unreachable); on a real network it is a timeout. Either way, one
    # finding for its nameserver, none for the servers that answer.
    down = [f for f in data["findings"] if f["provider"] == "knot"]
    assert [f["code"] for f in down if f["severity"] == "error"] == ["verify.unreachable"]
    assert down[0]["nameserver"].startswith("ns1.knot.lab")
    assert "answered none of" in down[0]["message"]
    assert not [f for f in data["findings"] if f.get("provider") in ("pdns", "bind")]
    checked = {c["provider"] for c in data["checked"]}
    assert checked == {"pdns", "bind", "knot"}


def test_formats_junit_and_markdown(small, lab, tmp_path, junit_schema):
    import xml.etree.ElementTree as ET

    repo, zone = small
    nsupdate(lab, "bind", zone, ("replace", f"mail.{zone}", 3600, "A", "192.0.2.98"))
    out = tmp_path / "report.xml"
    result = repo.run("verify", "--format", "junit", "--out", str(out))
    assert result.exit_code == 1 and "Verify FAILED" in result.output
    junit_schema.validate(str(out))
    root = ET.parse(out).getroot()
    cases = {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}
    bind = next(c for (cls, name), c in cases.items() if cls.endswith(".bind"))
    assert "192.0.2.98" in bind.find("failure").text
    pdns = next(c for (cls, name), c in cases.items() if cls.endswith(".pdns"))
    assert pdns.find("failure") is None
    assert root.get("failures") == "1"
    github = repo.run("verify", "--format", "github")
    assert github.exit_code == 1
    line = next(n for n, text in enumerate(repo.zone_file(zone).read_text().splitlines(), 1)
                if text.startswith("mail:"))
    assert f"{zone}yaml,line={line},title=dnssync verify.values::" in github.output
    markdown = repo.run("verify", "--format", "markdown")
    assert markdown.exit_code == 1
    assert "| error | `verify.values` |" in markdown.output and "192.0.2.98" in markdown.output


def test_parent_and_child_zones_on_the_same_servers(make_repo, lab):
    """Both zones in git and on every server: each server answers the delegation
    from the child zone itself (AA=1), which must still match git's NS."""
    parent = unique_zone("p")
    child = f"sub.{parent}"
    names = "".join(f"  - {ns}\n" for ns in lab.nameservers)
    repo = make_repo({parent: f"sub:\n  type: NS\n  values:\n{names}www:\n  type: A\n"
                              "  value: 192.0.2.1\n",
                      child: "www:\n  type: A\n  value: 192.0.2.2\n"})
    assert repo.run("apply", "--yes").exit_code == 0
    status, data = verify_json(repo)
    assert status == 0 and data["findings"] == [], [f["message"] for f in data["findings"]]
    nsupdate(lab, "bind", child, ("add", child, 3600, "NS", "ns9.rogue.example."))
    status, data = verify_json(repo)
    assert status == 1
    found = {(f["zone"], f["code"], f.get("name")) for f in data["findings"]}
    assert (parent, "verify.values", "sub") in found  # the delegation as bind answers it
    assert (child, "verify.apex-ns", "") in found


def test_shards_split_the_zones_of_verify_and_drift(make_repo):
    zones = [unique_zone("sh") for _ in range(4)]
    repo = make_repo({z: "www:\n  type: A\n  value: 192.0.2.1\n" for z in zones})
    assert repo.run("apply", "--yes").exit_code == 0
    verified, drifted = [], []
    for i in (1, 2, 3):
        result = repo.run("verify", "--shard", f"{i}/3", "--format", "json")
        assert result.exit_code == 0, result.output
        verified += sorted({c["zone"] for c in json.loads(result.stdout)["checked"]})
        result = repo.run("drift", "--shard", f"{i}/3", "--format", "json")
        assert result.exit_code == 0, result.output
        drifted += sorted({c["zone"] for c in json.loads(result.stdout)["checked"]})
    assert sorted(verified) == sorted(zones) and sorted(drifted) == sorted(zones)  # none lost or doubled


def test_verify_in_worker_processes_finds_what_one_process_finds(make_repo, lab, monkeypatch):
    """--jobs: each forked worker verifies its share of the zones; merged, the run reads
    as one process's: the same findings, checked nameservers and query counts."""
    from dnssync.verify import full

    zones = [unique_zone("jb") for _ in range(4)]
    repo = make_repo({z: SMALL for z in zones})
    assert repo.run("apply", "--yes").exit_code == 0
    nsupdate(lab, "bind", zones[0], ("replace", f"mail.{zones[0]}", 300, "A", "192.0.2.99"))
    nsupdate(lab, "knot", zones[3], ("add", f"extra.{zones[3]}", 300, "A", "192.0.2.98"))
    monkeypatch.setattr(full, "MIN_QUESTIONS", 1)  # these zones are far too small to be worth it
    one = verify_json(repo, "--jobs", "1")
    three = verify_json(repo, "--jobs", "3")
    assert one[0] == three[0] == 1
    (_, alone), (_, spread) = one, three
    assert "jobs" not in alone["stats"] and spread["stats"]["jobs"] == 3
    assert codes(spread) == ["verify.extra", "verify.values"]
    assert sorted(map(str, spread["findings"])) == sorted(map(str, alone["findings"]))
    assert spread["checked"] == alone["checked"]
    for counter in ("queries", "udp_sent", "exact"):
        assert spread["stats"][counter] == alone["stats"][counter], counter
    # most replies are git's own, byte for byte, taken unparsed; the one that differs is not
    assert 0 < alone["stats"]["exact"] < alone["stats"]["queries"]
    assert spread["stats"]["tcp"] == 3 * alone["stats"]["tcp"]  # each worker its own TCP connections
    assert spread["stats"]["dnssec"]["queries"] == alone["stats"]["dnssec"]["queries"]
    # a progress bar hears every answer the workers file, though they count in batches
    from dnssync.repo.repository import Repository
    from dnssync.verify.run import Options

    for key, value in lab.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(full, "PROGRESS_BATCH", 7)  # some batches full, each worker's last not
    loaded = Repository.load(repo.root)
    heard = {1: 0, 3: 0}
    for jobs in heard:
        def hear(n: int, jobs: int = jobs) -> None:
            heard[jobs] += n
        full.verify_zones(loaded, loaded.serves(None, zones), Options(), jobs=jobs, progress=hear)
    assert heard[3] == heard[1] > 7 * 3
    # a large fleet: rounds of fresh workers (here two at once, one zone each, two rounds)
    monkeypatch.setattr(full, "MAX_QUESTIONS", 1)
    status, rounds = verify_json(repo, "--jobs", "2")
    assert status == 1 and (rounds["stats"]["jobs"], rounds["stats"]["parts"]) == (2, 4)
    assert sorted(map(str, rounds["findings"])) == sorted(map(str, alone["findings"]))
    assert rounds["checked"] == alone["checked"] and rounds["stats"]["queries"] == alone["stats"]["queries"]


def test_resplit_txt_with_another_ttl_is_both_findings(small, lab):
    """A provider re-splits a TXT and also serves it with another TTL: the split is a
    warning, and must not hide the TTL, an error."""
    repo, zone = small
    nsupdate(lab, "bind", zone, ("replace", f"txt.{zone}", 60, "TXT", '"abcde" "fghij"'))
    status, data = verify_json(repo, "--no-extra")
    assert status == 1
    assert codes(data) == ["verify.ttl", "verify.txt-split"]
    ttl = only(data, "verify.ttl")
    assert (ttl["provider"], ttl["name"], ttl["observed"]["ttl"], ttl["expected"]["ttl"]) == (
        "bind", "txt", 60, 3600)
    assert only(data, "verify.txt-split")["severity"] == "warning"


def test_nodata_and_referral_answered_by_real_servers(small, lab):
    """Knot keeps the name but not the type git has (NODATA); BIND gets a delegation git
    does not have at a name git has data for, and answers it with a referral."""
    repo, zone = small
    nsupdate(lab, "knot", zone, ("delete", f"mail.{zone}", "A"),
             ("add", f"mail.{zone}", 3600, "AAAA", "2001:db8::25"))
    nsupdate(lab, "bind", zone, ("add", f"www.{zone}", 3600, "NS", "ns.elsewhere.example."))
    status, data = verify_json(repo, "--no-extra")
    assert status == 1
    assert codes(data) == ["verify.nodata", "verify.referral"]
    nodata = only(data, "verify.nodata")
    assert (nodata["provider"], nodata["name"], nodata["type"]) == ("knot", "mail", "A")
    assert nodata["extra"]["agree"] == ["bind", "pdns"]
    referral = only(data, "verify.referral")
    assert (referral["provider"], referral["name"], referral["type"]) == ("bind", "www", "A")
    assert referral["observed"] == f"referral to www.{zone}"


def clamped_repo(make_repo, apex_ns_ttl: int):
    """www with TTL 60 on all three; PowerDNS declares a 300 s minimum TTL, so it serves
    www (and the apex NS, when its TTL is lower) with TTL 300: an adjustment git accepts."""
    zone = unique_zone("clamp")
    repo = make_repo({zone: "www:\n  ttl: 60\n  type: A\n  value: 192.0.2.1\n"},
                     config={"policy": {"parity": "warn"}, "apex_ns": {"ttl": apex_ns_ttl}},
                     provider_extra={"pdns": {"capabilities": {"min_ttl": 300}}})
    applied = repo.run("apply", "--yes", "--force")
    assert applied.exit_code == 0, applied.output
    return repo, zone


def test_a_provider_that_clamps_a_ttl_still_agrees_with_git(make_repo, lab):
    """When another provider differs about www, the one serving www clamped still agrees
    with git: a clamp is not "cannot hold"."""
    repo, zone = clamped_repo(make_repo, 3600)
    nsupdate(lab, "knot", zone, ("replace", f"www.{zone}", 60, "A", "192.0.2.99"))
    status, data = verify_json(repo, "--no-extra")
    assert status == 1 and codes(data) == ["verify.values"]
    finding = only(data, "verify.values")
    assert finding["provider"] == "knot"
    assert (finding["extra"]["agree"], finding["extra"]["differ"]) == (["bind", "pdns"], ["knot"])


def test_each_providers_apex_ns_ttl_is_judged_by_its_own_record(make_repo, lab):
    """The apex NS TTL is 60 in git and 300 at PowerDNS (clamped): each provider is
    judged by its own record, so neither side is a false verify.ttl."""
    repo, _zone = clamped_repo(make_repo, 60)
    status, data = verify_json(repo, "--no-extra")
    assert status == 0 and data["findings"] == [], json.dumps(data["findings"], indent=1)


def test_an_idn_zone_is_one_zone_in_every_finding(make_repo, lab, parent, junit_schema):
    """A zone written in Unicode in git: verify, delegation and zone-file findings all
    name it the same way (its IDNA form, as the repository keys it), so reports group
    it as one zone."""
    import xml.etree.ElementTree as ET

    from dnssync.repo.config import zone_name

    unicode_zone = f"bücher-{unique_zone('idn')}"
    zone = zone_name(unicode_zone)
    assert zone.startswith("xn--")
    lab.add_zone(zone)
    names = "".join(f"  - {ns}\n" for ns in [*lab.nameservers, "ns9.rogue.example."])
    repo = make_repo({unicode_zone: f"'':\n  type: NS\n  values:\n{names}"
                                    "www:\n  type: A\n  value: 192.0.2.1\n"}, create=False)
    assert repo.run("apply", "--yes").exit_code == 0
    nsupdate(lab, "bind", zone, ("replace", f"www.{zone}", 3600, "A", "192.0.2.99"))
    parent.delegate(zone, [lab.pdns.nameserver])  # the registrar lost two providers
    status, data = verify_json(repo)
    assert status == 1
    found = {f["code"] for f in data["findings"]}
    assert {"zone.apex-ns", "verify.values", "delegation.missing"} <= found, found
    assert {f.get("zone") for f in data["findings"]} == {zone}
    assert {c["zone"] for c in data["checked"]} == {zone}
    drift = json.loads(repo.run("drift", "--format", "json").stdout)
    assert {f["zone"] for f in drift["findings"]} == {zone}
    junit = repo.run("verify", "--format", "junit")
    junit_schema.validate(junit.stdout)
    suites = [s.get("name") for s in ET.fromstring(junit.stdout).iter("testsuite")]
    assert suites == [zone.rstrip(".")]


def test_transfers_from_each_server_share_its_connections(make_repo, monkeypatch):
    """Each zone is transferred from every server (the extra-records check), but an
    address gets at most TRANSFERS_PER_ENDPOINT connections for all of them: PowerDNS,
    BIND and Knot each take the next transfer on a connection the last one ended on
    (RFC 5936 4.1.2); a server that did not would get a new connection per transfer."""
    zones = [unique_zone("c") for _ in range(3 * TRANSFERS_PER_ENDPOINT)]
    repo = make_repo({zone: SMALL for zone in zones})
    assert repo.run("apply", "--yes").exit_code == 0
    opened: Counter[tuple[str, int]] = Counter()
    connect = axfr._connect

    async def counted(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        opened[host, port] += 1
        return await connect(host, port)

    monkeypatch.setattr(axfr, "_connect", counted)
    status, data = verify_json(repo, "--jobs", "1")  # this process: the count is seen here
    assert status == 0 and data["findings"] == [], json.dumps(data["findings"], indent=1)
    assert len(data["stats"]["transfer_seconds"]) == 3 * len(zones)  # every zone, every server
    assert len(opened) == 3 and max(opened.values()) <= TRANSFERS_PER_ENDPOINT, opened
