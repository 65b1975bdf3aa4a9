"""The embedded authoritative nameserver: the zero-install provider of `dnssync demo`.

A small asyncio nameserver (UDP and TCP, dnspython for every message) that a
provider of kind `embedded` pushes to over RFC 2136 and reads back over AXFR,
exactly as dnssync talks to BIND or Knot, and that answers queries the way an
authoritative server must. Faults (drops, delays, SERVFAIL/REFUSED, stale data,
one lying record, outages) can be set on a running server, so verify and watch
can be shown, and tested, finding what real providers do wrong.

Modules: `zonedata` (one zone's records and indices), `answer` (authoritative
answers), `update` (RFC 2136), `server` (the sockets), `faults` and `control`
(breaking a running server), `provider` (the octoDNS provider), `fleet` (the
servers of a repository's embedded providers).
"""
