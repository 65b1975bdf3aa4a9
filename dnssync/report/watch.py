"""How `dnssync watch` shows propagation: a live view on a terminal, one line per
event in logs (the JSON form is the events themselves, one per line)."""

from __future__ import annotations

import time

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from dnssync.report.fit import Fitted
from dnssync.watch.propagation import ERROR, NEW, OLD, OTHER, Event, Propagation, iso

STATE_STYLE = {NEW: "green", OLD: "yellow", OTHER: "bold red", ERROR: "red", "pending": "dim"}
SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def _answer(event: Event, ttl: str = "TTL") -> str:
    if "error" in event:
        return event["error"]
    if event.get("exists") is False:
        return event.get("rcode", "no such RRset")
    return ", ".join(event["values"]) + f"; {ttl} {event['ttl']}"


def _change(event: Event) -> str:
    return f"{event['name']} {event['type']}"


def event_line(event: Event) -> Text | None:
    """One log line for an event (None for those only the JSON form carries)."""
    kind = event["event"]
    stamp = Text(f"[+{event['t']:.1f}s] ", style="dim")
    if kind == "start":
        changes = event["changes"]
        nameservers = sum(len(v) for v in event["nameservers"].values())
        text = Text(f"Watching apply {event['apply']}: {len(changes)} change(s) on"
                    f" {len(event['nameservers'])} provider(s) ({nameservers} nameserver(s)),"
                    f" {len(event['resolvers'])} resolver(s)")
        if event.get("deadline"):
            text.append(f"; timeout at {event['deadline']}")
        return text
    if kind == "nameserver":
        if event["state"] == NEW:
            return None  # progress shows in the provider lines; lagging is what needs reading
        return stamp + Text(f"{event['provider']} {event['nameserver']}: {_change(event)} ") \
            + Text(event["state"], style=STATE_STYLE[event["state"]]) + Text(f" ({_answer(event)})")
    if kind == "provider":
        serials = "; ".join(f"{zone} serial " + ", ".join("?" if s is None else str(s)
                                                           for s in values)
                            for zone, values in event["serials"].items())
        state = "converged" if event["done"] else "converging"
        return stamp + Text(f"{event['provider']}: {event['converged']} of {event['total']}"
                            f" nameserver(s) serve every change ({serials}) ") \
            + Text(state, style="green" if event["done"] else "yellow")
    if kind == "converged":
        return stamp + Text(f"{_change(event)} is served by every nameserver; caches may hold the"
                            f" old answer until {event['cached_until']} ({event['basis']})")
    if kind == "regressed":
        return stamp + Text(f"{_change(event)}: a nameserver no longer serves the new data",
                            style="yellow")
    if kind == "authoritative":
        # not a success yet: a timeout may still come before the caches have expired
        return stamp + Text("Every nameserver of every provider serves the change; caches may hold"
                            f" old answers until {event['fully_propagated_at']}", style="green")
    if kind == "resolver":
        return stamp + Text(f"resolver {event['resolver']}: {_change(event)} ") \
            + Text(event["state"], style=STATE_STYLE[event["state"]]) \
            + Text(f" ({_answer(event, 'remaining TTL')})")
    if kind == "finding":
        if event["code"] == "watch.timeout":
            return None  # the done line says the same
        return stamp + Text(event["severity"], style=SEVERITY_STYLE[event["severity"]]) \
            + Text(f" {event['code']}: {event['message']}")
    if kind == "done":
        style = "bold green" if event["exit_code"] == 0 else "bold red"
        return stamp + Text(event["message"], style=style)
    return None


def _countdown(moment: float, now: float) -> str:
    left = moment - now
    return f"{iso(moment)} (in {left:.0f} s)" if left > 0 else f"{iso(moment)} (passed)"


def live_view(prop: Propagation, now: float | None = None) -> RenderableType:
    """Per provider how many nameservers converged, per change its cache countdown,
    per resolver what it answers: redrawn after each poll."""
    now = time.time() if now is None else now
    providers = Table(title="nameservers", title_justify="left")
    for column in ("provider", "converged", "SOA serials"):
        providers.add_column(column)
    for provider, names in prop.nameservers.items():
        count, done = prop.provider_done(provider)
        serials = "; ".join(", ".join("?" if s is None else str(s)
                                      for s in prop.serials(provider, zone))
                            for zone in prop.zones(provider))
        style = "green" if done else "yellow"
        providers.add_row(provider, Text(f"{count}/{len(names)}", style=style), serials)
    changes = Table(title="changes", title_justify="left")
    for column in ("change", "action", "nameservers", "old answer may be cached until"):
        changes.add_column(column, overflow="fold")
    for target in prop.changed:
        states = [prop.auth[(p, ns, target.key)].state for p in target.providers
                  for ns in prop.nameservers[p]]
        expires = prop.expires_at.get(target.key)
        changes.add_row(target.label, target.action, f"{states.count(NEW)}/{len(states)} new",
                        _countdown(expires, now) if expires else Text("converging", style="yellow"))
    parts: list[RenderableType] = [Fitted(providers), Fitted(changes)]
    if prop.resolvers:
        resolvers = Table(title="resolvers", title_justify="left")
        for column in ("resolver", "change", "answers", "TTL"):
            resolvers.add_column(column, overflow="fold")
        for (resolver, key), seen in prop.resolved.items():
            ttl = getattr(seen.reply, "ttl", None)
            resolvers.add_row(resolver, f"{key[0]} {key[1]}",
                              Text(seen.state, style=STATE_STYLE.get(seen.state, "")),
                              "" if ttl is None else str(ttl))
        parts.append(Fitted(resolvers))
    if prop.outcome == "propagated":
        parts.append(Text(f"Fully propagated at {iso(prop.propagated_at or now)}", style="green"))
    elif prop.outcome:
        parts.append(Text(prop.message[:1].upper() + prop.message[1:], style="bold red"))
    elif prop.propagated_at is not None:
        deadline = f"; timeout at {_countdown(prop.deadline, now)}" if prop.deadline is not None else ""
        parts.append(Text("Every nameserver serves the change; caches may hold old answers until"
                          f" {_countdown(prop.propagated_at, now)}{deadline}", style="yellow"))
    elif prop.deadline is not None:
        parts.append(Text(f"Waiting for nameservers; timeout at {_countdown(prop.deadline, now)}",
                          style="yellow"))
    return Group(*parts)
