"""Records git has that dnssync sends to no provider, as parity findings for the plan.

A CNAME beside other data at one name is invalid DNS (RFC 1034 3.6.2), and the servers
disagree about it: PowerDNS refuses the whole change, BIND and Knot say NOERROR and
keep one side. A zone that marks it `lenient` still has to be served the same way
everywhere, so the zone loader keeps the CNAME and withholds its neighbours
(zones.DesiredZone.withheld). Here each withheld record becomes one finding that
names it, its file:line, and what each provider would have done with it, so the
plan tells the truth before anything is sent (policy.parity decides error or warn).
"""

from __future__ import annotations

from octodns.provider.base import BaseProvider

from dnssync.model.findings import Finding, Severity
from dnssync.model.records import rrset_text, served_rrset
from dnssync.providers.capabilities import capabilities_of
from dnssync.repo.config import Config
from dnssync.repo.zones import DesiredZone


def withheld_findings(config: Config, zones: list[DesiredZone], built: dict[str, BaseProvider]) -> list[Finding]:
    """One parity finding per withheld record, severity by policy.parity; what each of the
    `built` providers would do with it is its capability data (`BESIDE_CNAME`)."""
    findings = []
    for desired in zones:
        providers = config.providers_for(desired.name)
        names = sorted(p.name for p in providers)
        for record, why in desired.withheld:
            mode = config.policy.parity_for(desired.name, record._type)
            would = "; ".join(f"{name} {beside_cname(built.get(name))}" for name in names)
            file, line = desired.location(record.name, record._type)
            accept = "" if mode == "warn" else f"; accept it with policy.parity: warn (or {record._type}: warn)"
            findings.append(Finding(
                Severity.ERROR if mode == "error" else Severity.WARNING, "parity.unsupported",
                f"no provider will serve {record.fqdn} {record._type}: {why}. dnssync withholds it from"
                f" {', '.join(names)}; if it were sent, {would}. Move it to another name or remove it (a CNAME"
                f" owns its name alone){accept}",
                zone=desired.name, name=record.name, type=record._type, provider=",".join(names),
                expected=rrset_text(served_rrset(record)), observed={p: "not served" for p in names},
                file=file, line=line,
            ))
    return findings


def beside_cname(provider: BaseProvider | None) -> str:
    """What the provider's server does when sent data beside a CNAME, as its capability data says."""
    known = capabilities_of(provider).beside_cname if provider is not None else None
    return known or "behaviour not known to dnssync"
