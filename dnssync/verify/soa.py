"""Every provider's SOA side by side, and the differences that matter.

Each provider owns its SOA: MNAME, RNAME, serial and timers differ by design,
so verify's "same answers everywhere" comparison does not apply to it. What
does matter to resolvers and secondaries:

* the negative-cache TTL, min(SOA MINIMUM, SOA TTL) (RFC 2308 5): when it
  differs across providers, a name just created is cached as NXDOMAIN for
  different times depending on which provider a resolver asked, so this is
  a parity finding (severity from `policy.parity` for type SOA);
* serials that differ among one provider's own nameservers (one is behind:
  an error, as in verify); these two are verify's own checks (zonechecks), run
  on the same answers;
* EXPIRE under a day: a provider's secondaries stop answering soon after they
  lose their primary (RFC 1912 2.2 suggests 2-4 weeks);
* a nameserver that does not answer the SOA authoritatively.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import dns.rcode

from dnssync.model.findings import Finding, Severity
from dnssync.query.answer import Endpoint, soa_of
from dnssync.query.engine import Engine, Resolved, resolve_all
from dnssync.query.wire import Malformed
from dnssync.repo.config import Config
from dnssync.verify.zonechecks import ApexView, zone_findings

ONE_DAY = 86400


@dataclass
class NameserverSoa:
    """The SOA one nameserver of one provider serves for one zone (or why none)."""

    zone: str
    provider: str
    nameserver: str
    error: str | None = None
    ttl: int | None = None
    mname: str | None = None
    rname: str | None = None
    serial: int | None = None
    refresh: int | None = None
    retry: int | None = None
    expire: int | None = None
    minimum: int | None = None

    @property
    def negative_ttl(self) -> int | None:
        """How long resolvers cache a "no such name" from this server (RFC 2308 5)."""
        return None if self.minimum is None or self.ttl is None else min(self.minimum, self.ttl)


async def _ask(engine: Engine, zone: str, provider: str, endpoint: Endpoint) -> NameserverSoa:
    view = NameserverSoa(zone, provider, endpoint.label)
    answer = await engine.ask(endpoint, zone, "SOA")
    if answer.error:
        view.error = answer.error + (f": {answer.detail}" if answer.detail else "")
        return view
    try:
        soa = soa_of(answer)
    except Malformed as e:
        view.error = f"malformed: {e}"
        return view
    if not answer.aa or soa is None:
        view.error = (f"{dns.rcode.to_text(answer.rcode or 0)},"
                      f" {'authoritative' if answer.aa else 'not authoritative'}, no SOA")
        return view
    rdata = soa.rdata
    view.ttl, view.mname, view.rname = soa.ttl, rdata.mname.to_text(), rdata.rname.to_text()
    view.serial, view.refresh, view.retry = rdata.serial, rdata.refresh, rdata.retry
    view.expire, view.minimum = rdata.expire, rdata.minimum
    return view


async def _views_of(engine: Engine, zone: str, row: Resolved) -> list[NameserverSoa]:
    if not row.endpoints:
        return [NameserverSoa(zone, row.provider, row.nameserver.label, error=row.why)]
    return list(await asyncio.gather(*(_ask(engine, zone, row.provider, e) for e in row.endpoints)))


async def read_soas(config: Config, zones: list[str]) -> list[NameserverSoa]:
    """The SOA of every zone at every nameserver of every provider serving it."""
    defaults = config.defaults
    serving = {zone: {p.name for p in config.providers_for(zone)} for zone in zones}
    rows = await resolve_all({name: p.nameservers for name, p in sorted(config.providers.items())
                              if any(name in names for names in serving.values())})
    async with Engine(timeout=defaults.timeout, resends=defaults.retries) as engine:
        results = await asyncio.gather(*(_views_of(engine, zone, row) for zone in sorted(zones)
                                         for row in rows if row.provider in serving[zone]))
    return [v for views in results for v in views]


def judge(views: list[NameserverSoa], config: Config) -> list[Finding]:
    """The SOA findings: unanswered, EXPIRE under a day, and verify's own serial and
    negative-TTL checks (zonechecks.zone_findings) on the same answers."""
    findings = []
    for zone in sorted({v.zone for v in views}):
        here = [v for v in views if v.zone == zone]
        for v in here:
            if v.error:
                findings.append(Finding(Severity.ERROR, "soa.unanswered",
                                        f"{v.nameserver} of {v.provider} gives no SOA for {zone}: {v.error}",
                                        zone=zone, type="SOA", provider=v.provider, nameserver=v.nameserver,
                                        observed=v.error))
        answered = [v for v in here if not v.error]
        parity = config.policy.parity_for(zone, "SOA")
        apex = [ApexView(v.provider, v.nameserver, serial=v.serial, negative_ttl=v.negative_ttl)
                for v in answered]
        findings += zone_findings(zone, apex, [], {},
                                  Severity.ERROR if parity == "error" else Severity.WARNING)
        for provider in sorted({v.provider for v in answered}):
            short = sorted({v.expire for v in answered
                            if v.provider == provider and v.expire is not None and v.expire < ONE_DAY})
            if short:
                findings.append(Finding(
                    Severity.WARNING, "soa.expire-short",
                    f"{provider}'s SOA EXPIRE for {zone} is {short[0]} s, under a day: its"
                    " secondaries stop answering that soon after losing their primary (RFC 1912"
                    " 2.2 suggests 2-4 weeks)", zone=zone, type="SOA", provider=provider,
                    expected=f">= {ONE_DAY}", observed=short[0]))
    return findings
