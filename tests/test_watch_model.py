"""The propagation model of `dnssync watch`: which RRsets an apply changed, when each has
converged on every nameserver, when no cache can hold the old answer, and when it ends.

Observations are fed by hand here (times are plain numbers); tests/test_watch_lab.py
feeds it from real servers."""

from __future__ import annotations

import dns.rdata
import dns.rdataclass

from dnssync.model.plan import Adjustment, Change, Plan, ProviderPlan
from dnssync.watch.changes import ChangedRRset, RRsetState, changes_from_plan
from dnssync.watch.propagation import (
    CLOCK_GRANULARITY,
    NEW,
    OLD,
    OTHER,
    OTHER_POLLS,
    Propagation,
    SoaSerial,
    classify,
    classify_resolved,
)

ZONE = "example.test."
T0 = 1_000_000.0


def served(rtype: str, ttl: int | None, *values: str, negative: str = "") -> RRsetState:
    return RRsetState(frozenset(dns.rdata.from_text(dns.rdataclass.IN, rtype, v) for v in values), ttl,
                  negative)


def plan_of(*providers: ProviderPlan) -> Plan:
    return Plan(zones={}, providers=list(providers))


def update(name: str = "www", old: str = "192.0.2.1", new: str = "192.0.2.2", old_ttl: int = 300,
           new_ttl: int = 300) -> Change:
    return Change("update", name, "A", {"ttl": old_ttl, "values": [old]},
                  {"ttl": new_ttl, "values": [new]})


def one_target(*changes: Change, providers: tuple[str, ...] = ("a", "b")) -> ChangedRRset:
    plan = plan_of(*(ProviderPlan(p, ZONE, changes=list(changes)) for p in providers))
    targets, findings = changes_from_plan(plan)
    assert findings == []
    assert len(targets) == 1
    return targets[0]


def watch(target: ChangedRRset, nameservers: dict[str, list[str]] | None = None,
          resolvers: tuple[str, ...] = (), timeout: float | None = 600) -> Propagation:
    nameservers = nameservers or {p: [f"ns1.{p}"] for p in target.providers}
    return Propagation("apply-1", [target], nameservers, list(resolvers), T0, timeout)


def feed_all(prop: Propagation, now: float, reply, serial: int = 7, negative_ttl: int = 5) -> list:
    events = []
    for provider, names in prop.nameservers.items():
        for ns in names:
            for target in prop.changed:
                events += prop.nameserver(now, provider, ns, target, reply)
            events += prop.serial(now, provider, ns, ZONE, SoaSerial(serial, negative_ttl))
    return events + prop.settle(now)


def kinds(events: list) -> list[str]:
    return [e["event"] for e in events]


def test_targets_merge_providers_and_keep_each_old_value():
    plan = plan_of(
        ProviderPlan("a", ZONE, changes=[update(old="192.0.2.1", old_ttl=60)]),
        ProviderPlan("b", ZONE, changes=[update(old="192.0.2.9", old_ttl=3600)]),
        ProviderPlan("c", ZONE, changes=[]),  # already served the new value
        ProviderPlan("d", ZONE, error="HTTP 500"),  # unreadable when planned
        ProviderPlan("e", "other.test.", changes=[]),  # another zone: not involved
    )
    [target], findings = changes_from_plan(plan)
    assert findings == []
    assert (target.name, target.type, target.action) == ("www.example.test.", "A", "update")
    assert target.providers == ["a", "b", "c", "d"]
    new = served("A", 300, "192.0.2.2")
    assert all(target.new[p] == new for p in target.providers)
    assert target.old["a"] == served("A", 60, "192.0.2.1")
    assert target.old["c"] == new
    assert target.old["d"] is None
    assert target.olds("d") == [served("A", 60, "192.0.2.1"), served("A", 3600, "192.0.2.9"), new]
    assert target.old_ttl == 3600
    assert not target.was_absent


def test_only_answers_that_changed_can_be_stale_in_a_cache():
    """A repair apply: b lacked a record the others already served with TTL 3600 (its
    apply failed while it was down). Caches may hold b's "does not exist" for the
    negative TTL, but nothing stale from a or c, whose answer did not change: watch
    waits the negative TTL, not an hour. And a delete where b already lacked the record
    waits the old TTL only: b's 'does not exist' is the new answer."""
    create = Change("create", "new", "A", None, {"ttl": 3600, "values": ["192.0.2.7"]})
    plan = plan_of(ProviderPlan("a", ZONE), ProviderPlan("b", ZONE, changes=[create]),
                   ProviderPlan("c", ZONE))
    [target], _ = changes_from_plan(plan)
    assert target.old["a"] == target.new["a"]  # it already served it
    assert target.old_ttl is None and target.was_absent
    prop = watch(target)
    events = feed_all(prop, T0 + 1, target.new["b"], negative_ttl=5)
    converged = next(e for e in events if e["event"] == "converged")
    assert converged["basis"] == "negative TTL 5 s"
    assert prop.propagated_at == T0 + 1 + 5 + CLOCK_GRANULARITY

    delete = Change("delete", "www", "A", {"ttl": 300, "values": ["192.0.2.1"]}, None)
    [target], _ = changes_from_plan(plan_of(ProviderPlan("a", ZONE, changes=[delete]),
                                            ProviderPlan("b", ZONE)))
    assert target.old_ttl == 300 and not target.was_absent


def test_providers_holding_a_record_their_own_way_are_not_expected_to_serve_it():
    unsupported = Adjustment("unsupported", "www", "A", "cannot hold A", {"ttl": 300})
    plan = plan_of(ProviderPlan("a", ZONE, changes=[update()]),
                   ProviderPlan("b", ZONE, adjustments=[unsupported]))
    [target], _ = changes_from_plan(plan)
    assert target.providers == ["a"]


def test_targets_create_delete_and_unwatchable_types():
    plan = plan_of(ProviderPlan("a", ZONE, changes=[
        Change("create", "new", "TXT", None, {"ttl": 60, "values": ['"hello world"']}),
        Change("delete", "", "MX", {"ttl": 60, "values": ["10 mail.example.test."]}, None),
        Change("create", "alias", "ALIAS", None, {"ttl": 60, "values": ["www.example.test."]}),
    ]))
    targets, findings = changes_from_plan(plan)
    assert [(t.label, t.action) for t in targets] == [
        ("example.test. MX", "delete"), ("new.example.test. TXT", "create")]
    assert targets[1].was_absent and targets[1].old_ttl is None
    assert targets[0].old_ttl == 60 and targets[0].new["a"].absent
    assert [(f.code, f.type) for f in findings] == [("watch.unwatchable", "ALIAS")]


def test_update_converges_then_caches_expire_after_the_old_ttl():
    target = one_target(update(old_ttl=300, new_ttl=60))
    prop = watch(target)
    start = prop.start()
    assert kinds(start) == ["start"] and start[0]["changes"][0]["action"] == "update"
    # t=1: a has switched, b still serves the old value
    prop.nameserver(T0 + 1, "a", "ns1.a", target, served("A", 60, "192.0.2.2"))
    events = prop.nameserver(T0 + 1, "b", "ns1.b", target, served("A", 300, "192.0.2.1"))
    assert events[0]["state"] == OLD and events[0]["values"] == ["192.0.2.1"]
    prop.serial(T0 + 1, "a", "ns1.a", ZONE, SoaSerial(2, 5))
    prop.serial(T0 + 1, "b", "ns1.b", ZONE, SoaSerial(1, 5))
    events = prop.settle(T0 + 1)
    assert [(e["provider"], e["converged"], e["done"]) for e in events] == [
        ("a", 1, True), ("b", 0, False)]
    assert prop.conclude(T0 + 1) == []
    # t=4: b too; the last nameserver converged at t=4, the old TTL was 300
    events = feed_all(prop, T0 + 4, served("A", 60, "192.0.2.2"), serial=2)
    converged = next(e for e in events if e["event"] == "converged")
    assert converged["t"] == 4 and converged["basis"] == "old TTL 300 s"
    assert prop.expires_at[target.key] == T0 + 4 + 300 + CLOCK_GRANULARITY
    assert kinds(events)[-1] == "authoritative"
    assert prop.conclude(T0 + 200) == []
    assert prop.next_wake(T0 + 304.5, 1.0) == T0 + 305  # wakes exactly at full propagation
    done = prop.conclude(T0 + 305)
    assert done[0]["outcome"] == "propagated" and done[0]["exit_code"] == 0
    assert prop.exit_code == 0


def test_new_name_waits_for_the_largest_negative_ttl_among_providers():
    target = one_target(Change("create", "fresh", "A", None, {"ttl": 60, "values": ["192.0.2.7"]}))
    assert target.action == "create" and target.was_absent
    prop = watch(target)
    for provider in ("a", "b"):  # every nameserver serves the new name, but no SOA read yet
        prop.nameserver(T0 + 2, provider, f"ns1.{provider}", target, served("A", 60, "192.0.2.7"))
    assert "converged" not in kinds(prop.settle(T0 + 2))
    prop.serial(T0 + 3, "a", "ns1.a", ZONE, SoaSerial(5, 5))
    prop.serial(T0 + 3, "b", "ns1.b", ZONE, SoaSerial(9, 30))
    converged = next(e for e in prop.settle(T0 + 3) if e["event"] == "converged")
    assert converged["basis"] == "negative TTL 30 s"
    assert prop.expires_at[target.key] == T0 + 2 + 30 + CLOCK_GRANULARITY  # converged at t=2


def test_deleted_record_converges_on_nxdomain():
    target = one_target(Change("delete", "gone", "A", {"ttl": 120, "values": ["192.0.2.3"]}, None))
    prop = watch(target)
    events = feed_all(prop, T0 + 1, served("A", None, negative="NXDOMAIN"))
    assert events[0]["state"] == NEW and events[0]["exists"] is False
    assert events[0]["rcode"] == "NXDOMAIN"
    assert prop.expires_at[target.key] == T0 + 1 + 120 + CLOCK_GRANULARITY


def test_value_neither_old_nor_new_fails_naming_the_nameserver():
    target = one_target(update())
    prop = watch(target, {"a": ["ns1.a", "ns2.a"], "b": ["ns1.b"]})
    for poll in range(1, OTHER_POLLS + 1):
        prop.nameserver(T0 + poll, "a", "ns1.a", target, served("A", 300, "192.0.2.2"))
        prop.nameserver(T0 + poll, "a", "ns2.a", target, served("A", 300, "198.51.100.1"))
        events = prop.settle(T0 + poll)
        if poll < OTHER_POLLS:
            assert not prop.findings and prop.outcome is None
    finding = events[0]
    assert finding["code"] == "watch.unexpected-value" and finding["severity"] == "error"
    assert finding["nameserver"] == "ns2.a" and finding["provider"] == "a"
    assert finding["observed"] == "300 198.51.100.1" and finding["expected"] == "300 192.0.2.2"
    assert "neither the old nor the new" in finding["message"]
    assert events[-1]["event"] == "done" and events[-1]["outcome"] == "unexpected"
    assert prop.exit_code == 1
    assert prop.auth[("a", "ns2.a", target.key)].state == OTHER
    assert prop.settle(T0 + 9) == [] and prop.conclude(T0 + 9) == []


def test_a_passing_gap_during_a_provider_side_update_is_not_fatal():
    target = one_target(update())
    prop = watch(target)
    prop.nameserver(T0 + 1, "a", "ns1.a", target, served("A", None, negative="NODATA"))
    prop.settle(T0 + 1)
    feed_all(prop, T0 + 2, served("A", 300, "192.0.2.2"))
    assert prop.outcome is None and not prop.findings
    assert prop.conclude(T0 + 303)[0]["outcome"] == "propagated"


def test_ttl_counts_an_old_ttl_is_not_the_new_data():
    target = one_target(update(old="192.0.2.1", new="192.0.2.1", old_ttl=3600, new_ttl=60))
    prop = watch(target)
    events = prop.nameserver(T0, "a", "ns1.a", target, served("A", 3600, "192.0.2.1"))
    assert events[0]["state"] == OLD
    events = prop.nameserver(T0, "b", "ns1.b", target, served("A", 60, "192.0.2.1"))
    assert events[0]["state"] == NEW


def test_timeout_names_each_lagging_nameserver_and_why():
    target = one_target(update())
    prop = watch(target, {"a": ["ns1.a"], "b": ["ns1.b (192.0.2.53)"]}, timeout=10)
    prop.nameserver(T0 + 1, "a", "ns1.a", target, served("A", 300, "192.0.2.2"))
    prop.serial(T0 + 1, "a", "ns1.a", ZONE, SoaSerial(3, 5))
    prop.nameserver(T0 + 1, "b", "ns1.b (192.0.2.53)", target, "timeout: no reply within 3 s")
    prop.settle(T0 + 1)
    assert prop.conclude(T0 + 9.9) == []
    assert prop.next_wake(T0 + 9.5, 1.0) == T0 + 10
    events = prop.settle(T0 + 10) + prop.conclude(T0 + 10)
    lagging = [e for e in events if e.get("code") == "watch.lagging"]
    assert len(lagging) == 1 and lagging[0]["nameserver"] == "ns1.b (192.0.2.53)"
    assert "no usable answer (timeout: no reply within 3 s)" in lagging[0]["message"]
    done = events[-1]
    assert done["outcome"] == "timeout" and done["exit_code"] == 1
    assert done["message"] == (
        "not propagated within 10.0 s: b: 0 of 1 nameserver(s) converged; ns1.b (192.0.2.53):"
        " www.example.test. A no usable answer (timeout: no reply within 3 s)")
    assert [f.code for f in prop.findings] == ["watch.lagging", "watch.timeout"]


def test_timeout_after_convergence_says_caches_may_still_hold_the_old_answer():
    target = one_target(update(old_ttl=3600))
    prop = watch(target, timeout=30)
    feed_all(prop, T0 + 1, served("A", 300, "192.0.2.2"))
    done = prop.conclude(T0 + 30)[-1]
    assert done["outcome"] == "timeout"
    assert done["message"] == ("not propagated within 30.0 s: caches may hold the old www.example.test. A"
                               " until 1970-01-12T14:46:42.000Z")


def test_serials_must_agree_within_a_provider():
    target = one_target(update(), providers=("a",))
    prop = watch(target, {"a": ["ns1.a", "ns2.a"]}, timeout=5)
    for ns, serial in (("ns1.a", 4), ("ns2.a", 3)):
        prop.nameserver(T0 + 1, "a", ns, target, served("A", 300, "192.0.2.2"))
        prop.serial(T0 + 1, "a", ns, ZONE, SoaSerial(serial, 5))
    events = prop.settle(T0 + 1)
    assert "authoritative" not in kinds(events)
    provider = next(e for e in events if e["event"] == "provider")
    assert (provider["converged"], provider["done"]) == (2, False)
    assert provider["serials"] == {ZONE: [4, 3]}
    prop.serial(T0 + 2, "a", "ns2.a", ZONE, SoaSerial(4, 5))
    assert "authoritative" in kinds(prop.settle(T0 + 2))
    prop.serial(T0 + 3, "a", "ns2.a", ZONE, SoaSerial(3, 5))  # a lagging secondary again
    prop.settle(T0 + 3)
    done = prop.conclude(T0 + 5)[-1]
    assert "SOA serials of example.test. differ (ns1.a 4, ns2.a 3)" in done["message"]


def test_regression_resets_convergence():
    target = one_target(update())
    prop = watch(target)
    feed_all(prop, T0 + 1, served("A", 300, "192.0.2.2"))
    assert target.key in prop.expires_at
    prop.nameserver(T0 + 2, "b", "ns1.b", target, served("A", 300, "192.0.2.1"))
    events = prop.settle(T0 + 2)
    assert kinds(events)[0] == "regressed"
    assert target.key not in prop.expires_at and prop.propagated_at is None
    events = feed_all(prop, T0 + 3, served("A", 300, "192.0.2.2"))
    assert prop.expires_at[target.key] == T0 + 3 + 300 + CLOCK_GRANULARITY


def test_resolver_states_and_a_stale_resolver():
    target = one_target(update(old_ttl=5))
    prop = watch(target, resolvers=("9.9.9.9",))
    events = prop.resolver(T0, "9.9.9.9", target, served("A", 4, "192.0.2.1"))
    assert (events[0]["state"], events[0]["ttl"]) == (OLD, 4)
    assert prop.resolver(T0 + 1, "9.9.9.9", target, served("A", 3, "192.0.2.1")) == []
    feed_all(prop, T0 + 1, served("A", 300, "192.0.2.2"))  # cached until T0 + 1 + 5 + 1
    events = prop.resolver(T0 + 8.5, "9.9.9.9", target, served("A", 1, "192.0.2.1"))
    assert [e.get("code") for e in events] == ["watch.resolver-stale"]
    events = prop.resolver(T0 + 9, "9.9.9.9", target, served("A", 300, "192.0.2.2"))
    assert events[0]["state"] == NEW
    assert prop.resolver(T0 + 10, "9.9.9.9", target, "servfail: SERVFAIL")[0]["error"] == (
        "servfail: SERVFAIL")


def test_resolver_ttl_only_change_is_told_apart_by_remaining_ttl():
    target = one_target(update(old="192.0.2.1", new="192.0.2.1", old_ttl=3600, new_ttl=60))
    assert classify_resolved(target, served("A", 3000, "192.0.2.1")) == OLD
    assert classify_resolved(target, served("A", 59, "192.0.2.1")) == NEW
    assert classify_resolved(target, served("A", 59, "192.0.2.99")) == OTHER


def test_failed_apply_is_reported_at_start():
    target = one_target(update())
    prop = Propagation("apply-1", [target], {"a": ["ns1.a"], "b": ["ns1.b"]}, [], T0, 60,
                       failed={"b": "HTTP 500 from http://b"})
    events = prop.start()
    assert events[1]["code"] == "watch.apply-failed" and events[1]["provider"] == "b"


def test_nothing_to_watch_is_propagated_at_once():
    prop = Propagation("apply-1", [], {}, [], T0, 60)
    prop.start()
    assert prop.settle(T0)[-1]["event"] == "authoritative"
    assert prop.conclude(T0)[-1]["outcome"] == "propagated"


def test_txt_split_into_other_strings_is_the_same_text():
    target = one_target(Change("update", "txt", "TXT", {"ttl": 60, "values": ['"old"']},
                               {"ttl": 60, "values": ['"v=spf1 include:a.test ~all"']}))
    prop = watch(target)
    events = prop.nameserver(T0, "a", "ns1.a", target,
                             served("TXT", 60, '"v=spf1 " "include:a.test ~all"'))
    assert events[0]["state"] == NEW
    events = prop.nameserver(T0, "b", "ns1.b", target, served("TXT", 60, '"v=spf1 other"'))
    assert events[0]["state"] == OTHER


def test_a_down_nameserver_is_reported_once_not_at_every_poll():
    target = one_target(update())
    prop = watch(target)
    first = prop.nameserver(T0 + 1, "a", "ns1.a", target, "unreachable: nothing listens there")
    again = prop.nameserver(T0 + 2, "a", "ns1.a", target, "unreachable: not asked: the last 13 questions got no reply")
    other = prop.nameserver(T0 + 3, "a", "ns1.a", target, "timeout: no reply within 3 s")
    assert (len(first), len(again), len(other)) == (1, 0, 1)


def test_flattened_alias_converges_when_the_native_provider_serves_the_resolved_addresses():
    """bind got the ALIAS flattened, pdns expands it itself: both must serve the addresses
    the target resolved to at apply time; pdns's TTL is its own."""
    flat = {"zone": ZONE, "name": "", "type": "ALIAS", "target": "cdn.example.net.", "providers": ["bind"],
            "native": ["pdns"], "values": {"A": ["192.0.2.8"]}, "ttl": 60, "target_ttl": 20,
            "resolved_at": "T", "via": "R", "chain": ["cdn.example.net."], "error": None}
    created = Change("create", "", "A", None, {"ttl": 60, "values": ["192.0.2.8"]})
    plan = plan_of(ProviderPlan("bind", ZONE, changes=[created]),
                   ProviderPlan("pdns", ZONE, changes=[Change("create", "", "ALIAS", None,
                                                             {"ttl": 300, "values": ["cdn.example.net."]})]))
    plan.flattened = [flat]
    [target], findings = changes_from_plan(plan)
    assert findings == [] and target.providers == ["bind", "pdns"]
    assert classify(target, "pdns", served("A", 20, "192.0.2.8")) == NEW  # any TTL
    assert classify(target, "pdns", served("A", 20, "192.0.2.9")) != NEW
    assert classify(target, "bind", served("A", 20, "192.0.2.8")) != NEW  # flattened: the planned TTL
    assert classify(target, "bind", served("A", 60, "192.0.2.8")) == NEW
    # only the ALIAS itself changed (e.g. its TTL at pdns): nothing on the wire to watch, said so
    plan.providers = plan.providers[1:]
    assert [(f.code, f.type) for f in changes_from_plan(plan)[1]] == [("watch.unwatchable", "ALIAS")]
    plan.providers = [ProviderPlan("bind", ZONE, changes=[update()])]  # the ALIAS untouched: no warning
    assert changes_from_plan(plan)[1] == []
