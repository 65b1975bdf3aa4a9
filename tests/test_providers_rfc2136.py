"""The RFC 2136 provider without a server: update ordering, the apex NS value by value, BIND's check-integrity."""

from __future__ import annotations

import dns.rdatatype
from octodns.record import Create, Delete, Record, Update
from octodns.zone import Zone

from dnssync.providers.rfc2136 import BindProvider, KnotProvider


def make_record(zone: Zone, name: str, data: dict) -> Record:
    return Record.new(zone, name, data)


def test_rfc2136_orders_deletes_then_addresses_then_pointers():
    zone = Zone("example.com.", [])
    provider = KnotProvider("k", "127.0.0.1", strict_supports=False)
    mx = make_record(zone, "a", {"type": "MX", "ttl": 60, "value": {"exchange": "z.example.com.", "preference": 1}})
    address = make_record(zone, "z", {"type": "A", "ttl": 60, "value": "192.0.2.1"})
    gone_cname = make_record(zone, "old", {"type": "CNAME", "ttl": 60, "value": "z.example.com."})
    gone_address = make_record(zone, "b", {"type": "A", "ttl": 60, "value": "192.0.2.9"})
    ops = provider._operations([Create(mx), Create(address), Delete(gone_address), Delete(gone_cname)])
    assert [(op.action, op.name.split(".")[0]) for op in ops] == [
        ("delete", "old"), ("delete", "b"), ("add", "z"), ("add", "a")]


def test_rfc2136_apex_ns_changed_value_by_value():
    zone = Zone("example.com.", [])
    provider = KnotProvider("k", "127.0.0.1", strict_supports=False)
    old = make_record(zone, "", {"type": "NS", "ttl": 60, "values": ["a.ns.", "b.ns."]})
    new = make_record(zone, "", {"type": "NS", "ttl": 3600, "values": ["b.ns.", "c.ns."]})
    [batch] = provider._batches(provider._operations([Update(old, new)]))
    update = provider._message("example.com.", batch)
    rrs = [(rrset.deleting, rrset.ttl, sorted(r.to_text() for r in rrset)) for rrset in update.update]
    assert all(rrset.rdtype == dns.rdatatype.NS for rrset in update.update)
    # never "delete the whole NS RRset" (servers ignore it); b re-added for the new TTL; a deleted last
    assert [r for r in rrs if r[0] is not None and not r[2]] == []
    assert rrs[-1][2] == ["a.ns."] and rrs[-1][0] is not None
    assert (None, 3600, ["c.ns."]) in rrs and (None, 3600, ["b.ns."]) in rrs


def test_bind_check_integrity_judges_in_zone_by_label():
    """An MX to mx.foobar.com. is not in zone bar.com.; one to a name below a delegation is
    the child's business; only an in-zone exchange without an address is refused."""

    zone = Zone("bar.com.", [])
    for name, data in {
        "": {"type": "MX", "ttl": 60, "values": [{"exchange": "mx.foobar.com.", "preference": 1},
                                                   {"exchange": "mx.child.bar.com.", "preference": 2}]},
        "child": {"type": "NS", "ttl": 60, "value": "ns.example.net."},
        "bad": {"type": "MX", "ttl": 60, "value": {"exchange": "nowhere.bar.com.", "preference": 1}},
    }.items():
        zone.add_record(make_record(zone, name, data))
    provider = BindProvider("b", "127.0.0.1", strict_supports=False)
    served = provider._process_desired_zone(zone.copy())
    assert {(r.name, r._type) for r in served.records} == {("", "MX"), ("child", "NS")}
    bad = next(r for r in zone.records if r.name == "bad")
    assert "nowhere.bar.com." in provider.unsupported_reason(bad)
