"""Are the addresses served at an ALIAS name still the target's? (staleness)

A target's addresses change without any commit: a CDN moves, a load balancer
is replaced. Flattened A/AAAA records then go stale silently, and a provider
that expands ALIAS itself (PowerDNS) may serve something else again. So every
provider is held to the same truth: each nameserver's A and AAAA answer at the
ALIAS name is compared with a fresh resolution of the target (repo/targets.py).

CDNs answer different subsets by location, so a provider's answer must fall
within what the target resolves to now, not equal one sample of it; an empty
answer where the target has addresses is stale too.
"""

from __future__ import annotations

import asyncio

import dns.rdatatype
from octodns.provider.base import BaseProvider
from octodns.zone import Zone

from dnssync.model.findings import Finding, Severity
from dnssync.model.records import meant_providers
from dnssync.planning.flatten import Flattening, prepare, split_native
from dnssync.query.answer import Answer, Endpoint
from dnssync.query.engine import Engine
from dnssync.repo.repository import Repository
from dnssync.repo.targets import Resolution, TargetResolver, alias_target, alias_types, is_alias


def _served(answer: Answer, rtype: str) -> set[str] | None:
    """The addresses of the answer (None when the server gave no usable answer)."""
    if answer.error or answer.reply is None:
        return None
    rdtype = dns.rdatatype.from_text(rtype)
    return {answer.reply.rdata(rr).to_text() for rr in answer.reply.answer if rr.rdtype == rdtype}


async def check(engine: Engine, repo: Repository, zones: dict[str, list[str]],
                endpoints: dict[str, list[Endpoint]]) -> list[Finding]:
    """alias.stale / alias.unchecked findings for every ALIAS-like record of `zones`
    (zone -> providers), asking every address of every provider's nameservers."""
    desired = {z: repo.desired[z] for z in zones}
    flattening = prepare(repo.config, desired, repo.providers(), zones, repo.locate, reviewed=[])
    watched = _watched(desired, zones, repo.providers(), flattening)
    if not watched:
        return []
    resolver = await TargetResolver.for_config(repo.config, repo.desired)
    fresh = await resolver.resolve_all({t for _, _, t, _, _ in watched}, engine)
    findings: list[Finding] = []
    jobs = []
    for zone, record_name, target, providers, types in watched:
        resolution = fresh[target]
        fqdn = f"{record_name}.{zone}" if record_name else zone
        if resolution.error:
            findings.append(Finding(
                Severity.WARNING, "alias.unchecked",
                f"{fqdn} → {target} did not resolve now ({resolution.error}), so what"
                f" {', '.join(providers)} serve there was not checked",
                zone=zone, name=record_name, provider=",".join(providers)))
            continue
        for provider in providers:
            for endpoint in endpoints.get(provider, []):
                jobs.append(_check_one(engine, zone, record_name, fqdn, provider, endpoint, resolution, types,
                                       findings))
    await asyncio.gather(*jobs)
    return findings


def _watched(desired: dict[str, Zone], zones: dict[str, list[str]], providers: dict[str, BaseProvider],
             flattening: Flattening) -> list[tuple[str, str, str, list[str], tuple[str, ...]]]:
    """(zone, name, target, providers serving addresses there, the address types it stands
    for) of every ALIAS-like record: providers that hold it natively and those it is
    flattened for (not native-only ones)."""
    flattened = {(f.zone, f.name): f.providers for f in flattening.records}
    rows = []
    for zone_name, zone in sorted(desired.items()):
        for record in sorted(zone.records, key=lambda r: r.name):
            target = alias_target(record) if is_alias(record) else None
            if target is None:
                continue
            native, _ = split_native(record, meant_providers(record, zones[zone_name]), providers)
            serving = sorted({*native, *flattened.get((zone_name, record.name), [])})
            if serving:
                rows.append((zone_name, record.name, target, serving, alias_types(record)))
    return rows


async def _check_one(engine: Engine, zone: str, name: str, fqdn: str, provider: str, endpoint: Endpoint,
                     resolution: Resolution, types: tuple[str, ...], findings: list[Finding]) -> None:
    answers = await asyncio.gather(*(engine.ask(endpoint, fqdn, t) for t in types))
    for rtype, answer in zip(types, answers, strict=True):
        served = _served(answer, rtype)
        if served is None:
            continue  # the record comparison reports the failure itself
        now = set(resolution.values.get(rtype, []))
        if (served <= now) and (served or not now):
            continue
        findings.append(Finding(
            Severity.ERROR, "alias.stale",
            f"{provider} serves {fqdn} {rtype} {', '.join(sorted(served)) or 'nothing'} but"
            f" {resolution.target} resolves now to {', '.join(sorted(now)) or 'nothing'}"
            f" (via {resolution.via}); `dnssync apply --refresh-flattened` refreshes flattened data",
            zone=zone, name=name, type=rtype, provider=provider, nameserver=endpoint.label,
            expected=sorted(now), observed=sorted(served),
            extra={"target": resolution.target, "resolved_at": resolution.at}))
