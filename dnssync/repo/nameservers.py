"""`nameservers: auto`: each zone's nameservers read from the provider's API.

A cloud provider picks the nameservers of every zone it hosts (Route53 gives
each hosted zone its own delegation set of four). A provider file cannot list
them in advance, yet the apex NS union (desired.py) and the parent delegation
check need the real names. A provider class that can tell them has a method
`zone_nameservers(zone, create=False) -> list[str] | None` (None: it does not
host the zone yet and cannot say); `build_provider` refuses `auto` for a class
without one, naming the provider.

This is the only place that contacts a provider before planning, and only for
providers with `auto`. `create_at` (apply only, once the plan was shown, its
gates passed and the user confirmed) names the providers that create a zone
they do not host yet, so that the first apply already serves its real
nameservers in every provider's apex NS instead of changing them on the next run.
"""

from __future__ import annotations

from octodns.provider.base import BaseProvider

from dnssync.model.address import Nameserver
from dnssync.model.findings import Finding, Severity
from dnssync.providers.breaker import asking
from dnssync.providers.hints import describe_error
from dnssync.repo.config import Config


def read_auto(config: Config, providers: dict[str, BaseProvider], zones: list[str],
              create_at: frozenset[str] = frozenset()) -> list[Finding]:
    """Fill every `auto` provider's per-zone nameservers (`zone_nameservers`) and its
    `nameservers` (their union, which verify asks) from its API; the providers in
    `create_at` create the zones they lack first."""
    findings = []
    for pc in config.providers.values():
        if not pc.auto_nameservers:
            continue
        provider = providers[pc.name]
        host, port = pc.auto_address or (None, 53)
        union: dict[str, Nameserver] = {}
        for zone in sorted(z for z in zones if pc.serves(z)):
            try:
                with asking(provider, zone):
                    names = provider.zone_nameservers(zone, create=pc.name in create_at)
            except Exception as e:  # reported, like any provider that cannot be read
                findings.append(Finding(Severity.ERROR, "plan.nameservers-unreadable",
                                        f"{pc.name}: cannot read the nameservers of {zone}: {describe_error(e)}",
                                        zone=zone, provider=pc.name))
                continue
            if names is None:
                findings.append(Finding(
                    Severity.WARNING, "plan.nameservers-pending",
                    f"{pc.name} does not host {zone} yet, so its nameservers are not in the apex NS"
                    " of this plan; apply creates the zone first and serves them", zone=zone, provider=pc.name))
                continue
            pc.zone_nameservers[zone] = [Nameserver(name, host, port) for name in names]
            union.update((ns.name, ns) for ns in pc.zone_nameservers[zone])
        pc.nameservers = [union[name] for name in sorted(union)]
    return findings
