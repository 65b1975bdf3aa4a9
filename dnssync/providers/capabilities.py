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

A plugin declares them itself (a `min_ttl` attribute or a `MIN_TTL` constant,
as octodns-cloudflare does); a provider file can declare them for providers
whose plugin does not (`capabilities: {min_ttl: 300}`), and that wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dns.rdata
import dns.rdataclass
import dns.rdatatype
from dns.rdtypes.ANY.TXT import TXT
from octodns.provider.base import BaseProvider
from octodns.zone import Zone

from dnssync.wire import txt_joined

#: the attribute under which build_provider keeps a provider file's `capabilities`
DECLARED_ATTR = "dnssync_capabilities"
#: capability keys a provider file may declare, with their allowed range
DECLARABLE: dict[str, tuple[int, int]] = {"min_ttl": (0, 2**31 - 1), "txt_chunk": (1, 255)}


@dataclass(frozen=True)
class Capabilities:
    min_ttl: int | None = None
    txt_chunk: int | None = None


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
    )


def served_zone(provider: BaseProvider, desired: Zone) -> Zone:
    """The zone `provider` will serve of `desired`: octoDNS's processing for this
    provider, then its TTL clamp. `desired` is not modified."""
    served = provider._process_desired_zone(desired.copy())
    min_ttl = capabilities_of(provider).min_ttl
    if min_ttl:
        for record in list(served.records):
            if record.ttl < min_ttl:
                raised = record.copy()
                raised.ttl = min_ttl
                served.add_record(raised, replace=True, lenient=True)
    return served


def rechunk_txt(rdata_text: str, size: int) -> str:
    """A TXT RDATA (presentation format) with its strings joined and re-split at `size` bytes."""
    rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, rdata_text)
    joined = txt_joined(rdata.to_digestable())
    pieces = [joined[i:i + size] for i in range(0, len(joined), size)] or [b""]
    return TXT(dns.rdataclass.IN, dns.rdatatype.TXT, pieces).to_text()
