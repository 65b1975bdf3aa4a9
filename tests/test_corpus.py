"""The compatibility corpus, as a user's repository would reach dnssync.

Every octoDNS fixture (zone files, split and hybrid layouts, 73 manager configs,
most deliberately invalid) either validates or is refused with file, line and
reason — exit 0 or 2, never a traceback or an internal error.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from dnssync.cli import main
from tests.corpus import FIXTURES, MISSING

if FIXTURES is None:
    pytest.skip(MISSING, allow_module_level=True)
CONFIGS = sorted(p for p in FIXTURES.glob("*.yaml") if "providers:" in p.read_text() and "zones:" in p.read_text())
ZONE_FILES = sorted(
    p for p in FIXTURES.parent.rglob("*.yaml")
    if p not in CONFIGS and p.name != "shared.yaml"
    and not any(part.endswith((".tst", ".")) or part == "hybrid" for part in p.relative_to(FIXTURES.parent).parts[:-1])
)
SPLIT_DIRS = sorted(p for p in (FIXTURES / "split").iterdir() if p.is_dir() and p.name.endswith(".tst"))

PROVIDER = "class: powerdns\nhost: 127.0.0.1\napi_key: x-not-a-secret\nnameservers: [ns1.example.net.]\n"


def repo_with(tmp_path: Path, files: dict[str, Path]) -> Path:
    (tmp_path / "zones").mkdir()
    (tmp_path / "providers").mkdir()
    (tmp_path / "dnssync.yaml").write_text("zones: zones\nproviders: providers\n")
    (tmp_path / "providers" / "p.yaml").write_text(PROVIDER)
    for name, source in files.items():
        target = tmp_path / "zones" / name
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy(source, target)
    return tmp_path


def assert_clean(result) -> None:
    assert result.exit_code in (0, 2), result.output
    assert "Traceback" not in result.output and "Internal error" not in result.output
    if result.exit_code == 2:
        # every error names a file (and a line when the problem is inside one)
        errors = [line for line in result.output.splitlines() if ": error " in line]
        assert errors, result.output
        assert all(".yaml" in line or ".json" in line for line in errors), result.output


def test_corpus_is_where_the_readme_says():
    assert len(CONFIGS) > 50 and len(ZONE_FILES) > 5 and SPLIT_DIRS


def test_octodns_hybrid_layout(tmp_path):
    """hybrid/: one zone as a file, one as a split folder (`two.test./`), side by side."""
    hybrid = FIXTURES / "hybrid"
    root = repo_with(tmp_path, {p.name: p for p in hybrid.iterdir()})
    result = CliRunner().invoke(main, ["-c", str(root), "validate"])
    assert result.exit_code == 0, result.output
    assert "Valid: 2 zone(s)" in result.output


@pytest.mark.parametrize("zone_file", ZONE_FILES, ids=lambda p: p.name)
def test_octodns_zone_file(tmp_path, zone_file):
    result = CliRunner().invoke(main, ["-c", str(repo_with(tmp_path, {zone_file.name: zone_file})), "validate"])
    assert_clean(result)


def test_unit_tests_zone_validates_with_warnings_only(tmp_path):
    zone = FIXTURES / "unit.tests.yaml"
    result = CliRunner().invoke(main, ["-c", str(repo_with(tmp_path, {zone.name: zone})), "validate"])
    assert result.exit_code == 0, result.output
    assert "Valid: 1 zone(s)" in result.output


@pytest.mark.parametrize("split", SPLIT_DIRS, ids=lambda p: p.name)
def test_octodns_split_layout(tmp_path, split):
    name = split.name[: -len(".tst")] + "."  # octoDNS's fixtures use split_extension ".tst"
    result = CliRunner().invoke(main, ["-c", str(repo_with(tmp_path, {name: split})), "validate"])
    assert_clean(result)


def test_split_zone_reads_every_file(tmp_path):
    split = FIXTURES / "split" / "unit.tests.tst"
    root = repo_with(tmp_path, {"unit.tests.": split})
    result = CliRunner().invoke(main, ["-c", str(root), "validate", "--format", "json"])
    assert result.exit_code == 0, result.output
    from dnssync.repo.repository import Repository

    repo = Repository.load(root)
    names = {r.name for r in repo.desired["unit.tests."].records}
    assert {"_srv._tcp", "www", "www.sub", "txt", "cname"} <= names


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_octodns_manager_config(config, monkeypatch):
    monkeypatch.chdir(FIXTURES.parent.parent)  # octoDNS resolves `directory` from its cwd
    result = CliRunner().invoke(main, ["--octodns-config", str(config), "validate"])
    assert_clean(result)


def test_octodns_repository_reviewed_offline_without_secrets(tmp_path, monkeypatch):
    """A pull request from a fork has no secrets: `validate --offline` and `plan --base`
    must work on an octoDNS repository too, and its warnings must show."""
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "example.org.yaml").write_text("---\nwww:\n  type: A\n  value: 192.0.2.1\n")
    (tmp_path / "octodns.yaml").write_text(
        "providers:\n  config:\n    class: octodns.provider.yaml.YamlProvider\n    directory: ./config\n"
        "  pdns:\n    class: octodns_powerdns.PowerDnsProvider\n    host: 127.0.0.1\n"
        "    api_key: env/NOT_SET_IN_A_FORK\n"
        "zones:\n  example.org.:\n    sources: [config]\n    targets: [pdns]\n")
    monkeypatch.delenv("NOT_SET_IN_A_FORK", raising=False)
    run = ["--octodns-config", str(tmp_path / "octodns.yaml"), "validate"]
    strict = CliRunner().invoke(main, run)  # no provider contacted: the missing secret is a warning
    assert strict.exit_code == 0 and "warning config.env-missing" in strict.output
    assert "NOT_SET_IN_A_FORK" in strict.output
    assert CliRunner().invoke(main, ["--octodns-config", str(tmp_path / "octodns.yaml"), "plan"]).exit_code == 2
    offline = CliRunner().invoke(main, [*run, "--offline"])
    assert offline.exit_code == 0, offline.output
    assert "names no nameservers" in offline.output  # the octoDNS config's warnings are shown
