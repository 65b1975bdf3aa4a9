"""What each provider must answer (verify/expect.py), without a server."""

from __future__ import annotations

from octodns.record import Record
from octodns.zone import Zone

from dnssync.verify.expect import _Builder


def test_expectations_builder_never_mistakes_one_record_for_a_freed_one():
    """Expectations are built once per record object and cached by its id(). A record
    that builds to nothing (below a delegation) used to be freed after building, so the
    next record allocated at its address (another provider's adjusted copy) got its empty
    expectations: silently never asked."""

    zone = Zone("idreuse.test.", [])
    zone.add_record(Record.new(zone, "sub", {"type": "NS", "ttl": 60, "values": ["ns1.elsewhere.example."]}))
    occluded = Record.new(zone, "x.sub", {"type": "TXT", "ttl": 60, "value": "below the cut"})
    data = Record.new(zone, "www", {"type": "TXT", "ttl": 60, "value": "data"})
    builder = _Builder(zone)
    for _ in range(50):
        copy = occluded.copy()
        assert builder.build(copy) == []
        del copy
        adjusted = data.copy()  # as a provider's clamped copy would be
        assert [e.kind for e in builder.build(adjusted)] == ["data"]
        del adjusted
