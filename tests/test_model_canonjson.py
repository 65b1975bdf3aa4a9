"""Canonical JSON made once (model/canonjson.py): pieces joined must be exactly the
canonical text of the whole, or every sealed file it writes would fail its check."""

from __future__ import annotations

import json

import pytest

from dnssync.model.canonjson import canonical, joined, pieces, sha256_of

AWKWARD = {
    "zones": {"b.test.": {"": [1, 2.5, None, True]}, "a.test.": {"x": "é\"\\\n"}},
    "checksum": "sha256:0",
    "Zeta": [{"b": 1, "a": {"d": [], "c": {}}}],
    "é": "non-ASCII key", "_": "", "a": "é", "10": 1, "9": 2,
}


@pytest.mark.parametrize("value", [AWKWARD, {}, {"only": {"nested": {"z": 1, "a": 2}}}])
def test_pieces_joined_are_the_canonical_text_of_the_whole(value):
    assert joined(pieces(value)) == json.dumps(value, sort_keys=True, separators=(",", ":")) == canonical(value)
    assert json.loads(joined(pieces(value))) == value


def test_a_mapping_joined_inside_another_is_its_canonical_text():
    inner = {"b": [1, {"y": 2, "x": 1}], "a": "text"}
    outer = pieces({"id": "x", "z": None})
    outer["plan"] = joined(pieces(inner))
    assert joined(outer) == canonical({"id": "x", "z": None, "plan": inner})
    assert sha256_of(joined(outer)) == sha256_of(canonical({"plan": inner, "id": "x", "z": None}))


def test_default_applies_to_what_json_cannot_hold():
    class Odd:
        def __str__(self):
            return "odd"

    assert joined(pieces({"k": Odd()}, default=str)) == '{"k":"odd"}'
    with pytest.raises(TypeError):
        pieces({"k": Odd()})
