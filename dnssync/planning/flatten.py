"""ALIAS across providers: the zone each provider must serve, ALIAS flattened where needed.

An apex ALIAS (a CDN, a load balancer) is the one record whose support differs
most between providers: PowerDNS answers it itself, BIND and Knot have nothing.
Dropping it on those (octoDNS's behaviour) takes the site's own name off a third
of the resolutions, which is what a multi-provider setup exists to prevent. So,
under `policy.alias: flatten` (the default), a provider that cannot hold the
record gets A and AAAA records instead, resolved from the target when the plan
is made (repo/targets.py); a provider that holds ALIAS keeps it. The flattened TTL is
min(record TTL, max(target TTL, policy.alias.ttl_floor)).

`native-only` leaves the record to the parity gate (today's behaviour without
flattening); `error` refuses an ALIAS record some provider cannot hold.

A target that does not resolve is never flattened to an empty set: that
provider's current addresses at the name are kept as they are (`KeepExisting`)
and the record is refused with an `alias.unresolved` finding naming file and
line, while every other record still applies.

The result is data (`Flattened`, kept in the plan) so a reviewed plan is applied
with the very addresses that were reviewed, and verify and watch know which
RRsets came from a target rather than from git.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from octodns.processor.base import BaseProcessor
from octodns.provider.base import BaseProvider
from octodns.record import Record
from octodns.zone import Zone

from dnssync.model.findings import Finding, Severity
from dnssync.model.records import Locate, meant_providers
from dnssync.repo.config import Config
from dnssync.repo.targets import ADDRESS_TYPES, Resolution, TargetResolver, alias_target, alias_types, is_alias


@dataclass
class Flattened:
    """One ALIAS-like record and what the providers that cannot hold it get instead."""

    zone: str
    name: str
    type: str  # ALIAS, Route53Provider/ALIAS, ...
    target: str
    providers: list[str]  # flattened for these
    native: list[str]  # these hold the record themselves
    values: dict[str, list[str]] = field(default_factory=dict)  # "A"/"AAAA" -> addresses
    ttl: int | None = None  # of the flattened RRsets
    target_ttl: int | None = None
    resolved_at: str = ""
    via: str = ""
    chain: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def origin(self) -> dict[str, Any]:
        """What a flattened change carries: where its values came from."""
        return {"from": self.type, "target": self.target, "resolved_at": self.resolved_at, "via": self.via}


class KeepExisting(BaseProcessor):
    """An octoDNS processor: the RRsets `keep` selects are planned as the provider has them
    now (no change), whatever the desired zone says. Holds back a refused flattening (the
    provider keeps its current addresses) and, for `apply --refresh-flattened`, every
    RRset that is not flattened."""

    def __init__(self, keep: Callable[[str, str], bool]):
        super().__init__("dnssync-keep-existing")
        self.keep = keep

    def process_source_and_target_zones(self, desired: Zone, existing: Zone, target: Any):
        result = desired.copy()
        for record in list(result.records):
            if self.keep(record.name, record._type):
                result.remove_record(record)
        for record in existing.records:
            if self.keep(record.name, record._type):
                result.add_record(record.copy(zone=result), replace=True, lenient=True)
        return result, existing


@dataclass
class Flattening:
    """Per (provider, zone): the zone it must serve and the processors its plan needs."""

    zones: dict[tuple[str, str], Zone] = field(default_factory=dict)
    processors: dict[tuple[str, str], list[BaseProcessor]] = field(default_factory=dict)
    records: list[Flattened] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def flattened_names(self, provider: str, zone: str) -> set[str]:
        return {f.name for f in self.records if f.zone == zone and provider in f.providers and not f.error}

    def refresh_only(self, serves: dict[str, list[str]]) -> None:
        """Plan only the flattened RRsets (`apply --refresh-flattened`): everything else
        is kept as each provider has it."""
        for zone, providers in serves.items():
            for provider in providers:
                names = self.flattened_names(provider, zone)
                self.processors.setdefault((provider, zone), []).append(KeepExisting(
                    lambda name, rtype, names=names: not (name in names and rtype in ADDRESS_TYPES)))

    @staticmethod
    def skip_new_zones(plan: Any, lives: list[Any]) -> list[str]:
        """For `apply --refresh-flattened`: drop every provider/zone pair whose provider does
        not have the zone yet (KeepExisting keeps nothing there, so the refresh would create
        the zone holding only the flattened RRsets). Returns the pairs dropped, `provider/zone`."""
        new = {(p.provider, p.zone) for p in plan.providers if p.exists is False}
        plan.providers[:] = [p for p in plan.providers if (p.provider, p.zone) not in new]
        lives[:] = [lp for lp in lives if (lp.data.provider, lp.data.zone) not in new]
        return [f"{p}/{z}" for p, z in sorted(new)]

    def annotate(self, plan: Any, locate: Locate) -> None:
        """Mark every planned change that a flattening made with where its values came from,
        pointed at the ALIAS record's file and line."""
        by_key = {(f.zone, f.name, p): f for f in self.records if not f.error for p in f.providers}
        for pp in plan.providers:
            for change in pp.changes:
                found = by_key.get((pp.zone, change.name, pp.provider))
                if found is not None and change.type in ADDRESS_TYPES:
                    change.flattened = found.origin
                    change.file, change.line = locate(found.zone, found.name, found.type)


def split_native(record: Record, meant: list[str], providers: dict[str, BaseProvider]) -> tuple[list[str], list[str]]:
    """(providers that hold the ALIAS-like record themselves, those it is flattened for)."""
    native = [p for p in meant if record._type in providers[p].SUPPORTS]
    return native, [p for p in meant if p not in native]


def flatten_ttl(record_ttl: int, target_ttl: int | None, floor: int) -> int:
    """min(record TTL, max(target TTL, floor)): never above what git says, never below the
    floor because of a CDN's short TTL (unless git's own TTL is lower)."""
    return record_ttl if target_ttl is None else min(record_ttl, max(target_ttl, floor))


def prepare(config: Config, desired: dict[str, Zone], providers: dict[str, BaseProvider],
            serves: dict[str, list[str]], locate: Locate,
            reviewed: list[dict[str, Any]] | None = None) -> Flattening:
    """Flatten every ALIAS-like record for the providers that cannot hold it. `reviewed`
    (a saved plan's `flattened`) is used instead of resolving again, so `apply --plan`
    sends exactly the reviewed addresses."""
    result = Flattening()
    policy = config.policy
    todo: list[tuple[str, Record, list[str], list[str]]] = []
    for zone_name in sorted(desired):
        zone = desired[zone_name]
        names = [p for p in serves.get(zone_name, []) if p in providers]
        for record in sorted(zone.records, key=lambda r: (r.name, r._type)):
            if not is_alias(record):
                continue
            native, needs = split_native(record, meant_providers(record, names), providers)
            mode = policy.alias_for(zone_name, record.fqdn)
            if not needs or mode == "native-only":
                continue
            file, line = locate(zone_name, record.name, record._type)
            where = dict(zone=zone_name, name=record.name, type=record._type, provider=",".join(needs),
                         file=file, line=line)
            if mode == "error":
                result.findings.append(Finding(
                    Severity.ERROR, "alias.refused",
                    f"{record.fqdn} {record._type}: {', '.join(needs)} cannot hold it and policy.alias is"
                    " error (flatten would serve the target's addresses there)", **where))
                continue
            target = alias_target(record)
            clash = [r._type for r in zone.records if r.name == record.name and r._type in ADDRESS_TYPES]
            if target is None or clash:
                why = (f"git also has {'/'.join(clash)} at this name, so there is nothing to flatten into"
                       if clash else "its value is not a DNS name")
                result.findings.append(Finding(Severity.ERROR, "alias.conflict",
                                               f"{record.fqdn} {record._type} cannot be flattened: {why}", **where))
                continue
            todo.append((zone_name, record, needs, native))
    if not todo:
        return result
    resolutions = _resolutions(config, desired, {alias_target(r) for _, r, _, _ in todo}, reviewed)
    for zone_name, record, needs, native in todo:
        _flatten(result, desired[zone_name], record, needs, native,
                 resolutions[alias_target(record)], policy.alias_ttl_floor, locate)
    return result


def _resolutions(config: Config, desired: dict[str, Zone], targets: set[str | None],
                 reviewed: list[dict[str, Any]] | None) -> dict[str | None, Resolution]:
    if reviewed is not None:
        saved = {f["target"]: f for f in reviewed}
        return {t: Resolution(t, saved[t]["values"], saved[t]["target_ttl"], saved[t]["via"],
                              saved[t]["resolved_at"], saved[t]["chain"], saved[t]["error"])
                if t in saved else Resolution(str(t), error="not resolved when the plan was made")
                for t in targets}
    return resolve_targets(config, desired, [t for t in targets if t])  # type: ignore[return-value]


def resolve_targets(config: Config, desired: dict[str, Zone], targets: list[str]) -> dict[str, Resolution]:
    """Resolve targets now, all at once (plan, verify)."""
    async def run() -> dict[str, Resolution]:
        resolver = await TargetResolver.for_config(config, desired)
        return await resolver.resolve_all(targets)
    return asyncio.run(run())


def _flatten(result: Flattening, zone: Zone, record: Record, needs: list[str], native: list[str],
             resolution: Resolution, floor: int, locate: Locate) -> None:
    ttl = flatten_ttl(record.ttl, resolution.ttl, floor)
    flattened = Flattened(zone.name, record.name, record._type, resolution.target, needs, native,
                          resolution.values, None if resolution.error else ttl, resolution.ttl,
                          resolution.at, resolution.via, resolution.chain, resolution.error)
    result.records.append(flattened)
    # built once, shared by every provider's copy of the zone (they are the zone's records)
    wanted = alias_types(record)
    addresses = [] if resolution.error else [
        Record.new(zone, record.name, {"type": rtype, "ttl": ttl, "values": values}, lenient=True)
        for rtype, values in resolution.values.items() if rtype in wanted]
    for provider in needs:
        key = (provider, zone.name)
        copy = result.zones.get(key)
        if copy is None:
            copy = result.zones[key] = zone.copy()
        copy.remove_record(record)
        for address in addresses:
            copy.add_record(address, replace=True, lenient=True)
        if resolution.error:
            result.processors.setdefault(key, []).append(KeepExisting(
                lambda name, rtype, held=record.name: name == held and rtype in ADDRESS_TYPES))
    if resolution.error:
        file, line = locate(zone.name, record.name, record._type)
        result.findings.append(Finding(
            Severity.ERROR, "alias.unresolved",
            f"{record.fqdn} {record._type} → {resolution.target} did not resolve ({resolution.error}):"
            f" not flattened for {', '.join(needs)}, whose current addresses at this name are left as"
            " they are; every other record still applies",
            zone=zone.name, name=record.name, type=record._type, provider=",".join(needs),
            file=file, line=line, extra={"target": resolution.target, "via": resolution.via}))


def as_data(records: list[Flattened]) -> list[dict[str, Any]]:
    return [asdict(f) for f in records]
