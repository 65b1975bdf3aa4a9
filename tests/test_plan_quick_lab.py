"""Fleet plan speed (issue 14), against PowerDNS, BIND and Knot: with enough zones, a
zone's pairs are planned by one worker, sharing the desired zone's canonical form
across its providers; each provider is still judged by what it will serve (its own
adjusted copy: a type it cannot hold left out, its TTL clamp), in sync or not."""

from __future__ import annotations

import json
import os

import pytest

from dnssync.model.plan import Change
from dnssync.planning import planner
from dnssync.planning.unchanged import live_digest
from dnssync.repo.repository import Repository
from tests.conftest import unique_zone
from tests.test_scale_readback_lab import put

ZONE_TEXT = """\
_http._tcp:
  type: URI
  value: {priority: 10, target: 'https://x.example/', weight: 1}
mail:
  type: MX
  value: {exchange: mx.example.net., preference: 10}
note:
  type: TXT
  values: [hello world, v=spf1 -all]
old:
  type: SPF
  value: v=spf1 -all
www:
  ttl: 60
  type: A
  values: [192.0.2.1, 192.0.2.2]
"""
#: one thread in each planning worker (concurrency 1)
CONFIG = {"defaults": {"timeout": 3, "retries": 2, "backoff": 0.2, "concurrency": 1},
          "policy": {"parity": "warn"}}


@pytest.fixture(autouse=True)
def secrets(lab, monkeypatch):
    for key, value in lab.env().items():
        monkeypatch.setenv(key, value)
    # one planning worker (one per core), so that four zones or more go to it zone by zone
    monkeypatch.setattr(planner, "cores", lambda: 1)


def test_each_provider_of_a_shared_zone_is_planned_by_its_own_adjusted_copy(make_repo, lab):
    zones = sorted(unique_zone("sf") for _ in range(5))
    repo = make_repo({z: ZONE_TEXT for z in zones}, config=CONFIG,
                     provider_extra={"bind": {"capabilities": {"min_ttl": 300}}})
    applied = repo.run("apply", "--yes")
    assert applied.exit_code == 0, applied.output

    result = repo.run("plan", "--format", "json", "--detailed-exitcode")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    pairs = {(p["provider"], p["zone"]): p for p in plan["providers"]}
    assert len(pairs) == 15 and not any(p["changes"] for p in pairs.values())
    loaded = Repository.load(repo.root)
    for (provider, zone), pair in pairs.items():  # every pair known in sync the quick way
        assert pair["existing_digest"] == live_digest(loaded.providers()[provider].read_names(zone))
        adjusted = {(a["name"], a["type"], a["kind"]) for a in pair["adjustments"]}
        assert adjusted == {"pdns": {("old", "SPF", "unsupported")},
                            "bind": {("_http._tcp", "URI", "unsupported"), ("www", "A", "adjusted")},
                            "knot": {("_http._tcp", "URI", "unsupported")}}[provider], (provider, zone)

    # git's TTL at BIND, behind dnssync's back: not what BIND must serve (its clamp), so
    # planned; the same at Knot is what Knot must serve
    first, second = zones[0], zones[1]
    put(lab, "bind", first, "www", "A", 60, "192.0.2.1", "192.0.2.2")
    put(lab, "knot", second, "www", "A", 300, "192.0.2.1", "192.0.2.2")
    result = repo.run("plan", "--format", "json", "--detailed-exitcode")
    assert result.exit_code == 3, result.output
    changed = {(p["provider"], p["zone"]): [Change(**c).summary for c in p["changes"]]
               for p in json.loads(result.output)["providers"] if p["changes"]}
    assert changed == {("bind", first): ["update www A 300 192.0.2.1, 192.0.2.2"],
                       ("knot", second): ["update www A 60 192.0.2.1, 192.0.2.2"]}


def test_plan_forks_one_worker_per_core_whatever_the_concurrency(make_repo, lab, monkeypatch, tmp_path):
    """`concurrency` (8 by default) is how many reads wait at once, in threads of each
    worker; it was the number of forked workers, eight copies of a fleet's parent on two
    cores (a 200-zone plan's peak memory: 128 MB, now 80)."""
    zones = sorted(unique_zone("pc") for _ in range(4))
    repo = make_repo({z: ZONE_TEXT for z in zones}, config={**CONFIG, "defaults": {**CONFIG["defaults"],
                                                                                  "concurrency": 8}})
    monkeypatch.setattr(planner, "cores", lambda: 2)
    started = tmp_path / "workers"
    real = planner._Worker.start.__func__

    def start(cls, threads: int, *state) -> None:
        with started.open("a") as out:
            out.write(f"{os.getpid()} {threads}\n")
        real(cls, threads, *state)

    monkeypatch.setattr(planner._Worker, "start", classmethod(start))
    result = repo.run("plan", "--format", "json")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.output)["providers"]) == 12
    workers = [line.split() for line in started.read_text().splitlines()]
    assert len(workers) == len({pid for pid, _ in workers}) == 2 and {t for _, t in workers} == {"4"}
