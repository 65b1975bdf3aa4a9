"""The propagation timing model: when each change has converged on every nameserver,
when no cache can hold the old answer, and when watching ends.

Times are wall-clock seconds (the user reads "fully propagated at 12:04:31Z"). The
convergence time of a change is when a poll first saw every nameserver serve it,
which is at or after the real moment, so the cache expiry derived from it is a
safe upper bound. Nothing here does I/O: `poll` feeds it, tests feed it by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dnssync.model.findings import Finding, Severity
from dnssync.watch.changes import ChangedRRset, RRsetState

#: one thing that happened, JSON-ready: {"event": kind, "at": ISO time, "t": seconds, ...}
Event = dict[str, Any]

#: states of one nameserver (or resolver) for one changed RRset
PENDING, NEW, OLD, OTHER, ERROR = "pending", "new", "old", "other", "error"


def iso(moment: float) -> str:
    text = datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


@dataclass(frozen=True)
class SoaSerial:
    """What watch follows of a nameserver's SOA for the zone: its serial and negative-cache
    TTL. (The record itself, as the engine read it, is `query.answer.SoaRecord`; one row of
    `dnssync soa` is `verify.soa.NameserverSoa`.)"""

    serial: int
    negative_ttl: int  # min(SOA MINIMUM, SOA TTL), RFC 2308 section 5


#: what a nameserver or resolver answered: the RRset, or why there is no usable answer
Polled = RRsetState | str


@dataclass
class Seen:
    """The last state of one nameserver (or resolver) for one target, and on how many
    polls in a row it was seen."""

    state: str = PENDING
    reply: Polled | None = None
    polls: int = 0


def classify(target: ChangedRRset, provider: str, reply: Polled) -> str:
    """An authoritative answer: the provider's new RRset (TTL included), its old one, or other."""
    if isinstance(reply, str):
        return ERROR
    if target.new[provider].matches(reply):
        return NEW
    return OLD if reply in target.olds(provider) else OTHER


def classify_resolved(target: ChangedRRset, reply: Polled) -> str:
    """A resolver's answer, compared by values: its TTL counts down in the cache.
    A TTL-only change is told apart by a remaining TTL above the new TTL."""
    if isinstance(reply, str):
        return ERROR
    old = [o for o in target.old.values() if o is not None]
    if any(reply.key == n.key for n in target.new.values()):
        new_ttl = max((n.ttl or 0) for n in target.new.values())
        if any(reply.key == o.key for o in old) and (reply.ttl or 0) > new_ttl:
            return OLD
        return NEW
    return OLD if any(reply.key == o.key for o in old) else OTHER


#: caches count TTLs in whole seconds (Unbound and BIND keep a seconds clock), so an entry
#: may outlive its TTL by up to a second
CLOCK_GRANULARITY = 1
#: a resolver answering the old value this long after no cache may hold it is stale
STALE_SLACK = 1.0
#: polls in a row a value neither old nor new must be seen on before watch fails: a
#: provider whose API updates an RRset as delete-then-add may show a gap for a moment
OTHER_POLLS = 3


class Propagation:
    """The propagation state of one apply's changes, fed observation by observation.

    `nameservers` maps each provider to its nameservers' labels, `resolvers` lists
    the recursive resolvers watched. Every method returns the events it caused;
    `settle()` is called after each poll round and decides convergence, cache
    expiry and the end (`outcome`: propagated | timeout | unexpected)."""

    def __init__(self, apply_id: str, changed: list[ChangedRRset], nameservers: dict[str, list[str]],
                 resolvers: list[str], started: float, timeout: float | None = None,
                 failed: dict[str, str] | None = None) -> None:
        self.apply_id = apply_id
        self.changed = changed
        providers = {p for t in changed for p in t.providers}
        self.nameservers = {p: list(nameservers.get(p, [])) for p in sorted(providers)}
        self.resolvers = list(resolvers)
        self.started = started
        self.deadline = started + timeout if timeout is not None else None
        self.failed = dict(failed or {})  # provider -> why its apply failed
        self.auth: dict[tuple[str, str, tuple[str, str]], Seen] = {
            (p, ns, t.key): Seen()
            for t in changed for p in t.providers for ns in self.nameservers[p]}
        self.soas: dict[tuple[str, str, str], SoaSerial | str] = {}  # (provider, nameserver, zone)
        self.resolved: dict[tuple[str, tuple[str, str]], Seen] = {
            (r, t.key): Seen() for r in self.resolvers for t in changed}
        self.converged_at: dict[tuple[str, str], float] = {}
        self.expires_at: dict[tuple[str, str], float] = {}
        self.provider_status: dict[str, tuple[int, bool]] = {}
        self.authoritative_at: float | None = None
        self.propagated_at: float | None = None
        self.outcome: str | None = None
        self.message = ""  # why it ended, once `outcome` is set
        self.findings: list[Finding] = []
        self._stale: set[tuple[str, tuple[str, str]]] = set()

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
            "start", now, apply=self.apply_id, changes=[t.to_json() for t in self.changed],
            nameservers=self.nameservers, resolvers=self.resolvers,
            deadline=iso(self.deadline) if self.deadline is not None else None)]
        for provider, why in sorted(self.failed.items()):
            events.append(self.finding(now, Finding(
                Severity.WARNING, "watch.apply-failed",
                f"the apply did not complete at {provider} ({why}); its nameservers may never serve"
                " the new data: re-run apply", provider=provider)))
        return events

    # -- observations -----------------------------------------------------------------

    def nameserver(self, now: float, provider: str, nameserver: str, target: ChangedRRset,
                   reply: Polled) -> list[Event]:
        seen = self.auth[(provider, nameserver, target.key)]
        state = classify(target, provider, reply)
        seen.polls = seen.polls + 1 if state == seen.state else 1
        same = reply == seen.reply or (isinstance(reply, str) and isinstance(seen.reply, str)
                                       and _error_kind(reply) == _error_kind(seen.reply))
        if state == seen.state and same:
            seen.reply = reply  # a down server's error text varies poll by poll: one line is enough
            return []
        seen.state, seen.reply = state, reply
        return [self.event("nameserver", now, provider=provider, nameserver=nameserver,
                           zone=target.zone, name=target.name, type=target.type, state=state,
                           **_reply_fields(reply))]

    def serial(self, now: float, provider: str, nameserver: str, zone: str,
               soa: SoaSerial | str) -> list[Event]:
        if self.soas.get((provider, nameserver, zone)) == soa:
            return []
        self.soas[(provider, nameserver, zone)] = soa
        fields = ({"error": soa} if isinstance(soa, str)
                  else {"serial": soa.serial, "negative_ttl": soa.negative_ttl})
        return [self.event("serial", now, provider=provider, nameserver=nameserver, zone=zone,
                           **fields)]

    def resolver(self, now: float, resolver: str, target: ChangedRRset, reply: Polled) -> list[Event]:
        seen = self.resolved[(resolver, target.key)]
        state = classify_resolved(target, reply)
        events = []
        if state != seen.state or (isinstance(reply, str) and reply != seen.reply):
            seen.state = state
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

    def negative_ttl(self, target: ChangedRRset) -> int | None:
        """The largest negative-cache TTL among the providers serving the target's zone."""
        ttls = [s.negative_ttl for (p, _, zone), s in self.soas.items()
                if p in target.new and zone == target.zone and isinstance(s, SoaSerial)]
        return max(ttls) if ttls else None

    def converged(self, target: ChangedRRset) -> bool:
        return all(self.auth[(p, ns, target.key)].state == NEW
                   for p in target.providers for ns in self.nameservers[p])

    def zones(self, provider: str) -> list[str]:
        return sorted({t.zone for t in self.changed if provider in t.new})

    def serials(self, provider: str, zone: str) -> list[int | None]:
        """The SOA serial of `zone` at each of the provider's nameservers (None: unknown)."""
        return [s.serial if isinstance(s := self.soas.get((provider, ns, zone)), SoaSerial) else None
                for ns in self.nameservers[provider]]

    def provider_done(self, provider: str) -> tuple[int, bool]:
        """(nameservers serving every change, whether all do and agree on each zone's serial)."""
        names = self.nameservers[provider]
        count = sum(all(self.auth[(provider, ns, t.key)].state == NEW
                        for t in self.changed if provider in t.new) for ns in names)
        agree = all(None not in (serials := self.serials(provider, zone)) and len(set(serials)) == 1
                    for zone in self.zones(provider))
        return count, count == len(names) and agree

    def expiry(self, target: ChangedRRset, converged_at: float) -> tuple[float, str] | None:
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
        wrong = [(provider, nameserver, target) for target in self.changed
                 for provider in target.providers for nameserver in self.nameservers[provider]
                 if (seen := self.auth[(provider, nameserver, target.key)]).state == OTHER
                 and seen.polls >= OTHER_POLLS]
        for provider, nameserver, target in wrong:
            seen = self.auth[(provider, nameserver, target.key)]
            events.append(self.finding(now, Finding(
                Severity.ERROR, "watch.unexpected-value",
                f"{nameserver} ({provider}) serves {target.label} as {_observed(seen.reply)}:"
                " neither the old nor the new value (changed outside dnssync, or the provider"
                " altered it)",
                zone=target.zone, name=target.name, type=target.type, provider=provider,
                nameserver=nameserver, expected=_expected(target, provider),
                observed=_observed(seen.reply))))
        if wrong:
            return events + self.finish(now, "unexpected", "a nameserver serves a value that is"
                                        " neither the old nor the new one")
        for target in self.changed:
            events += self._settle_target(now, target)
        for provider in self.nameservers:
            status = self.provider_done(provider)
            if status != self.provider_status.get(provider):
                self.provider_status[provider] = status
                events.append(self.event(
                    "provider", now, provider=provider, converged=status[0],
                    total=len(self.nameservers[provider]), done=status[1],
                    serials={z: self.serials(provider, z) for z in self.zones(provider)}))
        everything = (all(t.key in self.expires_at for t in self.changed)
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

    def _settle_target(self, now: float, target: ChangedRRset) -> list[Event]:
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
        self.outcome, self.message = outcome, message
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
                for target in (t for t in self.changed if provider in t.new):
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
        reasons += self.cached(now)
        message = f"not propagated within {waited} s: " + " | ".join(reasons)
        events.append(self.finding(now, Finding(Severity.ERROR, "watch.timeout", message)))
        return events + self.finish(now, "timeout", message)

    def cached(self, now: float) -> list[str]:
        """Which old answers resolvers may still hold, and until when: every change served
        by every nameserver whose old answer has not yet expired, naming the watched
        resolvers seen answering the old value (a timeout prints these, never a success)."""
        pending = []
        for target in self.changed:
            until = self.expires_at.get(target.key)
            if until is None or until <= now:
                continue
            holding = [r for r in self.resolvers if self.resolved[(r, target.key)].state == OLD]
            seen = f" ({', '.join(holding)} still answer(s) the old value)" if holding else ""
            pending.append(f"caches may hold the old {target.label} until {iso(until)}{seen}")
        return pending

    def next_wake(self, now: float, interval: float) -> float:
        """When to poll next: every `interval`, and exactly at full propagation and deadline."""
        moments = [now + interval]
        moments += [m for m in (self.propagated_at, self.deadline) if m is not None and m > now]
        return min(moments)


def _error_kind(error: str) -> str:
    """What kind of error a reply is ("unreachable", "timeout", "servfail"...), without its
    details: the log says once that a server is unreachable, not at every poll."""
    return error.split(":", 1)[0]


def _reply_fields(reply: Polled) -> dict[str, Any]:
    return {"error": reply} if isinstance(reply, str) else reply.to_json()


def _observed(reply: Polled | None) -> Any:
    if reply is None or isinstance(reply, str):
        return reply
    return reply.describe()


def _expected(target: ChangedRRset, provider: str | None = None) -> str:
    news = [target.new[provider]] if provider else list(dict.fromkeys(target.new.values()))
    return " or ".join(n.describe() for n in news)


def _lag(seen: Seen) -> str:
    if seen.state == PENDING or seen.reply is None:
        return "no answer yet"
    if isinstance(seen.reply, str):
        return f"no usable answer ({seen.reply})"
    return f"still serves the old value ({seen.reply.describe()})"


