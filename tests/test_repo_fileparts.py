"""One large zone file read by forked processes beside this one (repo/fileparts.py): the
same records, locations, warnings and errors (file, line, message, order) as one pass,
and one pass whenever a part would not be plainly a slice of the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from dnssync.model.errors import ConfigError
from dnssync.model.records import zone_content
from dnssync.repo import fileparts, zones
from dnssync.repo.fileparts import cut
from dnssync.repo.repository import checked_zones, read_settings
from tests.test_repo_spread import PROVIDER


def _records(first: int, last: int) -> str:
    return "".join(f"h{i:03d}:\n  type: A\n  value: 192.0.2.{i % 250}\n" for i in range(first, last))


#: a zone file with something to say in every quarter: nested and top-level key order,
#: a relative target, a TTL written as a string, an unquoted `null:`, a record list
WARNINGS = (
    "---\n"
    + _records(0, 20)
    + "h020:\n  value: 192.0.2.20\n  type: A\n"  # nested keys out of order
    + "h021:\n  type: CNAME\n  value: target.example.com\n"  # relative target
    + _records(22, 60)
    + "h060:\n  ttl: '300'\n  type: A\n  value: 192.0.2.60\n"  # TTL as a string
    + _records(61, 100)
    + "null:\n  type: A\n  value: 192.0.2.1\n"  # YAML reads it as null; out of order too
    + _records(100, 140)
    + "h140:\n  - type: A\n    value: 192.0.2.140\n  - value: 2001:db8::140\n    type: AAAA\n"
    + _records(141, 160)
    + f"h160{'x' * 61}:\n  octodns:\n    lenient: true\n  type: A\n  value: 192.0.2.160\n"  # a label too long
    + _records(161, 180)
    + "h180:\n  value: 192.0.2.180\n  type: A\n"
    + _records(181, 200)
)
#: the same with errors in several quarters: a bad address, a duplicate record, an unknown type
ERRORS = (WARNINGS.replace("h030:\n  type: A\n  value: 192.0.2.30", "h030:\n  type: A\n  value: 192.0.2.300")
          .replace("h090:\n  type: A\n  value: 192.0.2.90",
                   "h090:\n  - type: A\n    value: 192.0.2.90\n  - type: A\n    value: 192.0.2.91")
          .replace("h170:\n  type: A\n", "h170:\n  type: NOPE\n")
          .replace("h190:\n", "h190.sub:\n"))  # under the managed zone sub.big.test.


def _repo(root: Path, text: str):
    (root / "zones").mkdir(parents=True)
    (root / "providers").mkdir()
    (root / "dnssync.yaml").write_text("zones: zones\nproviders: providers\n")
    (root / "providers" / "pdns.yaml").write_text(PROVIDER)
    (root / "zones" / "big.test.yaml").write_bytes(text.encode())
    (root / "zones" / "sub.big.test.yaml").write_text("www:\n  type: A\n  value: 192.0.2.1\n")
    (root / "zones" / "inc").mkdir()
    (root / "zones" / "inc" / "part.yaml").write_text("type: A\nvalue: 192.0.2.120\n")  # for `!include`
    config, findings = read_settings(root, None, offline=True)
    assert config is not None, findings
    return config


@pytest.fixture
def parts_read(monkeypatch) -> list[bool]:
    """Small files cut too; records whether each file was read in parts (True) or one pass."""
    monkeypatch.setattr(fileparts, "MIN_PART_BYTES", 1)
    read: list[bool] = []
    real = zones.read_in_parts

    def spy(path, *args, **kwargs):
        result = real(path, *args, **kwargs)
        if path.name == "big.test.yaml":
            read.append(result is not None)
        return result

    monkeypatch.setattr(zones, "read_in_parts", spy)
    return read


def _load(config, jobs: int):
    """The loaded zone (content, locations) and findings, or the ConfigError's findings."""
    try:
        loaded, findings = checked_zones(config, None, jobs)
    except ConfigError as e:
        return None, e.findings
    return [(z.name, zone_content(z.zone), z.locations, z.files, z.withheld) for z in loaded
            if z.name == "big.test."], findings


def test_a_file_read_in_parts_gives_one_pass_warnings_and_records(tmp_path, parts_read):
    config = _repo(tmp_path, WARNINGS)
    alone = _load(config, 1)
    assert parts_read == []  # one process: one pass
    codes = [f.code for f in alone[1]]
    assert codes == ["zone.key-order", "zone.relative-target", "zone.ttl", "zone.name-unquoted", "zone.name"]
    assert alone[1][-1].message.endswith("(accepted: lenient)")
    assert "; 3 more mapping(s) in this file" in alone[1][0].message and alone[1][0].line == 63
    assert len(alone[0][0][1]) == 202
    for jobs in (2, 3, 4):
        assert _load(config, jobs) == alone
    assert parts_read == [True, True, True]


def test_errors_in_several_parts_are_those_of_one_pass(tmp_path, parts_read):
    config = _repo(tmp_path, ERRORS)
    alone = _load(config, 1)
    assert alone[0] is None
    lines = ERRORS.split("\n")
    assert [(f.code, f.line) for f in alone[1] if f.severity.name == "ERROR"] == [
        ("zone.record", lines.index("  value: 192.0.2.300") + 1),
        ("zone.duplicate", lines.index("    value: 192.0.2.91") - 1 + 1),
        ("zone.record-type", lines.index("  type: NOPE") + 1), ("zone.subzone", lines.index("h190.sub:") + 1)]
    for jobs in (2, 4):
        assert _load(config, jobs) == alone
    assert parts_read == [True, True]


def test_the_top_level_order_and_disorder_counted_across_parts(tmp_path, parts_read):
    # every nested mapping in order; the only disorder is a name in the last quarter
    text = _records(0, 150) + "a-late:\n  type: A\n  value: 192.0.2.1\n" + _records(150, 200)
    config = _repo(tmp_path, text)
    alone = _load(config, 1)
    assert [(f.code, f.line, f.message.split(".")[0]) for f in alone[1]] == [
        ("zone.key-order", 1, "keys out of octoDNS's natural order: expected 'a-late' before 'h000'")]
    assert _load(config, 3) == alone
    assert parts_read == [True]


@pytest.mark.parametrize("change", [
    pytest.param(("h120:\n  type: A\n  value: 192.0.2.120\n", "h120: &x\n  type: A\n  value: 192.0.2.120\n"
                  "h120b: *x\n"), id="anchor-and-alias"),
    pytest.param(("h150:\n", "h010:\n"), id="a-name-in-two-parts"),
    pytest.param(("h120:\n  type: A\n  value: 192.0.2.120\n", "h120: !include inc/part.yaml\n"), id="include"),
    pytest.param(("h120:\n  type: A\n  value: 192.0.2.120\n", "h120:\n  <<: {type: A}\n  value: 192.0.2.120\n"),
                 id="merge-key"),
    pytest.param(("h150:\n  type: A\n", "h150:\n  type: [A\n"), id="yaml-error-late"),
    pytest.param(("h050:\n  type: A\n  value: 192.0.2.50\n", 'h050:\n  type: TXT\n  value: "a\u2028b"\n'),
                 id="another-line-break"),
    # a value spanning the middle, its lines at column 0: every place to cut is inside it
    pytest.param((_records(100, 140), 'h100:\n  type: TXT\n  value: "quoted\n' + _records(100, 140) + '"\n'),
                 id="quoted-value-at-column-0"),
    pytest.param((_records(100, 140), "h100:\n  type: TXT\n  values: [quoted,\n" + _records(100, 140) + "]\n"),
                 id="flow-value-at-column-0"),
    pytest.param(("h199:\n  type: A\n  value: 192.0.2.199\n",
                  "h199:\n  type: A\n  value: 192.0.2.199\n---\nh200:\n  type: A\n"), id="second-document"),
])
def test_anything_unusual_is_read_in_one_pass(tmp_path, parts_read, change):
    text = WARNINGS.replace(*change)
    assert text != WARNINGS
    config = _repo(tmp_path, text)
    alone = _load(config, 1)
    for jobs in (2, 4):
        assert _load(config, jobs) == alone
    assert parts_read == [False, False]


def test_cut_before_top_level_keys_only():
    text = WARNINGS
    for count in (2, 3, 5):
        parts = cut(text, count, 1.0)
        assert len(parts) == count and "".join(t for _, t in parts) == text
        lines = text.split("\n")
        for first_line, part in parts[1:]:
            assert lines[first_line] == part.split("\n")[0] and not part[0].isspace()
            assert lines[first_line].endswith(":")
    assert cut("a: 1\n", 4) == [(0, "a: 1\n")]  # nowhere to cut
    assert cut("a: 1\r\nb: 2\r\n", 2) == [(0, "a: 1\r\nb: 2\r\n")]  # YAML counts lines differently
