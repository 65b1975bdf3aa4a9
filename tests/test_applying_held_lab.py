"""A fleet applied by forked workers (planning/held.py: `apply --jobs N`) against the real
lab: the same outcomes, in the same order, as the threads of one process; every pair
read back; a snapshot that holds every pair and restores; a failing provider isolated;
a failing canary stops the rest before anything is sent to them."""

from __future__ import annotations

import json

from tests.conftest import unique_zone
from tests.embedded_repo import free_port

RECORDS = "".join(f"h{i}:\n  type: A\n  value: 192.0.2.{i}\n" for i in range(1, 13)) + \
    "mail:\n  type: MX\n  value:\n    exchange: mx.example.net.\n    preference: 10\ntxt:\n  type: TXT\n  value: held\n"


def apply_json(repo, *args: str) -> tuple[int, dict]:
    result = repo.run("apply", "--yes", "--format", "json", *args)
    assert result.stdout.startswith("{"), result.output
    return result.exit_code, json.loads(result.stdout)


def outcomes(document: dict) -> list[tuple[str, str, str, int]]:
    """(provider, zone, status, changes) of each outcome, zones by their place in the fleet."""
    zones = {zone: f"zone{index}" for index, zone in enumerate(sorted(document["plan"]["zones"]))}
    return [(o["provider"], zones[o["zone"]], o["status"], o["changes"]) for o in document["apply"]["outcomes"]]


def pending(repo) -> int:
    result = repo.run("plan", "--format", "json")
    return sum(len(p["changes"]) for p in json.loads(result.stdout)["providers"])


def test_workers_apply_what_threads_apply_read_back_and_snapshotted(make_repo):
    fleet = [unique_zone("held") for _ in range(4)]
    by_workers = make_repo({zone: RECORDS for zone in fleet})
    by_threads = make_repo({zone: RECORDS for zone in [unique_zone("held") for _ in range(4)]})
    code, workers = apply_json(by_workers, "--jobs", "3")
    assert code == 0, workers
    code, threads = apply_json(by_threads, "--jobs", "1")
    assert code == 0, threads
    assert outcomes(workers) == outcomes(threads)
    assert {status for _, _, status, _ in outcomes(workers)} == {"applied"}
    assert len(outcomes(workers)) == 12 and sum(c for *_, c in outcomes(workers)) == 12 * 14
    assert pending(by_workers) == 0  # what the workers sent is what the providers hold
    # the snapshot holds every pair's content from before (empty zones) and restores it
    snapshot = by_workers.root / ".dnssync" / "snapshots" / workers["apply"]["snapshot"] / "meta.json"
    entries = json.loads(snapshot.read_text())["entries"]
    assert sorted((e["provider"], e["zone"]) for e in entries) == sorted((p, z) for z in fleet
                                                                         for p in ("pdns", "bind", "knot"))
    restored = by_workers.run("restore", workers["apply"]["snapshot"], "--yes")
    assert restored.exit_code == 0, restored.output
    assert pending(by_workers) == 12 * 14


def test_a_failing_provider_is_isolated_and_a_failing_canary_stops_the_rest(make_repo):
    fleet = [unique_zone("held") for _ in range(3)]
    closed = {"port": free_port()}  # nothing listens there: every read and update fails
    repo = make_repo({zone: RECORDS for zone in fleet}, provider_extra={"bind": closed})
    code, document = apply_json(repo, "--jobs", "2")
    assert code == 1
    found = outcomes(document)
    assert {(p, s) for p, _, s, _ in found} == {("pdns", "applied"), ("knot", "applied"), ("bind", "failed")}
    assert len(found) == 9
    canary = make_repo({zone: RECORDS for zone in [unique_zone("held") for _ in range(3)]},
                       provider_extra={"bind": {**closed, "canary": True}})
    code, document = apply_json(canary, "--jobs", "2")
    assert code == 1
    found = outcomes(document)
    assert [p for p, *_ in found[:3]] == ["bind"] * 3  # the canary's wave first
    assert {s for p, _, s, _ in found if p == "bind"} == {"failed"}
    skipped = [o for o in document["apply"]["outcomes"] if o["provider"] != "bind"]
    assert len(skipped) == 6 and {o["status"] for o in skipped} == {"skipped"}
    assert all(o["error"] == "not applied: a canary provider failed" for o in skipped)
    plan = json.loads(canary.run("plan", "--format", "json").stdout)
    assert all(len(p["changes"]) == 14 for p in plan["providers"] if p["provider"] != "bind")  # nothing sent
