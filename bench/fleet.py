"""A fleet of small zones on the lab's servers, for the scale benchmarks: one dnssync
repository and one octoDNS config over the same zone files and servers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from common import Lab, write_repo, zone_yaml

RECORDS = 40


@dataclass
class Fleet:
    """`zones` on `providers`, written as a dnssync repository at `root` (zone files in
    root/zones, which octoDNS's YamlProvider reads too)."""

    root: Path
    env: dict[str, str]
    zones: list[str]
    providers: list[str]

    @property
    def zones_dir(self) -> Path:
        return self.root / "zones"

    def octodns_config(self, lab: Lab, batch_size: int = 100) -> Path:
        """The same zones and servers for octodns-sync; octodns-bind's update batch lowered
        from its 1,000 so that one update message stays under the 64 KiB DNS limit."""

        def rfc2136(server) -> dict:
            return {"class": "octodns_bind.Rfc2136Provider", "host": server.address,
                    "key_name": server.key_name, "key_secret": f"env/{server.env_name()}",
                    "key_algorithm": "hmac-sha256", "update_batch_size": batch_size}

        targets = {
            "pdns": {"class": "octodns_powerdns.PowerDnsProvider", "host": lab.pdns.address,
                     "port": lab.pdns.api_port, "api_key": "env/DNSSYNC_LAB_PDNS_API_KEY"},
            "bind": rfc2136(lab.bind),
            "knot": rfc2136(lab.knot),
        }
        config = {
            "providers": {"config": {"class": "octodns.provider.yaml.YamlProvider",
                                     "directory": str(self.zones_dir), "default_ttl": 3600},
                          **{p: targets[p] for p in self.providers}},
            "zones": {z: {"sources": ["config"], "targets": list(self.providers)}
                      for z in self.zones},
        }
        path = self.root / "octodns.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path


def fleet(lab: Lab, root: Path, prefix: str, count: int, served: bool = False,
          providers: tuple[str, ...] = ("pdns", "bind", "knot"), records: int = RECORDS) -> Fleet:
    """`count` zones named `<prefix>00000.test.` ... with `records` RRsets each, created
    on the providers' servers and delegated at the lab's parent: empty, or with
    `served` already serving every record (as a push would leave them, in seconds)."""
    zones = [f"{prefix}{i:05d}.test." for i in range(count)]
    texts = {z: zone_yaml(z, records) for z in zones}
    lab.add_zones(zones, list(providers), {z: rrsets(z, texts[z]) for z in zones} if served else None)
    env = write_repo(lab, root, texts, list(providers))
    return Fleet(root, env, zones, list(providers))


def subset(lab: Lab, whole: Fleet, root: Path, count: int) -> Fleet:
    """The first `count` zones of a fleet as a repository of their own."""
    zones = whole.zones[:count]
    env = write_repo(lab, root, {z: (whole.zones_dir / f"{z}yaml").read_text() for z in zones},
                     whole.providers)
    return Fleet(root, env, zones, whole.providers)


def rrsets(zone: str, text: str) -> list[tuple[str, str, int, list[str]]]:
    """A zone file's RRsets as octoDNS renders them (what a push sends)."""
    from octodns.record import Record
    from octodns.zone import Zone

    octo = Zone(zone, [])
    found = []
    for name, data in yaml.safe_load(text).items():
        record = Record.new(octo, name, {"ttl": 3600, **data})
        rrset = record.to_rrset()
        found.append((record.fqdn, record._type, record.ttl, list(rrset.rdatas)))
    return found
