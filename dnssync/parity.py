"""The parity gate: will every provider serve what git says, the same way?

A zone on several providers is only redundant if each of them gives the same
answers: a resolver picks any of them. octoDNS either aborts the whole sync
(strict_supports) or silently drops a record for one target; here every record
that some provider would serve differently from git becomes one finding that
names the record, each provider and what it would serve (its octoDNS processing
and normalisations, see providers/capabilities.py), before anything is sent.

Severity follows `policy.parity` (per record type, per zone, default): `error`
makes plan exit 1 and apply refuse; `warn` accepts the difference knowingly.
Records a zone file keeps from a provider on purpose (octoDNS `excluded` /
`included`) are not compared for that provider: git already says so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from octodns.provider.base import BaseProvider
from octodns.record import Record
from octodns.zone import Zone

from dnssync.config import Policy
from dnssync.findings import Finding, Severity
from dnssync.plan import Plan, ProviderPlan, rrset_data
from dnssync.providers.capabilities import capabilities_of, rechunk_txt, served_zone

NOT_SERVED = "not served"
#: (zone, name, type) -> (file, line) of the record in git
Locate = Callable[[str, str, str], tuple[str | None, int | None]]


def served_rrset(record: Record | None, txt_chunk: int | None) -> dict[str, Any] | None:
    """The RRset a provider answers for a served record, as TTL and sorted values."""
    if record is None:
        return None
    data = rrset_data(record)
    if getattr(record, "dynamic", None):  # answers vary by client; the values are the default
        data["dynamic"] = True
    if txt_chunk and record._type == "TXT":
        data["values"] = sorted(rechunk_txt(v, txt_chunk) for v in data["values"])
    return data


def _describe(data: dict[str, Any] | None) -> str:
    if data is None:
        return NOT_SERVED
    text = f"{data['ttl']} " + ", ".join(data["values"])
    return text + " (dynamic: varies by client)" if data.get("dynamic") else text


def _providers_of(record: Record, providers: list[str]) -> list[str]:
    """The providers `record` is meant for (octoDNS `ignored`, `excluded`, `included`)."""
    if record.ignored:
        return []
    excluded, included = record.excluded, record.included
    return [p for p in providers if p not in excluded and (not included or p in included)]


def check_zone(desired: Zone, served: dict[str, Zone], policy: Policy, locate: Locate,
               reasons: dict[tuple[str, str, str], str] | None = None,
               txt_chunks: dict[str, int | None] | None = None) -> list[Finding]:
    """Parity findings for one zone. `served` maps provider -> the zone it will serve;
    `reasons` (provider, name, type) -> why it differs, shown beside what it serves."""
    reasons = dict(reasons or {})
    txt_chunks = txt_chunks or {}
    by_key = {p: {(r.name, r._type): r for r in z.records} for p, z in served.items()}
    names = sorted(served)
    findings = []
    for record in sorted(desired.records, key=lambda r: (r.name, r._type)):
        providers = _providers_of(record, names)
        kept = {p: by_key[p].get((record.name, record._type)) for p in providers}
        if all(kept[p] is record and not (txt_chunks.get(p) and record._type == "TXT")
               for p in providers):
            continue  # the very record git has, everywhere (the common case, and cheap)
        wanted = served_rrset(record, None)
        observed: dict[str, dict[str, Any] | None] = {}
        for provider in providers:
            observed[provider] = served_rrset(kept[provider], txt_chunks.get(provider))
            if kept[provider] is not None and observed[provider] != served_rrset(kept[provider], None):
                reasons.setdefault((provider, record.name, record._type),
                                   f"re-splits TXT strings at {txt_chunks[provider]} bytes")
        differing = {p: d for p, d in observed.items() if d != wanted}
        if differing:
            findings.append(_finding(desired, record, wanted, observed, differing, policy, locate,
                                     reasons))
    return findings


def _finding(desired: Zone, record: Record, wanted: dict[str, Any], observed: dict[str, Any],
             differing: dict[str, Any], policy: Policy, locate: Locate,
             reasons: dict[tuple[str, str, str], str]) -> Finding:
    mode = policy.parity_for(desired.name, record._type)
    severity = Severity.ERROR if mode == "error" else Severity.WARNING
    code = "parity.unsupported" if any(d is None for d in differing.values()) else "parity.adjusted"
    groups: dict[str, list[str]] = {}
    for provider, data in observed.items():
        groups.setdefault(_describe(data), []).append(provider)
    parts = []
    for served_as, providers in groups.items():
        why = sorted({reasons[(p, record.name, record._type)] for p in providers
                      if (p, record.name, record._type) in reasons})
        parts.append(f"{', '.join(providers)}: {served_as}" + (f" ({'; '.join(why)})" if why else ""))
    agree = [p for p in observed if p not in differing]
    lead = (f"{', '.join(sorted(differing))} would serve {record.fqdn} {record._type} differently"
            f" from git" + (f" and from {', '.join(agree)}" if agree else ""))
    accept = ("" if mode == "warn" else
              f"; fix the zone or accept it with policy.parity: warn (or per type: {record._type}: warn)")
    file, line = locate(desired.name, record.name, record._type)
    return Finding(
        severity, code, f"{lead}. Served: " + " | ".join(parts) + accept,
        zone=desired.name, name=record.name, type=record._type,
        provider=",".join(sorted(differing)), expected=_describe(wanted),
        observed={p: _describe(d) for p, d in observed.items()}, file=file, line=line,
    )


def check_plan(plan: Plan, desired: dict[str, Zone], providers: dict[str, BaseProvider],
               policy: Policy, locate: Locate) -> list[Finding]:
    """Parity findings for every zone of a plan. Each provider's served zone is worked
    out here (it needs no live state, and the plan's data may come from forked
    workers); the plan's adjustments give the reasons. A provider whose served zone
    cannot be worked out is left out: its plan already carries the error."""
    by_zone: dict[str, list[ProviderPlan]] = {}
    for pp in plan.providers:
        by_zone.setdefault(pp.zone, []).append(pp)
    findings = []
    for zone in sorted(by_zone):
        served: dict[str, Zone] = {}
        for pp in by_zone[zone]:
            try:
                served[pp.provider] = served_zone(providers[pp.provider], desired[zone])
            except Exception:  # reported by the provider's plan already
                continue
        if not served:
            continue
        reasons = {(pp.provider, a.name, a.type): a.reason for pp in by_zone[zone]
                   for a in pp.adjustments}
        chunks = {p: capabilities_of(providers[p]).txt_chunk for p in served}
        findings += check_zone(desired[zone], served, policy, locate, reasons, chunks)
    return findings


def blocking(findings: list[Finding]) -> list[Finding]:
    """The parity findings that stop an apply (policy error)."""
    return [f for f in findings if f.code.startswith("parity.") and f.severity is Severity.ERROR]

