"""What a provider will actually serve of a zone: its capabilities as data.

Two providers given the same zone do not always serve the same answers. Some of
the difference is in octoDNS itself (SUPPORTS flags, ALIAS, dynamic/geo records
flattened, multi-value PTR, apex NS support), and `served_zone` runs the
provider's own `_process_desired_zone` to get it. The rest are normalisations
a provider applies on its side, which octoDNS only half knows about; they are
modelled here as data:

* `min_ttl`: the provider raises any lower TTL to this (Cloudflare: 120 by
  default, `octodns_cloudflare.CloudflareProvider.min_ttl`). dnssync plans the
  raised TTL, so the plan converges instead of showing the same update forever.
* `txt_chunk`: the provider re-splits TXT character-strings at this many bytes
  (octoDNS always sends 255-byte strings); resolvers see different RDATA.

* `represents`: record types the provider keeps in a form of its own, which a
  zone transfer shows (PowerDNS keeps a LUA record as TYPE65402): verify does
  not call that form an extra record.
* `beside_cname`: what the server does with data sent beside a CNAME (PowerDNS
  refuses the change, BIND and Knot keep one side): the plan says it (planning/withheld.py).
* acceptance rules (`acceptance.py`): records the provider's server refuses
  although DNS allows them (BIND's check-names, max-records-per-type...). The
  served zone leaves them out, with the rule as the reason, so the plan names
  them as "cannot hold" and the rest of the zone is applied.

A plugin declares them itself (a `min_ttl` attribute or a `MIN_TTL` constant,
as octodns-cloudflare does; `ACCEPTANCE` on dnssync's subclasses); a provider
file can declare them for providers whose plugin does not (`capabilities:
{min_ttl: 300}`, `{check_names: false}`), and that wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import dns.rdata
import dns.rdataclass
import dns.rdatatype
from dns.rdtypes.ANY.TXT import TXT
from octodns.provider.base import BaseProvider
from octodns.record import Record
from octodns.zone import Zone

from dnssync.model.sameness import normal_zone
from dnssync.providers.acceptance import FLAGS, LIMITS, refusal, settings
from dnssync.query.wire import txt_joined

#: the attribute under which build_provider keeps a provider file's `capabilities`
DECLARED_ATTR = "dnssync_capabilities"
#: capability keys a provider file may declare, with their allowed range
DECLARABLE: dict[str, tuple[int, int]] = {"min_ttl": (0, 2**31 - 1), "txt_chunk": (1, 255), **LIMITS}
#: capability keys a provider file may turn on or off (acceptance rules)
DECLARABLE_FLAGS = FLAGS
#: where served_zone keeps why it left a record out: (zone, name, type) -> reason
REFUSALS_ATTR = "dnssync_refusals"


@dataclass(frozen=True)
class Capabilities:
    min_ttl: int | None = None
    txt_chunk: int | None = None
    rules: tuple[tuple[str, Any], ...] = ()  # acceptance rule -> its setting (see acceptance.py)
    #: octoDNS type -> the DNS types the provider keeps it as (PowerDNS: LUA as TYPE65402)
    represents: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: what the server does when sent data beside a CNAME, said after "if it were sent,
    #: <provider> ..." (planning/withheld.py); None when dnssync does not know
    beside_cname: str | None = None


def capabilities_of(provider: BaseProvider) -> Capabilities:
    """The provider's normalisations: declared in its file, else what its plugin says."""
    declared: dict[str, Any] = getattr(provider, DECLARED_ATTR, None) or {}
    plugin_min = getattr(provider, "min_ttl", None)
    if plugin_min is None:
        plugin_min = getattr(provider, "MIN_TTL", None)
    min_ttl = declared.get("min_ttl", plugin_min)
    return Capabilities(
        min_ttl=int(min_ttl) if isinstance(min_ttl, int) and min_ttl > 0 else None,
        txt_chunk=declared.get("txt_chunk"),
        rules=tuple(settings(getattr(provider, "ACCEPTANCE", {}), declared).items()),
        represents=dict(getattr(provider, "REPRESENTS", {})),
        beside_cname=getattr(provider, "BESIDE_CNAME", None),
    )


def served_zone(provider: BaseProvider, desired: Zone) -> Zone:
    """The zone `provider` will serve of `desired`: git's values in DNS's meaning
    (sameness.normal_zone), octoDNS's processing for this provider, then the records
    its server refuses left out (with the reason, see `refusal_reason`) and its TTL
    clamp. `desired` is not modified."""
    served = provider._process_desired_zone(normal_zone(desired).copy())
    capabilities = capabilities_of(provider)
    rules = {key: setting for key, setting in capabilities.rules if setting}
    min_ttl = capabilities.min_ttl
    if not rules and not min_ttl:
        return served
    refused = _refusals(provider)
    for record in list(served.records):
        why = refusal(record, rules) if rules else None
        if why:
            refused[(served.name, record.name, record._type)] = why
            served.remove_record(record)
        elif min_ttl and record.ttl < min_ttl:
            raised = record.copy()
            raised.ttl = min_ttl
            served.add_record(raised, replace=True, lenient=True)
    return served


def _refusals(provider: BaseProvider) -> dict[tuple[str, str, str], str]:
    refused = getattr(provider, REFUSALS_ATTR, None)
    if refused is None:
        refused = {}
        setattr(provider, REFUSALS_ATTR, refused)
    return refused


def refusal_reason(provider: BaseProvider, record: Record) -> str | None:
    """Why `provider`'s server refuses `record`, when served_zone left it out for that."""
    return (getattr(provider, REFUSALS_ATTR, None) or {}).get((record.zone.name, record.name, record._type))


def rechunk_txt(rdata_text: str, size: int) -> str:
    """A TXT RDATA (presentation format) with its strings joined and re-split at `size` bytes."""
    rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, rdata_text)
    joined = txt_joined(rdata.to_digestable())
    pieces = [joined[i:i + size] for i in range(0, len(joined), size)] or [b""]
    return TXT(dns.rdataclass.IN, dns.rdatatype.TXT, pieces).to_text()
