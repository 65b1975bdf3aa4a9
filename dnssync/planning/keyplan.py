"""The key exchange of multi-signer zones (RFC 8901 model 2), planned as changes.

With `policy.dnssec: multi-signer` every provider signs the zone with its own
keys, and a resolver that cached provider A's DNSKEY RRset must be able to
validate provider B's signatures: so every provider must publish every other
provider's zone-signing keys. This module turns what each provider serves now
(`servedkeys.ServedKeys`, read over DNS) into DNSKEY changes per provider:

* create: another provider's ZSK (or CSK) it does not publish yet;
* delete: a key it publishes without signing with it that no provider signs
  with any more (a retired ZSK), only when every provider of the zone could be
  read, so an unreadable provider's keys are never taken for retired ones.

The changes are plan `Change`s of type DNSKEY (`ProviderPlan.keys`), shown and
saved like any other change. A provider whose server cannot publish foreign keys
(providers/signers.py) gets no changes and a `parity.dnssec-foreign-keys`
finding naming the server, version and missing feature; one that does not sign
the zone at all, `parity.dnssec-unsigned`. Both follow `policy.parity`, so apply
refuses them unless that says warn. Applying (keyexchange.py) publishes every
create first, waits out the longest DNSKEY TTL, and only then deletes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from dnssync.model.dnskeys import describe, key_text, parse_key, unique
from dnssync.model.findings import Finding, Severity
from dnssync.model.plan import Change, Plan
from dnssync.providers.signers import SignerVerdict, server_version, verdict
from dnssync.query.servedkeys import ServedKeys, read_all
from dnssync.repo.config import Config

MULTI_SIGNER = "multi-signer"
DNSKEY = "DNSKEY"
PENDING = "dnssec.keys-pending"
#: the findings plan_keys makes (replaced when it plans a zone again)
KEY_CODES = (PENDING, "dnssec.keys-unreadable", "parity.dnssec-unsigned", "parity.dnssec-foreign-keys")


@dataclass
class ZoneKeyPlan:
    """One multi-signer zone's key exchange: the changes per provider and what blocks it."""

    zone: str
    served: dict[str, ServedKeys]
    changes: dict[str, list[Change]] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    @property
    def wait(self) -> int:
        """Seconds a resolver may keep the DNSKEY RRset it has now: the longest served TTL."""
        return max((s.ttl for s in self.served.values()), default=0)


def _owner_of(key_digest: bytes, served: Mapping[str, ServedKeys]) -> str | None:
    for provider, keys in served.items():
        if key_digest in {k.to_digestable() for k in keys.own}:
            return provider
    return None


def _change(action: str, key, ttl: int, note: str) -> Change:
    values = {"ttl": ttl, "values": [key_text(key)]}
    return Change(action, "", DNSKEY, existing=values if action == "delete" else None,
                  desired=values if action == "create" else None, note=note)


def plan_zone(zone: str, served: dict[str, ServedKeys], verdicts: Mapping[str, SignerVerdict],
              severity: Severity) -> ZoneKeyPlan:
    """The DNSKEY changes at every provider of `zone` (pure: from what was read)."""
    plan = ZoneKeyPlan(zone, served)
    readable = {p: s for p, s in served.items() if s.error is None and s.signed}
    for provider, keys in sorted(served.items()):
        if keys.error is not None:
            plan.findings.append(Finding(
                Severity.ERROR, "dnssec.keys-unreadable",
                f"{provider}'s DNSKEYs for {zone} could not be read ({keys.error}): no key is exchanged"
                " with it, and no key is removed anywhere", zone=zone, type=DNSKEY, provider=provider))
        elif not keys.signed:
            plan.findings.append(Finding(
                severity, "parity.dnssec-unsigned",
                f"{provider} does not sign {zone} (no RRSIG over its SOA), but policy.dnssec is multi-signer:"
                " turn signing on there (BIND: dnssec-policy; PowerDNS: pdnsutil secure-zone; Knot:"
                " dnssec-signing), or its answers fail validation wherever the parent's DS covers the others'"
                " keys", zone=zone, type=DNSKEY, provider=provider))
    for provider in sorted(readable):
        keys = readable[provider]
        wanted = unique(k for other, theirs in readable.items() if other != provider for k in theirs.zone_signing)
        have = {k.to_digestable() for k in keys.keys}
        adds = [k for k in wanted if k.to_digestable() not in have]
        able = verdicts[provider]
        if not able.can:
            if adds:
                names = ", ".join(f"{describe(k)} of {_owner_of(k.to_digestable(), readable)}" for k in adds)
                plan.findings.append(Finding(
                    severity, "parity.dnssec-foreign-keys",
                    f"{provider} ({able.software}) cannot publish the other providers' keys for {zone}: it lacks"
                    f" {able.missing}. It would not serve {names}, so resolvers holding its DNSKEY RRset fail"
                    " to validate the other providers' answers", zone=zone, type=DNSKEY, provider=provider,
                    expected=[key_text(k) for k in wanted], observed=[key_text(k) for k in keys.keys]))
            continue
        ttl = keys.ttl
        changes = [_change("create", k, ttl, f"{describe(k)} of {_owner_of(k.to_digestable(), readable)}")
                   for k in adds]
        if len(readable) == len(served):  # every provider read: a key nobody signs with is retired
            wanted_digests = {k.to_digestable() for k in wanted}
            changes += [_change("delete", k, ttl, f"{describe(k)}: no provider signs with it")
                        for k in keys.foreign if k.to_digestable() not in wanted_digests]
        if changes:
            plan.changes[provider] = changes
    return plan


def multi_signer_zones(config: Config, zones: list[str]) -> list[str]:
    return [z for z in zones if config.policy.dnssec_for(z) == MULTI_SIGNER]


def pending_zones(plan: Plan) -> list[str]:
    """Multi-signer zones whose keys are read only once apply has created them somewhere."""
    return sorted({f.zone for f in plan.findings if f.code == PENDING and f.zone})


def plan_keys(config: Config, plan: Plan, serves: dict[str, list[str]],
              provider_class: Callable[[str], str]) -> list[ZoneKeyPlan]:
    """Read every provider of every multi-signer zone in `serves` and put the key changes
    into `plan` (each pair's `keys`, findings in `plan.findings`; both replaced for these
    zones when planned again). `provider_class` names a provider's class (for servers
    that hide their version). A provider that does not have the zone yet is not read:
    apply creates it, then plans the keys again (`pending_zones`)."""
    zones = multi_signer_zones(config, sorted(serves))
    if not zones:
        return []
    plan.findings = [f for f in plan.findings if not (f.zone in zones and f.code in KEY_CODES)]
    absent = {(pp.provider, pp.zone) for pp in plan.providers if pp.exists is False}
    for zone in zones:
        for provider in serves[zone]:
            if (provider, zone) in absent:
                plan.findings.append(Finding(
                    Severity.INFO, PENDING, f"{zone} does not exist at {provider} yet: apply creates it,"
                    " then reads every provider's keys and exchanges them", zone=zone, type=DNSKEY,
                    provider=provider))
        serves = {**serves, zone: [p for p in serves[zone] if (p, zone) not in absent]}
    timeout = config.defaults.timeout
    providers = sorted({p for z in zones for p in serves[z]})
    verdicts = {p: verdict(provider_class(p), _version(config, p, timeout)) for p in providers}
    severity = Severity.ERROR if config.policy.parity == "error" else Severity.WARNING

    async def read() -> list[dict[str, ServedKeys]]:
        return list(await asyncio.gather(*(
            read_all({p: config.providers[p].nameservers for p in serves[z]}, z, timeout) for z in zones)))

    result = []
    for zone, served in zip(zones, asyncio.run(read()), strict=True):
        keys = plan_zone(zone, served, verdicts, severity)
        for pp in plan.providers:
            if pp.zone == zone:
                pp.keys = keys.changes.get(pp.provider, [])
        plan.findings += keys.findings
        result.append(keys)
    return result


def _version(config: Config, provider: str, timeout: float) -> str | None:
    for ns in config.providers[provider].nameservers:
        if ns.host:
            return server_version(ns.host, ns.port, min(timeout, 2.0))
    return None


def key_of(change: Change):
    """The DNSKEY a key change is about."""
    values = (change.desired or change.existing or {}).get("values") or []
    return parse_key(values[0])
