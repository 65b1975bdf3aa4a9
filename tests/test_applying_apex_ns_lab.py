"""The apex NS managed as the union of every provider's nameservers, on the real servers.

Zones start the way a provider creates them: their apex NS lists that provider's own
nameserver (plus a stale one). dnssync writes the union everywhere, only with --force
(an apex NS change of an existing zone), and the next plan shows no change. octodns-bind's
own provider is run on the same kind of zone: its replace of the apex NS leaves the old
values in place (servers ignore a delete of the whole apex NS RRset, RFC 2136 3.4.2.4),
so it plans the same change forever (octodns-bind issue 70).
"""

from __future__ import annotations

import json

import pytest
from octodns.record import Record
from octodns.zone import Zone
from octodns_bind import Rfc2136Provider as OctodnsRfc2136Provider

from dnssync.providers.rfc2136 import BindProvider, KnotProvider
from tests.conftest import unique_zone
from tests.test_push_lab import ask

STALE = "ns1.stale.example."


def own_apex_ns(lab, zone: str) -> None:
    """Create `zone` on each server with an apex NS of its own nameserver and a stale one."""
    for name, server in lab.servers.items():
        lab.add_zone(zone, [name], nameservers=[server.nameserver, STALE])


def test_apex_ns_converges_to_the_union_on_all_three_and_needs_force(make_repo, lab):
    zone = unique_zone()
    own_apex_ns(lab, zone)
    repo = make_repo({zone: "www:\n  type: A\n  value: 192.0.2.1\n"}, create=False)
    plan = json.loads(repo.run("plan", "--format", "json").stdout)
    for pp in plan["providers"]:
        [ns] = [c for c in pp["changes"] if c["type"] == "NS"]
        assert ns["name"] == "" and ns["action"] == "update"
        assert ns["desired"]["values"] == lab.nameservers
        assert "Root NS" in pp["unsafe"]

    refused = repo.run("apply", "--yes")
    assert refused.exit_code == 1 and "--force" in refused.output
    for name, server in lab.servers.items():  # nothing was sent
        assert ask(lab, name, zone, "NS") == {server.nameserver, STALE}
        assert ask(lab, name, f"www.{zone}", "A") == set()

    applied = repo.run("apply", "--yes", "--force")
    assert applied.exit_code == 0, applied.output
    for name in lab.servers:
        assert ask(lab, name, zone, "NS") == set(lab.nameservers), name
    again = repo.run("plan", "--detailed-exitcode")
    assert again.exit_code == 0, again.output


def desired_with_union(zone: str, lab) -> Zone:
    desired = Zone(zone, [])
    desired.add_record(Record.new(desired, "", {"type": "NS", "ttl": 3600, "values": lab.nameservers}))
    return desired


@pytest.mark.parametrize(("server", "fixed"), [("bind", BindProvider), ("knot", KnotProvider)])
def test_octodns_bind_replace_of_apex_ns_never_converges_ours_does(lab, server, fixed):
    s = lab.servers[server]
    options = {"key_name": s.key_name, "key_secret": s.key_secret, "key_algorithm": "hmac-sha256"}

    # the bug (octodns-bind issue 70), against the real server
    zone = unique_zone("ns")
    lab.add_zone(zone, [server], nameservers=[s.nameserver, STALE])
    desired = desired_with_union(zone, lab)
    original = OctodnsRfc2136Provider("original", s.address, **options)
    first = original.plan(desired)
    original.apply(first)
    assert ask(lab, server, zone, "NS") == {*lab.nameservers, STALE}  # the stale value stays
    second = original.plan(desired)
    assert second is not None  # ... and the same change is planned again, forever
    assert [(c.record.name, c.record._type) for c in second.changes] == [("", "NS")]

    # dnssync's subclass, same starting point: value by value, converged
    zone = unique_zone("ns")
    lab.add_zone(zone, [server], nameservers=[s.nameserver, STALE])
    desired = desired_with_union(zone, lab)
    ours = fixed("ours", s.address, **options)
    ours.apply(ours.plan(desired))
    assert ask(lab, server, zone, "NS") == set(lab.nameservers)
    assert ours.plan(desired) is None
