"""Fleet scale (issue 14), against the real PowerDNS, BIND and Knot: the cheap reads
that replace octoDNS's full re-read must mean exactly what octoDNS's reading means.

* `read_names` (a provider's zone read in DNS's meaning, nothing built) equals what
  octoDNS's own populate reads, put in the same meaning, for every common type and
  the awkward values (escaped and long TXT, upper case, CAA, SRV, a delegation);
* apply reads back only the names it changed: a clean apply is certified that way,
  and a changed name that does not show what was planned is not;
* plan knows an in-sync pair without octoDNS's objects and still makes the very plan
  octoDNS makes (every field but the live digest), in sync or not; a reviewed plan
  made that way applies.
"""

from __future__ import annotations

import json

import pytest
import requests
from octodns.zone import Zone

from dnssync.applying import readback
from dnssync.model.sameness import rrsets_of
from dnssync.planning.planner import plan_one
from dnssync.planning.run import plan_repository
from dnssync.planning.unchanged import in_sync, live_digest
from dnssync.repo.repository import Repository
from tests.conftest import unique_zone
from tests.test_verify_lab import nsupdate

SERVERS = ("pdns", "bind", "knot")

VARIED = """\
'':
  - type: CAA
    values:
      - {flags: 0, tag: issue, value: ca.example.net}
      - {flags: 128, tag: iodef, value: 'mailto:ops@example.org'}
  - type: MX
    values:
      - {exchange: mail.example.org., preference: 10}
      - {exchange: Mail2.Example.ORG., preference: 20}
  - type: TXT
    values:
      - v=spf1 -all
      - 'quoted \\"inner\\" and back\\\\slash'
_sip._tcp:
  type: SRV
  value: {port: 5060, priority: 10, target: sip.example.net., weight: 5}
alias:
  type: CNAME
  value: WWW.Example.NET.
child:
  type: NS
  values: [ns1.elsewhere.example., ns2.elsewhere.example.]
long:
  type: TXT
  value: LONG
v6:
  type: AAAA
  values: ['2001:db8::1', '2001:0db8:0:0:0:0:0:2']
www:
  ttl: 300
  type: A
  values: [192.0.2.1, 192.0.2.2]
""".replace("LONG", "x" * 300)


@pytest.fixture(autouse=True)
def secrets(lab, monkeypatch):
    """The lab's secrets in this process's environment: these tests load repositories here."""
    for key, value in lab.env().items():
        monkeypatch.setenv(key, value)


def put(lab, server: str, zone: str, name: str, rtype: str, ttl: int, *values: str) -> None:
    """Replace (no values: delete) one RRset behind dnssync's back: RFC 2136 at BIND and
    Knot, the HTTP API at PowerDNS."""
    fqdn = f"{name}.{zone}"
    if server != "pdns":
        nsupdate(lab, server, zone, ("replace", fqdn, ttl, rtype, *values) if values else ("delete", fqdn, rtype))
        return
    rrset = {"name": fqdn, "type": rtype, "ttl": ttl, "changetype": "REPLACE" if values else "DELETE",
             "records": [{"content": v, "disabled": False} for v in values]}
    response = requests.patch(lab.pdns.api_url(f"zones/{zone}"), headers={"X-API-Key": lab.pdns.api_key},
                              json={"rrsets": [rrset]}, timeout=5)
    assert response.status_code == 204, response.text


def in_meaning(provider, zone_name: str) -> dict:
    """What octoDNS's populate reads of the zone, in DNS's meaning."""
    zone = Zone(zone_name, [])
    provider.populate(zone, target=True, lenient=True)
    return rrsets_of(zone.records, provider.id)


@pytest.fixture
def varied(make_repo, lab):
    zone = unique_zone("rn")
    repo = make_repo({zone: VARIED})
    applied = repo.run("apply", "--yes")
    assert applied.exit_code == 0, applied.output
    return zone, repo, Repository.load(repo.root)


@pytest.mark.parametrize("server", SERVERS)
def test_read_names_means_what_octodns_reads(varied, server):
    zone, _, loaded = varied
    provider = loaded.providers()[server]
    whole = provider.read_names(zone)
    assert whole == in_meaning(provider, zone)
    assert len(whole) >= 9  # the apex's CAA, MX, TXT (and NS), and every name above
    some = {f"www.{zone}", f"long.{zone}", f"nothing-here.{zone}"}
    assert provider.read_names(zone, some) == {k: v for k, v in whole.items() if k[0] in some}


@pytest.mark.parametrize("server", SERVERS)
def test_an_in_sync_pair_is_known_and_a_changed_one_is_not(varied, lab, server):
    zone, _, loaded = varied
    provider = loaded.providers()[server]
    desired = loaded.desired[zone]
    quick = plan_one(server, provider, desired, 1.0, 1.0, quick=True)
    assert quick.octo is None and quick.existing is None and not quick.data.changes
    assert quick.data.existing_digest == live_digest(provider.read_names(zone))
    assert quick.data.existing_count == len(provider.read_names(zone))
    put(lab, server, zone, "www", "A", 300, "192.0.2.9")
    assert in_sync(provider, provider._process_desired_zone(desired.copy())) is None
    again = plan_one(server, provider, desired, 1.0, 1.0, quick=True)
    assert [c.summary for c in again.data.changes] == ["update www A 300 192.0.2.1, 192.0.2.2"]
    assert again.octo is not None  # planned the long way, by octoDNS


@pytest.mark.parametrize("server", SERVERS)
def test_a_changed_pair_is_read_once_and_the_next_plan_reads_again(varied, lab, server, monkeypatch):
    """The quick read of a changed pair is what octoDNS's populate builds its records from
    (providers/keptread.py): one transfer or GET per pair, and none kept past it."""
    zone, _, loaded = varied
    provider = loaded.providers()[server]
    reads = []
    if server == "pdns":
        real = provider._request
        monkeypatch.setattr(provider, "_request", lambda method, path, *a, **k: (
            reads.append(path) if method == "GET" and path.startswith("zones/") else None,
            real(method, path, *a, **k))[1])
    else:
        real = provider._transferred
        monkeypatch.setattr(provider, "_transferred", lambda name: (reads.append(name), real(name))[1])
    put(lab, server, zone, "www", "A", 300, "192.0.2.7")
    changed = plan_one(server, provider, loaded.desired[zone], 1.0, 1.0, quick=True)
    assert [c.summary for c in changed.data.changes] == ["update www A 300 192.0.2.1, 192.0.2.2"]
    assert len(reads) == 1, reads
    put(lab, server, zone, "www", "A", 300, "192.0.2.8")
    again = plan_one(server, provider, loaded.desired[zone], 1.0, 1.0, quick=True)
    assert len(reads) == 2 and again.existing.records  # read afresh: nothing kept between plans
    assert {v for r in again.existing.records if r.name == "www" for v in r.values} == {"192.0.2.8"}


def test_plan_is_octodns_plan_in_sync_or_not(make_repo, lab):
    zones = {unique_zone("pq"): VARIED for _ in range(3)}
    repo = make_repo(zones)
    assert repo.run("apply", "--yes").exit_code == 0
    first, second, third = sorted(zones)
    put(lab, "knot", first, "www", "A", 300)
    put(lab, "bind", second, "extra", "TXT", 60, '"out of band"')
    put(lab, "pdns", third, "alias", "CNAME", 600, f"www.{third}")
    loaded = Repository.load(repo.root)
    quick, _ = plan_repository(loaded, live=False)
    slow, _ = _long_way(Repository.load(repo.root))
    drop = ("existing_digest", "existing_count")
    assert [{k: v for k, v in vars(p).items() if k not in drop} for p in quick.providers] == \
           [{k: v for k, v in vars(p).items() if k not in drop} for p in slow.providers]
    changed = {(p.provider, p.zone): [c.summary for c in p.changes] for p in quick.providers if p.changes}
    assert changed == {("knot", first): ["create www A 300 192.0.2.1, 192.0.2.2"],
                       ("bind", second): ["delete extra TXT 60 \"out of band\""],
                       ("pdns", third): ["update alias CNAME 3600 www.example.net."]}
    assert sum(p.existing_digest is not None for p in quick.providers) == 9


def _long_way(loaded: Repository):
    """The same plan with every pair planned by octoDNS (plan_one without `quick`)."""
    from dnssync.planning import planner

    original = planner.in_sync
    planner.in_sync = lambda provider, served: None
    try:
        return plan_repository(loaded, live=False)
    finally:
        planner.in_sync = original


def test_a_reviewed_plan_of_in_sync_pairs_applies(make_repo, lab, tmp_path):
    zone, other = unique_zone("pr"), unique_zone("pr")
    repo = make_repo({zone: VARIED, other: VARIED})
    assert repo.run("apply", "--yes").exit_code == 0
    text = repo.zone_file(zone).read_text().replace("192.0.2.2]", "192.0.2.3]")
    repo.zone_file(zone).write_text(text)
    saved = tmp_path / "plan.json"
    assert repo.run("plan", "--save-plan", str(saved)).exit_code in (0, 3)
    plan = json.loads(saved.read_text())
    assert sum(bool(p["changes"]) for p in plan["providers"]) == 3  # `zone` at each server
    applied = repo.run("apply", "--plan", str(saved), "--yes")
    assert applied.exit_code == 0, applied.output
    assert repo.run("plan", "--detailed-exitcode").exit_code == 0


@pytest.mark.parametrize("server", SERVERS)
def test_apply_is_certified_by_reading_back_only_the_changed_names(make_repo, lab, server):
    zone = unique_zone("rc")
    repo = make_repo({zone: VARIED}, providers=[server])
    loaded = Repository.load(repo.root)
    [live] = plan_repository(loaded)[1].lives
    live.provider.apply(live.octo)
    assert readback.stored(live)
    # a changed name that no longer shows what was planned is not certified
    put(lab, server, zone, "v6", "AAAA", 3600, "2001:db8::99")
    assert not readback.stored(live)
    put(lab, server, zone, "v6", "AAAA", 3600, "2001:db8::1", "2001:db8::2")
    assert readback.stored(live)
    put(lab, server, zone, "v6", "AAAA", 60, "2001:db8::1", "2001:db8::2")  # the TTL
    assert not readback.stored(live)
    put(lab, server, zone, "v6", "AAAA", 3600, "2001:db8::1", "2001:db8::2")
    # a record that appeared beside a changed one is not either
    put(lab, server, zone, "v6", "TXT", 3600, '"beside"')
    assert not readback.stored(live)


def test_readback_leaves_what_it_cannot_judge_to_octodns(make_repo, lab):
    zone = unique_zone("rd")
    repo = make_repo({zone: "www:\n  type: A\n  value: 192.0.2.1\n"}, providers=["knot"])
    loaded = Repository.load(repo.root)
    [live] = plan_repository(loaded)[1].lives
    live.provider.apply(live.octo)
    assert readback.stored(live)
    [record] = [r for r in live.octo.desired.records if r.name == "www"]
    record._octodns["ignored"] = True  # octoDNS plans nothing for an ignored record
    assert not readback.stored(live)
