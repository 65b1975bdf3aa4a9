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

from dnssync.model.findings import Finding, Severity
from dnssync.model.plan import Plan, ProviderPlan
from dnssync.model.records import Locate, meant_providers, rrset_text, served_rrset
from dnssync.providers.capabilities import capabilities_of, rechunk_txt
from dnssync.repo.config import Policy

NOT_SERVED = "not served"
#: what a provider serves of a record: AS_GIT, or (its data, None when not served at all; why)
ServedAs = tuple[dict[str, Any] | None, str | None] | None
Observe = Callable[[str, Record], ServedAs]
AS_GIT: ServedAs = None


def _describe(data: dict[str, Any] | None) -> str:
    if data is None:
        return NOT_SERVED
    return rrset_text(data) + (" (dynamic: varies by client)" if data.get("dynamic") else "")


def parity_findings(desired: Zone, providers: list[str], observe: Observe, policy: Policy, locate: Locate,
                    txt_chunks: dict[str, int | None]) -> list[Finding]:
    """Parity findings for one zone: every record some provider would serve otherwise."""
    findings = []
    for record in sorted(desired.records, key=lambda r: (r.name, r._type)):
        meant = meant_providers(record, providers)
        seen = {p: observe(p, record) for p in meant}
        chunked = [p for p in meant if txt_chunks.get(p) and record._type == "TXT"]
        if all(seen[p] is AS_GIT for p in meant) and not chunked:
            continue  # the very record git has, everywhere (the common case, and cheap)
        wanted = served_rrset(record)
        observed: dict[str, dict[str, Any] | None] = {}
        reasons: dict[str, str] = {}
        for provider in meant:
            data, why = seen[provider] if seen[provider] is not AS_GIT else (wanted, None)
            if data is not None and provider in chunked:
                resplit = {**data, "values": sorted(rechunk_txt(v, txt_chunks[provider]) for v in data["values"])}
                if resplit != data:
                    data, why = resplit, why or f"re-splits TXT strings at {txt_chunks[provider]} bytes"
            observed[provider] = data
            if why:
                reasons[provider] = why
        differing = {p: d for p, d in observed.items() if d != wanted}
        if differing:
            findings.append(_finding(desired, record, wanted, observed, differing, policy, locate, reasons))
    return findings


def _finding(desired: Zone, record: Record, wanted: dict[str, Any], observed: dict[str, Any],
             differing: dict[str, Any], policy: Policy, locate: Locate, reasons: dict[str, str]) -> Finding:
    mode = policy.parity_for(desired.name, record._type)
    severity = Severity.ERROR if mode == "error" else Severity.WARNING
    code = "parity.unsupported" if any(d is None for d in differing.values()) else "parity.adjusted"
    groups: dict[str, list[str]] = {}
    for provider, data in observed.items():
        groups.setdefault(_describe(data), []).append(provider)
    parts = []
    for served_as, providers in groups.items():
        why = sorted({reasons[p] for p in providers if p in reasons})
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
    """Parity findings for every zone of a plan, from each provider's adjustments (what
    plan_one worked out it will serve, also in forked workers): nothing is processed
    again. A provider whose capabilities could not be read (its plan carries that
    error) is compared as serving what git says."""
    by_zone: dict[str, list[ProviderPlan]] = {}
    for pp in plan.providers:
        by_zone.setdefault(pp.zone, []).append(pp)
    findings = []
    for zone in sorted(by_zone):
        adjusted = {(pp.provider, a.name, a.type): a for pp in by_zone[zone] for a in pp.adjustments}

        def observe(provider: str, record: Record, adjusted=adjusted):
            found = adjusted.get((provider, record.name, record._type))
            return AS_GIT if found is None else (found.served, found.reason)

        names = sorted(pp.provider for pp in by_zone[zone])
        chunks = {p: capabilities_of(providers[p]).txt_chunk for p in names}
        findings += parity_findings(desired[zone], names, observe, policy, locate, chunks)
    return findings


#: ALIAS records a provider would not serve as git says and that policy refuses (flatten.py);
#: a target that did not resolve (alias.unresolved) holds back only that record, not the apply
ALIAS_BLOCKING = ("alias.refused", "alias.conflict")


def blocking(findings: list[Finding]) -> list[Finding]:
    """The parity findings that stop an apply (policy error), ALIAS refusals included."""
    return [f for f in findings if (f.code.startswith("parity.") or f.code in ALIAS_BLOCKING)
            and f.severity is Severity.ERROR]

