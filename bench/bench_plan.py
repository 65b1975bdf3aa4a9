"""Plan of a 10,000-record zone against 3 real providers: dnssync vs octodns-sync (dry run).

Both tools read the same zone file and plan against the same PowerDNS, BIND and
Knot servers of the lab, in the same run; each is timed as a whole command
(start-up included), several times, median taken. Peak memory is the largest
resident set of the command's processes (os.wait4).

    python bench/bench_plan.py [--records 10000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.lab import Lab  # noqa: E402
from tests.lab.zonegen import big_zone  # noqa: E402

BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench" / "results"


def timed(command: list[str], env: dict[str, str]) -> tuple[float, int, int]:
    """Wall seconds, peak RSS in MiB, and exit status of one run of `command`."""
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0, 3):
        raise RuntimeError(f"{command[0]} failed ({process.returncode}): {process.stderr.read().decode()[-2000:]}")
    return elapsed, usage.ru_maxrss // 1024, process.returncode


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


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dnssync-bench-plan-"))
    zone = "big.bench."
    with Lab(work / "lab", net=os.environ.get("DNSSYNC_LAB_NET", "127.0.8")) as lab:
        lab.add_zone(zone)
        text = big_zone(args.records, zone)
        env = lab.write_repo(work / "repo", {f"{zone}yaml": text})
        # set-up, not timed: every provider already holds the zone (octodns-bind cannot push it to BIND)
        subprocess.run([str(BIN / "dnssync"), "-c", str(work / "repo"), "apply", "--yes"], env=env, check=True,
                       capture_output=True)
        (work / "octo").mkdir()
        (work / "octo" / f"{zone}yaml").write_text(text)
        (work / "octodns.yaml").write_text(yaml.safe_dump(octodns_config(lab, zone, work / "octo")))
        commands = {
            "dnssync plan": [str(BIN / "dnssync"), "-c", str(work / "repo"), "plan"],
            "octodns-sync (dry run)": [str(BIN / "octodns-sync"), "--config-file", str(work / "octodns.yaml")],
        }
        runs: dict[str, list[tuple[float, int, int]]] = {name: [] for name in commands}
        for _ in range(args.runs):  # interleaved, so both see the same machine
            for name, command in commands.items():
                runs[name].append(timed(command, env))
    result = {
        name: {"median_s": round(statistics.median(r[0] for r in rs), 3),
               "runs_s": [round(r[0], 3) for r in rs], "peak_rss_mib": max(r[1] for r in rs)}
        for name, rs in runs.items()
    }
    ratio = result["dnssync plan"]["median_s"] / result["octodns-sync (dry run)"]["median_s"]
    summary = {"bench": "plan", "records": args.records, "providers": 3, "results": result,
               "ratio_dnssync_over_octodns": round(ratio, 3), "target": "<= 0.5", "load": os.getloadavg()}
    for name, r in result.items():
        print(f"{name:26s} median {r['median_s']:6.2f} s  runs {r['runs_s']}  peak RSS {r['peak_rss_mib']} MiB")
    print(f"ratio dnssync/octoDNS: {ratio:.2f} (target <= 0.5)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "plan.json").write_text(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    main()
