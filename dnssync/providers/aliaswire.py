"""ALIAS on the wire: PowerDNS's private type 65401, whose RDATA is the target name.

ALIAS is no DNS type, but a server that holds it must still store it, transfer it and
accept it in an update. PowerDNS uses TYPE65401 with the target's uncompressed wire name
as RDATA; the embedded server (`expand_alias: true`) uses the same, so dnssync's RFC 2136
provider can send and read back an ALIAS record like any other.
"""

from __future__ import annotations

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.IN.A
import dns.rdtypes.IN.AAAA
from dns.rdata import GenericRdata

ALIAS_RDTYPE = 65401
_ADDRESSES = {"A": (dns.rdtypes.IN.A.A, dns.rdatatype.A), "AAAA": (dns.rdtypes.IN.AAAA.AAAA, dns.rdatatype.AAAA)}


def wire_type(rtype: str) -> int:
    """The DNS type number of an octoDNS type (ALIAS: 65401)."""
    return ALIAS_RDTYPE if rtype == "ALIAS" else dns.rdatatype.from_text(rtype)


def octodns_type(rdtype: int) -> str:
    """The octoDNS type of a DNS type number (65401: ALIAS); named once per number
    (dnspython's naming cost a fleet plan's transfers more than reading their records)."""
    name = _OCTODNS_TYPES.get(rdtype)
    if name is None:
        name = _OCTODNS_TYPES[rdtype] = "ALIAS" if rdtype == ALIAS_RDTYPE else dns.rdatatype.to_text(rdtype)
    return name


#: DNS type number -> octoDNS type name, as octodns_type found it
_OCTODNS_TYPES: dict[int, str] = {}


def rdata_from_text(rtype: str, text: str) -> dns.rdata.Rdata:
    """An rdata of an octoDNS type from its presentation text (ALIAS: the target name).
    An address is made by its class, which checks it as the text parser would, at half
    the parser's cost (a fleet's update is mostly addresses)."""
    if rtype == "ALIAS":
        return GenericRdata(dns.rdataclass.IN, ALIAS_RDTYPE, dns.name.from_text(text).to_wire())
    address = _ADDRESSES.get(rtype)
    if address is not None:
        return address[0](dns.rdataclass.IN, address[1], text)
    return dns.rdata.from_text(dns.rdataclass.IN, rtype, text)


def rdata_text(rdata: dns.rdata.Rdata) -> str:
    """An rdata as octoDNS writes its value (ALIAS: the target name)."""
    if rdata.rdtype == ALIAS_RDTYPE:
        return alias_target_of(rdata).to_text()
    return rdata.to_text()


def alias_target_of(rdata: dns.rdata.Rdata) -> dns.name.Name:
    """The target name of a TYPE65401 rdata."""
    data = rdata.to_digestable() if not isinstance(rdata, GenericRdata) else rdata.data
    return dns.name.from_wire(data, 0)[0]
