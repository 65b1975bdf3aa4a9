"""An RFC 2136 update message rendered straight from its RRsets' owner names and RDATA.

dnspython's UpdateMessage files every RR it is given into RRsets (found, merged,
deduplicated, their TTLs reconciled) and renders them through its name-compressing
renderer: most of the CPU of pushing a fleet to BIND or Knot (about 8 ms of a 40-RRset
message, a third of a first apply's work). The changes of an update here are already
whole RRsets, one per (name, type), so `RawUpdate` writes each as the same RRs, in the
same order, as UpdateMessage renders them:

- add: each value (class IN, the RRset's TTL);
- replace: a delete of the RRset (class ANY, TTL 0, no RDATA), then each value;
- delete: the RRset (class ANY, TTL 0, no RDATA).

Names are not compressed (an update's size bound assumes they are not), so each is sent
as written; dnspython's compression wrote a later name in the case of an earlier one. The zone
section, the TSIG signature and reading the answer (and its signature) stay
dnspython's, and `dns.query.tcp` sends it like any message.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Iterable

import dns.name
import dns.rdata
import dns.rdataclass
import dns.renderer
import dns.tsig
import dns.update

_FIXED = struct.Struct("!HHIH")  # type, class, TTL, RDATA length


def rrset_rrs(action: str, owner: dns.name.Name, rdtype: int, ttl: int, rdatas: Iterable[dns.rdata.Rdata]
              ) -> list[bytes]:
    """The RRs of one add, replace or delete of a whole RRset, as UpdateMessage renders
    them (a value given twice is sent twice, as it does: adding an RR the zone holds
    changes nothing)."""
    name = owner.to_wire()
    rrs = []
    if action in ("replace", "delete"):
        rrs.append(name + _FIXED.pack(rdtype, dns.rdataclass.ANY, 0, 0))
    if action == "delete":
        return rrs
    for rdata in rdatas:
        data = rdata.to_wire()
        rrs.append(name + _FIXED.pack(rdtype, dns.rdataclass.IN, ttl, len(data)) + data)
    return rrs


class RawUpdate(dns.update.UpdateMessage):
    """An update message for `zone` whose update section is `rrs` (wire RRs, see
    `rrset_rrs`), signed as UpdateMessage signs (keyring and algorithm as its own)."""

    def __init__(self, zone: str | dns.name.Name, rrs: list[bytes], **auth: object):
        super().__init__(zone, **auth)
        self.rrs = rrs

    def to_wire(self, origin=None, max_size=0, multi=False, tsig_ctx=None, **kw) -> bytes:
        """Message.to_wire's steps for a message with only a zone section and raw RRs."""
        renderer = dns.renderer.Renderer(self.id, self.flags, 65535)
        for rrset in self.question:  # the zone section
            renderer.add_question(rrset.name, rrset.rdtype, rrset.rdclass)
        renderer.section = dns.renderer.AUTHORITY  # the update section
        for rr in self.rrs:
            renderer.output.write(rr)
        renderer.counts[dns.renderer.AUTHORITY] = len(self.rrs)
        renderer.write_header()
        if self.tsig is not None:
            signed, _ = dns.tsig.sign(renderer.get_wire(), self.keyring, self.tsig[0], int(time.time()),
                                      self.request_mac)
            self.tsig.clear()
            self.tsig.add(signed)
            renderer.add_rrset(dns.renderer.ADDITIONAL, self.tsig)
            renderer.write_header()
        self.wire = renderer.get_wire()
        return self.wire
