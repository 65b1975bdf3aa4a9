"""Benchmark: the CPU cost of `dnssync watch` following one change.

Setup: the lab with each server listening on two addresses, so each of the 3
providers has 2 nameservers (6 in all), plus the Unbound resolver; one A record
with TTL 15 s changed by `dnssync apply`. Then `dnssync watch --format json`
(polling every second, the default) runs as its own process until the change is
fully propagated (~16 s), and its CPU time (utime + stime from /proc) is divided
by the wall time between its `start` and `done` events. Target: under 5 % of one
core. The process's whole life, Python start-up and imports included, is also
reported.

Reference, in the same run: what an operator does without dnssync, a shell loop
running `dig` against the same 6 nameservers (record + SOA) and the resolver once
a second for the same duration; its CPU includes every dig it started.

Run: python bench/run.py watch  (needs root)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from common import ROOT, Row, cpu_seconds, lab_net

from tests.lab import Lab

TARGET = 0.05
TTL = 15


def dnssync(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dnssync", "-c", str(root), *args], env=env,
                          capture_output=True, text=True, check=False)


def watch_cpu(root: Path, env: dict[str, str]) -> dict[str, float]:
    """Run `dnssync watch` and measure it between its start and done events."""
    process = subprocess.Popen([sys.executable, "-m", "dnssync", "-c", str(root), "watch",
                                "--format", "json", "--deadline", "120"],
                               env=env, stdout=subprocess.PIPE, text=True)
    launched = time.monotonic()
    assert process.stdout is not None
    start = end = None
    outcome = None
    for line in process.stdout:
        event = json.loads(line)
        if event["event"] == "start":
            start = (time.monotonic(), cpu_seconds(process.pid))
        elif event["event"] == "done":
            end = (time.monotonic(), cpu_seconds(process.pid))
            outcome = event["outcome"]
    _, status, usage = os.wait4(process.pid, 0)
    finished = time.monotonic()
    if start is None or end is None or outcome != "propagated" or status != 0:
        raise SystemExit(f"dnssync watch did not finish as expected (outcome {outcome},"
                         f" status {status})")
    wall = end[0] - start[0]
    return {"wall": wall, "cpu": end[1] - start[1], "share": (end[1] - start[1]) / wall,
            "total_wall": finished - launched, "total_cpu": usage.ru_utime + usage.ru_stime,
            "total_share": (usage.ru_utime + usage.ru_stime) / (finished - launched)}


def reference_cpu(lab: Lab, zone: str, seconds: float) -> dict[str, float]:
    """The same polling with dig in a shell loop, for `seconds`."""
    asks = [f"dig +short +norec +time=1 +tries=1 @{address} www.{zone} A;"
            f" dig +short +norec +time=1 +tries=1 @{address} {zone} SOA;"
            for server in lab.servers.values() for address in server.addresses]
    asks.append(f"dig +short +time=1 +tries=1 @{lab.unbound.address} www.{zone} A;")
    script = (f"end=$(( $(date +%s) + {round(seconds)} )); while [ $(date +%s) -lt $end ];"
              f" do {' '.join(asks)} sleep 1; done >/dev/null")
    began = time.monotonic()
    process = subprocess.Popen(["sh", "-c", script])
    _, _, usage = os.wait4(process.pid, 0)
    wall = time.monotonic() - began
    cpu = usage.ru_utime + usage.ru_stime
    return {"wall": wall, "cpu": cpu, "share": cpu / wall}


def run(workdir: Path) -> list[Row]:
    with Lab(workdir / "lab", net=lab_net(), second_addresses=True) as lab:
        zone = f"bench-watch-{os.getpid()}.test."
        lab.add_zone(zone)
        root = workdir / "repo"
        env = lab.write_repo(root, {f"{zone}yaml": f"www:\n  ttl: {TTL}\n  type: A\n"
                                                   "  value: 192.0.2.1\n"},
                             config={"resolvers": [lab.resolver]})
        env["PYTHONPATH"] = str(ROOT)
        for value in ("192.0.2.1", "192.0.2.2"):
            (root / "zones" / f"{zone}yaml").write_text(
                f"www:\n  ttl: {TTL}\n  type: A\n  value: {value}\n")
            done = dnssync(root, env, "apply", "--yes")
            if done.returncode != 0:
                raise RuntimeError(f"apply failed: {done.stdout}{done.stderr}")
            if value == "192.0.2.1":
                subprocess.run(["dig", "+short", f"@{lab.unbound.address}", f"www.{zone}", "A"],
                               capture_output=True, check=True)  # Unbound caches the old value
        nameservers = sum(len(s.addresses) for s in lab.servers.values())
        watched = watch_cpu(root, env)
        reference = reference_cpu(lab, zone, watched["wall"])
    ratio = watched["share"] / reference["share"] if reference["share"] else float("inf")
    setup = f"1 change, {len(lab.servers)} providers x 2 nameservers ({nameservers}) + 1 resolver, 1 s polls"
    return [
        Row("watch", f"dnssync watch CPU, steady state ({setup})", round(100 * watched["share"], 3),
            "% of one core", f"< {100 * TARGET:.0f} %", watched["share"] < TARGET, detail=watched),
        Row("watch", "dnssync watch CPU, whole process incl. start-up", round(100 * watched["total_share"], 3),
            "% of one core"),
        Row("watch", "reference: dig in a shell loop, same polling", round(100 * reference["share"], 3),
            "% of one core", detail=reference),
        Row("watch", "ratio dnssync / dig loop", round(ratio, 3)),
    ]
