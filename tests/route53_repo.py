"""dnssync repositories whose providers are moto's Route53 and the lab's real servers."""

from __future__ import annotations

import re

import yaml

from tests.conftest import Repo
from tests.lab.moto import CREDENTIALS, MotoServer

#: the four nameservers moto gives every hosted zone (its DelegationSet)
MOTO_NS = ["ns-2048.awsdns-64.com.", "ns-2049.awsdns-65.net.", "ns-2050.awsdns-66.org.", "ns-2051.awsdns-67.co.uk."]


def route53_repo(make_repo, lab, moto: MotoServer, zones: dict[str, str], config: dict | None = None,
                 providers: list[str] | None = None, url: str | None = None, **route53: object) -> Repo:
    """A repository pushing `zones` to route53 (moto) and the lab's `providers` (default:
    PowerDNS, BIND and Knot). The lab's zones start with the union apex NS dnssync will
    write, Route53's names included, as an operator creating them would."""
    lab_providers = list(lab.servers) if providers is None else providers
    for zone in zones:
        if lab_providers:
            lab.add_zone(zone, lab_providers, nameservers=sorted(
                MOTO_NS + [ns for name in lab_providers for ns, _ in lab.servers[name].nameservers]))
    repo = make_repo(zones, providers=lab_providers, config=config, create=False)
    if not lab_providers:
        for path in (repo.root / "providers").glob("*.yaml"):
            path.unlink()
    (repo.root / "providers" / "route53.yaml").write_text(
        yaml.safe_dump(moto.provider_file(url, **route53), sort_keys=False))
    repo.env.update(CREDENTIALS)
    return repo


def rrsets(moto: MotoServer, zone: str) -> dict[tuple[str, str], set[str]]:
    """What moto holds for `zone`, read with boto3: (name, type) -> values."""
    client = moto.client()
    zone_id = next(z["Id"] for z in client.list_hosted_zones()["HostedZones"] if z["Name"] == zone)
    found: dict[tuple[str, str], set[str]] = {}
    paginator = client.get_paginator("list_resource_record_sets")
    for page in paginator.paginate(HostedZoneId=zone_id):
        for rrset in page["ResourceRecordSets"]:
            found[(rrset["Name"], rrset["Type"])] = {r["Value"] for r in rrset.get("ResourceRecords", [])}
    return found


def upsert(moto: MotoServer, zone: str, name: str, rtype: str, values: list[str], ttl: int = 300) -> None:
    """An out-of-band change, as someone with the AWS console or CLI would make it."""
    client = moto.client()
    zone_id = next(z["Id"] for z in client.list_hosted_zones()["HostedZones"] if z["Name"] == zone)
    client.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [{
        "Action": "UPSERT", "ResourceRecordSet": {
            "Name": name, "Type": rtype, "TTL": ttl, "ResourceRecords": [{"Value": v} for v in values]}}]})


def route53_soa(moto: MotoServer, zone: str):
    """The SOA moto holds for `zone` (read through the API), as the stand-in serves it."""
    from dnssync.embedded.zonedata import SoaSettings

    client = moto.client()
    zone_id = next(z["Id"] for z in client.list_hosted_zones()["HostedZones"] if z["Name"] == zone)
    soa = client.list_resource_record_sets(HostedZoneId=zone_id, StartRecordName=zone, StartRecordType="SOA",
                                           MaxItems="1")["ResourceRecordSets"][0]
    # "MNAME RNAME serial refresh retry expire minimum" (moto wraps it in a repr of a dict)
    refresh, retry, expire, minimum = (int(v) for v in re.findall(r"\b\d+\b", soa["ResourceRecords"][0]["Value"])[-4:])
    return SoaSettings(int(soa["TTL"]), refresh, retry, expire, minimum)


def load_stand_in(moto: MotoServer, zone: str, edge_port: int) -> None:
    """Load the zone moto holds, read through Route53's API by dnssync's provider, into the
    embedded server on 127.0.0.1:`edge_port` that stands in for Route53's DNS edge (there is
    none on this machine: moto speaks the API only)."""
    from octodns.zone import Zone

    from dnssync.embedded.provider import EmbeddedProvider
    from dnssync.providers.route53 import Route53Provider

    live = Zone(zone, [])
    api = Route53Provider("route53", access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                          secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"], endpoint_url=moto.url)
    assert api.populate(live)
    edge = EmbeddedProvider("edge", port=edge_port, strict_supports=False)
    plan = edge.plan(live)
    if plan:
        edge.apply(plan)
