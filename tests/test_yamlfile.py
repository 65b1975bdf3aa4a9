"""The YAML loader builds data from parse events (no node tree): lines, anchors,
merge keys, includes and errors behave as YAML says."""

from __future__ import annotations

import pytest

from dnssync.repo.yamlfile import Mapping, Sequence, YamlError, load_file


def load(tmp_path, text: str, name: str = "f.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return load_file(path)


def test_lines_of_keys_values_and_items(tmp_path):
    data, problems = load(tmp_path, "a: 1\nb:\n  - x\n  - {y: 2}\nc:\n  d: true\n")
    assert isinstance(data, Mapping) and problems == []
    assert data == {"a": 1, "b": ["x", {"y": 2}], "c": {"d": True}}
    assert (data.line, data.key_lines, data.value_lines) == (1, {"a": 1, "b": 2, "c": 5},
                                                            {"a": 1, "b": 3, "c": 6})
    assert isinstance(data["b"], Sequence) and data["b"].item_lines == [3, 4]
    assert data["c"].line == 6 and data["c"].file.endswith("f.yaml")


def test_anchors_aliases_and_merge_keys(tmp_path):
    text = "base: &base {ttl: 60, type: A}\nwww:\n  <<: *base\n  ttl: 300\n  value: 192.0.2.1\n" \
           "again: *base\n"
    data, _ = load(tmp_path, text)
    assert data["www"] == {"ttl": 300, "type": "A", "value": "192.0.2.1"}
    assert data["again"] == {"ttl": 60, "type": "A"}
    assert data["www"].key_lines["type"] == 3  # a merged key points at the merge


def test_include(tmp_path):
    (tmp_path / "part.yaml").write_text("- 192.0.2.1\n- 192.0.2.2\n")
    data, _ = load(tmp_path, "www:\n  type: A\n  values: !include part.yaml\n")
    assert data["www"]["values"] == ["192.0.2.1", "192.0.2.2"]


def test_key_order_counts_each_file_for_itself(tmp_path):
    """The first mapping out of order in each file, with how many more that file has. An
    included file's finding used to absorb the including file's own mappings out of order
    (counted as 'more in this file', the other file's first one never reported)."""
    (tmp_path / "part.yaml").write_text("value: 192.0.2.1\ntype: A\n")
    text = "www: !include part.yaml\nb:\n  value: 192.0.2.2\n  type: A\nc:\n  value: 192.0.2.3\n  type: A\n"
    _, problems = load(tmp_path, text)
    shown = sorted((p.file.rsplit("/", 1)[-1], p.line, p.extra["more"], p.message) for p in problems)
    assert shown == [
        ("f.yaml", 3, 2, "keys out of octoDNS's natural order: expected 'type' before 'value';"
                         " 2 more mapping(s) in this file"),  # c, and the top level (www before b)
        ("part.yaml", 1, 0, "keys out of octoDNS's natural order: expected 'type' before 'value'"),
    ]


def test_empty_file_is_none(tmp_path):
    assert load(tmp_path, "")[0] is None
    assert load(tmp_path, "# only a comment\n")[0] is None


@pytest.mark.parametrize(("text", "line", "words"), [
    ("a: 1\na: 2\n", 2, "duplicate key 'a' (first defined at line 1)"),
    ("a: *nowhere\n", 1, "undefined alias"),
    ("a: 1\n---\nb: 2\n", 2, "single document"),
    ("a: !!set {x}\n", 1, "unsupported tag"),
    ("a: [1, 2\n", 2, "not valid YAML"),
    ("? [1, 2]\n: x\n", 1, "plain value"),
    ("a: !nosuchtag x\n", 1, "not valid YAML"),
])
def test_errors_name_the_line(tmp_path, text, line, words):
    with pytest.raises(YamlError) as error:
        load(tmp_path, text)
    assert error.value.finding.line == line and words in error.value.finding.message


def test_yaml_remembers_lines_and_rejects_duplicates(tmp_path):
    path = tmp_path / "z.yaml"
    path.write_text("a:\n  type: A\n  values:\n    - 192.0.2.1\n    - 192.0.2.2\nb: {type: A, value: x}\n")
    data, problems = load_file(path)
    assert data.key_lines == {"a": 1, "b": 6}
    assert data["a"]["values"].item_lines == [4, 5]
    assert problems == []
    path.write_text("a: 1\nb:\n  c: 1\n  c: 2\n")
    with pytest.raises(YamlError, match="duplicate key 'c' \\(first defined at line 3\\)") as error:
        load_file(path)
    assert error.value.finding.line == 4


def test_yaml_include(tmp_path):
    (tmp_path / "part.yaml").write_text("type: A\nvalue: 192.0.2.1\n")
    (tmp_path / "z.yaml").write_text("www: !include part.yaml\n")
    data, _ = load_file(tmp_path / "z.yaml")
    assert data["www"] == {"type": "A", "value": "192.0.2.1"}
