"""Reading back only what an apply changed.

After a provider reports success, apply trusts only what it reads back. Re-planning
the whole zone for that (a full read, every record built into an octoDNS object and
compared) cost as much as the apply itself: a fleet's first apply read every zone
twice. Here only the names the plan changed are looked at: the provider reads them
(`read_names`: one transfer or one API read, nothing built), and every RRset there
must be exactly what was planned, compared in DNS's meaning (sameness.py: type, TTL
and the set of canonical RDATA, as verify compares answers).

This only ever certifies an apply. When anything differs, or cannot be told this way
(a provider without `read_names`, flattening processors, dynamic or provider-specific
records, a read that fails), the caller re-plans the whole zone as before, and that
plan names what is still pending: what the user sees on a failure is unchanged.
"""

from __future__ import annotations

from typing import Any

from octodns.record import Record

from dnssync.model.sameness import canonical
from dnssync.planning.planner import LivePlan

#: (lower-case absolute name, octoDNS type) -> (TTL, canonical RDATA): what a provider's
#: `read_names` returns and what the plan wants there
Rrsets = dict[tuple[str, str], tuple[int, frozenset[bytes]]]


def stored(sent: LivePlan) -> bool:
    """Whether reading back the names `sent` changed shows exactly its desired RRsets
    there (nothing missing, nothing else, same TTLs and values). False when they differ
    or it cannot be told here; the caller then re-plans the zone."""
    octo, read = sent.octo, getattr(sent.provider, "read_names", None)
    if octo is None or read is None or sent.processors or not octo.changes:
        return False
    names = {change.record.fqdn.lower() for change in octo.changes}
    wanted = _wanted(octo.desired.records, names, sent.provider.id)
    if wanted is None:
        return False
    try:
        found = read(octo.desired.name, names)
    except Exception:  # any failure to read: the full re-plan reads again and reports it
        return False
    return found == wanted


def _wanted(records: Any, names: set[str], provider_id: str) -> Rrsets | None:
    """The desired RRsets at `names` as the provider must now hold them; None when one
    of them is not a plain RRset that `canonical` describes whole."""
    wanted: Rrsets = {}
    for record in records:
        fqdn = record.fqdn.lower()
        if fqdn not in names:
            continue
        if not _plain(record, provider_id):
            return None
        try:
            _, values = canonical(record)
        except Exception:  # a type without presentation text or one dnspython lacks: re-plan
            return None
        wanted[(fqdn, record._type)] = (record.ttl, values)
    return wanted


def _plain(record: Record, provider_id: str) -> bool:
    """A record octoDNS plans like any other for this provider: not ignored or
    excluded (octoDNS would plan nothing for it), not dynamic or geo (more than
    its RDATA), not a provider-specific type."""
    return not (record.ignored or provider_id in record.excluded
                or (record.included and provider_id not in record.included)
                or getattr(record, "dynamic", None) or getattr(record, "geo", None)
                or "/" in record._type)
