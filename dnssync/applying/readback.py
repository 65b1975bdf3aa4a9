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

from dnssync.model.sameness import rrsets_of
from dnssync.planning.planner import LivePlan
from dnssync.providers.breaker import asking


def stored(sent: LivePlan) -> bool:
    """Whether reading back the names `sent` changed shows exactly its desired RRsets
    there (nothing missing, nothing else, same TTLs and values). False when they differ
    or it cannot be told here; the caller then re-plans the zone."""
    octo, read = sent.octo, getattr(sent.provider, "read_names", None)
    if octo is None or read is None or sent.processors or not octo.changes:
        return False
    names = {change.record.fqdn.lower() for change in octo.changes}
    wanted = rrsets_of(octo.desired.records, sent.provider.id, names)
    if wanted is None:
        return False
    try:
        with asking(sent.provider, octo.desired.name):
            found = read(octo.desired.name, names)
    except Exception:  # any failure to read: the full re-plan reads again and reports it
        return False
    return found == wanted
