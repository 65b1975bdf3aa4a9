"""octoDNS records as plain data: TTL and sorted presentation values (how plans,
drift and verify show an RRset), the YAML data that rebuilds a record exactly, a
zone's content and digest, and where the names a zone's records point at land.
Pure functions over octoDNS's record model: no I/O, importable by every layer."""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from octodns.record import Record
from octodns.zone import Zone

#: (zone, name, type) -> (file, line) of the record in git
Locate = Callable[[str, str, str], tuple[str | None, int | None]]


def meant_for(record: Record, provider: str) -> bool:
    """Whether octoDNS sends `record` to `provider`: not `ignored`, not `excluded` for it,
    and named by `included` when that is given. The one reading of the rule, for the
    planner's adapter, parity, ALIAS flattening and verify. A record without octoDNS
    settings (most) is meant for every provider, known without reading them."""
    return not record.octodns or (not record.ignored and provider not in record.excluded and (
        not record.included or provider in record.included))


def meant_providers(record: Record, providers: list[str]) -> list[str]:
    """The providers of `providers` that `record` is meant for (`meant_for`), in order:
    all of them for a record without octoDNS settings (most records; parity asks for
    every record of every zone a plan covers)."""
    if not record.octodns:
        return list(providers)
    return [p for p in providers if meant_for(record, p)]


_T = TypeVar("_T")


def rrset_data(record: Record) -> dict[str, Any]:
    """A record as TTL and sorted presentation-format values: how plans show values. A
    plugin's own type (`PowerDnsProvider/LUA`) may have no presentation format: its
    values are shown as JSON. The values are made once per record object (`kept`): a
    zone new at three providers shows the same records' changes three times."""
    return {"ttl": record.ttl, "values": list(shown_values(record))}


def shown_values(record: Record) -> tuple[str, ...]:
    """The record's values as sorted presentation text (octoDNS's `to_rrset`), made once
    per record object (`kept`): plans show them, and an RFC 2136 update is written from
    the same text, for the same record objects (they were a twentieth of an apply's CPU)."""
    return kept(record, "_dnssync_shown", _shown_values)


def _shown_values(record: Record) -> tuple[str, ...]:
    try:
        rrset = record.to_rrset()
    except AttributeError:  # octoDNS's value_to_rdata_text: a value class without rdata_text
        values = getattr(record, "values", None) or [getattr(record, "value", None)]
        return tuple(sorted(json.dumps(_plain(v), sort_keys=True) for v in values))
    return tuple(sorted(rrset.rdatas))


def kept(record: Record, attr: str, make: Callable[[Record], _T]) -> _T:
    """`make(record)`, made once per record object and kept on it (as `attr`) beside the
    values object and TTL it was made from. Why: every provider's served zone is a copy
    of the one desired zone that shares its record objects (capabilities.served_zone
    copies the zone, not the records it leaves alone), so a zone planned at three
    providers made the same thing three times. A record given other values or another
    TTL (octoDNS copies a record to change it, but a copy of the object would carry this
    along) is made again; a record holding neither `values` nor `value` is never kept."""
    state = record.__dict__
    source = state.get("values", state.get("value"))
    found = state.get(attr)
    if found is not None and found[0] is source and found[1] == record.ttl:
        return found[2]
    made = make(record)
    if source is not None:
        state[attr] = (source, record.ttl, made)
    return made


def _plain(value: Any) -> Any:
    """octoDNS values (dict and str subclasses, tuples) as plain JSON types."""
    if type(value) in _PLAIN_TYPES:  # a TTL, a plain string: most of a plan's zone content
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)


#: types `_plain` gives back as they are
_PLAIN_TYPES = frozenset((str, int, float, bool, type(None)))


def rrset_text(data: dict[str, Any] | None) -> str:
    """`{"ttl": 300, "values": [...]}` as one line, `300 192.0.2.1, 192.0.2.2` ('' for None)."""
    return "" if not data else f"{data['ttl']} " + ", ".join(data["values"])


def served_rrset(record: Record) -> dict[str, Any]:
    """What resolvers get for a record: TTL and sorted values (flagged when dynamic: the
    answer varies by client and the values are its default)."""
    data = rrset_data(record)
    if getattr(record, "dynamic", None):
        data["dynamic"] = True
    return data


def record_data(record: Record) -> dict[str, Any]:
    """A record as octoDNS YAML data (type included), JSON-safe, to rebuild it exactly."""
    data = _plain(record.data)
    data["type"] = record._type
    return data


def digest(zone: Zone) -> str:
    """A digest of a zone's records, to notice any change of the provider's live state.
    octoDNS keeps values sorted and their reprs are deterministic, so repr is enough and
    much cheaper than rendering every value as rdata text."""
    rows = sorted(f"{r.name}\t{r._type}\t{r.ttl}\t{getattr(r, 'values', None) or r.value!r}" for r in zone.records)
    return "sha256:" + hashlib.sha256("\n".join(rows).encode()).hexdigest()


def zone_content(zone: Zone) -> list[dict[str, Any]]:
    return [{"name": r.name, **record_data(r)}
            for r in sorted(zone.records, key=lambda r: (r.name, r._type))]


def zone_from_content(name: str, content: list[dict[str, Any]], sub_zones: set[str]) -> Zone:
    """Rebuild a desired zone from a plan file's content (exactly what was reviewed)."""
    zone = Zone(name, sub_zones)
    for item in content:
        data = dict(item)
        record_name = data.pop("name")
        zone.add_record(Record.new(zone, record_name, data, lenient=True), lenient=True)
    return zone


_ADDRESS_TYPES = ("A", "AAAA")


def pointed_names(record: Record) -> Iterator[str]:
    """The host names a record points at (NS, MX, SRV, CNAME, DNAME, PTR)."""
    rtype = record._type
    if rtype in ("CNAME", "DNAME", "ALIAS"):
        yield record.value
    elif rtype in ("NS", "PTR"):
        yield from record.values
    elif rtype == "MX":
        yield from (v.exchange for v in record.values)
    elif rtype == "SRV":
        yield from (v.target for v in record.values if v.target != ".")


def looks_like_address(target: str) -> bool:
    try:
        ipaddress.ip_address(target.rstrip("."))
    except ValueError:
        return False
    return True


class ZoneIndex:
    """Where the names a zone's records point at land: in the zone, below one of its
    delegations (served by the child), and which types exist there. Shared by these
    checks and by the BIND provider's check-integrity rule, so both judge alike."""

    def __init__(self, zone: Zone):
        self.zone = zone.name.lower()
        self.types: dict[str, set[str]] = {}
        for record in zone.records:
            self.types.setdefault(record.fqdn.lower(), set()).add(record._type)
        self.delegations = {r.fqdn.lower() for r in zone.records if r._type == "NS" and r.name}

    def in_zone(self, fqdn: str) -> bool:
        fqdn = fqdn.lower()
        return fqdn == self.zone or fqdn.endswith("." + self.zone)

    def below_delegation(self, fqdn: str) -> bool:
        fqdn = fqdn.lower()
        return any(fqdn == d or fqdn.endswith("." + d) for d in self.delegations)

    def has_address(self, fqdn: str) -> bool:
        return bool(self.types.get(fqdn.lower(), set()) & set(_ADDRESS_TYPES))
