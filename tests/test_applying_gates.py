"""The apply stage's safety gates (applying/gates.py), each refusing and passing, on plan
data alone: no provider is read to decide. The lab tests (test_applying_lab.py,
test_applying_apex_ns_lab.py, test_parity_lab.py, test_applying_reviewed_plan_lab.py)
show the same gates from the CLI against real servers."""

from __future__ import annotations

from pathlib import Path

import pytest
from octodns.zone import Zone

from dnssync.applying.gates import Gates
from dnssync.applying.run import ApplyRun
from dnssync.model.errors import DnssyncError, PlanMismatch
from dnssync.model.findings import Finding, Severity
from dnssync.model.plan import Change, Plan, ProviderPlan
from dnssync.planning.held import LocalPlans
from dnssync.planning.planner import LivePlan
from dnssync.repo.config import Policy

ZONE = "example.test."
WWW = Change("update", "www", "A", {"ttl": 60, "values": ["192.0.2.1"]}, {"ttl": 60, "values": ["192.0.2.2"]})
UNSAFE = "Too many updates, 4 is over 30% (3/10)"
IDENTITY = {"config": "sha256:c", "providers": "sha256:p", "zones": "sha256:z"}


def pair(provider: str = "a", digest: str = "sha256:live", changes: list[Change] | None = None,
         unsafe: str | None = None, error: str | None = None) -> ProviderPlan:
    return ProviderPlan(provider, ZONE, True, [WWW] if changes is None else changes, existing_digest=digest,
                        unsafe=unsafe, error=error)


def live(data: ProviderPlan) -> LivePlan:
    """A (re-)planned pair as the gates see it: only its data is read."""
    return LivePlan(data, provider=None, desired=Zone(data.zone, []), existing=None, octo=None)  # type: ignore[arg-type]


def parity_error(severity: Severity = Severity.ERROR) -> Finding:
    return Finding(severity, "parity.unsupported", "b cannot hold it", zone=ZONE, name="x", type="ALIAS",
                   provider="b")


def plan(*pairs: ProviderPlan, findings: list[Finding] | None = None) -> Plan:
    return Plan(zones={ZONE: []}, providers=list(pairs), findings=findings or [],
                repository=IDENTITY, revision="abc123")


# before anything is sent: parity, then --force

def test_a_parity_error_refuses_the_plan_and_a_warning_does_not():
    gates = Gates.of(Policy())
    refusal = gates.refusal(plan(pair(), findings=[parity_error()]))
    assert refusal == ("refusing to apply (nothing was sent): 1 parity error(s): x ALIAS in example.test. (b)."
                       " Fix the zone, or accept the difference with policy.parity: warn.")
    assert gates.refusal(plan(pair(), findings=[parity_error(Severity.WARNING)])) is None
    # --force does not override parity: only the policy accepts a difference
    assert Gates.of(Policy(), force=True).refusal(plan(pair(), findings=[parity_error()])) is not None


def test_an_unsafe_plan_needs_force():
    unsafe = plan(pair("a", unsafe=UNSAFE), pair("b"))
    assert Gates.of(Policy()).refusal(unsafe) == (f"refusing to apply (nothing was sent): a/{ZONE}: {UNSAFE}."
                                                  " Review the plan, then use --force.")
    assert Gates.of(Policy(), force=True).refusal(unsafe) is None
    assert Gates.of(Policy()).refusal(plan(pair("a"), pair("b"))) is None


def test_a_restore_passes_every_gate_with_thresholds_of_100_percent():
    gates = Gates.for_restore()
    assert gates.thresholds == (1.0, 1.0)
    assert gates.refusal(plan(pair(unsafe=UNSAFE), findings=[parity_error()])) is None
    assert gates.recheck(live(pair(unsafe=UNSAFE))) is None
    assert Gates.of(Policy(update_threshold=0.5, delete_threshold=0.2)).thresholds == (0.5, 0.2)


# on every attempt (a retry re-planned the pair: not what the user saw)

def test_a_pair_re_read_on_a_retry_needs_force_again():
    gates = Gates.of(Policy())
    assert gates.recheck(live(pair(unsafe=UNSAFE))) == f"re-read on a retry, it now needs --force: {UNSAFE}"
    assert gates.recheck(live(pair())) is None
    assert Gates.of(Policy(), force=True).recheck(live(pair(unsafe=UNSAFE))) is None


def test_a_reviewed_pair_must_still_be_as_reviewed():
    reviewed = plan(pair("a"), pair("b", error="HTTP 503"))
    gates = Gates.of(Policy(), reviewed=reviewed)
    assert gates.recheck(live(pair("a"))) is None
    assert gates.recheck(live(pair("a", digest="sha256:other"))) == (
        "live state changed since the plan was made: make a new plan")
    assert gates.recheck(live(pair("a", changes=[]))) == "live state changed since the plan was made: make a new plan"
    assert gates.recheck(live(pair("c"))) == "not in the reviewed plan"
    assert gates.recheck(live(pair("b"))) == ("could not be read when the plan was made, so its changes were"
                                              " never reviewed: make a new plan")


def test_a_stale_reviewed_plan_names_each_pair_and_leaves_the_unreviewed_to_apply_time():
    reviewed = plan(pair("a"), pair("b", error="HTTP 503"), pair("gone"))
    gates = Gates.of(Policy(), reviewed=reviewed)
    fresh = [pair("a", digest="sha256:moved"), pair("b", digest="sha256:whatever")]
    problems = gates.stale(plan(*fresh))
    assert problems == [f"a/{ZONE}: live state changed since the plan was made: make a new plan",
                        f"gone/{ZONE}: no longer planned (zone or provider removed)"]
    same = [pair("a"), pair("b"), pair("gone")]
    assert gates.stale(plan(*same)) == []
    rekeyed = [pair("a"), pair("b"), pair("gone")]
    rekeyed[0].keys = [Change("create", "", "DNSKEY", None, {"ttl": 3600, "values": ["257 3 13 AAAA"]})]
    assert gates.stale(plan(*rekeyed)) == [
        f"a/{ZONE}: the DNSKEYs it serves changed since the plan was made (its key exchange is not the one"
        " reviewed): make a new plan"]
    unreadable = pair("a", digest="sha256:moved", error="HTTP 503")  # unreadable now: apply_one reports it
    assert gates.stale(plan(unreadable, pair("b"), pair("gone"))) == []


def test_a_reviewed_plan_is_admitted_only_where_and_when_it_was_made():
    saved = plan(pair("a"), pair("b"))
    gates = Gates.of(Policy(), reviewed=saved)
    gates.admit({"a", "b", "c"}, IDENTITY, "abc123+dirty")  # a dirty tree is the same revision
    Gates.of(Policy()).admit(set(), {}, None)  # not a reviewed plan: nothing to admit
    with pytest.raises(PlanMismatch, match=r"the plan names providers no longer configured: b\. Make a new plan"):
        gates.admit({"a"}, IDENTITY, "abc123")
    with pytest.raises(PlanMismatch, match=r"made for another repository \(its providers differ"):
        gates.admit({"a", "b"}, {**IDENTITY, "providers": "sha256:q"}, "abc123")
    with pytest.raises(PlanMismatch, match="made at revision abc123, this repository is at def456"):
        gates.admit({"a", "b"}, IDENTITY, "def456")


def test_a_refusal_after_zones_were_created_says_which(tmp_path: Path):
    run = ApplyRun(plan(pair(unsafe=UNSAFE)), LocalPlans([]), Gates.of(Policy()), tmp_path)
    with pytest.raises(DnssyncError) as refused:
        run.check()
    assert "(Before this check" not in str(refused.value)
    run.created = [f"a/{ZONE}"]
    with pytest.raises(DnssyncError, match=rf"use --force\. \(Before this check, only these empty zones were"
                                            rf" created: a/{ZONE}\.\)$"):
        run.check()
    run.gates = Gates.of(Policy(), force=True)
    run.check()
