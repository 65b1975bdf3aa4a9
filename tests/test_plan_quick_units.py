"""Fleet plan speed (issue 14), the parts that need no server: a zone's canonical form is
made once and shared by its providers' served zones, yet each provider is judged by what
it will serve; transfer owner names read here mean what dnspython reads; the signed AXFR
query written here is one dnspython and servers accept."""

from __future__ import annotations

import base64

import dns.message
import dns.name
import dns.tsig
import pytest
from octodns.record import Record
from octodns.zone import Zone

from dnssync.model import sameness
from dnssync.model.sameness import canonical, rrsets_of
from dnssync.providers.capabilities import DECLARED_ATTR, served_zone
from dnssync.providers.powerdns import PowerDnsProvider
from dnssync.providers.rfc2136 import Rfc2136Provider
from dnssync.query import axfr
from dnssync.query.wire import name_text

ZONE = "shared.test."
RECORDS = {
    "www": {"type": "A", "ttl": 60, "values": ["192.0.2.1", "192.0.2.2"]},
    "v6": {"type": "AAAA", "values": ["2001:db8::1"]},
    "mail": {"type": "MX", "values": [{"preference": 10, "exchange": "mx.example.net."}]},
    "note": {"type": "TXT", "values": ["v=spf1 -all", "hello world"]},
    "old": {"type": "SPF", "value": "v=spf1 -all"},  # PowerDNS cannot hold SPF
    "_http._tcp": {"type": "URI", "value": {"priority": 10, "weight": 1, "target": "https://x.example/"}},
}


def desired_zone() -> Zone:
    zone = Zone(ZONE, [])
    for name, data in RECORDS.items():
        zone.add_record(Record.new(zone, name, {"ttl": 3600, **data}))
    return zone


def providers() -> list:
    """Built as repo/plugins.py builds them (strict_supports off); nothing is contacted."""
    bind = Rfc2136Provider("bind", "127.0.0.1", strict_supports=False)
    setattr(bind, DECLARED_ATTR, {"min_ttl": 300})  # as a provider file's `capabilities:` does
    return [bind, Rfc2136Provider("knot", "127.0.0.1", strict_supports=False),
            PowerDnsProvider("pdns", "127.0.0.1", "not-used", strict_supports=False)]


def fresh(records, provider_id: str) -> dict:
    """rrsets_of's meaning, computed from scratch for every record (nothing kept)."""
    return {(r.fqdn.lower(), r._type): (r.ttl, canonical(r)[1]) for r in records}


def test_a_zones_canonical_form_is_made_once_and_each_provider_is_judged_by_what_it_serves(monkeypatch):
    desired = desired_zone()
    made = []
    real = sameness.canonical
    monkeypatch.setattr(sameness, "canonical", lambda record: (made.append(record), real(record))[1])
    served = {p.id: served_zone(p, desired) for p in providers()}
    found = {name: rrsets_of(zone.records, name) for name, zone in served.items()}
    # each provider's own served zone: PowerDNS without SPF, BIND and Knot without URI,
    # BIND with its TTL clamp
    for name, zone in served.items():
        assert found[name] == fresh(zone.records, name), name
    assert (f"old.{ZONE}", "SPF") not in found["pdns"] and (f"old.{ZONE}", "SPF") in found["knot"]
    assert (f"_http._tcp.{ZONE}", "URI") in found["pdns"] and (f"_http._tcp.{ZONE}", "URI") not in found["bind"]
    assert found["bind"][(f"www.{ZONE}", "A")][0] == 300 and found["knot"][(f"www.{ZONE}", "A")][0] == 60
    # once per record object: the records a provider left alone are the desired zone's
    # own, shared; BIND's clamped copies (every record but URI, which BIND drops) are its own
    objects = {id(r) for zone in served.values() for r in zone.records}
    assert len(made) == len(objects) == len({id(r) for r in made})
    clamped = [r for r in served["bind"].records if r not in desired.records or r.ttl == 300]
    assert len(objects) == len(RECORDS) + len(clamped) and clamped


def test_a_record_given_other_values_is_made_again():
    desired = desired_zone()
    [www] = [r for r in desired.records if r.name == "www"]
    key = (f"www.{ZONE}", "A")
    before = rrsets_of([www], "knot")[key]
    www.values = [type(www.values[0])("192.0.2.9")]  # octoDNS value objects, as a setter would give
    after = rrsets_of([www], "knot")[key]
    assert before != after and after == fresh([www], "knot")[key]
    copy = www.copy(values=["192.0.2.7", "192.0.2.8"])  # a provider's adjusted copy
    assert rrsets_of([copy], "knot") == fresh([copy], "knot") != rrsets_of([www], "knot")


@pytest.mark.parametrize("text", [
    ".", "example.", "h000001.s00001.test.", "WWW.Example.ORG.", "*.wild.test.", "_sip._tcp.x.test.",
    "a-b.c_d.test.", r"a\.b.test.", r"sp\032ace.test.", r"at\@.test.", r"q\"uote.test.", r"\(p\).test.",
    r"semi\;colon.test.", r"dollar\$.test.", r"\195\169t\195\169.test.", r"nul\000.test.", "x" * 63 + ".test.",
])
def test_a_transfer_owner_name_reads_as_dnspython_writes_it(text):
    name = dns.name.from_text(text)
    assert name_text(name.to_wire()) == name.to_text()


def test_the_signed_transfer_query_is_one_dnspython_accepts():
    key = dns.tsig.Key("xfr-key.", base64.b64encode(b"k" * 32).decode(), "hmac-sha256")
    stream = axfr._Stream("Example.Test.", key)
    query = dns.message.from_wire(stream.request[2:], keyring={key.name: key})  # raises unless the MAC is right
    assert query.id == stream.id and query.mac == stream.mac and query.had_tsig
    assert query.question[0].to_text() == "Example.Test. IN AXFR" and query.flags & dns.flags.RD
    other = dns.tsig.Key("xfr-key.", base64.b64encode(b"w" * 32).decode(), "hmac-sha256")
    with pytest.raises(dns.tsig.BadSignature):
        dns.message.from_wire(stream.request[2:], keyring={other.name: other})
    unsigned = axfr._Stream("example.test.", None)
    plain = dns.message.from_wire(unsigned.request[2:])
    assert not plain.had_tsig and not plain.additional and unsigned.mac == b""
