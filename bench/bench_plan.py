"""Plan of a 10,000-record zone against 3 real providers: dnssync vs octodns-sync (dry run).

Both tools read the same zone file and plan against the same PowerDNS, BIND and
Knot servers of the lab, in the same run; each is timed as a whole command
(start-up included), RUNS times interleaved, median taken. Peak memory is the
largest resident set of the command's processes (os.wait4). Target (issue 2):
dnssync takes at most half of octoDNS's wall time.

    python bench/run.py plan
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

import yaml
from common import Row, lab_net, timed

from tests.lab import Lab
from tests.lab.zonegen import big_zone

BIN = Path(sys.executable).parent
RECORDS = 10_000
RUNS = 3


def octodns_config(lab: Lab, zone: str, zone_dir: Path) -> dict:
    def rfc2136(server):
        return {"class": "octodns_bind.Rfc2136Provider", "host": server.address, "key_name": server.key_name,
                "key_secret": f"env/{server.env_name()}", "key_algorithm": "hmac-sha256"}

    return {
        "providers": {
            "config": {"class": "octodns.provider.yaml.YamlProvider", "directory": str(zone_dir)},
            "pdns": {"class": "octodns_powerdns.PowerDnsProvider", "host": lab.pdns.address,
                     "port": lab.pdns.api_port, "api_key": "env/DNSSYNC_LAB_PDNS_API_KEY"},
            "bind": rfc2136(lab.bind),
            "knot": rfc2136(lab.knot),
        },
        "zones": {zone: {"sources": ["config"], "targets": ["pdns", "bind", "knot"]}},
    }


def run(workdir: Path) -> list[Row]:
    zone = "big.bench."
    with Lab(workdir / "lab", net=lab_net()) as lab:
        lab.add_zone(zone)
        text = big_zone(RECORDS, zone)
        env = lab.write_repo(workdir / "repo", {f"{zone}yaml": text})
        # set-up, not timed: every provider already holds the zone (octodns-bind cannot push it to BIND)
        subprocess.run([str(BIN / "dnssync"), "-c", str(workdir / "repo"), "apply", "--yes"], env=env, check=True,
                       capture_output=True)
        (workdir / "octo").mkdir()
        (workdir / "octo" / f"{zone}yaml").write_text(text)
        (workdir / "octodns.yaml").write_text(yaml.safe_dump(octodns_config(lab, zone, workdir / "octo")))
        commands = {
            "dnssync plan": [str(BIN / "dnssync"), "-c", str(workdir / "repo"), "plan"],
            "octodns-sync": [str(BIN / "octodns-sync"), "--config-file", str(workdir / "octodns.yaml")],
        }
        runs: dict[str, list[tuple[float, int, int]]] = {name: [] for name in commands}
        for _ in range(RUNS):  # interleaved, so both see the same machine
            for name, command in commands.items():
                runs[name].append(timed(command, env))
    median = {name: statistics.median(r[0] for r in rs) for name, rs in runs.items()}
    peak = {name: max(r[1] for r in rs) for name, rs in runs.items()}
    ratio = median["dnssync plan"] / median["octodns-sync"]
    detail = {"records": RECORDS, "providers": 3, "runs_s": {n: [round(r[0], 3) for r in rs] for n, rs in runs.items()},
              "load": os.getloadavg()}
    return [
        Row("plan", "dnssync plan, 10k records x 3 providers (median)", round(median["dnssync plan"], 3), "s",
            detail=detail),
        Row("plan", "octodns-sync dry run, same zone and servers (median)", round(median["octodns-sync"], 3), "s"),
        Row("plan", "ratio dnssync / octoDNS", round(ratio, 3), "", "<= 0.5", ratio <= 0.5),
        Row("plan", "dnssync peak memory (largest process)", peak["dnssync plan"], "MiB"),
        Row("plan", "octodns-sync peak memory", peak["octodns-sync"], "MiB"),
    ]
