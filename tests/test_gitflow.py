"""The git-driven workflow: plan --base in a real git repository, Markdown for pull
requests, GitHub annotations, shards, and import from a real provider."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from dnssync.cli import main
from dnssync.repo.repository import Selection
from tests.conftest import unique_zone
from tests.test_bad_input import Listener


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def listener():
    server = Listener()
    yield server
    server.sock.close()


@pytest.fixture
def history(tmp_path, listener):
    """A repository with two commits: `base` and the branch's change on top."""
    root = tmp_path / "repo"
    (root / "zones").mkdir(parents=True)
    (root / "providers").mkdir()
    (root / "dnssync.yaml").write_text("zones: zones\nproviders: providers\n")
    (root / "providers" / "pdns.yaml").write_text(
        f"class: powerdns\nhost: 127.0.0.1\nport: {listener.port}\napi_key: env/PDNS_KEY_NOT_SET\n"
        f"nameservers:\n  - name: ns1.example.net.\n    address: 127.0.0.1:{listener.port}\n")
    zones = root / "zones"
    (zones / "a.test.yaml").write_text("keep:\n  type: A\n  value: 192.0.2.1\nold:\n  type: A\n  value: 192.0.2.2\n"
                                       "www:\n  type: A\n  value: 192.0.2.3\n")
    (zones / "b.test.yaml").write_text("www:\n  type: A\n  value: 192.0.2.10\n")
    (zones / "c.test.yaml").write_text("mail:\n  type: A\n  value: 192.0.2.20\n"
                                       "www:\n  type: CNAME\n  value: mail.c.test.\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "-c", "user.email=t@example.com", "-c", "user.name=t", "add", "-A")
    git(root, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "base")
    base = git(root, "rev-parse", "HEAD")
    # the branch: edit a, delete b, turn c into a split folder (same records), add d
    (zones / "a.test.yaml").write_text("keep:\n  type: A\n  value: 192.0.2.1\nnew:\n  type: TXT\n  value: hello\n"
                                       "www:\n  ttl: 60\n  type: A\n  value: 192.0.2.33\n")
    (zones / "b.test.yaml").unlink()
    (zones / "c.test.yaml").unlink()
    (zones / "c.test.").mkdir()
    (zones / "c.test." / "mail.yaml").write_text("mail:\n  type: A\n  value: 192.0.2.20\n")
    (zones / "c.test." / "www.yaml").write_text("www:\n  type: CNAME\n  value: mail.c.test.\n")
    (zones / "d.test.yaml").write_text("www:\n  type: AAAA\n  value: 2001:db8::1\n")
    git(root, "-c", "user.email=t@example.com", "-c", "user.name=t", "add", "-A")
    git(root, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "branch")
    return root, base


def run(root: Path, *args: str, env: dict | None = None):
    return CliRunner().invoke(main, ["-c", str(root), *args], env=env or {})


def test_plan_base_shows_exactly_the_branch_change_without_providers(history, listener):
    root, base = history
    result = run(root, "plan", "--base", base, "--format", "json", "--detailed-exitcode")
    assert result.exit_code == 3, result.output
    plan = json.loads(result.stdout)
    changes = {(p["zone"], c["action"], c["name"], c["type"]) for p in plan["providers"] for c in p["changes"]}
    assert changes == {
        ("a.test.", "create", "new", "TXT"),
        ("a.test.", "delete", "old", "A"),
        ("a.test.", "update", "www", "A"),
        ("b.test.", "delete", "www", "A"),
        ("b.test.", "delete", "", "NS"),
        ("d.test.", "create", "www", "AAAA"),
        ("d.test.", "create", "", "NS"),
    }
    update = next(c for p in plan["providers"] for c in p["changes"] if c["action"] == "update")
    assert update["existing"] == {"ttl": 3600, "values": ["192.0.2.3"]}
    assert update["desired"] == {"ttl": 60, "values": ["192.0.2.33"]}
    assert [f["code"] for f in plan["findings"]] == ["git.zone-removed"]
    assert plan["base"] == base
    assert listener.connections == 0  # no provider contacted, no secret needed


def test_plan_base_same_content_is_no_change(history):
    root, _ = history
    result = run(root, "plan", "--base", "HEAD", "--detailed-exitcode")
    assert result.exit_code == 0, result.output


def test_plan_base_unknown_revision_is_a_usage_error(history):
    root, _ = history
    result = run(root, "plan", "--base", "no-such-branch")
    assert result.exit_code == 2
    assert "unknown git revision 'no-such-branch'" in result.output and "Traceback" not in result.output


def test_plan_base_markdown_structure(history):
    root, base = history
    (root / "zones" / "e.test.yaml").write_text(
        "".join(f"h{i:02d}:\n  type: A\n  value: 192.0.2.{i}\n" for i in range(30)))
    markdown = run(root, "plan", "--base", base, "--format", "markdown").stdout
    assert markdown.startswith(f"## dnssync plan (compared with `{base}`, no provider contacted)")
    sections = re.findall(r"^### `([^`]+)`$", markdown, re.M)
    assert sections == ["a.test.", "b.test.", "c.test.", "d.test.", "e.test."]
    assert "| provider | action | name | type | existing | desired |" in markdown
    assert "| git:" in markdown and "| update | `www` | A | 3600 192.0.2.3 | 60 192.0.2.33 |" in markdown
    assert markdown.count("<details>") == 1  # only e.test.'s 32 rows (create zone + 31) are folded
    assert "<summary>32 rows</summary>" in markdown and "| git:" in markdown and "create zone" in markdown
    assert "`git.zone-removed`" in markdown and "#### Findings in `b.test.`" in markdown


def test_github_annotations_point_at_file_and_line(history, monkeypatch):
    root, base = history
    monkeypatch.setenv("GITHUB_WORKSPACE", str(root))
    out = run(root, "plan", "--base", base, "--format", "github", env={"GITHUB_WORKSPACE": str(root)}).stdout
    assert "::notice file=zones/a.test.yaml,line=4,title=dnssync plan%3A git%3A" in out  # the `new` record
    assert "::notice file=zones/a.test.yaml,line=7,title=" in out  # www, updated
    assert "::warning title=dnssync git.zone-removed::zone b.test." in out
    (root / "zones" / "a.test.yaml").write_text("ok:\n  type: A\n  value: 192.0.2.1\nbad:\n  type: A\n  value: 1.2.3\n")
    bad = run(root, "validate", "--offline", "--format", "github", env={"GITHUB_WORKSPACE": str(root)})
    assert bad.exit_code == 2
    assert "::error file=zones/a.test.yaml,line=6,title=dnssync zone.record::" in bad.stdout


def test_shards_partition_the_zones_stably():
    zones = [f"z{i}.test." for i in range(200)]
    for count in (1, 3, 7):
        shards = [Selection(shard=(i, count)).pick(zones) for i in range(1, count + 1)]
        assert sorted(z for s in shards for z in s) == sorted(zones)  # none lost, none doubled
        if count > 1:
            assert all(shards)  # each shard gets work
        grown = [Selection(shard=(i, count)).pick([*zones, "new.test."]) for i in range(1, count + 1)]
        assert [[z for z in g if z != "new.test."] for g in grown] == shards  # adding a zone moves no other


def test_shard_option_on_plan(history):
    root, base = history
    seen = []
    for i in (1, 2, 3):
        result = run(root, "plan", "--base", base, "--shard", f"{i}/3", "--format", "json")
        assert result.exit_code == 0, result.output
        seen += [p["zone"] for p in json.loads(result.stdout)["providers"]]
    assert sorted(seen) == ["a.test.", "b.test.", "c.test.", "d.test."]
    assert run(root, "plan", "--shard", "4/3").exit_code == 2


def test_import_then_plan_shows_no_changes(make_repo, lab, tmp_path):
    zone = unique_zone()
    source = make_repo({zone: "www:\n  type: A\n  value: 192.0.2.5\nmx:\n  type: MX\n  value:\n"
                              f"    exchange: www.{zone}\n    preference: 10\n"
                              "txt:\n  type: TXT\n  value: v=spf1 -all\n"})
    assert source.run("apply", "--yes").exit_code == 0
    fresh = make_repo({}, create=False)
    imported = fresh.run("import", "--provider", "knot", "--zone", zone)
    assert imported.exit_code == 0, imported.output
    assert fresh.zone_file(zone).exists()
    plan = fresh.run("plan", "--detailed-exitcode")
    assert plan.exit_code == 0, plan.output
    again = fresh.run("import", "--provider", "knot", "--zone", zone)
    assert again.exit_code == 2 and "--force" in again.output


def test_plan_junit_validates_against_the_junit_schema(history, junit_schema):
    root, base = history
    result = run(root, "plan", "--base", base, "--format", "junit")
    assert result.exit_code == 0, result.output
    junit_schema.validate(result.stdout)
    import xml.etree.ElementTree as ET

    tree = ET.fromstring(result.stdout)
    suites = {s.get("name") for s in tree.iter("testsuite")}
    assert {"a.test", "b.test", "c.test", "d.test"} <= suites
    outputs = "\n".join(e.text or "" for e in tree.iter("system-out"))
    assert "update www A 60 192.0.2.33" in outputs and "delete old A 3600 192.0.2.2" in outputs


def test_plan_base_live_shows_the_branch_and_the_providers(make_repo, lab):
    zone = unique_zone()
    repo = make_repo({zone: "www:\n  type: A\n  value: 192.0.2.1\n"})
    assert repo.run("apply", "--yes").exit_code == 0
    git(repo.root, "init", "-q", "-b", "main")
    git(repo.root, "-c", "user.email=t@example.com", "-c", "user.name=t", "add", "-A")
    git(repo.root, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "base")
    repo.zone_file(zone).write_text("www:\n  type: A\n  value: 192.0.2.2\n")
    result = repo.run("plan", "--base", "HEAD", "--live", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [(p["provider"], [c["action"] for c in p["changes"]]) for p in data["base"]["providers"]] == [
        ("git:HEAD", ["update"])]
    live = {p["provider"]: [c["desired"]["values"] for c in p["changes"]] for p in data["live"]["providers"]}
    assert live == {"bind": [["192.0.2.2"]], "knot": [["192.0.2.2"]], "pdns": [["192.0.2.2"]]}
