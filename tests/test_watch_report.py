"""How watch shows itself: one log line per event, and the live view on a terminal;
and how it finds and reads an apply record."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from dnssync.applying.state import digest, find_apply, write_json
from dnssync.model.errors import UsageError
from dnssync.model.plan import Plan, ProviderPlan
from dnssync.report.watch import event_line, live_view
from dnssync.watch.changes import read_apply
from dnssync.watch.propagation import Propagation, SoaSerial
from tests.test_watch_model import T0, ZONE, feed_all, one_target, served, update


def text(renderable) -> str:
    console = Console(width=140, record=True, no_color=True)
    console.print(renderable)
    return console.export_text()


def test_event_lines_say_what_happened():
    target = one_target(update(old_ttl=5))
    prop = Propagation("apply-1", [target], {"a": ["ns1.a"], "b": ["ns1.b"]}, ["9.9.9.9"], T0, 60)
    lines = [event_line(e) for e in prop.start()]
    assert "Watching apply apply-1: 1 change(s) on 2 provider(s) (2 nameserver(s)), 1 resolver(s)" \
        in text(lines[0])
    old = prop.nameserver(T0 + 1, "a", "ns1.a", target, served("A", 5, "192.0.2.1"))[0]
    assert text(event_line(old)).strip() == (
        "[+1.0s] a ns1.a: www.example.test. A old (192.0.2.1; TTL 5)")
    new = prop.nameserver(T0 + 2, "a", "ns1.a", target, served("A", 300, "192.0.2.2"))[0]
    assert event_line(new) is None  # progress shows in the provider line
    events = feed_all(prop, T0 + 2, served("A", 300, "192.0.2.2"))
    shown = "".join(text(line) for line in map(event_line, events) if line is not None)
    assert "a: 1 of 1 nameserver(s) serve every change (example.test. serial 7) converged" in shown
    assert "www.example.test. A is served by every nameserver; caches may hold the old answer" \
        " until 1970-01-12T13:46:48.000Z (old TTL 5 s)" in shown
    assert "Every nameserver of every provider serves the change; caches may hold old answers until" \
        " 1970-01-12T13:46:48.000Z" in shown and "fully propagated" not in shown
    resolver = prop.resolver(T0 + 3, "9.9.9.9", target, served("A", 2, "192.0.2.1"))[0]
    assert text(event_line(resolver)).strip() == (
        "[+3.0s] resolver 9.9.9.9: www.example.test. A old (192.0.2.1; remaining TTL 2)")
    done = prop.conclude(T0 + 8)[0]
    assert "fully propagated" in text(event_line(done))


def test_live_view_counts_nameservers_and_counts_down():
    target = one_target(update(old_ttl=5))
    prop = Propagation("apply-1", [target], {"a": ["ns1.a", "ns2.a"], "b": ["ns1.b"]},
                       ["9.9.9.9"], T0, 60)
    prop.nameserver(T0 + 1, "a", "ns1.a", target, served("A", 300, "192.0.2.2"))
    prop.serial(T0 + 1, "a", "ns1.a", ZONE, SoaSerial(4, 5))
    prop.settle(T0 + 1)
    shown = text(live_view(prop, T0 + 1))
    assert "│ a        │ 1/2       │ 4, ?" in shown
    assert "1/3 new" in shown and "converging" in shown
    assert "Waiting for nameservers; timeout at 1970-01-12T13:47:40.000Z (in 59 s)" in shown
    feed_all(prop, T0 + 2, served("A", 300, "192.0.2.2"))
    prop.resolver(T0 + 2, "9.9.9.9", target, served("A", 3, "192.0.2.1"))
    shown = text(live_view(prop, T0 + 4))
    assert "3/3 new" in shown and "(in 4 s)" in shown
    assert "│ 9.9.9.9  │ www.example.test. A │ old     │ 3   │" in shown
    assert "caches may hold old answers until 1970-01-12T13:46:48.000Z (in 4 s); timeout at" in shown
    assert "Fully propagated" not in shown
    prop.conclude(T0 + 8)
    assert "Fully propagated at 1970-01-12T13:46:48.000Z" in text(live_view(prop, T0 + 8))


def test_a_watch_that_times_out_says_what_is_pending_never_success():
    """A timeout after every nameserver converged, with an old TTL of an hour: the last
    frame and the end line say which caches may hold what until when, never "propagated"."""
    target = one_target(update(old_ttl=3600))
    prop = Propagation("apply-1", [target], {"a": ["ns1.a"], "b": ["ns1.b"]}, ["9.9.9.9"], T0, 60)
    events = feed_all(prop, T0 + 1, served("A", 300, "192.0.2.2"))
    events += prop.resolver(T0 + 2, "9.9.9.9", target, served("A", 3500, "192.0.2.1"))
    events += prop.conclude(T0 + 60)
    assert events[-1]["outcome"] == "timeout" and prop.exit_code == 1
    console = Console(width=80, record=True, no_color=True)
    for line in filter(None, map(event_line, events)):
        console.print(line)
    console.print(live_view(prop, T0 + 60))
    shown = console.export_text()
    assert "propagated at" not in shown.lower()
    pending = ("caches may hold the old www.example.test. A until 1970-01-12T14:46:42.000Z (9.9.9.9"
               " still answer(s) the old value)")
    assert pending in " ".join(shown.split())
    assert shown.count("ot propagated within 60.0 s: caches may hold") == 2  # the end line, the last frame


def record(tmp_path, plan: Plan, outcomes: list[dict], apply_id: str = "20260101T000000.000001Z"):
    path = tmp_path / "applies" / f"{apply_id}.json"
    write_json(path, {"id": apply_id, "snapshot": None, "plan": plan.to_json(),
                      "outcomes": outcomes}, sealed=True)  # record format 1 (still read; see test_applying_state)
    return path


def test_apply_records_are_found_by_latest_id_or_prefix_and_read_back(tmp_path):
    plan = Plan(zones={}, providers=[ProviderPlan("a", ZONE, changes=[update()]),
                                     ProviderPlan("b", ZONE, changes=[update()])])
    first = record(tmp_path, plan, [], "20260101T000000.000001Z")
    second = record(tmp_path, plan, [
        {"provider": "a", "zone": ZONE, "status": "applied"},
        {"provider": "b", "zone": ZONE, "status": "failed", "error": "HTTP 500"}],
        "20260102T000000.000001Z")
    assert find_apply(tmp_path) == second
    assert find_apply(tmp_path, "20260101") == first
    with pytest.raises(UsageError, match="no unique apply '2026'"):
        find_apply(tmp_path, "2026")
    watched = read_apply(second)
    assert watched.apply_id == "20260102T000000.000001Z"
    assert [t.label for t in watched.changed] == ["www.example.test. A"]
    assert watched.failed == {"b": "HTTP 500"}


def test_an_edited_apply_record_is_refused(tmp_path):
    plan = Plan(zones={}, providers=[ProviderPlan("a", ZONE, changes=[update()])])
    path = record(tmp_path, plan, [])
    data = json.loads(path.read_text())
    data["plan"] = data["plan"].replace("192.0.2.2", "192.0.2.3")
    path.write_text(json.dumps(data))
    with pytest.raises(UsageError, match="checksum does not match its content"):
        read_apply(path)
    data.pop("checksum")  # the record re-summed: the plan's own checksum still catches the edit
    path.write_text(json.dumps({**data, "checksum": digest(data)}))
    with pytest.raises(UsageError, match="modified after it was made"):
        read_apply(path)
    path.write_text("{not json")
    with pytest.raises(UsageError, match=r"apply record .* is damaged"):
        read_apply(path)
