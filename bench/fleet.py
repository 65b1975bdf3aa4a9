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


def fleet(lab: Lab, root: Path, prefix: str, count: int,
          providers: tuple[str, ...] = ("pdns", "bind", "knot"), records: int = RECORDS) -> Fleet:
    """`count` zones named `<prefix>00000.test.` ... with `records` RRsets each, created
    (empty) on the providers' servers and delegated at the lab's parent."""
    zones = [f"{prefix}{i:05d}.test." for i in range(count)]
    lab.add_zones(zones, list(providers))
    env = write_repo(lab, root, {z: zone_yaml(z, records) for z in zones}, list(providers))
    return Fleet(root, env, zones, list(providers))
