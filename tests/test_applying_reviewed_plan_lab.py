"""A reviewed plan applies only in the repository and at the revision it was made for
(issue 17, point 5), and with DNSSYNC_PLAN_KEY only if made by a holder of the key.
Against the real lab: a refused plan sends nothing to any server."""

from __future__ import annotations

import hashlib
import json
import subprocess

from tests.conftest import unique_zone
from tests.test_push_lab import ask


def resum(path) -> None:
    """What someone who can write the plan file can do: edit it and recompute the sha256."""
    data = json.loads(path.read_text())
    data.pop("checksum")
    signed = data.pop("signature", None)  # kept as it was: the key is not theirs
    for pp in data["providers"]:
        for change in pp["changes"]:
            change["desired"]["values"] = ["203.0.113.66"]
    for records in data["zones"].values():
        for record in records:
            if record["type"] == "A":
                record["value"] = "203.0.113.66"
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    data["checksum"] = "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
    if signed:
        data["signature"] = signed
    path.write_text(json.dumps(data))


def test_plan_from_another_repository_is_refused(make_repo, lab, tmp_path):
    theirs, ours = unique_zone(), unique_zone()
    other = make_repo({theirs: "www:\n  type: A\n  value: 192.0.2.1\n"})
    repo = make_repo({ours: "www:\n  type: A\n  value: 192.0.2.2\n"})
    plan_file = tmp_path / "plan.json"
    assert other.run("plan", "--out", str(plan_file)).exit_code == 0
    result = repo.run("apply", "--yes", "--plan", str(plan_file))
    assert result.exit_code == 1, result.output
    assert "made for another repository (its zone names differ" in result.output
    assert "nothing was sent" in result.output
    for server in lab.servers:
        assert ask(lab, server, f"www.{theirs}", "A") == set()


def test_plan_made_at_another_revision_is_refused(make_repo, lab, tmp_path):
    zone = unique_zone()
    repo = make_repo({zone: "www:\n  type: A\n  value: 192.0.2.1\n"})

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(repo.root), "-c", "user.email=t@example.com", "-c", "user.name=t",
                        *args], check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-qm", "one")
    plan_file = tmp_path / "plan.json"
    assert repo.run("plan", "--out", str(plan_file)).exit_code == 0
    (repo.root / "README").write_text("moved on\n")
    git("add", "-A")
    git("commit", "-qm", "two")
    result = repo.run("apply", "--yes", "--plan", str(plan_file))
    assert result.exit_code == 1 and "the plan was made at revision" in result.output, result.output
    assert ask(lab, "knot", f"www.{zone}", "A") == set()


def test_plan_key_refuses_an_edited_and_resummed_plan(make_repo, lab, tmp_path):
    zone = unique_zone()
    repo = make_repo({zone: "www:\n  type: A\n  value: 192.0.2.1\n"})
    repo.env["DNSSYNC_PLAN_KEY"] = "plan-signing-key-held-by-ci"
    plan_file = tmp_path / "plan.json"
    assert repo.run("plan", "--out", str(plan_file)).exit_code == 0
    assert json.loads(plan_file.read_text())["signature"].startswith("hmac-sha256:")
    good = plan_file.read_text()
    resum(plan_file)
    result = repo.run("apply", "--yes", "--plan", str(plan_file))
    assert result.exit_code == 2 and "signature does not match" in result.output, result.output
    assert "plan-signing-key-held-by-ci" not in result.output
    assert ask(lab, "knot", f"www.{zone}", "A") == set()
    # without the key the apply job cannot check a signed plan: refused too
    plan_file.write_text(good)
    del repo.env["DNSSYNC_PLAN_KEY"]
    assert "not set here to check it" in repo.run("apply", "--yes", "--plan", str(plan_file)).output
    # the plan as made, with the key: applies
    repo.env["DNSSYNC_PLAN_KEY"] = "plan-signing-key-held-by-ci"
    applied = repo.run("apply", "--yes", "--plan", str(plan_file))
    assert applied.exit_code == 0, applied.output
    assert ask(lab, "knot", f"www.{zone}", "A") == {"192.0.2.1"}
