"""The parent's delegation, checked the way a resolver meets it.

Resolvers find a zone through its parent: a referral (NS in the authority
section, glue in the additional section). If that delegation lacks a provider,
resolvers that have not yet seen the child's apex NS never ask that provider;
an extra or lame nameserver costs timeouts or serves stale data; glue that
differs from the zone's own A/AAAA sends resolvers elsewhere. So the delegation
must equal the union of the providers' nameservers (RFC 2181 5.4.1), with
correct glue, and every listed server must answer authoritatively.

The parent's nameservers come from `parent:` in dnssync.yaml (private and test
setups), else from a walk down from the root servers, following referrals.
All queries go through the verify engine; every failure is a finding.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from dataclasses import dataclass, field, replace

import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
from octodns.zone import Zone

from dnssync.model.address import Nameserver
from dnssync.model.findings import Finding, Severity
from dnssync.query.answer import Endpoint
from dnssync.query.engine import Engine, resolve, resolve_all
from dnssync.query.referral import find_parent, referral_of, why_unreadable
from dnssync.query.wire import Malformed, Reply
from dnssync.repo.config import Config
from dnssync.repo.desired import nameserver_union


@dataclass
class Delegation:
    """What one parent nameserver says about the zone."""

    parent: Endpoint
    ns: set[str] = field(default_factory=set)
    glue: dict[str, set[str]] = field(default_factory=dict)


def managed_parent(zone: str, names: Collection[str]) -> str | None:
    """The closest enclosing zone of `names` (every zone this repository manages), if
    any: its providers serve the delegation of `zone`, so that is where resolvers meet it."""
    labels = zone.split(".")
    for i in range(1, len(labels) - 1):
        candidate = ".".join(labels[i:])
        if candidate in names:
            return candidate
    return None


async def _addresses(nameservers: list[Nameserver]) -> list[Endpoint]:
    return [e for row in await resolve_all({"": nameservers}) for e in row.endpoints]


async def parent_servers(engine: Engine, config: Config, zone: str, managed: Collection[str]
                          ) -> tuple[list[Endpoint], str | None]:
    """Where to ask for the delegation: the parent named for this zone in `parent.zones`,
    else the repository's own parent zone's providers (`managed`: every zone the
    repository has), else `parent.nameservers`, else the servers found walking down
    from the root."""
    parent_zone = None if zone in config.parent.zones else managed_parent(zone, managed)
    if parent_zone is not None:
        endpoints = await _addresses([ns for p in config.providers_for(parent_zone)
                                      for ns in p.nameservers_for(parent_zone)])
        return endpoints, None if endpoints else f"the nameservers of {parent_zone} have no address"
    configured = config.parent.servers_for(zone)
    if configured:  # named by their address: label them by it alone
        endpoints = [replace(e, name=None) for e in await _addresses(configured)]
        return endpoints, None if endpoints else "the configured parent nameservers have no address"
    return await find_parent(engine, zone, await _addresses(config.parent.roots))


async def read_delegation(engine: Engine, parent: Endpoint, zone: str) -> tuple[Delegation | None, str | None]:
    """The delegation one parent nameserver gives (a referral), or why there is none."""
    answer = await engine.ask(parent, zone, "NS")
    if answer.error or answer.reply is None:
        return None, why_unreadable(answer)
    try:
        cut, names, glue = referral_of(answer.reply)
    except Malformed as e:
        return None, why_unreadable(answer, e)
    if cut != dns.name.from_text(zone) or not names:
        return None, f"no delegation for {zone} ({why_unreadable(answer)})"
    return Delegation(parent, names, glue), None


def _child_addresses(desired: Zone, name: str) -> set[str] | None:
    """The zone's own A/AAAA for `name`, or None when `name` is not in the zone."""
    if not dns.name.from_text(name).is_subdomain(dns.name.from_text(desired.name)):
        return None
    relative = name[: -len(desired.name)].rstrip(".")
    return {str(v) for r in desired.records if r.name == relative and r._type in ("A", "AAAA")
            for v in r.values}


async def _lame(engine: Engine, config: Config, zone: str, delegation: Delegation,
                skip_verified: bool) -> list[Finding]:
    """Every delegated nameserver must answer the zone's SOA authoritatively, at the
    address a resolver would use (glue, else the configured address, else a lookup).
    `skip_verified`: a full verify already asked each provider's nameserver at its
    configured address, so only the others (extra names, other glue) are asked here."""
    configured = {ns.name: (p.name, ns) for p in config.providers_for(zone) for ns in p.nameservers_for(zone)}
    findings = []
    for name in sorted(delegation.ns):
        provider, nameserver = configured.get(name, (None, Nameserver(name)))
        if delegation.glue.get(name):
            endpoints = [Endpoint(a, 53, name) for a in sorted(delegation.glue[name])]
            problem = None
        else:
            endpoints, problem = await resolve(nameserver)
        if not endpoints and not (skip_verified and provider):  # else verify reported it unresolvable
            findings.append(_lame_finding(zone, name, provider, problem or "no address"))
        for endpoint in endpoints:
            if skip_verified and provider and (endpoint.address, endpoint.port) == (
                    nameserver.host, nameserver.port):
                continue
            answer = await engine.ask(endpoint, zone, "SOA")
            try:
                good = (answer.error is None and answer.reply is not None and answer.aa
                        and answer.rcode == dns.rcode.NOERROR and _soa_in(answer.reply))
            except Malformed as e:
                findings.append(_lame_finding(zone, name, provider, why_unreadable(answer, e), endpoint.label))
                continue
            if not good:
                findings.append(_lame_finding(zone, name, provider, why_unreadable(answer), endpoint.label))
    return findings


def _soa_in(reply: Reply) -> bool:
    """Whether the answer section holds an SOA (read off the wire; Malformed when its
    RDATA does not parse, as dnspython's parse of the whole reply would fail)."""
    soas = [rr for rr in reply.answer if rr.rdtype == dns.rdatatype.SOA]
    for rr in soas:
        reply.soa_numbers(rr)
    return bool(soas)


def _lame_finding(zone: str, name: str, provider: str | None, why: str,
                  where: str | None = None) -> Finding:
    return Finding(Severity.ERROR, "delegation.lame",
                   f"{name} is delegated {zone} but does not answer for it authoritatively ({why}):"
                   " resolvers that pick it wait, then try another", zone=zone, provider=provider,
                   nameserver=where or name, expected="authoritative SOA answer", observed=why)


def compare(config: Config, desired: Zone, delegation: Delegation) -> list[Finding]:
    """The delegation against the union of the providers' nameservers, and its glue
    against the zone's own A/AAAA."""
    zone = desired.name
    union = set(nameserver_union(config, zone))
    owner = {ns.name: p.name for p in config.providers_for(zone) for ns in p.nameservers_for(zone)}
    where = delegation.parent.label
    common = {"zone": zone, "expected": sorted(union), "observed": sorted(delegation.ns)}
    findings = []
    for name in sorted(union - delegation.ns):
        findings.append(Finding(
            Severity.ERROR, "delegation.missing",
            f"the parent ({where}) does not delegate {zone} to {name} of provider {owner[name]}:"
            " resolvers following the parent never ask it", provider=owner[name], nameserver=name,
            **common))
    for name in sorted(delegation.ns - union):
        findings.append(Finding(
            Severity.ERROR, "delegation.extra",
            f"the parent ({where}) delegates {zone} to {name}, which is no provider's nameserver",
            nameserver=name, **common))
    for name in sorted(delegation.ns):
        own = _child_addresses(desired, name)
        glue = delegation.glue.get(name, set())
        if own is None or own == glue:
            continue  # out of the zone: glue is not the zone's to check
        if not glue:
            message = f"no glue for {name}, which is inside {zone}: resolvers cannot reach it"
        elif not own:
            message = f"the parent has glue for {name} but {zone} has no A/AAAA for it"
        else:
            message = f"the parent's glue for {name} differs from the zone's own A/AAAA"
        findings.append(Finding(Severity.ERROR, "delegation.glue", message, zone=zone, nameserver=name,
                                expected=sorted(own), observed=sorted(glue)))
    return findings


#: special-use names no public parent delegates (RFC 6761 §6, RFC 6762 local., RFC 8375
#: home.arpa., RFC 7686 onion.): a walk from the root could only end in NXDOMAIN
SPECIAL_USE = ("test.", "example.", "invalid.", "localhost.", "local.", "home.arpa.", "onion.")


def special_use(zone: str) -> str | None:
    """The special-use name `zone` is (or is under), if any."""
    zone = zone.lower()
    return next((name for name in SPECIAL_USE if zone == name or zone.endswith("." + name)), None)


async def delegation_findings(engine: Engine, config: Config, desired: Zone, managed: Collection[str],
                              skip_verified: bool = False) -> list[Finding]:
    """One zone's delegation at its parent (NS, glue, lame servers) as findings."""
    zone = desired.name
    reserved = special_use(zone)
    if (reserved and zone not in config.parent.zones and not config.parent.nameservers
            and not config.parent.own_roots and managed_parent(zone, managed) is None):
        return [Finding(Severity.INFO, "delegation.special-use",
                        f"{zone} is under the special-use name {reserved}: no public parent exists, so"
                        " its delegation was not checked (nothing asked of the root servers). To"
                        " check it at a parent of your own, set parent: {nameservers: [...]} in"
                        " dnssync.yaml", zone=zone)]
    parents, problem = await parent_servers(engine, config, zone, managed)
    if not parents:
        return [Finding(Severity.ERROR, "delegation.parent-error",
                        f"the parent of {zone} could not be asked: {problem}", zone=zone)]
    findings: list[Finding] = []
    views: list[Delegation] = []
    for parent in parents:
        delegation, problem = await read_delegation(engine, parent, zone)
        if delegation is None:
            findings.append(Finding(Severity.ERROR, "delegation.parent-error",
                                    f"parent nameserver {parent.label}: {problem}", zone=zone,
                                    nameserver=parent.label))
        else:
            views.append(delegation)
    distinct = {(frozenset(v.ns), frozenset((k, frozenset(a)) for k, a in v.glue.items())): v for v in views}
    if len(distinct) > 1:
        findings.append(Finding(
            Severity.ERROR, "delegation.parent-differ",
            f"the parent's nameservers give different delegations for {zone}", zone=zone,
            observed={v.parent.label: sorted(v.ns) for v in views}))
    for view in distinct.values():
        findings += compare(config, desired, view)
    if views:
        merged = Delegation(views[0].parent, set().union(*(v.ns for v in views)))
        for view in views:
            for name, addresses in view.glue.items():
                merged.glue.setdefault(name, set()).update(addresses)
        findings += await _lame(engine, config, zone, merged, skip_verified)
    return findings


async def check_delegations(config: Config, desired: dict[str, Zone], managed: Collection[str],
                            timeout: float | None = None, resends: int | None = None,
                            skip_verified: bool = False) -> list[Finding]:
    """Delegation findings for every zone, zones checked concurrently. `managed`: every
    zone of the repository, not only the ones checked (`Repository.managed`).
    `skip_verified` when a full verify has already asked every provider's nameserver itself."""
    defaults = config.defaults
    async with Engine(timeout=timeout or defaults.timeout,
                      resends=defaults.retries if resends is None else resends) as engine:
        results = await asyncio.gather(*(delegation_findings(engine, config, z, managed, skip_verified)
                                         for _, z in sorted(desired.items())))
    return [f for found in results for f in found]
