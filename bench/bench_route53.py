"""Push and re-plan a 10,000-record zone to Route53 (moto's server) + PowerDNS + BIND in one
run: dnssync vs octodns-sync, same targets, same run.

Each tool pushes its own copy of the zone (same records, its own zone name, so neither
finds the other's work done) to an empty hosted zone at moto and to empty zones on the
lab's PowerDNS and BIND, then re-plans (dnssync `plan --detailed-exitcode`, octodns-sync
without --doit). Each command is timed whole, start-up included, once (a push is not
repeatable on the same zone). octodns-sync runs unchanged through bench/octodns_sync_moto.py,
which only fills in a field moto's server leaves out (see dnssync.providers.route53.
paging_complete); it is pointed at moto by boto3's AWS_ENDPOINT_URL_ROUTE_53.

    python bench/run.py route53
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import yaml
from common import Row, lab_net

from tests.lab import Lab
from tests.lab.moto import CREDENTIALS, MotoServer
from tests.lab.zonegen import big_zone
from tests.route53_repo import MOTO_NS

BIN = Path(sys.executable).parent
RECORDS = 10_000
OCTODNS_SYNC_MOTO = Path(__file__).with_name("octodns_sync_moto.py")


def timed(command: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600)
    return time.perf_counter() - start, done.returncode, done.stdout + done.stderr


def octodns_config(lab: Lab, zone: str, zone_dir: Path) -> dict:
    return {
        "providers": {
            "config": {"class": "octodns.provider.yaml.YamlProvider", "directory": str(zone_dir)},
            "route53": {"class": "octodns_route53.Route53Provider", "access_key_id": "env/AWS_ACCESS_KEY_ID",
                        "secret_access_key": "env/AWS_SECRET_ACCESS_KEY"},
            "pdns": {"class": "octodns_powerdns.PowerDnsProvider", "host": lab.pdns.address,
                     "port": lab.pdns.api_port, "api_key": "env/DNSSYNC_LAB_PDNS_API_KEY"},
            "bind": {"class": "octodns_bind.Rfc2136Provider", "host": lab.bind.address,
                     "key_name": lab.bind.key_name, "key_secret": f"env/{lab.bind.env_name()}",
                     "key_algorithm": "hmac-sha256"},
        },
        # octoDNS applies targets one after the other and stops at the first failure
        "zones": {zone: {"sources": ["config"], "targets": ["route53", "pdns", "bind"]}},
    }


def run(workdir: Path) -> list[Row]:
    ours, theirs = "big.bench.", "big-octo.bench."
    with Lab(workdir / "lab", net=lab_net()) as lab, MotoServer(workdir / "moto") as moto:
        union = sorted(MOTO_NS + [ns for name in ("pdns", "bind") for ns, _ in lab.servers[name].nameservers])
        for zone in (ours, theirs):
            lab.add_zone(zone, ["pdns", "bind"], nameservers=union)
        env = {**lab.write_repo(workdir / "repo", {f"{ours}yaml": big_zone(RECORDS, ours)}, ["pdns", "bind"],
                                {"defaults": {"timeout": 5, "retries": 2, "backoff": 0.5}}),
               **CREDENTIALS, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
        (workdir / "repo" / "providers" / "route53.yaml").write_text(yaml.safe_dump(moto.provider_file()))
        (workdir / "octo").mkdir()
        (workdir / "octo" / f"{theirs}yaml").write_text(big_zone(RECORDS, theirs))
        (workdir / "octodns.yaml").write_text(yaml.safe_dump(octodns_config(lab, theirs, workdir / "octo")))
        octo_env = {**env, "AWS_ENDPOINT_URL_ROUTE_53": moto.url, "AWS_DEFAULT_REGION": "us-east-1"}
        dnssync = [str(BIN / "dnssync"), "-c", str(workdir / "repo")]
        octodns = [sys.executable, str(OCTODNS_SYNC_MOTO), "--config-file", str(workdir / "octodns.yaml")]
        push = timed([*dnssync, "apply", "--yes", "--force"], env)
        replan = timed([*dnssync, "plan", "--detailed-exitcode"], env)
        octo_push = timed([*octodns, "--doit"], octo_env)
        octo_replan = timed(octodns, octo_env)
        applied = json.loads(next((workdir / "repo" / ".dnssync" / "applies").glob("*.json")).read_text())
    per_provider = {o["provider"]: round((datetime.fromisoformat(o["finished"]) - datetime.fromisoformat(
        o["started"])).total_seconds(), 1) for o in applied["outcomes"]}
    octo_failure = [line for line in octo_push[2].splitlines() if line.strip()][-1:] if octo_push[1] else []
    octo_pending = re.findall(r"\* (\w+) \(\w+\)\n\*\s+(?:Create|Update|Delete)", octo_replan[2])
    detail = {"records": RECORDS, "targets": ["route53 (moto)", "pdns", "bind"],
              "dnssync_exit": {"apply": push[1], "plan": replan[1]}, "dnssync_apply_s_per_provider": per_provider,
              "octodns_exit": {"push": octo_push[1], "replan": octo_replan[1]},
              "octodns_push_error": octo_failure[-1][:300] if octo_failure else None,
              "octodns_targets_pending_after_push": sorted(set(octo_pending)), "load": os.getloadavg()}
    return [
        Row("route53", "dnssync apply, 10k records to route53(moto)+pdns+bind", round(push[0], 2), "s",
            "exit 0", push[1] == 0, detail),
        Row("route53", "dnssync re-plan after it (clean: exit 0)", round(replan[0], 2), "s", "exit 0",
            replan[1] == 0),
        Row("route53", "octodns-sync --doit, same zone and targets", round(octo_push[0], 2), "s",
            "", None, {"exit": octo_push[1]}),
        Row("route53", "octodns-sync re-plan after it", round(octo_replan[0], 2), "s", "", None,
            {"pending": sorted(set(octo_pending))}),
    ]
