"""What is made once per record object (model/records.kept): the canonical RDATA plan,
read-back and verify compare, and the values a plan shows. A zone's records are shared
by every provider's served zone, so each is made once, and made again when the record
has other values or another TTL."""

from __future__ import annotations

from octodns.record import Record
from octodns.zone import Zone

from dnssync.model.records import kept, rrset_data
from dnssync.model.sameness import rrsets_of


def record(values=("192.0.2.2", "192.0.2.1"), ttl=300) -> Record:
    zone = Zone("example.test.", [])
    return Record.new(zone, "www", {"type": "A", "ttl": ttl, "values": list(values)})


def test_made_once_per_record_and_again_for_other_values_or_ttl():
    made = []

    def make(r):
        made.append((tuple(r.values), r.ttl))
        return len(made)

    www = record()
    assert [kept(www, "_test", make) for _ in range(3)] == [1, 1, 1]
    www.ttl = 60  # another TTL: made again
    assert kept(www, "_test", make) == 2
    www.values = record(["192.0.2.9"]).values  # other values (a new object): made again
    assert kept(www, "_test", make) == 3
    assert made == [(("192.0.2.1", "192.0.2.2"), 300), (("192.0.2.1", "192.0.2.2"), 60), (("192.0.2.9",), 60)]
    assert kept(record(), "_test", make) == 4  # another record object with the same content: its own


def test_shown_values_are_each_callers_own_and_follow_the_record():
    www = record()
    first = rrset_data(www)
    assert first == {"ttl": 300, "values": ["192.0.2.1", "192.0.2.2"]}
    first["values"].append("mutated by a caller")
    assert rrset_data(www) == {"ttl": 300, "values": ["192.0.2.1", "192.0.2.2"]}
    www.values = record(["192.0.2.3"]).values
    www.ttl = 60
    assert rrset_data(www) == {"ttl": 60, "values": ["192.0.2.3"]}
    assert rrsets_of([www], "p") == {("www.example.test.", "A"): (60, frozenset({bytes([192, 0, 2, 3])}))}
