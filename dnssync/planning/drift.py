"""Drift: each provider's live state against git, as findings.

A plan's changes ARE the drift: the plan reads every provider's live state the
way its plugin does (PowerDNS over its HTTP API, BIND and Knot by AXFR with the
TSIG key) and compares it with what that provider should serve (git, the apex
NS union, its capabilities). So drift reuses the plan, and turns each pending
change into a finding a scheduled CI job can fail on. Nothing is ever sent.
"""

from __future__ import annotations

from dnssync.model.findings import Finding, Severity
from dnssync.model.plan import Change, Plan, ProviderPlan
from dnssync.model.records import Locate, rrset_text

_CODES = {"create": "drift.missing", "delete": "drift.extra", "update": "drift.changed"}


def _change_finding(pp: ProviderPlan, change: Change, locate: Locate) -> Finding:
    fqdn = f"{change.name}.{pp.zone}" if change.name else pp.zone
    what = {"create": "is missing at", "delete": "is at", "update": "differs at"}[change.action]
    tail = " but not in git" if change.action == "delete" else ""
    if change.origin:  # the target moved since the last apply: `apply --refresh-flattened`
        tail += f" ({change.origin})"
    file, line = (change.file, change.line) if change.origin else locate(pp.zone, change.name, change.type)
    return Finding(
        Severity.ERROR, _CODES[change.action], f"{fqdn} {change.type} {what} {pp.provider}{tail}",
        zone=pp.zone, name=change.name, type=change.type, provider=pp.provider,
        expected=rrset_text(change.desired) or "absent", observed=rrset_text(change.existing) or "absent",
        file=file, line=line if change.action != "delete" else None,
    )


def drift_findings(plan: Plan, locate: Locate) -> list[Finding]:
    """One finding per record that differs at a provider; one per zone a provider lacks;
    one per provider whose live state could not be read."""
    findings = []
    for pp in plan.providers:
        if pp.error:
            findings.append(Finding(Severity.ERROR, "plan.provider-error",
                                    f"{pp.provider}: live state of {pp.zone} could not be read: {pp.error}",
                                    zone=pp.zone, provider=pp.provider))
        elif pp.exists is False:
            findings.append(Finding(Severity.ERROR, "drift.zone-missing",
                                    f"{pp.provider} does not have the zone {pp.zone}",
                                    zone=pp.zone, provider=pp.provider,
                                    expected=f"{len(pp.changes)} record(s)", observed="no zone"))
        else:
            findings += [_change_finding(pp, change, locate) for change in pp.changes]
    return findings
