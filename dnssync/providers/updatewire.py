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

Owner names and RDATA reach it in wire form (`name_wire`, `rdata_wire`): plain host
names, addresses, plain TXT strings and MX are written straight from their text, which
dnspython's parsers took a millisecond and a half of a 40-RRset update to read; anything
else is read by dnspython as before.
"""

from __future__ import annotations

import re
import socket
import struct
import time
from collections.abc import Iterable

import dns.name
import dns.rdata
import dns.rdataclass
import dns.renderer
import dns.tsig
import dns.update

from dnssync.providers.aliaswire import rdata_from_text

_FIXED = struct.Struct("!HHIH")  # type, class, TTL, RDATA length
#: an absolute name of plain labels (letters, digits, `-`, `_`, `*`), whose wire form is its text
_PLAIN_NAME = re.compile(r"(?:[A-Za-z0-9_*-]{1,63}\.)+")
_FAMILIES = {"A": socket.AF_INET, "AAAA": socket.AF_INET6}
#: TXT/SPF text of quoted strings of printable ASCII without `"` or `\`, one space apart
_PLAIN_STRINGS = re.compile(r'"[ !#-\[\]-~]{0,255}"(?: "[ !#-\[\]-~]{0,255}")*')
_PLAIN_MX = re.compile(r"(\d{1,5}) ((?:[A-Za-z0-9_*-]{1,63}\.)+)")
_NAME_TYPES = frozenset(("CNAME", "NS", "PTR", "DNAME", "ALIAS"))


def name_wire(text: str) -> bytes:
    """An absolute name's uncompressed wire form, in the case written: what
    `dns.name.from_text(text).to_wire()` gives (dnspython reads any name not plain)."""
    if len(text) <= 254 and _PLAIN_NAME.fullmatch(text):
        return b"".join([bytes((len(label),)) + label for label in text.encode().split(b".")])
    return dns.name.from_text(text).to_wire()


def rdata_wire(rtype: str, text: str) -> bytes:
    """An RDATA's wire form from its presentation text (an octoDNS type; ALIAS: the
    target name): what `rdata_from_text(rtype, text).to_wire()` gives; an address the
    socket library reads (the forms dnspython reads but for surrounding blanks) is packed
    by it, anything else is dnspython's to read or refuse."""
    family = _FAMILIES.get(rtype)
    if family is not None:
        try:
            return socket.inet_pton(family, text)
        except OSError:
            pass
    elif rtype in _NAME_TYPES:
        if len(text) <= 254 and _PLAIN_NAME.fullmatch(text):
            return name_wire(text)
    elif rtype in ("TXT", "SPF"):
        if _PLAIN_STRINGS.fullmatch(text):
            return b"".join([bytes((len(string),)) + string for string in text[1:-1].encode().split(b'" "')])
    elif rtype == "MX":
        mx = _PLAIN_MX.fullmatch(text)
        if mx and int(mx[1]) <= 0xFFFF and len(mx[2]) <= 254:
            return struct.pack("!H", int(mx[1])) + name_wire(mx[2])
    return rdata_from_text(rtype, text).to_wire()


def rrset_rrs(action: str, owner: bytes, rdtype: int, ttl: int, rdatas: Iterable[bytes]) -> list[bytes]:
    """The RRs of one add, replace or delete of a whole RRset (`owner` and each RDATA in
    wire form), as UpdateMessage renders them (a value given twice is sent twice, as it
    does: adding an RR the zone holds changes nothing)."""
    rrs = []
    if action in ("replace", "delete"):
        rrs.append(owner + _FIXED.pack(rdtype, dns.rdataclass.ANY, 0, 0))
    if action == "delete":
        return rrs
    for data in rdatas:
        rrs.append(owner + _FIXED.pack(rdtype, dns.rdataclass.IN, ttl, len(data)) + data)
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
