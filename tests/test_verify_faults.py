"""Faults a real server cannot produce on demand, from a small faulty nameserver
(tests/faultyns.py) serving as a second provider beside the lab's PowerDNS: each
fault is reported as itself, none crashes the run, PowerDNS is still verified."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.conftest import unique_zone
from tests.faultyns import FAULTS, FaultyNameserver

FAULTY_NS = "ns1.faulty.test."
LABELS = ["www", *FAULTS]


def zone_yaml(labels: list[str]) -> str:
    return "---\n" + "".join(f"{label}:\n  type: A\n  value: 192.0.2.{i + 1}\n"
                             for i, label in enumerate(sorted(labels)))


def zone_text(zone: str, labels: list[str], nameservers: list[str], serial: int = 1) -> str:
    lines = ["$TTL 3600", f"@ 60 SOA {FAULTY_NS} hostmaster.{zone} {serial} 3600 600 604800 5"]
    lines += [f"@ NS {ns}" for ns in nameservers]
    lines += [f"{label} A 192.0.2.{i + 1}" for i, label in enumerate(sorted(labels))]
    return "\n".join(lines) + "\n"


def faulty_repo(make_repo, lab, tmp_path, labels, host="127.0.0.1", mode=None, tcp=True,
                transfer=None):
    """A repository served by PowerDNS and by a faulty nameserver (its 'API' is an
    octoDNS YAML provider, so the fallback for extra records is exercised too)."""
    zone = unique_zone("f")
    repo = make_repo({zone: zone_yaml(labels)}, providers=["pdns"])
    union = sorted([lab.pdns.nameserver, FAULTY_NS])
    server = FaultyNameserver(zone, zone_text(zone, labels, union), host=host, mode=mode, tcp=tcp,
                              transfer=transfer)
    lab.parent.delegate(zone, union)  # the parent delegates to both providers, as it must
    server.__enter__()
    api = tmp_path / "faulty-api"
    api.mkdir(exist_ok=True)
    (repo.root / "providers" / "faulty.yaml").write_text(yaml.safe_dump({
        "class": "yaml", "directory": str(api),
        "nameservers": [{"name": FAULTY_NS, "address": server.address}]}))
    applied = repo.run("apply", "--yes", "--force")
    assert applied.exit_code == 0, applied.output
    return repo, zone, server, api


@pytest.fixture
def faulty_setup(make_repo, lab, tmp_path):
    made = []

    def make(*args, **kwargs):
        made.append(faulty_repo(make_repo, lab, tmp_path, *args, **kwargs))
        return made[-1]

    yield make
    for _, _, server, _ in made:
        server.__exit__(None, None, None)


def test_each_fault_is_reported_as_itself(faulty_setup):
    repo, zone, _server, api = faulty_setup(LABELS)
    served = api / f"{zone}yaml"  # the provider's API holds a record git lacks
    content = yaml.safe_load(served.read_text())
    content["rogue"] = {"type": "TXT", "value": "not in git"}
    served.write_text(yaml.safe_dump(content, sort_keys=True))
    result = repo.run("verify", "--format", "json", "--query-timeout", "1")
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    by_name = {(f.get("name"), f["code"]) for f in data["findings"]
               if f.get("provider") == "faulty"}
    assert by_name == {
        ("servfail", "verify.servfail"), ("refused", "verify.refused"),
        ("lame", "verify.non-authoritative"), ("bigbroken", "verify.truncated"),
        ("wrong", "verify.values"), ("badid", "verify.id-mismatch"), ("drop", "verify.timeout"),
        ("cut", "verify.malformed"), ("badrdata", "verify.malformed"), ("rogue", "verify.extra"),
        ("loop", "verify.malformed"), ("otherq", "verify.wrong-question"), ("badopt", "verify.malformed"),
    }, json.dumps(data["findings"], indent=1)
    cut = next(f for f in data["findings"] if f.get("name") == "cut")
    assert "malformed reply" in cut["message"]  # not a timeout: the reply came, broken
    other = next(f for f in data["findings"] if f.get("name") == "otherq")
    assert f"answered another question (other.{zone} A)" in other["message"]  # not "no reply"
    badopt = next(f for f in data["findings"] if f.get("name") == "badopt")
    assert "malformed reply" in badopt["message"] and "OPT" in badopt["message"]
    assert "4080" not in badopt["message"]
    loop = next(f for f in data["findings"] if f.get("name") == "loop")
    assert "compression pointer" in loop["message"]  # malformed, not NODATA
    badrdata = next(f for f in data["findings"] if f.get("name") == "badrdata")
    assert "A RDATA of 3 octets does not parse" in badrdata["message"]
    wrong = next(f for f in data["findings"] if f.get("name") == "wrong")
    assert wrong["observed"]["values"] == ["192.0.2.254"]
    assert wrong["extra"] == {"agree": ["pdns"], "differ": ["faulty"], "kind": "data"}
    rogue = next(f for f in data["findings"] if f.get("name") == "rogue")
    assert "faulty API" in rogue["message"]
    assert not [f for f in data["findings"] if f.get("provider") == "pdns"]
    assert data["stats"]["tcp"] >= 3  # SOA over TCP, big and bigbroken after TC


def test_silent_nameserver_is_one_timeout(faulty_setup):
    repo, _zone, _server, _ = faulty_setup(["www", "mail"], mode="drop")
    result = repo.run("verify", "--format", "json", "--query-timeout", "0.5", "--no-extra")
    assert result.exit_code == 1
    findings = json.loads(result.stdout)["findings"]
    assert [(f["provider"], f["code"]) for f in findings] == [("faulty", "verify.timeout")]
    assert "answered none of 5 question(s)" in findings[0]["message"]


def test_a_silent_nameservers_tcp_check_runs_beside_its_breaker(faulty_setup):
    """Enough questions to trip the breaker: its probe is re-sent over UDP until the
    second timeout, and the SOA over TCP is asked as soon as the SOA over UDP timed out,
    between those re-sends, not after them (a third timeout in a row). The finding
    names a timeout, not the questions the open breaker did not ask."""
    labels = ["www", "mail", *(f"host{i}" for i in range(10))]
    repo, _zone, server, _ = faulty_setup(labels, mode="drop")
    # a window of 8: questions are left to ask when the first 8 time out, so a probe goes
    result = repo.run("verify", "--format", "json", "--query-timeout", "1.5", "--no-extra",
                      "--window", "8")
    assert result.exit_code == 1
    findings = json.loads(result.stdout)["findings"]
    assert [(f.get("provider"), f["code"]) for f in findings] == [("faulty", "verify.timeout")], findings
    message = findings[0]["message"]
    assert f"answered none of {len(labels) + 3} question(s): no reply" in message
    assert "in 1.5 s" in message and "not asked" not in message
    first_tcp = server.arrivals.index("tcp")
    assert "udp" in server.arrivals[first_tcp:], server.arrivals


def test_no_zone_transfer_from_a_silent_nameserver(faulty_setup):
    """A full verify looks for extra records by AXFR, but only from an address that
    answered the zone's SOA: a transfer from a silent one would hold a thread for four
    timeouts while the healthy transfers queue behind it."""
    repo, _zone, server, _ = faulty_setup(["www", "mail"], mode="drop")
    result = repo.run("verify", "--format", "json", "--query-timeout", "0.5")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert [(f["provider"], f["code"]) for f in data["findings"]] == [("faulty", "verify.timeout")]
    assert server.transfers == 0
    assert server.queries > 0  # it was asked, over UDP and TCP, and stayed silent
    assert any(name.startswith("ns1.pdns.lab") for name in
               (key.split(" ", 1)[1] for key in data["stats"]["transfer_seconds"]))


def test_a_malformed_zone_transfer_does_not_stop_verify(faulty_setup):
    """The faulty server answers its AXFR with a message cut inside a name: verify goes
    on, lists what it serves from its API instead, and finds nothing wrong."""
    repo, _zone, server, _ = faulty_setup(["www", "mail"], transfer="malformed")
    result = repo.run("verify", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["findings"] == []
    assert server.transfers == 1


def test_nameserver_without_tcp(faulty_setup):
    repo, _zone, _server, _ = faulty_setup(["www", "mail"], tcp=False)
    result = repo.run("verify", "--format", "json")
    findings = json.loads(result.stdout)["findings"]
    assert result.exit_code == 1
    assert [(f["code"], f["provider"]) for f in findings] == [("verify.tcp", "faulty")]
    assert "RFC 7766" in findings[0]["message"] and findings[0]["extra"]["error"] == \
        "verify.unreachable"


def test_ipv6_nameserver_with_port(faulty_setup):
    repo, _zone, server, _ = faulty_setup(["www", "mail"], host="::1")
    result = repo.run("verify", "--format", "json", "--no-extra")
    data = json.loads(result.stdout)
    assert result.exit_code == 0 and data["findings"] == [], data["findings"]
    assert f"[::1]:{server.port}" in {c["nameserver"].split("(")[1][:-1] for c in data["checked"]}


def test_nameservers_of_one_provider_disagree_on_the_serial(make_repo, lab, tmp_path):
    zone = unique_zone("s")
    labels = ["www"]
    repo = make_repo({zone: zone_yaml(labels)}, providers=["pdns"])
    second = "ns2.faulty.test."
    union = sorted([lab.pdns.nameserver, FAULTY_NS, second])
    api = tmp_path / "api"
    api.mkdir()
    with FaultyNameserver(zone, zone_text(zone, labels, union, serial=7)) as one, \
            FaultyNameserver(zone, zone_text(zone, labels, union, serial=8)) as two:
        (repo.root / "providers" / "faulty.yaml").write_text(yaml.safe_dump({
            "class": "yaml", "directory": str(api), "nameservers": [
                {"name": FAULTY_NS, "address": one.address},
                {"name": second, "address": two.address}]}))
        assert repo.run("apply", "--yes", "--force").exit_code == 0
        lab.parent.delegate(zone, union)  # the registrar lists both providers
        result = repo.run("verify", "--format", "json")
    findings = json.loads(result.stdout)["findings"]
    assert result.exit_code == 1
    assert [(f["code"], f["provider"]) for f in findings] == [("verify.soa-serial", "faulty")]
    assert sorted(findings[0]["observed"].values()) == [7, 8]


def test_unresolvable_nameserver_is_a_finding(make_repo, lab, tmp_path):
    zone = unique_zone("u")
    repo = make_repo({zone: zone_yaml(["www"])}, providers=["pdns"])
    (repo.root / "providers" / "lost.yaml").write_text(yaml.safe_dump({
        "class": "yaml", "directory": str(tmp_path), "nameservers": ["ns1.lost.invalid."]}))
    assert repo.run("apply", "--yes", "--force").exit_code == 0
    lab.parent.delegate(zone, sorted([lab.pdns.nameserver, "ns1.lost.invalid."]))
    result = repo.run("verify", "--format", "json")
    data = json.loads(result.stdout)
    assert result.exit_code == 1
    assert [(f["code"], f["provider"]) for f in data["findings"]] == [
        ("verify.unresolvable", "lost")]
    assert {c["provider"] for c in data["checked"]} == {"pdns"}
