"""`class: embedded`: the octoDNS provider for an embedded nameserver.

Why RFC 2136 and not zone files: a provider that wrote files for a server to
reload (octodns-bind's ZoneFileProvider) would succeed while the server is
down, and the demo would show apply "succeeding" at a dead provider. A real
provider is reached over the network, so this one is: it is dnssync's
Rfc2136Provider (ordered, size-bounded updates, read back over AXFR) pointed at
the server, and an outage fails plan and apply there exactly as it does for
BIND or Knot. The one difference is what a hosted provider's API does: a zone
the server does not hold yet is reported as absent (plan shows "create zone")
and is created by the first update, instead of being an error.
"""

from __future__ import annotations

import dns.rcode

from dnssync.providers.rfc2136 import Rfc2136Error, Rfc2136Provider


class EmbeddedProvider(Rfc2136Provider):
    """An embedded nameserver (`dnssync serve`, `dnssync demo`), on loopback by default.
    With `expand_alias: true` it holds ALIAS records (TYPE65401, as PowerDNS) and answers
    their A/AAAA itself, as PowerDNS does with expand-alias (embedded/answer.py).
    `dnskey_ttl` (seconds, default 3600) is its server's DNSKEY TTL for the zones it signs
    (policy.dnssec multi-signer): a setting of the server (fleet.py), not of this client."""

    def __init__(self, id: str, host: str = "127.0.0.1", *args, expand_alias: bool = False,
                 dnskey_ttl: int | None = None, **kwargs):
        super().__init__(id, host, *args, **kwargs)
        if expand_alias:
            self.SUPPORTS = frozenset(self.SUPPORTS) | {"ALIAS"}

    def populate(self, zone, target=False, lenient=False):
        try:
            return super().populate(zone, target, lenient)
        except Rfc2136Error as e:
            if e.rcode == dns.rcode.NOTAUTH:  # the server holds no such zone yet
                return False
            raise
