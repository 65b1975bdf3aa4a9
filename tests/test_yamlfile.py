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


#: a scalar of every kind YAML 1.1 resolves, plain, quoted, block and tagged, and strings
#: that start like another kind (the loader reads most scalars without PyYAML's resolver)
EVERY_SCALAR = """\
plain: text
type: AAAA
ip: 192.0.2.1
ip6: 2001:db8::1
quoted: "123"
single: 'true'
literal: |
  one
  two
folded: >
  folded
  text
decimal: 300
zero: 0
negative: -5
plus: +7
leading_zero: 007
octal: 01234
octal_o: 0o17
hex: 0x1F
binary: 0b101
underscore: 1_000
sexagesimal: 1:30
big: 123456789012345678901234567890
float: 1.5
exponent: 6.8523015e+5
dot_five: .5
inf: .inf
minus_inf: -.Inf
bools: [true, True, TRUE, yes, No, on, OFF, y, n]
nulls: [null, ~, Null, ]
empty:
date: 2024-01-01
timestamp: 2001-12-14t21:59:43.10-05:00
spaced: 2001-12-14 21:59:43.10
starts_like_numbers: [0abc, 1.2.3, -foo, +x, .foo, 12:ab]
starts_like_words: [yellow, note, nothing, offset, true-ish, ~x, =x]
unicode_digits: [١٢٣, ², ٣x]
tagged: [!!str 123, !!int "12", !!float "3", !!bool "yes", !!null "", ! 123, ! yes]
"""


def test_every_scalar_is_what_pyyaml_reads(tmp_path):
    """The loader reads plain and quoted scalars without PyYAML's resolver where YAML 1.1
    allows only one reading: every value must still be exactly PyYAML's, type included
    (an integer written other than in plain decimal is a WrittenInt keeping the text)."""
    import yaml

    from dnssync.repo.yamlfile import WrittenInt

    # the shortcut's premises: resolvers keyed by first character only, none by path
    assert None not in yaml.CSafeLoader.yaml_implicit_resolvers and not yaml.CSafeLoader.yaml_path_resolvers
    ours, _ = load(tmp_path, EVERY_SCALAR)
    theirs = yaml.load(EVERY_SCALAR, Loader=yaml.SafeLoader)  # the pure-Python reference

    def same(a, b, where):
        if isinstance(b, dict):
            assert list(a) == list(b), where
            for key in b:
                same(a[key], b[key], f"{where}.{key}")
        elif isinstance(b, list):
            assert len(a) == len(b), where
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                same(x, y, f"{where}[{i}]")
        elif type(b) is int and type(a) is WrittenInt:
            assert a == b and a.written != str(b), where
        else:
            assert type(a) is type(b) and (a == b or (a != a and b != b))  # NaN is not NaN, (where, a, b)

    same(ours, theirs, "")
    assert type(ours["octal"]) is WrittenInt and ours["octal"].written == "01234" and ours["octal"] == 668
    assert type(ours["decimal"]) is int and type(ours["zero"]) is int and type(ours["big"]) is int
    assert type(ours["leading_zero"]) is WrittenInt and ours["leading_zero"].written == "007"


def test_typed_keys_are_kept_as_written(tmp_path):
    data, _ = load(tmp_path, "300: a\n0x10: b\nnull: c\non: d\n1.5: e\n2024-01-01: f\nwww: g\n'7': h\n")
    assert list(data) == ["300", "0x10", "null", "on", "1.5", "2024-01-01", "www", "7"]
    assert data.typed_keys == {"300": "an integer", "0x10": "an integer", "null": "a null", "on": "a boolean",
                               "1.5": "a number", "2024-01-01": "a date"}


def test_key_order_is_natsorts_natural_order():
    """The key-order check sorts ASCII keys with its own natural key (natsort's costs a
    tenth of a zone's load): it must order every list as natsort does, ties included."""
    import random

    from natsort import natsort_keygen

    from dnssync.repo.yamlfile import _ascii_natural

    natsort_key = natsort_keygen()
    rnd = random.Random(14)
    for _ in range(20_000):
        keys = ["".join(rnd.choice("ab0129.-_ Z") for _ in range(rnd.randint(0, 7)))
                for _ in range(rnd.randint(1, 6))]
        assert sorted(keys, key=_ascii_natural) == sorted(keys, key=natsort_key), keys


def test_key_order_findings_with_numbers_and_unicode(tmp_path):
    _, problems = load(tmp_path, "h9: 1\nh10: 2\nh010: 3\nh2: 4\n")
    assert [(p.line, p.message) for p in problems] == [
        (1, "keys out of octoDNS's natural order: expected 'h2' before 'h9'")]
    _, problems = load(tmp_path, "h٢: 1\nh10: 2\nh1: 3\n")  # an Arabic-Indic 2: natsort's own key
    assert [(p.line, p.message) for p in problems] == [
        (1, "keys out of octoDNS's natural order: expected 'h1' before 'h٢'")]
    assert load(tmp_path, "a1: 1\na2: 2\na10: 3\nb: 4\n")[1] == []


@pytest.mark.parametrize(("text", "words"), [
    ("a:\n  b: 2024-02-30\n", "day is out of range for month"),
    ("a:\n  b: " + "9" * 5000 + "\n", "Exceeds the limit (4300 digits)"),
    ("a:\n  b: !!int " + "9" * 5000 + "\n", "Exceeds the limit (4300 digits)"),
])
def test_a_value_python_cannot_build_is_an_error_at_its_line(tmp_path, text, words):
    """A date that does not exist, an integer beyond Python's 4,300 digits: PyYAML raises a
    bare ValueError, which reached the CLI as an 'Internal error' (exit 1), no file or line."""
    with pytest.raises(YamlError) as error:
        load(tmp_path, text)
    assert error.value.finding.line == 2 and words in error.value.finding.message
