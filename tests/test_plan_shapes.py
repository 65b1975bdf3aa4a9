"""A saved plan is input like any other (review finding 5): a hand-edited or hostile
`plan.json` of the wrong shape anywhere is refused by `apply --plan` with exit 2, a
message that names the file and what is wrong, and nothing sent; never "Internal error"."""

from __future__ import annotations

import hashlib
import json

import pytest

from dnssync.model.plan import Plan
from tests.test_bad_input import check_rejected, listener, run, write_repo  # noqa: F401 (fixture)

CHANGE = {"action": "create", "name": "www", "type": "A", "existing": None,
          "desired": {"ttl": 300, "values": ["192.0.2.1"]}, "file": None, "line": None, "flattened": None}
PROVIDER = {"provider": "pdns", "zone": "example.com.", "exists": True, "changes": [CHANGE], "adjustments": [],
            "existing_count": 0, "existing_digest": None, "unsafe": None, "error": None}


def plan_data(**override) -> dict:
    data = {"format_version": 1, "created": "2026-01-01T00:00:00+00:00", "revision": None, "repository": None,
            "base": None, "zones": {"example.com.": [{"name": "www", "type": "A", "value": "192.0.2.1"}]},
            "providers": [PROVIDER], "findings": [], "flattened": []}
    return {**data, **override}


SHAPES = {
    "providers-of-strings": ({"providers": ["x"], "zones": {}}, "providers[0] is str"),
    "zones-a-list": ({"zones": ["example.com."]}, "the plan.zones is list"),
    "zone-records-a-string": ({"zones": {"example.com.": "www"}}, "zones.example.com. is not a list of records"),
    "record-without-name": ({"zones": {"example.com.": [{"type": "A"}]}}, "not a list of records"),
    "changes-an-object": ({"providers": [{**PROVIDER, "changes": {"a": 1}}]}, "providers[0].changes is dict"),
    "change-a-number": ({"providers": [{**PROVIDER, "changes": [7]}]}, "providers[0].changes[0] is int"),
    "change-action-unknown": ({"providers": [{**PROVIDER, "changes": [{**CHANGE, "action": "explode"}]}]},
                              "action is 'explode'"),
    "change-desired-a-string": ({"providers": [{**PROVIDER, "changes": [{**CHANGE, "desired": "x"}]}]},
                                "providers[0].changes[0].desired is str"),
    "change-values-not-text": ({"providers": [{**PROVIDER, "changes": [{**CHANGE, "desired": {"ttl": 1,
                                                                                                "values": [1]}}]}]},
                               "desired is not {ttl: int, values: [text]}"),
    "adjustments-of-lists": ({"providers": [{**PROVIDER, "adjustments": [[]]}]}, "adjustments[0] is list"),
    "provider-without-changes": ({"providers": [{"provider": "pdns", "zone": "example.com.", "adjustments": []}]},
                                 "lacks 'changes'"),
    "findings-a-dict": ({"findings": {"a": 1}}, "the plan.findings is dict"),
    "finding-bad-severity-type": ({"findings": [{"severity": 3, "code": "x", "message": "m"}]},
                                  "findings[0].severity is int"),
    "flattened-strings": ({"flattened": ["x"]}, "flattened[0] is not an object"),
    "version-a-string": ({"format_version": "1"}, "format_version is str"),
    "top-level-a-list": (None, "the plan is list"),
}


@pytest.mark.parametrize("case", sorted(SHAPES))
def test_malformed_plan_refused_with_exit_2(tmp_path, listener, case):  # noqa: F811
    override, needle = SHAPES[case]
    root = write_repo(tmp_path / "repo", listener.port)
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps([1, 2] if override is None else plan_data(**override)))
    output = check_rejected(run(root, "apply", "--yes", "--plan", str(plan_file)), listener,
                            str(plan_file), "is not a dnssync plan", needle, "nothing was sent")
    assert "Internal error" not in output


def test_invalid_record_under_a_recomputed_checksum_refused(tmp_path, listener):  # noqa: F811
    """Right shape, right (unkeyed) checksum, but a record octoDNS refuses."""
    data = plan_data(zones={"example.com.": [{"name": "www", "type": "A", "value": "not-an-address"}]})
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    data["checksum"] = "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
    root = write_repo(tmp_path / "repo", listener.port)
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(data))
    output = check_rejected(run(root, "apply", "--yes", "--plan", str(plan_file)), listener,
                            "zone content does not load", "nothing was sent")
    assert "Internal error" not in output


def test_a_plan_this_dnssync_writes_has_the_shape_it_reads():
    text = Plan(zones=plan_data()["zones"], providers=[]).to_json()
    assert Plan.from_json(text).zones == plan_data()["zones"]
