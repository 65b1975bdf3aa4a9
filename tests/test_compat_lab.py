"""The compatibility suite (issue 10): one repository, written the way real octoDNS
repositories are, with every class of problem the issue names, pushed to the real
PowerDNS, BIND and Knot under `policy.parity: warn`.

The promise under test: the plan tells the truth. The plan names every record some
provider cannot hold; apply exits 0; verify, a second plan and drift are clean; and an
independent check (the zone files read with PyYAML's BaseLoader, turned into RDATA
by dnspython alone, against each server's zone transfer) finds nothing that a server
serves differently from git without the plan having named it.
"""

from __future__ import annotations

import json
from pathlib import Path

import dns.name
import dns.query
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.tsigkeyring
import dns.zone
import yaml

from tests.conftest import unique_zone

#: the classes of issue 10, each in the zone below (the number is the issue's item)
ZONE = r"""---
'':
  - type: ALIAS                  # 10: PowerDNS keeps it as TYPE65401; flattened for BIND/Knot
    value: alpha.ZONE
  - type: MX                     # 1: a target without a trailing dot
    values:
      - {exchange: mx1.sendgrid.net, preference: 10}
      - {exchange: mx2.sendgrid.net., preference: 20}
  - type: TXT                    # 11: embedded quotes and a backslash
    value: say \"hi\" and back\\slash
1.5:                             # 2: YAML reads these keys as a float, null, bool
  type: A
  value: 192.0.2.15
null:
  type: A
  value: 192.0.2.16
on:
  type: A
  value: 192.0.2.17
_acme-challenge.docs:            # 5: BIND check-names (owner)
  type: A
  value: 0.0.0.0
beside:                          # 3: a CNAME beside other data, lenient
  - type: CNAME
    value: web.example.org.
    octodns: {lenient: true}
  - type: TXT
    value: beside-the-cname
    octodns: {lenient: true}
deep.sub:                        # 9: below a delegation
  type: A
  value: 192.0.2.30
inner.sub:                       # 9: a nested cut
  type: NS
  value: ns.elsewhere.example.
legacy_cas_acp:                  # 5: BIND check-names (owner)
  type: A
  value: 192.0.2.7
lua:                             # 8: a provider-specific type
  type: PowerDnsProvider/LUA
  value: {script: "ifportup(443, {'192.0.2.1'})", type: A}
mail:                            # 5: BIND check-names and PowerDNS (MX target)
  type: MX
  value: {exchange: mail_relay.example.net., preference: 10}
mxcase:                          # 11 (issue 17 item 7): the same exchange twice, in two cases
  type: MX
  values:
    - {exchange: MX1.Example.NET., preference: 10}
    - {exchange: mx1.example.net., preference: 10}
ns1.sub:
  type: A
  value: 192.0.2.53
sub:                             # 9: data beside a delegation
  - type: NS
    value: ns1.sub.ZONE
  - type: TXT
    value: beside-the-cut
tokens:                          # 5: BIND max-records-per-type (103 > 100)
  type: TXT
  values:
TOKENS
twice:                           # 11: a value written twice
  type: A
  values: [192.0.2.2, 192.0.2.2, 192.0.2.3]
www:                             # 1: a CNAME target without a trailing dot
  type: CNAME
  value: sendgrid.net
zeta:                            # 12: keys out of order
  type: A
  value: 192.0.2.99
alpha:
  type: A
  value: 192.0.2.98
"""

#: a zone loaded lenient as a whole (7): an SRV name octoDNS's strict validation refuses,
#: and a CNAME at the apex (5: no server holds it beside the SOA and NS)
LENIENT_ZONE = ("'':\n  type: CNAME\n  value: web.example.org.\n"
                "sip.tcp:\n  type: SRV\n  value: {port: 5060, priority: 10, target: sip.example.org., weight: 5}\n")

#: (name, type) of each record some provider cannot hold, as the plan must name it
CANNOT_HOLD = {("_acme-challenge.docs", "A"), ("legacy_cas_acp", "A"), ("mail", "MX"),
               ("tokens", "TXT"), ("lua", "PowerDnsProvider/LUA"), ("beside", "TXT")}

#: private types PowerDNS keeps provider-specific records as -> the octoDNS type
PDNS_PRIVATE = {65401: "ALIAS", 65402: "PowerDnsProvider/LUA"}


def write_repo(make_repo, lab) -> tuple:
    zone, lenient_zone = unique_zone("compat"), unique_zone("compatlenient")
    text = ZONE.replace("ZONE", zone).replace(
        "TOKENS\n", "".join(f"    - verification-token-{i:03d}\n" for i in range(103)))
    repo = make_repo({zone: text, lenient_zone: LENIENT_ZONE},
                     config={"policy": {"parity": "warn"}, "lenient": [lenient_zone.rstrip(".")]})
    folder = repo.root / "zones"
    base = zone.rstrip(".")
    # 7: what octoDNS would not read as a zone: a fragment and an octoDNS config
    (folder / f"{base}._0_base.yaml").write_text("frag:\n  type: A\n  value: 192.0.2.9\n")
    (folder / "production.yaml").write_text(
        "providers:\n  config:\n    class: octodns.provider.yaml.YamlProvider\n    directory: .\n"
        f"zones:\n  {zone}:\n    sources: [config]\n    targets: [config]\n")
    return repo, zone, lenient_zone


def relative(name: str, zone: str) -> str:
    return "" if name == zone else name[: -len(zone) - 1]


def expected_rrsets(path: Path, zone: str) -> dict[tuple[str, str], set[bytes]]:
    """(name, type) -> canonical RDATA, from the zone file as written, without dnssync or
    octoDNS: keys as the text the user wrote (BaseLoader), names without a trailing dot
    taken as absolute, TXT as octoDNS's raw text (only `\\;` escaped), values as a set."""
    data = yaml.load(path.read_text(), Loader=yaml.BaseLoader)
    found: dict[tuple[str, str], set[bytes]] = {}
    for name, items in data.items():
        for item in items if isinstance(items, list) else [items]:
            rtype = item["type"]
            if rtype not in ("A", "AAAA", "CNAME", "MX", "NS", "SRV", "TXT"):
                found[(name, rtype)] = set()  # not a DNS type: what stands for it is judged by name
                continue
            values = item.get("values") or [item["value"]]
            found[(name, rtype)] = {_rdata(rtype, v) for v in values}
    return found


def _absolute(target: str) -> str:
    return target if target.endswith(".") else target + "."


def _rdata(rtype: str, value) -> bytes:
    if rtype == "MX":
        text = f"{value['preference']} {_absolute(value['exchange'])}"
    elif rtype == "SRV":
        text = f"{value['priority']} {value['weight']} {value['port']} {_absolute(value['target'])}"
    elif rtype in ("CNAME", "NS"):
        text = _absolute(value)
    elif rtype == "TXT":
        raw = value.replace("\\;", ";").encode()
        return bytes(dns.rdata.from_wire(dns.rdataclass.IN, dns.rdatatype.TXT, _strings(raw), 0,
                                         len(_strings(raw))).to_digestable())
    else:
        text = value
    return dns.rdata.from_text(dns.rdataclass.IN, rtype, text).to_digestable()


def _strings(raw: bytes) -> bytes:
    pieces = [raw[i:i + 255] for i in range(0, len(raw), 255)] or [b""]
    return b"".join(bytes((len(p),)) + p for p in pieces)


def served_rrsets(lab, server: str, zone: str) -> dict[tuple[str, str], set[bytes]]:
    """(name, type) -> canonical RDATA of what the server holds, by AXFR (dnspython)."""
    target = lab.servers[server]
    keyring = None
    if server != "pdns":
        keyring = dns.tsigkeyring.from_text({target.key_name: target.key_secret})
    transferred = dns.zone.from_xfr(dns.query.xfr(target.address, zone, keyring=keyring,
                                                  keyalgorithm="hmac-sha256", relativize=False), relativize=False)
    origin = dns.name.from_text(zone)
    found: dict[tuple[str, str], set[bytes]] = {}
    for owner, rdataset in transferred.iterate_rdatasets():
        if rdataset.rdtype == dns.rdatatype.SOA or (owner == origin and rdataset.rdtype == dns.rdatatype.NS):
            continue
        rtype = PDNS_PRIVATE.get(rdataset.rdtype) or dns.rdatatype.to_text(rdataset.rdtype)
        name = relative(owner.to_text().lower(), zone)
        found[(name, rtype)] = set() if rtype in PDNS_PRIVATE.values() else {
            r.to_digestable() for r in rdataset}
    return found


def test_an_octodns_repository_with_every_class_pushes_cleanly(make_repo, lab):
    repo, zone, lenient_zone = write_repo(make_repo, lab)

    validated = repo.run("validate", "--format", "json")
    assert validated.exit_code == 0, validated.output
    assert json.loads(validated.stdout)["zones"] == sorted([zone, lenient_zone])  # 7: no bogus zone
    reported = {(f["code"], f.get("name")) for f in json.loads(validated.stdout)["findings"]}
    for expected in [("zone.relative-target", ""), ("zone.relative-target", "www"),  # 1
                     ("zone.name-unquoted", "1.5"), ("zone.name-unquoted", "null"),  # 2
                     ("zone.name-unquoted", "on"), ("zone.cname-other", "beside"),  # 2, 3
                     ("zone.occluded", "deep.sub"), ("zone.occluded", "sub"),  # 9
                     ("zone.nested-delegation", "inner.sub"), ("zone.record", "sip.tcp")]:  # 9, 7
        assert expected in reported, expected
    skipped = sorted(f["file"].rsplit("/", 1)[-1] for f in json.loads(validated.stdout)["findings"]
                     if f["code"] == "config.zone-skipped")
    assert skipped == sorted([f"{zone.rstrip('.')}._0_base.yaml", "production.yaml"])  # 7
    assert "enforce_order" in next(f["message"] for f in json.loads(validated.stdout)["findings"]
                                   if f["code"] == "zone.key-order")  # 12

    planned = repo.run("plan", "--format", "json")
    assert planned.exit_code == 0, planned.output
    plan = json.loads(planned.stdout)
    named = {(f["zone"], f["name"], f["type"]): f for f in plan["findings"] if f.get("type")}
    cannot = {(n, t) for (z, n, t), f in named.items() if z == zone and f["code"].startswith("parity.")}
    assert cannot >= CANNOT_HOLD, CANNOT_HOLD - cannot
    assert named[(lenient_zone, "", "CNAME")]["code"] == "parity.unsupported"
    for finding in named.values():  # each with its file:line
        if finding["code"].startswith("parity."):
            assert finding["file"] and finding["line"], finding

    applied = repo.run("apply", "--yes")
    assert applied.exit_code == 0, applied.output

    verified = repo.run("verify", "--format", "json")
    assert verified.exit_code == 0, [f["message"] for f in json.loads(verified.stdout)["findings"]
                                     if f["severity"] == "error"]
    again = repo.run("plan", "--detailed-exitcode")
    assert again.exit_code == 0, again.output
    drift = repo.run("drift")
    assert drift.exit_code == 0, drift.output

    # the independent check: whatever a server serves otherwise than git, the plan named;
    # an ALIAS a provider cannot hold is served as the addresses the plan says it flattened to
    flattened = {(f["zone"], f["name"]): f for f in plan["flattened"]}
    for name, path in ((zone, repo.zone_file(zone)), (lenient_zone, repo.zone_file(lenient_zone))):
        wanted = expected_rrsets(path, name)
        for server in lab.servers:
            served = served_rrsets(lab, server, name)
            for (owner, rtype), alias in ((k, flattened.get((name, k[0]))) for k in list(wanted)):
                if alias and rtype == alias["type"] and server in alias["providers"]:
                    del wanted[(owner, rtype)]
                    for family, addresses in alias["values"].items():
                        wanted[(owner, family)] = {_rdata(family, a) for a in addresses}
            unnamed = sorted(key for key in set(wanted) | set(served)
                             if wanted.get(key) != served.get(key) and (name, *key) not in named)
            assert unnamed == [], (server, name, unnamed)
