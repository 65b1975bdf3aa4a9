"""apply's promises against the real lab: reviewed plans, safety gates, lock, snapshots,
octoDNS's own unit.tests zone, and an octoDNS repository used as it is."""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys

import pytest
import yaml

from dnssync.applying.state import apply_lock
from dnssync.repo.repository import Selection
from tests.conftest import ROOT, unique_zone
from tests.corpus import FIXTURES, MISSING
from tests.test_push_lab import ask

#: a reviewed plan applied by threads of this process, and by two forked workers (planning/held.py)
JOBS = pytest.mark.parametrize("jobs", ["1", "2"], ids=["threads", "workers"])


@JOBS
def test_apply_reviewed_plan_exactly(make_repo, lab, tmp_path, jobs):
    zone = unique_zone()
    repo = make_repo({zone: "www:\n  type: A\n  value: 192.0.2.1\n"})
    plan_file = tmp_path / "plan.json"
    assert repo.run("plan", "--save-plan", str(plan_file)).exit_code == 0
    # git moves on after the review: apply --plan still applies what was reviewed
    repo.zone_file(zone).write_text("www:\n  type: A\n  value: 192.0.2.99\n")
    result = repo.run("apply", "--yes", "--plan", str(plan_file), "--jobs", jobs)
    assert result.exit_code == 0, result.output
    for server in lab.servers:
        assert ask(lab, server, f"www.{zone}", "A") == {"192.0.2.1"}


@JOBS
def test_apply_refuses_a_stale_plan_and_sends_nothing(make_repo, lab, tmp_path, jobs):
    zone = unique_zone()
    repo = make_repo({zone: "www:\n  type: A\n  value: 192.0.2.1\n"})
    plan_file = tmp_path / "plan.json"
    repo.run("plan", "--save-plan", str(plan_file))
    # someone changes PowerDNS behind dnssync's back after the plan was reviewed
    other = make_repo({zone: "www:\n  type: A\n  value: 192.0.2.7\n"}, providers=["pdns"], create=False)
    assert other.run("apply", "--yes", "--force").exit_code == 0
    result = repo.run("apply", "--yes", "--plan", str(plan_file), "--jobs", jobs)
    assert result.exit_code == 1
    assert "pdns" in result.output and "live state changed" in result.output
    assert multiprocessing.active_children() == []  # the workers that planned it are gone
    assert ask(lab, "bind", f"www.{zone}", "A") == set()  # nothing was sent anywhere
    assert ask(lab, "pdns", f"www.{zone}", "A") == {"192.0.2.7"}


def test_apply_refuses_a_modified_plan_file(make_repo, tmp_path):
    repo = make_repo({unique_zone(): "www:\n  type: A\n  value: 192.0.2.1\n"})
    plan_file = tmp_path / "plan.json"
    repo.run("plan", "--save-plan", str(plan_file))
    plan_file.write_text(plan_file.read_text().replace("192.0.2.1", "203.0.113.66"))
    result = repo.run("apply", "--yes", "--plan", str(plan_file))
    assert result.exit_code == 2
    assert "modified after it was made" in result.output


def test_safety_threshold_needs_force(make_repo, lab):
    zone = unique_zone()
    many = "".join(f"h{i:02d}:\n  type: A\n  value: 192.0.2.{i}\n" for i in range(20))
    repo = make_repo({zone: many})
    assert repo.run("apply", "--yes").exit_code == 0
    repo.zone_file(zone).write_text("h00:\n  type: A\n  value: 192.0.2.0\n")  # deletes 19 of 21
    markdown = repo.run("plan", "--format", "markdown").output  # the PR comment warns too
    assert "| **needs --force** |" in markdown and "Too many deletes" in markdown
    result = repo.run("apply", "--yes")
    assert result.exit_code == 1
    assert "Too many deletes" in result.output and "nothing was sent" in result.output
    assert ask(lab, "knot", f"h05.{zone}", "A") == {"192.0.2.5"}
    forced = repo.run("apply", "--yes", "--force")
    assert forced.exit_code == 0, forced.output
    assert ask(lab, "knot", f"h05.{zone}", "A") == set()


def test_second_apply_is_locked_out(make_repo):
    repo = make_repo({unique_zone(): "www:\n  type: A\n  value: 192.0.2.1\n"})
    with apply_lock(repo.root / ".dnssync"):
        result = repo.run("apply", "--yes")
    assert result.exit_code == 1
    assert "another apply is running" in result.output


def test_snapshot_then_restore_puts_providers_back(make_repo, lab):
    zone = unique_zone()
    repo = make_repo({zone: "www:\n  type: A\n  value: 192.0.2.1\n"})
    assert repo.run("apply", "--yes").exit_code == 0
    repo.zone_file(zone).write_text("www:\n  type: A\n  value: 192.0.2.2\nnew:\n  type: A\n  value: 192.0.2.3\n")
    applied = repo.run("apply", "--yes")
    assert applied.exit_code == 0
    snapshot = applied.output.split("dnssync restore ")[1].split(")")[0]
    listing = repo.run("snapshots")
    assert snapshot in listing.output and "bind/" in listing.output
    restored = repo.run("restore", snapshot, "--yes")
    assert restored.exit_code == 0, restored.output
    for server in lab.servers:
        assert ask(lab, server, f"www.{zone}", "A") == {"192.0.2.1"}
        assert ask(lab, server, f"new.{zone}", "A") == set()
    again = repo.run("restore", snapshot, "--yes")  # nothing left to do: said as it is
    assert again.exit_code == 0
    assert f"No changes: the providers already hold the content of snapshot {snapshot}." in again.output
    assert "git" not in again.output


@pytest.mark.skipif(FIXTURES is None, reason=MISSING)
def test_octodns_unit_tests_zone_pushes_to_all_three(make_repo, lab):
    """octoDNS's own fixture zone: what a provider cannot hold is listed, never silently dropped."""
    repo = make_repo({"unit.tests.": (FIXTURES / "unit.tests.yaml").read_text()}, config={"policy": {"parity": "warn"}})
    plan = json.loads(repo.run("plan", "--format", "json").stdout)
    cannot = {(p["provider"], a["name"], a["type"]) for p in plan["providers"] for a in p["adjustments"]
              if a["kind"] == "unsupported"}
    assert {("pdns", "dname", "DNAME"), ("pdns", "spf", "SPF"), ("pdns", "urlfwd", "URLFWD"),
            ("bind", "urlfwd", "URLFWD"), ("knot", "urlfwd", "URLFWD"), ("bind", "mx", "MX")} <= cannot
    markdown = repo.run("plan", "--format", "markdown").output
    assert "| pdns | **cannot hold** | `dname` | DNAME |" in markdown
    result = repo.run("apply", "--yes")
    assert result.exit_code == 0, result.output
    assert repo.run("plan", "--detailed-exitcode").exit_code == 0
    for server in lab.servers:
        assert ask(lab, server, "_srv._tcp.unit.tests.", "SRV") == {
            "10 20 30 foo-1.unit.tests.", "12 20 30 foo-2.unit.tests."}
    assert ask(lab, "knot", "mx.unit.tests.", "MX") >= {"10 smtp-4.unit.tests."}


def test_octodns_repository_used_as_it_is(lab, tmp_path):
    """--octodns-config: octoDNS's YamlProvider zones and its targets (octodns_bind classes
    resolve to dnssync's fixed subclass)."""
    zone = unique_zone()
    lab.add_zone(zone, ["bind"])
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / f"{zone}yaml").write_text("---\nwww:\n  type: A\n  value: 192.0.2.44\n")
    bind = lab.bind
    (tmp_path / "octodns.yaml").write_text(yaml.safe_dump({
        "providers": {
            "config": {"class": "octodns.provider.yaml.YamlProvider", "directory": str(tmp_path / "config")},
            "bind": {"class": "octodns_bind.Rfc2136Provider", "host": bind.address, "key_name": bind.key_name,
                     "key_secret": f"env/{bind.env_name()}", "key_algorithm": "hmac-sha256"},
        },
        "zones": {zone: {"sources": ["config"], "targets": ["bind"]}},
    }))
    env = {**lab.env()}
    run = [sys.executable, "-m", "dnssync", "--octodns-config", str(tmp_path / "octodns.yaml")]
    result = subprocess.run([*run, "apply", "--yes"], capture_output=True, text=True, env={**env, "PATH": ""},
                            cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert ask(lab, "bind", f"www.{zone}", "A") == {"192.0.2.44"}
    assert "Traceback" not in result.stderr


def test_reviewed_plan_applies_only_its_own_providers_and_zones(make_repo, lab, tmp_path):
    zone = unique_zone()
    repo = make_repo({zone: "www:\n  type: A\n  value: 192.0.2.1\n"})
    only_bind = tmp_path / "bind.json"
    assert repo.run("plan", "--provider", "bind", "--save-plan", str(only_bind)).exit_code == 0
    assert repo.run("apply", "--yes", "--plan", str(only_bind)).exit_code == 0
    assert ask(lab, "bind", f"www.{zone}", "A") == {"192.0.2.1"}
    assert ask(lab, "knot", f"www.{zone}", "A") == set()  # not in the reviewed plan: untouched
    # an empty shard makes an empty plan: applying it applies nothing (not "everything")
    empty = tmp_path / "empty.json"
    shard = next(f"{i}/50" for i in range(1, 51)
                 if repo.run("plan", "--shard", f"{i}/50", "--format", "json").stdout.count('"zone"') == 0)
    assert repo.run("plan", "--shard", shard, "--save-plan", str(empty)).exit_code == 0
    result = repo.run("apply", "--yes", "--plan", str(empty))
    assert result.exit_code == 0, result.output
    assert ask(lab, "knot", f"www.{zone}", "A") == set()


def test_apply_shards_split_a_fleet_and_together_apply_all_of_it(make_repo, lab, tmp_path):
    """`apply --shard i/N` (a CI matrix spreading a fleet's apply): each job sends only
    its shard's zones, and the N jobs together leave nothing to change."""
    zones: list[str] = []
    while len({Selection(shard=(1, 2)).wants(z) for z in zones}) < 2 or len(zones) < 4:
        zones.append(unique_zone())  # until both shards have a zone
    repo = make_repo({z: "www:\n  type: A\n  value: 192.0.2.7\n" for z in zones})
    first = [z for z in zones if Selection(shard=(1, 2)).wants(z)]
    result = repo.run("apply", "--yes", "--shard", "1/2", "--format", "json")
    assert result.exit_code == 0, result.output
    sent = {o["zone"] for o in json.loads(result.stdout)["apply"]["outcomes"]}
    assert sent == set(first)
    for zone in zones:
        expected = {"192.0.2.7"} if zone in first else set()
        assert {ask(lab, server, f"www.{zone}", "A") == expected for server in lab.servers} == {True}, zone
    assert repo.run("apply", "--yes", "--shard", "2/2").exit_code == 0
    assert "No changes" in repo.run("plan").output
    # a shard no zone hashes to applies nothing (not "everything"), and says so
    repo.zone_file(zones[0]).write_text("www:\n  type: A\n  value: 192.0.2.9\n")
    empty = next(f"{i}/50" for i in range(1, 51) if not any(Selection(shard=(i, 50)).wants(z) for z in zones))
    nothing = repo.run("apply", "--yes", "--shard", empty)
    assert nothing.exit_code == 0 and "No changes" in nothing.output, nothing.output
    assert ask(lab, "bind", f"www.{zones[0]}", "A") == {"192.0.2.7"}
    # a reviewed plan is already one shard's: a shard given beside it is refused, nothing sent
    plan_file = tmp_path / "plan.json"
    assert repo.run("plan", "--save-plan", str(plan_file)).exit_code == 0
    refused = repo.run("apply", "--yes", "--plan", str(plan_file), "--shard", "1/2")
    assert refused.exit_code == 2 and "--shard" in refused.output
    assert repo.run("apply", "--yes", "--shard", "3/2").exit_code == 2
    assert ask(lab, "bind", f"www.{zones[0]}", "A") == {"192.0.2.7"}


def test_reviewed_plan_for_a_provider_removed_since_is_refused_cleanly(make_repo, tmp_path):
    zone = unique_zone()
    repo = make_repo({zone: "www:\n  type: A\n  value: 192.0.2.1\n"})
    plan_file = tmp_path / "plan.json"
    repo.run("plan", "--save-plan", str(plan_file))
    (repo.root / "providers" / "knot.yaml").unlink()
    result = repo.run("apply", "--yes", "--plan", str(plan_file))
    assert result.exit_code == 1
    assert "no longer configured: knot" in result.output and "nothing was sent" in result.output


def test_reviewed_plan_after_its_zone_file_is_removed_is_refused_cleanly(make_repo, lab, tmp_path):
    """A plan is bound to its repository's zone names (issue 17): removing a zone file after
    the review is a change to the repository, refused without a crash and nothing sent."""
    zone = unique_zone()
    repo = make_repo({zone: "www:\n  type: A\n  value: 192.0.2.1\n"})
    plan_file = tmp_path / "plan.json"
    repo.run("plan", "--save-plan", str(plan_file))
    repo.zone_file(zone).unlink()
    result = repo.run("apply", "--yes", "--plan", str(plan_file))
    assert result.exit_code == 1, result.output
    assert "its zone names differ" in result.output and "nothing was sent" in result.output
    assert ask(lab, "knot", f"www.{zone}", "A") == set()
