"""From the zones in git to the zones every provider must serve.

One step sits between the zone files and the plan: the apex NS. A zone is only
redundant if every provider's apex NS lists every provider's nameservers
(RFC 2181 5.4.1: resolvers prefer the child's apex NS over the parent's), so by
default dnssync writes the union of all providers' nameservers there, whatever
the zone file says. `apex_ns: {manage: false}` in dnssync.yaml turns this off.
"""

from __future__ import annotations

from octodns.record import Record
from octodns.zone import Zone

from dnssync.model.findings import Finding, Severity
from dnssync.repo.config import Config
from dnssync.repo.zones import DesiredZone


def nameserver_union(config: Config, zone: str) -> list[str]:
    """Every nameserver name of every provider that serves `zone`, sorted."""
    return sorted({ns.name for p in config.providers_for(zone) for ns in p.nameservers_for(zone)})


def with_apex_ns(config: Config, desired: DesiredZone) -> tuple[Zone, list[Finding]]:
    """The zone with its apex NS set to the providers' union (when managed)."""
    zone = desired.zone
    union = nameserver_union(config, zone.name)
    if not config.apex_ns.manage or not union:
        return zone, []
    if any(p.auto_nameservers and zone.name not in p.zone_nameservers for p in config.providers_for(zone.name)):
        # a `nameservers: auto` provider's names are not known (not read yet, no such zone
        # yet, API down): the union would drop them, so no provider's apex NS is touched
        copy = zone.copy()
        if copy.root_ns is not None:
            copy.remove_record(copy.root_ns)
        return copy, []
    current = zone.root_ns
    findings = []
    if current is not None:
        written = sorted(v.lower() for v in current.values)
        if written == union:
            return zone, []
        file, line = desired.location("", "NS")
        findings.append(Finding(
            Severity.WARNING, "zone.apex-ns",
            "the zone file's apex NS differs from the providers' nameservers; dnssync serves their"
            " union (apex_ns.manage: false keeps the file's)",
            zone=zone.name, name="", type="NS", expected=union, observed=written,
            file=file, line=line,
        ))
    ttl = current.ttl if current is not None else config.apex_ns.ttl
    record = Record.new(zone, "", {"type": "NS", "ttl": ttl, "values": union})
    copy = zone.copy()
    copy.add_record(record, replace=True)
    return copy, findings


def build_desired(config: Config, zones: list[DesiredZone]) -> tuple[dict[str, Zone], list[Finding]]:
    result: dict[str, Zone] = {}
    findings: list[Finding] = []
    for desired in zones:
        zone, found = with_apex_ns(config, desired)
        result[desired.name] = zone
        findings.extend(found)
    return result, findings
