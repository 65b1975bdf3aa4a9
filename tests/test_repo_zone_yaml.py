"""repo/zones.py `zone_yaml` (snapshots, `import`) writes what octoDNS's own `safe_dump`
writes, through libyaml's emitter: the same text, but for the apex key, which libyaml
writes as `'':` (as zone files usually do) where octoDNS's emitter writes `? ''` (and
so indents the apex's list of records one step more). It loads back to the same records."""

from __future__ import annotations

import io
import re

import yaml
from octodns.record import Record
from octodns.yaml import safe_dump
from octodns.zone import Zone

from dnssync.repo.zones import zone_yaml

RECORDS = {
    "": [{"type": "NS", "ttl": 3600, "values": ["ns1.example.net.", "ns2.example.net."]},
         {"type": "MX", "values": [{"preference": 10, "exchange": "mx1.example.net."},
                                   {"preference": 20, "exchange": "mx2.example.net."}]},
         {"type": "CAA", "values": [{"flags": 0, "tag": "issue", "value": "ca.example.net"}]},
         {"type": "TXT", "values": ["v=spf1 -all", "semi\\;colon", "quote \"inside\"", "with spaces and: a colon"]}],
    "h2": [{"type": "A", "value": "192.0.2.2"}, {"type": "AAAA", "value": "2001:db8::2"}],
    "h10": [{"type": "A", "ttl": 60, "values": ["192.0.2.10", "192.0.2.11"]}],
    "*": [{"type": "CNAME", "value": "h2.zone.test."}],
    "_sip._tcp": [{"type": "SRV", "values": [{"priority": 10, "weight": 5, "port": 5060,
                                                "target": "sip.example.net."}]}],
    "naptr": [{"type": "NAPTR", "values": [{"order": 100, "preference": 10, "flags": "S", "service": "SIP+D2U",
                                             "regexp": "", "replacement": "_sip._udp.zone.test."}]}],
    "ssh": [{"type": "SSHFP", "values": [{"algorithm": 1, "fingerprint_type": 1,
                                          "fingerprint": "bf6b6825d2977c511a475bbefb88aad54a92ac73"}]}],
    "10": [{"type": "PTR", "value": "h10.zone.test."}],
    "yes": [{"type": "TXT", "value": "no"}],  # YAML 1.1 booleans stay strings
}


def zone() -> Zone:
    built = Zone("zone.test.", [])
    for name, records in RECORDS.items():
        for data in records:
            built.add_record(Record.new(built, name, {"ttl": 300, **data}))
    return built


def octodns_text(z: Zone) -> str:
    data: dict[str, list[dict]] = {}
    for record in sorted(z.records, key=lambda r: (r.name, r._type)):
        data.setdefault(record.name, []).append({**record.data, "type": record._type})
    handle = io.StringIO()
    safe_dump({k: v[0] if len(v) == 1 else v for k, v in data.items()}, handle)
    return handle.getvalue()


def test_zone_yaml_is_octodns_safe_dump_but_for_the_apex_key():
    z = zone()
    ours, theirs = zone_yaml(z), octodns_text(z)
    assert "? ''" in theirs and "? ''" not in ours
    apex, rest = theirs.split("\n'10':", 1)
    assert ours.endswith("\n'10':" + rest)  # every other name exactly as octoDNS writes it
    assert re.sub(r"\n  ", "\n", apex.replace("? ''\n: ", "'':\n  ")) == ours.split("\n'10':")[0]
    assert ours.index("h2:") < ours.index("h10:")  # natural order, as octoDNS sorts
    assert yaml.safe_load(ours) == yaml.safe_load(theirs)
    again = Zone("zone.test.", [])
    for name, value in yaml.safe_load(ours).items():
        for item in value if isinstance(value, list) else [value]:
            again.add_record(Record.new(again, name, item))
    assert {(r.name, r._type, r.ttl, repr(r.data)) for r in again.records} == \
        {(r.name, r._type, r.ttl, repr(r.data)) for r in z.records}
