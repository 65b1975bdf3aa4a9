"""Offline zone checks that octoDNS's record validation leaves out.

octoDNS accepts an MX whose exchange is `1.2.3.4.`, an NS pointing at a CNAME,
or an MX whose in-zone target has no address; real servers then refuse the
update (BIND) or resolvers fail at lookup time. These checks run in `validate`
and before every plan, each pointing at the record's file and line.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from octodns.record import Record
from octodns.zone import Zone

from dnssync.findings import Finding, Severity
from dnssync.zones import DesiredZone

_ADDRESS_TYPES = ("A", "AAAA")


def _targets(record: Record) -> Iterator[str]:
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


def _looks_like_address(target: str) -> bool:
    try:
        ipaddress.ip_address(target.rstrip("."))
    except ValueError:
        return False
    return True


class Targets:
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


def check_zone(desired: DesiredZone) -> list[Finding]:
    zone = desired.zone
    findings: list[Finding] = []
    targets = Targets(zone)

    def add(record: Record, severity: Severity, message: str) -> None:
        file, line = desired.location(record.name, record._type)
        findings.append(Finding(severity, "zone.target", message, zone=zone.name,
                                name=record.name, type=record._type, file=file, line=line))

    for record in desired.records:
        for target in _targets(record):
            if record._type != "PTR" and _looks_like_address(target):
                add(record, Severity.WARNING,
                    f"{record.fqdn} {record._type} target {target} is an address, not a host name")
                continue
            if not targets.in_zone(target):
                continue
            if record._type in ("NS", "MX", "SRV") and "CNAME" in targets.types.get(target.lower(), set()):
                add(record, Severity.ERROR,
                    f"{record.fqdn} {record._type} target {target} is a CNAME; it must be the"
                    " canonical name (RFC 2181 10.3)")
            elif record._type in ("MX", "SRV", "NS") and not targets.has_address(target):
                if record._type != "NS" and targets.below_delegation(target):
                    continue  # served by the child zone, not this one
                what = "glue (A/AAAA)" if record._type == "NS" else "A/AAAA record"
                hint = " BIND refuses such an update (check-integrity)." if record._type == "MX" else ""
                add(record, Severity.WARNING,
                    f"{record.fqdn} {record._type} target {target} is in the zone but has no"
                    f" {what}.{hint}")
    return findings
