"""Fleet scale (issue 14), the parts that need no server: the cheaper plan JSON and
snapshot writes say and keep exactly what the slower ones did."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict

from dnssync.applying import state
from dnssync.model.findings import Finding
from dnssync.model.plan import Adjustment, Change, Plan, ProviderPlan


def a_plan() -> Plan:
    changes = [Change("create", "www", "A", None, {"ttl": 60, "values": ["192.0.2.1"]}, "zones/x.yaml", 3),
               Change("update", "", "MX", {"ttl": 60, "values": ["10 a.x."]}, {"ttl": 60, "values": ["10 b.x."]},
                      flattened={"from": "ALIAS", "target": "t.", "resolved_at": "now", "via": "r"})]
    adjusted = [Adjustment("adjusted", "low", "A", "TTL 1 raised", {"ttl": 1, "values": ["192.0.2.2"]},
                           {"ttl": 60, "values": ["192.0.2.2"]})]
    key = Change("create", "", "DNSKEY", None, {"ttl": 60, "values": ["257 3 13 AA"]}, note="a new key")
    return Plan(zones={"x.": [{"name": "www", "type": "A", "value": "192.0.2.1"}]},
                providers=[ProviderPlan("p", "x.", True, changes, adjusted, 3, "sha256:ab", None, None,
                                        keys=[key]),
                           ProviderPlan("q", "x.", None, error="down")],
                findings=[Finding("warning", "parity.unsupported", "m", zone="x.")], revision="abc")


def as_written(pair: dict) -> dict:
    """`asdict` of a pair as a plan file holds it: no DNSKEY fields where none are planned."""
    if not pair["keys"]:
        del pair["keys"]
    for change in (*pair["changes"], *pair.get("keys", ())):
        if change["note"] is None:
            del change["note"]
    return pair


def test_plan_json_is_what_asdict_made():
    plan = a_plan()
    text = plan.to_json()
    data = json.loads(text)
    assert data["providers"] == [as_written(asdict(p)) for p in plan.providers]
    assert Plan.from_json(text).providers == plan.providers  # and its checksum still holds
    body = {k: v for k, v in data.items() if k != "checksum"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    assert data["checksum"] == "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def test_write_all_writes_every_file_whole_and_leaves_no_temporary(tmp_path, monkeypatch):
    files = {tmp_path / f"p{i % 3}" / f"z{i}.yaml": f"zone {i}\n".encode() * (i + 1) for i in range(50)}
    (tmp_path / "p0").mkdir()
    (tmp_path / "p0" / "z0.yaml").write_bytes(b"old")
    synced: list[int] = []
    real = os.fsync
    monkeypatch.setattr(state.os, "fsync", lambda fd: (synced.append(fd), real(fd)))
    state.write_all(files)
    assert all(path.read_bytes() == data for path, data in files.items())
    assert not list(tmp_path.glob("*/.*.tmp"))
    assert len(synced) == len(files) + 3  # every file, then each folder once


def test_a_fleet_apply_lists_what_went_wrong_and_counts_the_rest():
    from rich.console import Console

    from dnssync.applying.apply import ApplyResult, Outcome
    from dnssync.report.text import FULL_ROWS, print_apply

    outcomes = [Outcome(p, f"z{i:04d}.test.", "applied", changes=40, attempts=1)
                for p in ("bind", "knot") for i in range(FULL_ROWS)]
    outcomes[7] = Outcome("bind", "z0007.test.", "failed", changes=40, attempts=1, pending=2, contradicted=True,
                          error="applied, but 2 RRset(s) not stored")
    outcomes.append(Outcome("knot", "same.test.", "unchanged", attempts=1))
    console = Console(record=True, width=200)
    print_apply(console, ApplyResult("id", None, outcomes))
    text = console.export_text()
    assert "z0007.test." in text and "applied, but 2 RRset(s) not stored" in text
    assert "z0008.test." not in text  # applied: counted, not listed
    done = "change(s), each read back)"
    assert f"bind: {FULL_ROWS - 1} zone(s) applied ({(FULL_ROWS - 1) * 40:,} {done}, 0 unchanged" in text
    assert f"knot: {FULL_ROWS} zone(s) applied ({FULL_ROWS * 40:,} {done}, 1 unchanged" in text
    assert "Apply FAILED at bind" in text
