"""A provider whose server gives no answer at all (the real Knot process stopped with
SIGSTOP: it takes connections and never answers) is asked a few times per process, not
once per zone (providers/breaker.py); the other providers are planned, verified and
applied as usual, and a re-run once it is back converges.

Before the breaker, a plan of 200 zones with one of three providers silent took ten
minutes and a verify six: every zone waited out the provider's timeout (a transfer
four times it). Here every zone is still reported, most of them as not asked."""

from __future__ import annotations

import json
import threading

import pytest

from dnssync.applying.apply import run_apply
from dnssync.applying.run import ApplyRun
from dnssync.providers.breaker import TRIP_AFTER
from dnssync.repo.config import Defaults
from dnssync.repo.repository import Repository
from tests.conftest import Repo, unique_zone

ZONES = 60
RECORD = "www:\n  type: A\n  value: 192.0.2.1\n"


def fleet(lab, root, quick: tuple[str, ...] = ("knot",)) -> tuple[list[str], Repo]:
    """ZONES zones on the three lab servers, the `quick` providers with a 1 s timeout."""
    zones = [unique_zone("quiet") for _ in range(ZONES)]
    lab.add_zones(zones)
    env = lab.write_repo(root, {f"{z}yaml": RECORD for z in zones},
                         provider_extra={name: {"timeout": 1} for name in quick})
    return zones, Repo(root, env)


@pytest.fixture(scope="module")
def applied(lab, tmp_path_factory):
    zones, repo = fleet(lab, tmp_path_factory.mktemp("quiet"), quick=("knot", "pdns"))  # read only
    result = repo.run("apply", "--yes")
    assert result.exit_code == 0, result.output
    return zones, repo


def not_asked(messages: list[str]) -> list[str]:
    return [m for m in messages if "not asked for" in m]


@pytest.mark.parametrize("silent,cls", [("knot", "knot"), ("pdns", "powerdns")])
def test_plan_asks_a_silent_provider_twice_per_worker_not_once_per_zone(lab, applied, silent, cls):
    """Knot read by zone transfer, PowerDNS by its HTTP API: the same breaker for both."""
    zones, repo = applied
    with lab.frozen(silent):
        result = repo.run("plan", "--format", "json")
    data = json.loads(result.stdout)
    errors = {p["zone"]: p["error"] for p in data["providers"] if p["provider"] == silent}
    assert sorted(errors) == sorted(zones) and all(errors.values())
    asked = [e for e in errors.values() if "not asked for" not in e]
    assert asked  # the provider was really asked: these errors are its own failures
    # each planning process (one per core, at most defaults.concurrency threads in all)
    # asks it TRIP_AFTER times, and once more for each probe a busy machine might leave it
    # time for; the bound below only tells the breaker from none while that is well under
    # it (a guard on ZONES)
    assert len(asked) < ZONES // 2
    assert TRIP_AFTER * Defaults().concurrency < ZONES // 2
    assert all(f"provider {silent} ({cls})" in e and "no answer" in e for e in errors.values())
    assert "its last 2 requests got no answer" in not_asked(list(errors.values()))[0]
    healthy = [p for p in data["providers"] if p["provider"] != silent]
    assert len(healthy) == 2 * ZONES and not any(p["error"] or p["changes"] for p in healthy)


def test_verify_lists_a_silent_rfc2136_provider_by_api_a_few_times(lab, applied):
    zones, repo = applied
    with lab.frozen("knot"):
        result = repo.run("verify", "--format", "json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    found = [f for f in data["findings"] if f["code"] == "verify.extra-unchecked" and f.get("provider") == "knot"]
    assert sorted(f["zone"] for f in found) == sorted(zones)
    unlisted = [f["message"] for f in found]
    assert len(unlisted) - len(not_asked(unlisted)) < ZONES // 2
    assert not any(f.get("provider") in ("pdns", "bind") for f in data["findings"] if f["severity"] == "error")


def test_apply_with_a_silent_provider_applies_the_others_and_a_rerun_converges(lab, tmp_path):
    zones, repo = fleet(lab, tmp_path / "repo")
    with lab.frozen("knot"):
        result = repo.run("apply", "--yes", "--format", "json")
    assert result.exit_code == 1, result.output
    outcomes = json.loads(result.stdout)["apply"]["outcomes"]
    by_provider = {name: [o for o in outcomes if o["provider"] == name] for name in ("pdns", "bind", "knot")}
    assert all(o["status"] == "applied" for name in ("pdns", "bind") for o in by_provider[name])
    assert len(by_provider["pdns"]) == len(by_provider["bind"]) == ZONES
    knot = by_provider["knot"]
    assert sorted(o["zone"] for o in knot) == sorted(zones)
    assert all(o["status"] == "failed" and o["retryable"] for o in knot)
    assert len(not_asked([o["error"] for o in knot])) >= ZONES * 2 // 3
    # a provider not asked now is not retried now: only a pair that waited for an answer is
    assert len([o for o in knot if o["attempts"] > 1]) < ZONES // 2
    rerun = repo.run("apply", "--yes")
    assert rerun.exit_code == 0, rerun.output
    assert repo.run("plan", "--detailed-exitcode").exit_code == 0


def test_a_provider_that_falls_silent_after_the_plan_is_probed_for_a_while_then_left(lab, tmp_path, monkeypatch):
    """Planned while Knot answered, sent while it does not: each worker's first updates
    wait for an answer, the next ones wait for a probe while PATIENCE lasts (a few), and
    the rest of its share is neither sent nor retried."""
    zones, repo = fleet(lab, tmp_path / "repo")
    for key, value in lab.env().items():
        monkeypatch.setenv(key, value)
    run = ApplyRun.fresh(Repository.load(repo.root))
    assert not any(p.error for p in run.plan.providers)
    workers = len(getattr(run.lives, "workers", [None]))  # forked workers holding the plans, or this process
    try:
        with lab.frozen("knot"):
            result = run_apply(run)
    finally:
        run.close()
    knot = [o for o in result.outcomes if o.provider == "knot"]
    assert sorted(o.zone for o in knot) == sorted(zones)
    assert all(o.status == "failed" and o.retryable for o in knot)
    not_sent = [o for o in knot if o.attempts == 1 and "not asked for" in o.error]
    assert len(not_sent) >= ZONES // 2 > TRIP_AFTER * workers
    assert all(o.status == "applied" for o in result.outcomes if o.provider != "knot")
    assert repo.run("apply", "--yes").exit_code == 0
    assert repo.run("plan", "--detailed-exitcode").exit_code == 0


def test_a_provider_restarting_during_an_apply_costs_a_few_zones_not_the_rest(lab, tmp_path, monkeypatch):
    """Knot stopped after the plan (connections refused) and started again a second
    later: its breaker opens at once, and the next zone's update waits for the probe
    (apply's sending is patient), so the zones after the restart are applied."""
    zones, repo = fleet(lab, tmp_path / "repo")
    for key, value in lab.env().items():
        monkeypatch.setenv(key, value)
    run = ApplyRun.fresh(Repository.load(repo.root))
    knot = lab.servers["knot"]
    knot.stop()
    back = threading.Timer(1.0, knot.start)
    back.start()
    try:
        result = run_apply(run)
    finally:
        run.close()
        back.join()
        if not knot.running:
            knot.start()
    outcomes = [o for o in result.outcomes if o.provider == "knot"]
    applied = [o for o in outcomes if o.status == "applied"]
    assert sorted(o.zone for o in outcomes) == sorted(zones)
    assert len(applied) >= ZONES - 10, [o.error for o in outcomes if o not in applied]
    assert repo.run("apply", "--yes").exit_code == 0
    assert repo.run("plan", "--detailed-exitcode").exit_code == 0
