"""The first push of a 20,000-record zone: how fast the plan prints (issue 16, point 12).

A 69,000-row rich table once took half a minute to print before apply sent its first
record. Now a text plan past a few hundred rows is summarised. Measured here, in one
run, against the lab's real PowerDNS holding the zone empty:

- `dnssync plan` (text, the way a terminal or CI log gets it) against `octodns-sync`'s
  dry run on the same zone file and server: whole commands, one after the other; the
  ratio is what to compare (it was about 2 before);
- printing that plan (read back from `plan --format json --out`), and the same plan
  made for three providers (60,000 rows), in-process: under a second each.

    python bench/run.py bigplan      (about a minute)
"""

from __future__ import annotations

import io
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import yaml
from common import Row, lab_net
from rich.console import Console

from dnssync.model.plan import Plan
from dnssync.report.text import print_plan
from tests.lab import Lab
from tests.lab.zonegen import big_zone

BIN = Path(sys.executable).parent
RECORDS = 20_000
RUNS = 1  # a minute on an idle machine; the ratio is from the same run


def timed(command: list[str], env: dict[str, str], log: Path) -> float:
    """Wall seconds of one run of `command`, its output to `log` (a 20,000-row plan log
    would fill a pipe nobody reads)."""
    with log.open("w") as out:
        start = time.perf_counter()
        done = subprocess.run(command, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=300)
        elapsed = time.perf_counter() - start
    if done.returncode not in (0, 3):
        raise RuntimeError(f"{command[0]} failed ({done.returncode}): {log.read_text()[-2000:]}")
    return elapsed


def render_seconds(plan: Plan) -> float:
    console = Console(file=io.StringIO(), width=200, no_color=True)
    start = time.perf_counter()
    print_plan(console, plan)
    return time.perf_counter() - start


def run(workdir: Path) -> list[Row]:
    zone = "first.bench."
    with Lab(workdir / "lab", net=lab_net()) as lab:
        lab.add_zone(zone, ["pdns"])  # created empty, as before a first push
        text = big_zone(RECORDS, zone)
        env = lab.write_repo(workdir / "repo", {f"{zone}yaml": text}, providers=["pdns"])
        (workdir / "octo").mkdir()
        (workdir / "octo" / f"{zone}yaml").write_text(text)
        (workdir / "octodns.yaml").write_text(yaml.safe_dump({
            "providers": {
                "config": {"class": "octodns.provider.yaml.YamlProvider", "directory": str(workdir / "octo")},
                "pdns": {"class": "octodns_powerdns.PowerDnsProvider", "host": lab.pdns.address,
                         "port": lab.pdns.api_port, "api_key": "env/DNSSYNC_LAB_PDNS_API_KEY"}},
            "zones": {zone: {"sources": ["config"], "targets": ["pdns"]}}}))
        commands = {
            "dnssync plan": [str(BIN / "dnssync"), "-c", str(workdir / "repo"), "plan"],
            "octodns-sync": [str(BIN / "octodns-sync"), "--config-file", str(workdir / "octodns.yaml")],
        }
        runs: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(RUNS):  # interleaved, so both see the same machine
            for name, command in commands.items():
                runs[name].append(timed(command, env, workdir / f"{name}.log"))
        saved = workdir / "plan.json"
        timed([*commands["dnssync plan"], "--format", "json", "--out", str(saved)], env, workdir / "json.log")
    plan = Plan.from_json(saved.read_text())
    rows = sum(len(p.changes) for p in plan.providers)
    one = render_seconds(plan)
    three = replace(plan, providers=[replace(p, provider=name) for p in plan.providers
                                     for name in ("bind", "knot", "pdns")])
    many = render_seconds(three)
    median = {name: statistics.median(values) for name, values in runs.items()}
    ratio = median["dnssync plan"] / median["octodns-sync"]
    detail = {"records": RECORDS, "changes": rows, "runs_s": {n: [round(v, 3) for v in vs] for n, vs in runs.items()}}
    return [
        Row("bigplan", f"dnssync plan, first push of {RECORDS:,} records to PowerDNS (median)",
            round(median["dnssync plan"], 3), "s", detail=detail),
        Row("bigplan", "octodns-sync dry run, same zone and server (median)", round(median["octodns-sync"], 3), "s"),
        Row("bigplan", "ratio dnssync / octoDNS (was about 2)", round(ratio, 3), "", "<= 1.0", ratio <= 1.0),
        Row("bigplan", f"printing that plan ({rows:,} rows)", round(one, 3), "s", "< 1 s", one < 1.0),
        Row("bigplan", f"printing it for 3 providers ({3 * rows:,} rows)", round(many, 3), "s", "< 1 s", many < 1.0),
    ]
