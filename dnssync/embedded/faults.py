"""Faults a running embedded nameserver can be told to have, for tests and the demo.

Real providers fail in ways a healthy lab server cannot be made to on demand:
an edge that drops or delays queries, answers SERVFAIL or REFUSED, keeps
serving yesterday's zone while the API reports success, or lies about one
record. `Faults` describes them as data; the server applies them to ordinary
queries (the data plane). The provider's API (updates and transfers) keeps
working under every fault but `down`, which closes the server's sockets: a real
outage, so apply fails at that provider too.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
from dns.name import Name

from dnssync.embedded.answer import zone_for
from dnssync.embedded.signing import RRSIG_FAULTS
from dnssync.embedded.zonedata import ZoneData
from dnssync.model.errors import DnssyncException

#: TTL of a lie about a record that does not exist
LIE_TTL = 300


class FaultError(DnssyncException, ValueError):
    """A fault description that cannot be applied (unknown key, bad value)."""


@dataclass(frozen=True)
class Lie:
    """Answer `values` (none: the RRset does not exist) for `name`/`type` instead of the truth."""

    name: str
    type: str
    values: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        try:
            name = dns.name.from_text(self.name)
            rdtype = dns.rdatatype.from_text(self.type)
            for value in self.values:
                dns.rdata.from_text(dns.rdataclass.IN, rdtype, value)
        except Exception as e:  # dnspython raises many kinds for bad text
            raise FaultError(f"lie {self.name} {self.type} {list(self.values)}: {e}") from None
        object.__setattr__(self, "name", name.to_text())
        object.__setattr__(self, "type", dns.rdatatype.to_text(rdtype))
        object.__setattr__(self, "values", tuple(self.values))

    def apply(self, zones: dict[Name, ZoneData]) -> dict[Name, ZoneData]:
        """The zones as the lie tells them (unchanged when the name is in no zone served)."""
        name, rdtype = dns.name.from_text(self.name), dns.rdatatype.from_text(self.type)
        zone = zone_for(zones, name)
        if zone is None:
            return zones
        rds = None
        if self.values:
            rds = dns.rdataset.Rdataset(dns.rdataclass.IN, rdtype)
            for value in self.values:
                rds.add(dns.rdata.from_text(dns.rdataclass.IN, rdtype, value, origin=zone.origin))
            truth = zone.get(name, rdtype)
            rds.ttl = truth.ttl if truth is not None else LIE_TTL
        return {**zones, zone.origin: zone.with_changes({name: {rdtype: rds}})}


@dataclass(frozen=True)
class Faults:
    """What is wrong with a nameserver now. The default is a healthy server."""

    down: bool = False  # sockets closed: queries time out, updates and transfers fail
    drop: float = 0.0  # share of UDP queries never answered, as on a lossy path (1.0: all, TCP too)
    delay: float = 0.0  # seconds before each answer
    rcode: str | None = None  # answer every query with this rcode (SERVFAIL, REFUSED, ...)
    stale: bool = False  # keep answering from the zones as they were when this was set
    lie: Lie | None = None  # one record answered wrongly
    truncate: bool = False  # set TC on every UDP answer (clients must retry over TCP)
    lame: bool = False  # answer without the AA bit, as a server that lost the zone
    rrsig: str | None = None  # a signed zone's RRSIGs: "broken" (do not validate) or "expired"

    def __post_init__(self) -> None:
        if not 0 <= self.drop <= 1:
            raise FaultError(f"drop is a share between 0 and 1, got {self.drop}")
        if not 0 <= self.delay <= 60:
            raise FaultError(f"delay is 0 .. 60 seconds, got {self.delay}")
        if self.rrsig is not None and self.rrsig not in RRSIG_FAULTS:
            raise FaultError(f"rrsig is one of {', '.join(RRSIG_FAULTS)}, got {self.rrsig!r}")
        if self.rcode is not None:
            try:
                rcode = dns.rcode.to_text(dns.rcode.from_text(self.rcode))
                object.__setattr__(self, "rcode", rcode)
            except dns.rcode.UnknownRcode:
                raise FaultError(f"unknown rcode {self.rcode!r}") from None

    @property
    def healthy(self) -> bool:
        return self == Faults()

    def drops(self, tcp: bool = False) -> bool:
        """Whether to leave this query unanswered. A lossy path loses datagrams, not TCP
        questions (TCP resends lost segments), so a partial drop spares TCP; 1.0 is a
        server that answers nothing at all."""
        if self.drop >= 1:
            return True
        return not tcp and self.drop > 0 and random.random() < self.drop

    def changed(self, **changes: Any) -> Faults:
        """These faults with some changed; values as `from_dict` takes them."""
        return Faults.from_dict({**self.to_dict(), **changes})

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if self.lie is not None:
            lie = self.lie
            data["lie"] = {"name": lie.name, "type": lie.type, "values": list(lie.values)}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Faults:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise FaultError(f"unknown fault {', '.join(unknown)}"
                             f" (known: {', '.join(sorted(known))})")
        values = dict(data)
        lie = values.get("lie")
        if isinstance(lie, dict):
            try:
                told = tuple(lie.get("values") or ())
                values["lie"] = Lie(str(lie["name"]), str(lie["type"]), told)
            except KeyError as e:
                raise FaultError(f"a lie needs a name, a type and values (missing {e})") from None
        try:
            kinds = {"down": bool, "stale": bool, "truncate": bool, "lame": bool, "drop": float,
                     "delay": float}
            for key, kind in kinds.items():
                if key in values:
                    values[key] = kind(values[key])
            return replace(cls(), **values)
        except (TypeError, ValueError) as e:
            if isinstance(e, FaultError):
                raise
            raise FaultError(str(e)) from None

    def describe(self) -> str:
        """One line for people, e.g. 'stale data; lies about www.example.com. A'."""
        parts = []
        if self.down:
            parts.append("down")
        if self.drop:
            parts.append(f"drops {self.drop:.0%} of queries")
        if self.delay:
            parts.append(f"delays answers {self.delay:g}s")
        if self.rcode:
            parts.append(f"answers {self.rcode}")
        if self.stale:
            parts.append("serves stale data")
        if self.lie:
            told = ", ".join(self.lie.values) or "nothing"
            parts.append(f"lies about {self.lie.name} {self.lie.type} ({told})")
        if self.truncate:
            parts.append("truncates UDP answers")
        if self.lame:
            parts.append("answers without AA")
        if self.rrsig:
            parts.append(f"serves {self.rrsig} RRSIGs")
        return "; ".join(parts) or "healthy"
