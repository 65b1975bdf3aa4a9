"""The embedded nameserver answers like the lab's real PowerDNS.

One zone is pushed by dnssync to both (PowerDNS over its HTTP API, the embedded
server over RFC 2136), then the same questions go to both and the answers are
compared section by section: rcode, flags (AA, TC...), answer, authority and
additional. The SOA's names and serial may differ (each provider owns its SOA); its
TTL and timers are compared, with the embedded server configured as the lab's
PowerDNS is, so the negative-caching TTL of NXDOMAIN and NODATA answers (the SOA's
TTL in their authority section, min(SOA TTL, MINIMUM), RFC 2308 3) must agree.
"""

from __future__ import annotations

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest
import yaml

from dnssync.embedded.server import EmbeddedServer
from dnssync.embedded.zonedata import SoaSettings
from tests.conftest import unique_zone
from tests.lab.servers import NEGATIVE_TTL, SOA_TTL

#: the SOA the lab's PowerDNS gives the zones it creates (default-soa-content, default-ttl)
PDNS_SOA = SoaSettings(ttl=SOA_TTL, refresh=3600, retry=600, expire=604800, minimum=NEGATIVE_TTL)

ZONE = """\
'':
- type: A
  value: 192.0.2.1
- type: MX
  values:
  - exchange: mail.{zone}
    preference: 10
  - exchange: mx.elsewhere.example.
    preference: 20
- type: TXT
  value: apex
'*.alias':
  type: CNAME
  value: www.{zone}
'*.wild':
- type: A
  value: 192.0.2.80
_sip._tcp:
  type: SRV
  value:
    port: 5060
    priority: 10
    target: mail.{zone}
    weight: 5
a.b.ent:
  type: A
  value: 192.0.2.90
big:
  type: TXT
  values: [{big}]
chain:
  type: CNAME
  value: www.{zone}
dangling:
  type: CNAME
  value: missing.{zone}
mail:
- type: A
  value: 192.0.2.25
- type: AAAA
  value: 2001:db8::25
ns1.sub:
  type: A
  value: 192.0.2.53
out:
  type: CNAME
  value: target.example.org.
sub:
  type: NS
  values: [ns1.sub.{zone}, ns.elsewhere.example.]
www:
  type: CNAME
  value: mail.{zone}
"""

QUESTIONS = [
    ("", "SOA"), ("", "A"), ("", "MX"), ("", "NS"), ("", "AAAA"), ("", "TXT"),
    ("mail", "A"), ("mail", "TXT"), ("nope", "A"), ("deep.nope", "AAAA"),
    ("www", "A"), ("www", "AAAA"), ("www", "CNAME"), ("www", "TXT"), ("chain", "A"),
    ("out", "A"), ("dangling", "A"),
    ("x.wild", "A"), ("x.y.wild", "A"), ("x.wild", "TXT"), ("wild", "A"), ("*.wild", "A"),
    ("b.ent", "A"), ("ent", "TXT"), ("a.b.ent", "A"), ("c.b.ent", "A"),
    ("sub", "NS"), ("sub", "A"), ("www.sub", "A"), ("ns1.sub", "A"), ("sub", "DS"),
    ("_sip._tcp", "SRV"), ("_tcp", "SRV"),
    ("x.alias", "A"), ("y.x.alias", "MX"), ("mail", "ANY"),
    # not asked: x.alias CNAME. PowerDNS 4.7 follows a wildcard CNAME even when the CNAME
    # itself is asked for (it does not for www CNAME); the embedded server answers the CNAME
    # alone, as RFC 1034 4.3.2 and BIND do.
]


def _rrsets(section) -> list[tuple]:
    """A section as comparable rows; the SOA (each provider's own) without MNAME, RNAME and
    serial, but with its TTL (in a negative answer: the negative-caching TTL) and timers."""
    rows = []
    for rrset in section:
        rtype = dns.rdatatype.to_text(rrset.rdtype)
        if rrset.rdtype == dns.rdatatype.SOA:
            soa = rrset[0]
            rows.append((rrset.name.to_text().lower(), rtype, rrset.ttl,
                         (soa.refresh, soa.retry, soa.expire, soa.minimum)))
        else:
            rows.append((rrset.name.to_text().lower(), rtype, rrset.ttl,
                         tuple(sorted(r.to_text().lower() for r in rrset))))
    return sorted(rows)


def shape(response: dns.message.Message) -> dict:
    return {
        "rcode": dns.rcode.to_text(response.rcode()),
        "flags": dns.flags.to_text(response.flags),
        "answer": _rrsets(response.answer),
        "authority": _rrsets(response.authority),
        "additional": _rrsets(response.additional),
    }


def ask(address: str, port: int, name: str, rtype: str, tcp: bool = False) -> dns.message.Message:
    query = dns.message.make_query(name, rtype, use_edns=0, payload=1232)
    if tcp:
        return dns.query.tcp(query, address, port=port, timeout=3)
    return dns.query.udp(query, address, port=port, timeout=3, ignore_trailing=True)


@pytest.fixture
def both(make_repo, lab, tmp_path):
    """A zone pushed by dnssync to PowerDNS and to an embedded server; yields the zone,
    PowerDNS's address and the embedded server."""
    zone = unique_zone("cmp")
    big = ", ".join(f"'{'x' * 200}-{i}'" for i in range(10))
    server = EmbeddedServer("127.0.0.1", 0, "ns1.embedded.lab.", data_dir=tmp_path / "emb",
                            soa=PDNS_SOA).start()
    try:
        lab.add_zone(zone, ["pdns"], nameservers=sorted([lab.pdns.nameserver, "ns1.embedded.lab."]))
        repo = make_repo({zone: ZONE.format(zone=zone, big=big)}, providers=["pdns"], create=False)
        (repo.root / "providers" / "embedded.yaml").write_text(yaml.safe_dump({
            "class": "embedded", "host": "127.0.0.1", "port": server.port,
            "nameservers": [{"name": "ns1.embedded.lab.", "address": server.address}]}))
        result = repo.run("apply", "--yes")
        assert result.exit_code == 0, result.output
        assert repo.run("plan", "--detailed-exitcode").exit_code == 0
        yield zone, lab.pdns.address, server
    finally:
        server.stop()


def test_answers_match_powerdns(both):
    zone, pdns, server = both
    differences = []
    for name, rtype in QUESTIONS:
        qname = f"{name}.{zone}" if name else zone
        real = shape(ask(pdns, 53, qname, rtype))
        ours = shape(ask(server.host, server.port, qname, rtype))
        if real != ours:
            differences.append(f"{qname} {rtype}:\n  powerdns: {real}\n  embedded: {ours}")
    assert not differences, "\n".join(differences)


def test_large_answer_truncated_over_udp_and_whole_over_tcp(both):
    zone, pdns, server = both
    assert (shape(ask(pdns, 53, f"mail.{zone}", "ANY", tcp=True))
            == shape(ask(server.host, server.port, f"mail.{zone}", "ANY", tcp=True)))
    for address, port in ((pdns, 53), (server.host, server.port)):
        udp = ask(address, port, f"big.{zone}", "TXT")
        assert udp.flags & dns.flags.TC, f"{address}:{port} did not truncate"
        tcp = ask(address, port, f"big.{zone}", "TXT", tcp=True)
        assert not tcp.flags & dns.flags.TC
        assert len(tcp.answer[0]) == 10
    assert (shape(ask(pdns, 53, f"big.{zone}", "TXT", tcp=True))
            == shape(ask(server.host, server.port, f"big.{zone}", "TXT", tcp=True)))


def test_zone_not_served_is_refused_like_powerdns(both):
    _, pdns, server = both
    real = ask(pdns, 53, "www.not-served.invalid.", "A")
    ours = ask(server.host, server.port, "www.not-served.invalid.", "A")
    assert ours.rcode() == real.rcode() == dns.rcode.REFUSED
    assert shape(ours) == shape(real)


def test_negative_answers_carry_the_negative_ttl_like_powerdns(both):
    """NXDOMAIN and NODATA: the SOA in the authority section has TTL min(SOA TTL, MINIMUM)
    at both, and the SOA record itself the same TTL and timers."""
    zone, pdns, server = both
    for name, rtype in (("nope", "A"), ("mail", "TXT")):
        for address, port in ((pdns, 53), (server.host, server.port)):
            response = ask(address, port, f"{name}.{zone}", rtype)
            [soa] = response.authority
            assert soa.rdtype == dns.rdatatype.SOA and soa.ttl == min(SOA_TTL, NEGATIVE_TTL), (
                address, name, soa.ttl)
    real, ours = (ask(a, p, zone, "SOA").answer[0] for a, p in ((pdns, 53), (server.host, server.port)))
    assert (real.ttl, real[0].minimum) == (ours.ttl, ours[0].minimum) == (SOA_TTL, NEGATIVE_TTL)
