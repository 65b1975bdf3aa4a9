"""Applying a multi-signer zone's key exchange (the DNSKEY changes keyplan.py planned).

The order is what keeps every resolver validating throughout (RFC 8901 8, RFC 6781
4.1.1 pre-publication):

1. every new key is published at every provider first (RFC 2136, signed with the
   provider's TSIG key), and read back over DNS from each of its nameservers: a
   server that answers NOERROR and drops the key (Knot 3.2 under automatic
   signing does) is a failure naming the key, never a success;
2. then apply waits out the longest DNSKEY TTL the providers serve, so no
   resolver still holds a DNSKEY RRset without the new keys;
3. only then is anything removed (keys no provider signs with any more), and
   read back again; and only then is the parent's DS worth changing (`dnssync ds`).

A zone whose publishing failed anywhere has nothing removed: the keys still in
use are never taken away while the set is not the same everywhere.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

import dns.name
import dns.update
from octodns.provider.base import BaseProvider

from dnssync.applying.apply import Outcome
from dnssync.model import interrupt
from dnssync.model.dnskeys import describe
from dnssync.model.plan import Change, Plan, ProviderPlan
from dnssync.planning.keyplan import key_of, pending_zones
from dnssync.providers.rfc2136 import Rfc2136Error, Rfc2136Provider
from dnssync.query.servedkeys import ServedKeys, read_all
from dnssync.repo.config import Config


@dataclass
class KeyExchange:
    """What the key exchange did: an outcome per provider and zone, and the waits."""

    outcomes: list[Outcome] = field(default_factory=list)
    waited: dict[str, int] = field(default_factory=dict)  # zone -> seconds waited after publishing

    @property
    def failed(self) -> bool:
        return any(o.status in ("failed", "interrupted") for o in self.outcomes)


def _send(provider: BaseProvider, zone: str, changes: list[Change]) -> None:
    if not isinstance(provider, Rfc2136Provider):
        raise Rfc2136Error(f"{type(provider).__name__} has no way to publish a DNSKEY")
    update = dns.update.UpdateMessage(zone, **provider._auth_params())
    origin = dns.name.from_text(zone)
    for change in changes:
        key = key_of(change)
        if change.action == "create":
            update.add(origin, int((change.desired or {})["ttl"]), key)
        else:
            update.delete(origin, key)
    provider._send(update, zone)


def _read(config: Config, zone: str, providers: list[str]) -> dict[str, ServedKeys]:
    timeout = config.defaults.timeout
    return asyncio.run(read_all({p: config.providers[p].nameservers for p in providers}, zone, timeout))


def _unserved(change: Change, served: ServedKeys) -> list[str]:
    """The nameservers of a provider that do not serve what `change` asked for."""
    key = key_of(change).to_digestable()
    wanted = change.action == "create"
    if served.error is not None:
        return [served.error]
    return [ns.nameserver for ns in served.answered
            if (key in {k.to_digestable() for k in ns.keys}) != wanted]


def _phase(config: Config, providers: dict[str, BaseProvider], zone: str, pairs: list[ProviderPlan],
           action: str, everyone: list[str]) -> tuple[list[Outcome], dict[str, ServedKeys]]:
    """Send one kind of change (create or delete) to every pair of `zone`, then read every
    provider back; an outcome per pair that had such changes."""
    outcomes = []
    for pp in pairs:
        changes = [c for c in pp.keys if c.action == action]
        if not changes:
            continue
        outcome = Outcome(pp.provider, f"{zone} DNSKEY", "applied", changes=len(changes), attempts=1, retryable=False)
        try:
            with interrupt.sending(f"{pp.provider}/{zone} DNSKEY"):
                interrupt.checkpoint()
                _send(providers[pp.provider], zone, changes)
        except interrupt.Interrupted as e:
            outcome.status, outcome.error, outcome.pending = "interrupted", str(e), len(changes)
        except Rfc2136Error as e:
            outcome.status, outcome.error, outcome.retryable = "failed", f"DNSKEY {action}: {e}", e.transient
        outcomes.append(outcome)
    served = _read(config, zone, everyone)
    for outcome in outcomes:
        if outcome.status != "applied":
            continue
        pp = next(p for p in pairs if p.provider == outcome.provider)
        missing = [(c, where) for c in pp.keys if c.action == action
                   if (where := _unserved(c, served[outcome.provider]))]
        if missing:
            outcome.status, outcome.contradicted, outcome.pending = "failed", True, len(missing)
            verb = "does not serve" if action == "create" else "still serves"
            outcome.error = (f"DNSKEY {action}: the server answered NOERROR, but reading it back it {verb} "
                             + "; ".join(f"{describe(key_of(c))} (at {', '.join(where)})" for c, where in missing))
    return outcomes, served


def exchange_keys(config: Config, plan: Plan, providers: dict[str, BaseProvider],
                  say: Callable[[str], None], replan: Callable[[Plan, list[str]], None],
                  pause: Callable[[float], None] = interrupt.pause) -> KeyExchange:
    """Apply every pair's DNSKEY changes in `plan`, zone by zone, in the safe order. Zones
    the records apply has just created somewhere are planned again first (`replan`), now
    that every provider serves them, and their key changes said."""
    result = KeyExchange()
    pending = pending_zones(plan)
    if pending:
        for pp in plan.providers:  # the zone exists now wherever the records apply succeeded
            if pp.zone in pending:
                pp.exists = True
        replan(plan, pending)
        for pp in plan.providers:
            for change in pp.keys if pp.zone in pending else ():
                say(f"{pp.provider}/{pp.zone}: {change.summary.split(' ', 3)[0]} DNSKEY {change.origin}"
                    " (planned now that the zone exists everywhere)")
    for zone in sorted({pp.zone for pp in plan.providers if pp.keys}):
        pairs = [pp for pp in plan.providers if pp.zone == zone and pp.keys]
        everyone = [p.name for p in config.providers_for(zone)]
        published, served = _phase(config, providers, zone, pairs, "create", everyone)
        result.outcomes += published
        if any(o.status != "applied" for o in published):
            if any(c.action == "delete" for pp in pairs for c in pp.keys):
                say(f"{zone}: not removing any key: publishing the new ones failed somewhere")
            continue
        wait = max((s.ttl for s in served.values() if s.error is None), default=0)
        if published and wait:
            say(f"{zone}: new keys published at every provider; waiting {wait}s (the longest DNSKEY TTL) so no"
                " resolver still holds a DNSKEY set without them")
            pause(wait)
            result.waited[zone] = wait
        if any(c.action == "delete" for pp in pairs for c in pp.keys):
            removed, _ = _phase(config, providers, zone, pairs, "delete", everyone)
            result.outcomes += removed
    return result
