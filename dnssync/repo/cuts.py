"""Delegations inside a zone: what the zone's own servers will not answer.

An NS RRset below the apex is a zone cut (RFC 1034 4.2.1): the zone's servers answer
every name at or below it with a referral to the child's servers, so data there (an MX
or TXT beside the delegation NS, any name below it) is stored but never served
authoritatively, except the glue addresses the NS targets need (and DS at the cut).
A second NS below a cut (a nested cut) is hidden by the first: servers refer at the
highest cut. octoDNS accepts all of it and every provider stores it, so these are
warnings at validate naming each record and the cut that hides it.
"""

from __future__ import annotations

from octodns.zone import Zone

from dnssync.model.findings import Finding, Severity
from dnssync.repo.zones import DesiredZone

_GLUE_TYPES = ("A", "AAAA")


class Cuts:
    """The delegation points of a zone (relative names) and which one hides a name."""

    def __init__(self, zone: Zone):
        self.names = {r.name for r in zone.records if r._type == "NS" and r.name}

    def highest(self, name: str) -> str | None:
        """The highest cut at or above `name` (relative), the one servers refer at."""
        if not self.names or not name:
            return None
        labels = name.split(".")
        for start in range(len(labels) - 1, -1, -1):
            candidate = ".".join(labels[start:])
            if candidate in self.names:
                return candidate
        return None


def check_cuts(desired: DesiredZone) -> list[Finding]:
    """zone.occluded for data a delegation hides, zone.nested-delegation for a cut below a cut."""
    zone = desired.zone
    cuts = Cuts(zone)
    if not cuts.names:
        return []
    glue = {v.lower() for r in zone.records if r._type == "NS" and r.name for v in r.values}
    findings = []
    for record in desired.records:
        cut = cuts.highest(record.name)
        if cut is None or (record.name == cut and record._type in ("NS", "DS")):
            continue
        if record._type in _GLUE_TYPES and record.fqdn.lower() in glue:
            continue  # glue: served in the referral's additional section
        cut_fqdn = f"{cut}.{zone.name}"
        cut_file, cut_line = desired.location(cut, "NS")
        file, line = desired.location(record.name, record._type)
        cut_at = f"line {cut_line}" if cut_file == file else f"{cut_file}:{cut_line}"
        at = "at" if record.name == cut else "below"
        if record._type == "NS":
            findings.append(Finding(
                Severity.WARNING, "zone.nested-delegation",
                f"{record.fqdn} NS delegates below the delegation {cut_fqdn} ({cut_at}): servers"
                f" refer every name under {cut_fqdn} there, so this NS is never served from {zone.name}; put it"
                f" in the zone {cut_fqdn} on its own servers",
                zone=zone.name, name=record.name, type="NS", file=file, line=line))
            continue
        findings.append(Finding(
            Severity.WARNING, "zone.occluded",
            f"{record.fqdn} {record._type} is {at} the delegation {cut_fqdn} ({cut_at}): the"
            f" zone's servers answer it with a referral to {cut_fqdn}'s nameservers, never with this record;"
            f" move it to the zone {cut_fqdn} or remove it",
            zone=zone.name, name=record.name, type=record._type, file=file, line=line))
    return findings
