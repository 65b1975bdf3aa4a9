"""Follow an apply until it has propagated everywhere (`dnssync watch`, `apply --wait`).

octoDNS and DNSControl stop when the providers' APIs return, but a change is only
live once every nameserver of every provider serves it, and no resolver can still
hold the old answer in its cache: the old TTL after the last nameserver switched,
or, for a name that did not exist, the negative-cache TTL (RFC 2308). This module
turns an apply record into the RRsets to follow (`targets_from_record`), and keeps
the propagation state (`Propagation`): fed with what nameservers and resolvers
answer, it returns events (plain dicts, one JSON line each with --format json)
and decides when the change is fully propagated, has timed out, or went wrong.

The old values and TTLs come from the plan saved with the apply, never from the
live zone, so `watch` can run later or from another CI job. Times are wall-clock
seconds (the user reads "fully propagated at 12:04:31Z"); the convergence time of
a change is when a poll first saw every nameserver serve it, which is at or after
the real moment, so the cache-expiry time derived from it is a safe upper bound.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype

from dnssync.errors import UsageError
from dnssync.findings import Finding, Severity
from dnssync.plan import Plan

#: one thing that happened, JSON-ready: {"event": kind, "at": ISO time, "t": seconds, ...}
Event = dict[str, Any]

#: states of one nameserver (or resolver) for one changed RRset
PENDING, NEW, OLD, OTHER, ERROR = "pending", "new", "old", "other", "error"


def iso(moment: float) -> str:
    text = datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


@dataclass(frozen=True)
class Served:
    """An RRset as a server answers it or as the plan expects it. No values means the
    name/type does not exist (NXDOMAIN or NODATA, told apart only in `negative`).
    Values are dnspython rdata, which compare as DNS does (names case-insensitively)."""

    values: frozenset[dns.rdata.Rdata] = frozenset()
    ttl: int | None = None
    negative: str = field(default="", compare=False)  # NXDOMAIN | NODATA, for display

    def __post_init__(self) -> None:
        if not self.values and self.ttl is not None:
            object.__setattr__(self, "ttl", None)  # a missing RRset has no TTL to compare

    @property
    def absent(self) -> bool:
        return not self.values

    def texts(self) -> list[str]:
        return sorted(v.to_text() for v in self.values)

    def describe(self) -> str:
        if self.absent:
            return self.negative or "no such RRset"
        return f"{self.ttl} " + ", ".join(self.texts())

    def to_json(self) -> dict[str, Any]:
        if self.absent:
            return {"exists": False, **({"rcode": self.negative} if self.negative else {})}
        return {"ttl": self.ttl, "values": self.texts()}


def served_from_plan(rtype: str, data: dict[str, Any] | None, origin: str) -> Served:
    """A plan change's `existing`/`desired` ({ttl, values} in presentation format) as `Served`."""
    if not data:
        return Served()
    zone = dns.name.from_text(origin)
    values = frozenset(dns.rdata.from_text(dns.rdataclass.IN, rtype, text, origin=zone)
                       for text in data["values"])
    return Served(values, int(data["ttl"]))


@dataclass
class Target:
    """One changed RRset and what each provider served before and must serve after.

    A provider that did not change this RRset (it already served the new value)
    has its new value as its old one. `old[p]` is None when the provider's old
    content is unknown (its live state could not be read when planning)."""

    zone: str
    name: str  # absolute, lower case
    type: str
    new: dict[str, Served] = field(default_factory=dict)
    old: dict[str, Served | None] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return (self.name, self.type)

    @property
    def label(self) -> str:
        return f"{self.name} {self.type}"

    @property
    def providers(self) -> list[str]:
        return sorted(self.new)

    @property
    def action(self) -> str:
        olds = [o for o in self.old.values() if o is not None]
        if olds and all(o.absent for o in olds):
            return "create"
        if all(n.absent for n in self.new.values()):
            return "delete"
        return "update"

    def olds(self, provider: str) -> list[Served]:
        """What `provider`'s nameservers may still serve before they converge."""
        known = self.old.get(provider)
        if known is not None:
            return [known]
        return [o for o in self.old.values() if o is not None]

    @property
    def old_ttl(self) -> int | None:
        """The largest TTL any resolver may have cached an old answer with."""
        ttls = [o.ttl for o in self.old.values() if o is not None and o.ttl is not None]
        return max(ttls) if ttls else None

    @property
    def was_absent(self) -> bool:
        """Whether a resolver may have cached that the name/type did not exist."""
        return any(o is not None and o.absent for o in self.old.values())

    def to_json(self) -> dict[str, Any]:
        return {"zone": self.zone, "name": self.name, "type": self.type, "action": self.action,
                "old": {p: o.to_json() if o is not None else None
                        for p, o in sorted(self.old.items())},
                "new": {p: n.to_json() for p, n in sorted(self.new.items())}}


def targets_from_plan(plan: Plan) -> tuple[list[Target], list[Finding]]:
    """Every RRset the plan changed at any provider, with every provider serving its zone.

    Types that do not exist on the wire (octoDNS's ALIAS, which providers serve
    as A/AAAA) cannot be compared with answers and are reported, not watched."""
    findings: list[Finding] = []
    targets: dict[tuple[str, str], Target] = {}
    zone_providers: dict[str, list[str]] = {}
    for pp in plan.providers:
        zone_providers.setdefault(pp.zone, []).append(pp.provider)
        for change in pp.changes:
            fqdn = (f"{change.name}.{pp.zone}" if change.name else pp.zone).lower()
            try:
                dns.rdatatype.from_text(change.type)
                old = served_from_plan(change.type, change.existing, pp.zone)
                new = served_from_plan(change.type, change.desired, pp.zone)
            except (dns.exception.DNSException, ValueError) as e:
                findings.append(Finding(
                    Severity.WARNING, "watch.unwatchable",
                    f"{change.type} records cannot be compared with DNS answers ({e}); not watched",
                    zone=pp.zone, name=fqdn, type=change.type, provider=pp.provider))
                continue
            target = targets.setdefault((fqdn, change.type), Target(pp.zone, fqdn, change.type))
            target.old[pp.provider], target.new[pp.provider] = old, new
    errors = {(p.provider, p.zone) for p in plan.providers if p.error}
    for target in targets.values():
        common = Counter(target.new.values()).most_common(1)[0][0]
        for provider in zone_providers[target.zone]:
            if provider not in target.new:  # it already served the new value, or was unreadable
                target.new[provider] = common
                target.old[provider] = None if (provider, target.zone) in errors else common
    return sorted(targets.values(), key=lambda t: (t.zone, t.name, t.type)), findings


@dataclass(frozen=True)
class Soa:
    """A nameserver's SOA for the zone: its serial and negative-cache TTL."""

    serial: int
    negative_ttl: int  # min(SOA MINIMUM, SOA TTL), RFC 2308 section 5


#: what a nameserver or resolver answered: the RRset, or why there is no usable answer
Reply = Served | str


@dataclass
class Seen:
    """The last state of one nameserver (or resolver) for one target, and since when."""

    state: str = PENDING
    reply: Reply | None = None
    since: float | None = None


def classify(target: Target, provider: str, reply: Reply) -> str:
    """An authoritative answer: the provider's new RRset (TTL included), its old one, or other."""
    if isinstance(reply, str):
        return ERROR
    if reply == target.new[provider]:
        return NEW
    return OLD if reply in target.olds(provider) else OTHER


def classify_resolved(target: Target, reply: Reply) -> str:
    """A resolver's answer, compared by values: its TTL counts down in the cache.
    A TTL-only change is told apart by a remaining TTL above the new TTL."""
    if isinstance(reply, str):
        return ERROR
    old = [o for o in target.old.values() if o is not None]
    if any(reply.values == n.values for n in target.new.values()):
        new_ttl = max((n.ttl or 0) for n in target.new.values())
        if any(reply.values == o.values for o in old) and (reply.ttl or 0) > new_ttl:
            return OLD
        return NEW
    return OLD if any(reply.values == o.values for o in old) else OTHER


#: caches count TTLs in whole seconds (Unbound and BIND keep a seconds clock), so an entry
#: may outlive its TTL by up to a second
CLOCK_GRANULARITY = 1
#: a resolver answering the old value this long after no cache may hold it is stale
STALE_SLACK = 1.0


class Propagation:
    """The propagation state of one apply's changes, fed observation by observation.

    `nameservers` maps each provider to its nameservers' labels, `resolvers` lists
    the recursive resolvers watched. Every method returns the events it caused;
    `settle()` is called after each poll round and decides convergence, cache
    expiry and the end (`outcome`: propagated | timeout | unexpected)."""

    def __init__(self, apply_id: str, targets: list[Target], nameservers: dict[str, list[str]],
                 resolvers: list[str], started: float, timeout: float | None = None,
                 failed: dict[str, str] | None = None) -> None:
        self.apply_id = apply_id
        self.targets = targets
        providers = {p for t in targets for p in t.providers}
        self.nameservers = {p: list(nameservers.get(p, [])) for p in sorted(providers)}
        self.resolvers = list(resolvers)
        self.started = started
        self.deadline = started + timeout if timeout is not None else None
        self.failed = dict(failed or {})  # provider -> why its apply failed
        self.auth: dict[tuple[str, str, tuple[str, str]], Seen] = {
            (p, ns, t.key): Seen()
            for t in targets for p in t.providers for ns in self.nameservers[p]}
        self.soas: dict[tuple[str, str, str], Soa | str] = {}  # (provider, nameserver, zone)
        self.resolved: dict[tuple[str, tuple[str, str]], Seen] = {
            (r, t.key): Seen() for r in self.resolvers for t in targets}
        self.converged_at: dict[tuple[str, str], float] = {}
        self.expires_at: dict[tuple[str, str], float] = {}
        self.provider_status: dict[str, tuple[int, bool]] = {}
        self.authoritative_at: float | None = None
        self.propagated_at: float | None = None
        self.outcome: str | None = None
        self.findings: list[Finding] = []
        self._stale: set[tuple[str, tuple[str, str]]] = set()
        self._fresh_other: list[tuple[str, str, Target]] = []

    # -- events ---------------------------------------------------------------------

    def event(self, kind: str, now: float, **fields: Any) -> dict[str, Any]:
        return {"event": kind, "at": iso(now), "t": round(now - self.started, 3), **fields}

    def finding(self, now: float, finding: Finding) -> dict[str, Any]:
        self.findings.append(finding)
        return self.event("finding", now, **finding.to_dict())

    def start(self) -> list[Event]:
        """The first events: what is watched, and providers whose apply failed."""
        now = self.started
        events = [self.event(
            "start", now, apply=self.apply_id, changes=[t.to_json() for t in self.targets],
            nameservers=self.nameservers, resolvers=self.resolvers,
            deadline=iso(self.deadline) if self.deadline is not None else None)]
        for provider, why in sorted(self.failed.items()):
            events.append(self.finding(now, Finding(
                Severity.WARNING, "watch.apply-failed",
                f"the apply did not complete at {provider} ({why}); its nameservers may never serve"
                " the new data: re-run apply", provider=provider)))
        return events

    # -- observations -----------------------------------------------------------------

    def nameserver(self, now: float, provider: str, nameserver: str, target: Target,
                   reply: Reply) -> list[Event]:
        seen = self.auth[(provider, nameserver, target.key)]
        state = classify(target, provider, reply)
        if state == seen.state and reply == seen.reply:
            return []
        seen.state, seen.reply, seen.since = state, reply, now
        if state == OTHER:
            self._fresh_other.append((provider, nameserver, target))
        return [self.event("nameserver", now, provider=provider, nameserver=nameserver,
                           zone=target.zone, name=target.name, type=target.type, state=state,
                           **_reply_fields(reply))]

    def serial(self, now: float, provider: str, nameserver: str, zone: str,
               soa: Soa | str) -> list[Event]:
        if self.soas.get((provider, nameserver, zone)) == soa:
            return []
        self.soas[(provider, nameserver, zone)] = soa
        fields = ({"error": soa} if isinstance(soa, str)
                  else {"serial": soa.serial, "negative_ttl": soa.negative_ttl})
        return [self.event("serial", now, provider=provider, nameserver=nameserver, zone=zone,
                           **fields)]

    def resolver(self, now: float, resolver: str, target: Target, reply: Reply) -> list[Event]:
        seen = self.resolved[(resolver, target.key)]
        state = classify_resolved(target, reply)
        events = []
        if state != seen.state or (isinstance(reply, str) and reply != seen.reply):
            seen.state, seen.since = state, now
            events.append(self.event("resolver", now, resolver=resolver, zone=target.zone,
                                     name=target.name, type=target.type, state=state,
                                     **_reply_fields(reply)))
        seen.reply = reply
        expires = self.expires_at.get(target.key)
        key = (resolver, target.key)
        stale = state == OLD and expires is not None and now > expires + STALE_SLACK
        if stale and key not in self._stale:
            self._stale.add(key)
            events.append(self.finding(now, Finding(
                Severity.WARNING, "watch.resolver-stale",
                f"resolver {resolver} still answers the old {target.label} at {iso(now)}, after no"
                f" cache should hold it ({iso(expires)}): it keeps answers beyond their TTL",
                zone=target.zone, name=target.name, type=target.type, nameserver=resolver,
                expected=_expected(target), observed=_observed(reply))))
        return events

    # -- decisions ------------------------------------------------------------------

    def negative_ttl(self, target: Target) -> int | None:
        """The largest negative-cache TTL among the providers serving the target's zone."""
        ttls = [s.negative_ttl for (p, _, zone), s in self.soas.items()
                if p in target.new and zone == target.zone and isinstance(s, Soa)]
        return max(ttls) if ttls else None

    def converged(self, target: Target) -> bool:
        return all(self.auth[(p, ns, target.key)].state == NEW
                   for p in target.providers for ns in self.nameservers[p])

    def zones(self, provider: str) -> list[str]:
        return sorted({t.zone for t in self.targets if provider in t.new})

    def serials(self, provider: str, zone: str) -> list[int | None]:
        """The SOA serial of `zone` at each of the provider's nameservers (None: unknown)."""
        return [s.serial if isinstance(s := self.soas.get((provider, ns, zone)), Soa) else None
                for ns in self.nameservers[provider]]

    def provider_done(self, provider: str) -> tuple[int, bool]:
        """(nameservers serving every change, whether all do and agree on each zone's serial)."""
        names = self.nameservers[provider]
        count = sum(all(self.auth[(provider, ns, t.key)].state == NEW
                        for t in self.targets if provider in t.new) for ns in names)
        agree = all(None not in (serials := self.serials(provider, zone)) and len(set(serials)) == 1
                    for zone in self.zones(provider))
        return count, count == len(names) and agree

    def expiry(self, target: Target, converged_at: float) -> tuple[float, str] | None:
        """When no resolver can hold the old answer any more, and why; None until the
        negative TTL is known for a name that did not exist before."""
        wait, reasons = 0, []  # CLOCK_GRANULARITY is added whenever anything may be cached
        if target.old_ttl is not None:
            wait, reasons = target.old_ttl, [f"old TTL {target.old_ttl} s"]
        if target.was_absent:
            negative = self.negative_ttl(target)
            if negative is None:
                return None
            wait = max(wait, negative)
            reasons.append(f"negative TTL {negative} s")
        if not reasons:
            return converged_at, "nothing was cached"
        return converged_at + wait + CLOCK_GRANULARITY, " / ".join(reasons)

    def settle(self, now: float) -> list[Event]:
        """Decide after the nameservers' answers of a poll round: convergence per change and
        provider, cache expiry. Resolvers are observed after this, `conclude()` last."""
        if self.outcome:
            return []
        events: list[Event] = []
        for provider, nameserver, target in self._fresh_other:
            seen = self.auth[(provider, nameserver, target.key)]
            events.append(self.finding(now, Finding(
                Severity.ERROR, "watch.unexpected-value",
                f"{nameserver} ({provider}) serves {target.label} as {_observed(seen.reply)}:"
                " neither the old nor the new value (changed outside dnssync, or the provider"
                " altered it)",
                zone=target.zone, name=target.name, type=target.type, provider=provider,
                nameserver=nameserver, expected=_expected(target, provider),
                observed=_observed(seen.reply))))
        if self._fresh_other:
            self._fresh_other = []
            return events + self.finish(now, "unexpected", "a nameserver serves a value that is"
                                        " neither the old nor the new one")
        for target in self.targets:
            events += self._settle_target(now, target)
        for provider in self.nameservers:
            status = self.provider_done(provider)
            if status != self.provider_status.get(provider):
                self.provider_status[provider] = status
                events.append(self.event(
                    "provider", now, provider=provider, converged=status[0],
                    total=len(self.nameservers[provider]), done=status[1],
                    serials={z: self.serials(provider, z) for z in self.zones(provider)}))
        everything = (all(t.key in self.expires_at for t in self.targets)
                      and all(done for _, done in self.provider_status.values()))
        if everything and self.authoritative_at is None:
            self.authoritative_at = now
            self.propagated_at = max(self.expires_at.values(), default=now)
            events.append(self.event("authoritative", now,
                                     fully_propagated_at=iso(self.propagated_at)))
        elif not everything and self.authoritative_at is not None:
            self.authoritative_at = self.propagated_at = None
        return events

    def conclude(self, now: float) -> list[Event]:
        """The end of a poll round: fully propagated, timed out, or go on."""
        if self.outcome:
            return []
        if self.propagated_at is not None and now >= self.propagated_at:
            return self.finish(now, "propagated", "fully propagated: every nameserver serves the"
                               " new data and no cache can hold the old")
        if self.deadline is not None and now >= self.deadline:
            return self.timeout(now)
        return []

    def _settle_target(self, now: float, target: Target) -> list[Event]:
        key = target.key
        if not self.converged(target):
            if key in self.converged_at:
                del self.converged_at[key]
                self.expires_at.pop(key, None)
                return [self.event("regressed", now, zone=target.zone, name=target.name,
                                   type=target.type)]
            return []
        at = self.converged_at.setdefault(key, now)
        if key in self.expires_at:
            return []
        expiry = self.expiry(target, at)
        if expiry is None:
            return []
        self.expires_at[key] = expiry[0]
        return [self.event("converged", now, zone=target.zone, name=target.name, type=target.type,
                           action=target.action, converged_at=iso(at), cached_until=iso(expiry[0]),
                           basis=expiry[1])]

    def finish(self, now: float, outcome: str, message: str) -> list[Event]:
        self.outcome = outcome
        extra = ({"fully_propagated_at": iso(self.propagated_at)}
                 if outcome == "propagated" and self.propagated_at is not None else {})
        return [self.event("done", now, outcome=outcome, exit_code=self.exit_code, message=message,
                           **extra)]

    @property
    def exit_code(self) -> int:
        return 0 if self.outcome == "propagated" else 1

    def timeout(self, now: float) -> list[Event]:
        """Not propagated by the deadline: a finding per lagging nameserver, and why in one line."""
        events, reasons = [], []
        waited = round(now - self.started, 1)
        for provider, names in self.nameservers.items():
            count, done = self.provider_status.get(provider, (0, False))
            if done:
                continue
            problems = []
            for nameserver in names:
                for target in (t for t in self.targets if provider in t.new):
                    seen = self.auth[(provider, nameserver, target.key)]
                    if seen.state == NEW:
                        continue
                    what = _lag(seen)
                    problems.append(f"{nameserver}: {target.label} {what}")
                    events.append(self.finding(now, Finding(
                        Severity.ERROR, "watch.lagging",
                        f"{nameserver} ({provider}) does not serve the new {target.label} after"
                        f" {waited} s: {what}", zone=target.zone, name=target.name,
                        type=target.type, provider=provider, nameserver=nameserver,
                        expected=_expected(target, provider),
                        observed=_observed(seen.reply) if seen.reply is not None else None)))
            for zone in self.zones(provider) if count == len(names) else []:
                serials = self.serials(provider, zone)
                if None in serials:
                    problems.append(f"SOA of {zone} unanswered by " + ", ".join(
                        f"{ns} ({_lag(Seen(ERROR, self.soas.get((provider, ns, zone))))})"
                        for ns, s in zip(names, serials, strict=True) if s is None))
                elif len(set(serials)) > 1:
                    shown = ", ".join(f"{ns} {s}" for ns, s in zip(names, serials, strict=True))
                    problems.append(f"SOA serials of {zone} differ ({shown})")
                    events.append(self.finding(now, Finding(
                        Severity.ERROR, "watch.serial-mismatch",
                        f"{provider}'s nameservers serve different SOA serials of {zone}: {shown}",
                        zone=zone, provider=provider, observed=serials)))
            if provider in self.failed:
                problems.append(f"its apply failed: {self.failed[provider]}")
            reasons.append(f"{provider}: {count} of {len(names)} nameserver(s) converged; "
                           + "; ".join(problems))
        if not reasons:
            late = max(self.expires_at.items(), key=lambda item: item[1], default=None)
            if late is not None:
                target = next(t for t in self.targets if t.key == late[0])
                reasons.append(f"every nameserver serves the new data, but resolvers may cache the"
                               f" old {target.label} until {iso(late[1])}")
        message = f"not propagated within {waited} s: " + " | ".join(reasons)
        events.append(self.finding(now, Finding(Severity.ERROR, "watch.timeout", message)))
        return events + self.finish(now, "timeout", message)

    def next_wake(self, now: float, interval: float) -> float:
        """When to poll next: every `interval`, and exactly at full propagation and deadline."""
        moments = [now + interval]
        moments += [m for m in (self.propagated_at, self.deadline) if m is not None and m > now]
        return min(moments)


def _reply_fields(reply: Reply) -> dict[str, Any]:
    return {"error": reply} if isinstance(reply, str) else reply.to_json()


def _observed(reply: Reply | None) -> Any:
    if reply is None or isinstance(reply, str):
        return reply
    return reply.describe()


def _expected(target: Target, provider: str | None = None) -> str:
    news = [target.new[provider]] if provider else list(dict.fromkeys(target.new.values()))
    return " or ".join(n.describe() for n in news)


def _lag(seen: Seen) -> str:
    if seen.state == PENDING or seen.reply is None:
        return "no answer yet"
    if isinstance(seen.reply, str):
        return f"no usable answer ({seen.reply})"
    return f"still serves the old value ({seen.reply.describe()})"


@dataclass
class Watched:
    """What one apply changed, read back from its record."""

    apply_id: str
    targets: list[Target]
    failed: dict[str, str]  # provider -> why its apply did not complete
    findings: list[Finding]


def read_apply(path: Path) -> Watched:
    """An apply record (`<state>/applies/<id>.json`, written by apply.run_apply) as the
    RRsets to follow; its plan's checksum is checked, so an edited record is refused."""
    try:
        record = json.loads(path.read_text())
        plan = Plan.from_json(record["plan"], f"the plan in {path}")
        outcomes = list(record["outcomes"])
        failed: dict[str, str] = {}
        for outcome in outcomes:
            if outcome["status"] in ("failed", "skipped"):
                failed.setdefault(outcome["provider"], outcome.get("error") or outcome["status"])
    except OSError as e:
        raise UsageError(f"cannot read apply record {path}: {e.strerror}") from None
    except (ValueError, KeyError, TypeError) as e:
        raise UsageError(f"{path} is not a dnssync apply record: {type(e).__name__}: {e}") from None
    targets, findings = targets_from_plan(plan)
    return Watched(str(record.get("id") or path.stem), targets, failed, findings)
