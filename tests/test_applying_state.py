"""The apply stage's state store, without a server: one id resolver for snapshots and
apply records, and the typed apply record (applying/record.py) in both formats."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest
from octodns.record import Record
from octodns.zone import Zone

from dnssync.applying import snapshot
from dnssync.applying.record import ApplyResult, Outcome
from dnssync.applying.run import ApplyRun, restore_selection
from dnssync.applying.state import digest, find_apply, read_sealed, resolve_id, write_json
from dnssync.model.errors import UsageError
from dnssync.model.plan import Change, Plan, ProviderPlan
from dnssync.repo.repository import load_settings
from dnssync.watch.changes import read_apply
from tests.test_commands_base import two_zone_repo

ZONE = "example.test."
WWW = Change("update", "www", "A", {"ttl": 300, "values": ["192.0.2.1"]}, {"ttl": 300, "values": ["192.0.2.2"]})
IDS = ["20260101T000000.000001Z", "20260102T000000.000001Z", "20260102T120000.000001Z"]


def a_plan() -> Plan:
    return Plan(zones={}, providers=[ProviderPlan("a", ZONE, changes=[WWW]), ProviderPlan("b", ZONE, changes=[WWW])])


def outcomes() -> list[Outcome]:
    return [Outcome("a", ZONE, "applied", changes=1, attempts=1),
            Outcome("b", ZONE, "failed", changes=1, attempts=4, error="HTTP 500", pending=1)]


def test_one_resolver_names_latest_an_id_or_a_unique_prefix(tmp_path):
    assert resolve_id("latest", IDS, "apply", tmp_path, "none") == IDS[-1]
    assert resolve_id("20260101", IDS, "apply", tmp_path, "none") == IDS[0]
    assert resolve_id(IDS[1], IDS, "apply", tmp_path, "none") == IDS[1]
    with pytest.raises(UsageError) as ambiguous:
        resolve_id("20260102", IDS, "snapshot", tmp_path, "none")
    assert str(ambiguous.value) == f"no unique snapshot '20260102' in {tmp_path} (latest: {', '.join(IDS)})"
    with pytest.raises(UsageError, match="no unique apply 'x'"):
        resolve_id("x", IDS, "apply", tmp_path, "none")
    with pytest.raises(UsageError, match=r"^nothing here$"):
        resolve_id("latest", [], "apply", tmp_path, "nothing here")


def test_snapshots_and_apply_records_resolve_alike(tmp_path):
    """The two users of the resolver, each with its own words for an empty folder."""
    with pytest.raises(UsageError, match="nothing to watch: no apply has been made from this repository yet"):
        find_apply(tmp_path)
    with pytest.raises(UsageError, match="nothing to restore: no snapshots yet"):
        snapshot.load(tmp_path, "latest", {})
    for apply_id in IDS:
        ApplyResult(apply_id, None, a_plan()).save(tmp_path)
        write_json(snapshot.snapshots_dir(tmp_path) / apply_id / "meta.json",
                   {"id": apply_id, "entries": []}, sealed=True)
    assert find_apply(tmp_path) == tmp_path / "applies" / f"{IDS[-1]}.json"
    assert find_apply(tmp_path, "20260101") == tmp_path / "applies" / f"{IDS[0]}.json"
    assert snapshot.load(tmp_path, "20260101", {}) == {}  # found (and empty)
    for which in ("20260102", "2027"):
        with pytest.raises(UsageError, match=f"no unique apply '{which}'"):
            find_apply(tmp_path, which)
        with pytest.raises(UsageError, match=f"no unique snapshot '{which}'"):
            snapshot.load(tmp_path, which, {})


def test_the_apply_record_is_typed_and_holds_the_plan_as_an_object(tmp_path):
    plan = a_plan()
    path = ApplyResult(IDS[0], "snap-1", plan, outcomes()).save(tmp_path)
    raw = json.loads(path.read_text())
    assert raw["format_version"] == 2 and isinstance(raw["plan"], dict)  # no JSON string inside the JSON
    assert raw["plan"]["checksum"].startswith("sha256:")  # the plan keeps its own seal
    assert raw["outcomes"][1]["status"] == "failed"  # outcomes stay plain objects (CI jobs read them)
    record = ApplyResult.read(path)
    assert (record.id, record.snapshot, record.outcomes) == (IDS[0], "snap-1", outcomes())
    assert record.plan.checksum == plan.checksum
    assert record.incomplete() == {"b": "HTTP 500"}
    watched = read_apply(path)
    assert watched.apply_id == IDS[0] and watched.failed == {"b": "HTTP 500"}
    assert [t.label for t in watched.changed] == ["www.example.test. A"]


@pytest.mark.parametrize("key", [None, "k" * 32])
def test_the_record_serialised_once_is_what_to_json_says_sealed_as_digest_says(tmp_path, monkeypatch, key):
    """save() joins pieces serialised once (model/canonjson.py) instead of serialising
    to_json(): the file must hold exactly that content, sealed with the digest (and, with
    the key set, the signature) read_sealed recomputes from what it loads."""
    if key:
        monkeypatch.setenv("DNSSYNC_PLAN_KEY", key)
    plan = a_plan()
    plan.findings = []
    plan.zones = {ZONE: {"www": {"type": "A", "value": "192.0.2.2"}, "Ünïcode": {"type": "TXT", "value": "é\\\""}}}
    result = ApplyResult(IDS[0], "snap-1", plan, outcomes())
    raw = json.loads(result.save(tmp_path).read_text())
    sealed = {k: raw.pop(k) for k in ("checksum", "signature") if k in raw}
    assert raw == result.to_json()
    assert sealed["checksum"] == digest(raw)
    assert ("signature" in sealed) == bool(key) and ("signature" in raw["plan"]) == bool(key)
    assert read_sealed(tmp_path / "applies" / f"{IDS[0]}.json", "apply record") == raw
    # run_apply serialises the plan while the providers are sent to, and saves with it
    made_before = result.save(tmp_path / "before", plan.sealed_text()).read_bytes()
    assert made_before == (tmp_path / "applies" / f"{IDS[0]}.json").read_bytes()


def test_an_apply_record_of_format_1_is_still_read(tmp_path):
    """Exactly what run_apply wrote before format 2: the plan as a JSON string, no format key."""
    plan = a_plan()
    path = write_json(tmp_path / "applies" / f"{IDS[0]}.json", {
        "id": IDS[0], "snapshot": None, "plan": plan.to_json(),
        "outcomes": [asdict(o) for o in outcomes()]}, sealed=True)
    record = ApplyResult.read(path)
    assert record.plan.checksum == plan.checksum and record.outcomes == outcomes()
    watched = read_apply(path)
    assert watched.failed == {"b": "HTTP 500"} and [t.label for t in watched.changed] == ["www.example.test. A"]


def reseal(path, data: dict) -> None:
    """What anyone who can write .dnssync/ can do: edit, then recompute the unkeyed sum."""
    data = {k: v for k, v in data.items() if k != "checksum"}
    path.write_text(json.dumps({**data, "checksum": digest(data)}))


def test_an_edited_or_foreign_record_is_refused_naming_the_file(tmp_path):
    path = ApplyResult(IDS[0], None, a_plan(), outcomes()).save(tmp_path)
    data = json.loads(path.read_text())
    data["plan"]["providers"][0]["changes"][0]["desired"]["values"] = ["192.0.2.3"]
    reseal(path, data)  # the record re-summed: the plan's own checksum still catches the edit
    with pytest.raises(UsageError, match="modified after it was made"):
        ApplyResult.read(path)
    for key, value, why in [("format_version", 3, "record format 3, this dnssync reads 1 and 2"),
                            ("format_version", 1, "format 1 holds the plan as a string, not dict"),
                            ("outcomes", [{"provider": "a", "zone": ZONE, "status": "applied", "colour": 1}],
                             "unknown outcome key"),
                            ("outcomes", [{"provider": "a"}], "TypeError"),
                            ("outcomes", ["applied"], "an outcome is str")]:
        reseal(path, {**json.loads(path.read_text()), key: value})
        with pytest.raises(UsageError, match=rf"^{path} is not a dnssync apply record: .*{why}"):
            read_apply(path)
        ApplyResult(IDS[0], None, a_plan(), outcomes()).save(tmp_path)


def test_a_restore_selects_from_the_snapshot_and_refuses_a_provider_no_longer_configured(tmp_path):
    """What `restore` decides before it reads any provider (applying/run.py)."""
    root = two_zone_repo(tmp_path / "repo")
    config = load_settings(root, offline=True)
    zone = Zone("a.test.", set())
    zone.add_record(Record.new(zone, "www", {"type": "A", "ttl": 60, "value": "192.0.2.1"}))
    snapshot.save(config.state_dir, [("one", zone, True), ("gone", zone, True)], None)
    with pytest.raises(UsageError, match=r"^snapshot latest holds nothing for that provider/zone selection$"):
        restore_selection(config, "latest", ["b.test"], [])
    assert sorted(restore_selection(config, "latest", ["a.test"], ["one"])) == [("one", "a.test.")]
    selected = restore_selection(config, "latest", [], [])
    assert sorted(selected) == [("gone", "a.test."), ("one", "a.test.")]
    assert [r.name for r in selected[("one", "a.test.")].records] == ["www"]
    with pytest.raises(UsageError, match=r"^snapshot names providers that are no longer configured: gone$"):
        ApplyRun.restore(config, selected)


def test_a_snapshot_written_in_shares_is_one_snapshot_once_listed(tmp_path):
    """Each apply worker writes the files of the zones it read (snapshot.write_files) and
    the apply lists them all (add_entries) before anything is sent: until then there is no
    snapshot to restore; then one, holding every share, each file checked by its entry."""
    zones = {}
    for name in ("a.test.", "b.test."):
        zone = Zone(name, set())
        zone.add_record(Record.new(zone, "www", {"type": "A", "ttl": 60, "value": "192.0.2.1"}))
        zones[name] = zone
    shares = [[snapshot.render("one", zones["a.test."], True)],
              [snapshot.render("two", zones["a.test."], True), snapshot.render("two", zones["b.test."], False)]]
    entries = [entry for share in shares for entry in snapshot.write_files(tmp_path, share, IDS[0])]
    assert snapshot.list_snapshots(tmp_path) == []  # files written, not listed: nothing to restore yet
    assert snapshot.add_entries(tmp_path, entries, "rev", IDS[0]) == IDS[0]
    loaded = snapshot.load(tmp_path, "latest", {})
    assert sorted(loaded) == [("one", "a.test."), ("two", "a.test."), ("two", "b.test.")]
    assert all([r.name for r in zone.records] == ["www"] for zone in loaded.values())
    # a pair first read on a retry joins the same snapshot (another process, same lock)
    snapshot.save(tmp_path, [("three", zones["b.test."], True)], "rev", IDS[0])
    assert len(snapshot.load(tmp_path, IDS[0], {})) == 4
    (tmp_path / "snapshots" / IDS[0] / "two" / "b.test.yaml").write_text("")
    with pytest.raises(UsageError, match=r"two/b\.test\.yaml does not match its checksum"):
        snapshot.load(tmp_path, IDS[0], {})
