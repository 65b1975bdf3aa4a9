"""The octoDNS adapter: what a provider would really serve of a desired zone, and
each record it drops or changes named with the reason (`Adjustment`), so the plan
shows it before anything is sent."""

from __future__ import annotations

from operator import attrgetter

from octodns.provider.base import BaseProvider
from octodns.record import Record
from octodns.zone import Zone

from dnssync.model.plan import Adjustment
from dnssync.model.records import meant_for, record_data, served_rrset
from dnssync.model.sameness import distinct
from dnssync.providers.capabilities import refusal_reason, served_zone

_NAME_TYPE = attrgetter("name", "_type")  # git's order: by name, then type


def adjustments(provider: BaseProvider, desired: Zone) -> tuple[list[Adjustment], Zone]:
    """What `provider` would actually serve of `desired`, and how that differs from git.

    Runs the provider's own octoDNS `_process_desired_zone` (its SUPPORTS flags,
    dynamic/geo fallbacks, multi-value PTR) and its normalisations (TTL clamp) on
    a copy, so what plan shows is what will really be served, never a silent drop.
    Git's records are taken in DNS's meaning (model/sameness.py): a value written twice is
    the same record, not a difference."""
    served = served_zone(provider, desired)
    by_key = {(r.name, r._type): r for r in served.records}
    found = []
    reason_of = getattr(provider, "unsupported_reason", None)
    for record in sorted(desired.records, key=_NAME_TYPE):
        if not meant_for(record, provider.id):
            continue
        kept = by_key.get((record.name, record._type))
        if kept is None:
            reason = (refusal_reason(provider, record) or (reason_of and reason_of(record))
                      or _why_dropped(provider, record))
            found.append(Adjustment("unsupported", record.name, record._type, reason, served_rrset(record)))
        elif kept is not record and record_data(kept) != record_data(distinct(record)):
            found.append(Adjustment("adjusted", record.name, record._type, _why_adjusted(record, kept),
                                    served_rrset(record), served_rrset(kept)))
    return found, served


def _why_dropped(provider: BaseProvider, record: Record) -> str:
    name = type(provider).__name__
    if record._type not in provider.SUPPORTS:
        return f"{name} cannot hold {record._type} records"
    if record.name == "" and record._type == "NS":
        return f"{name} does not manage the apex NS"
    return f"{name} drops this record"


def _why_adjusted(record: Record, kept: Record) -> str:
    if getattr(record, "dynamic", None) and not getattr(kept, "dynamic", None):
        return "dynamic record flattened to its default values (provider lacks dynamic support)"
    if getattr(record, "geo", None) and not getattr(kept, "geo", None):
        return "geo record flattened to its default values"
    if record._type == "PTR" and len(getattr(kept, "values", [])) < len(record.values):
        return "multi-value PTR reduced to one value"
    if kept.ttl > record.ttl:
        return f"TTL {record.ttl} raised to the provider's minimum {kept.ttl}"
    return "served differently from git"
