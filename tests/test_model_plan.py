"""The plan as data: its JSON, its checksum, its documented format."""

from __future__ import annotations

import json

import pytest

from dnssync.model.errors import UsageError
from dnssync.model.plan import Change, Plan, ProviderPlan
from tests.conftest import ROOT


def sample_plan() -> Plan:
    change = Change("update", "www", "A", {"ttl": 300, "values": ["192.0.2.1"]},
                    {"ttl": 60, "values": ["192.0.2.2"]})
    return Plan(zones={"example.com.": [{"name": "www", "type": "A", "ttl": 60, "value": "192.0.2.2"}]},
                providers=[ProviderPlan("pdns", "example.com.", True, [change], existing_count=3,
                                        existing_digest="sha256:abc")])


def test_plan_json_round_trip_and_checksum():
    plan = sample_plan()
    again = Plan.from_json(plan.to_json())
    assert again.providers == plan.providers and again.zones == plan.zones
    assert again.checksum == plan.checksum


def test_tampered_plan_refused():
    text = sample_plan().to_json().replace("192.0.2.2", "192.0.2.66")
    with pytest.raises(UsageError, match="checksum"):
        Plan.from_json(text)


def test_plan_format_doc_names_every_key():
    """docs/plan-format.md documents every key a plan has (the format is promised stable)."""


    doc = (ROOT / "docs" / "plan-format.md").read_text()
    data = json.loads(sample_plan().to_json())
    keys = set(data) | set(data["providers"][0]) | set(data["providers"][0]["changes"][0])
    for key in keys:
        assert f"`{key}`" in doc or f"`.{key}`" in doc or f"`.{key}[]`" in doc or f"`{key}[]`" in doc, key
