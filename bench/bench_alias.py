"""What resolving ALIAS targets costs a plan: 500 zones, each with an apex ALIAS to its own
name at a "CDN" (a zone on the lab's parent server), flattened for BIND and Knot.

Measured in process around `flatten.prepare` (what `planning.run.plan_repository` runs before the
providers are planned: every target resolved at once through the async engine, then the
per-provider zones built), three ways: through the lab's Unbound with a cold cache, the
same with the cache warm, and with no `resolvers:` (the targets' own authoritative
servers, found by following referrals from the parent). Target: under 1 s on loopback.

    python bench/run.py alias
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from pathlib import Path

from common import PYTHON, ROOT, Row, lab_net, write_repo

from dnssync.planning.flatten import prepare
from dnssync.query.engine import Engine
from dnssync.repo.repository import Repository
from dnssync.repo.targets import TargetResolver
from tests.lab import Lab

BENCH = "alias"
TARGETS = 500
TARGET_SECONDS = 1.0
SAMPLE = 50


def timed_prepare(root: Path, rounds: int = 1) -> tuple[float, int, list[str]]:
    """The best of `rounds` runs of what a plan adds for ALIAS records (the repository
    and its providers are loaded first: a plan without ALIAS records does that too)."""
    repo = Repository.load(root)
    serves, providers = repo.serves(), repo.providers()
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        flat = prepare(repo.config, repo.desired, providers, serves, repo.locate)
        best = min(best, time.perf_counter() - start)
    return best, sum(1 for f in flat.records if not f.error), [f.error for f in flat.records if f.error][:3]


def run(workdir: Path) -> list[Row]:
    rows = []
    with Lab(workdir / "lab") as lab:
        cdn = lab.add_cdn("cdn-bench.test.", ttl=300)
        targets = cdn.set_many({f"site{i}": [f"10.9.{i >> 8}.{i & 255}", f"2001:db8:9::{i:x}"]
                                for i in range(TARGETS)})
        zones = {f"z{i}.test.": f"'':\n  ttl: 300\n  type: ALIAS\n  value: {target}\n"
                 for i, target in enumerate(targets)}
        via_resolver = workdir / "resolver"
        os.environ.update(write_repo(lab, via_resolver, zones, ["pdns", "bind", "knot"]))  # secrets
        settings = (via_resolver / "dnssync.yaml").read_text()
        (via_resolver / "dnssync.yaml").write_text(settings + f"resolvers: ['{lab.resolver}']\n")
        authoritative = workdir / "authoritative"
        write_repo(lab, authoritative, zones, ["pdns", "bind", "knot"])
        for label, root, rounds in (("via Unbound, cold cache", via_resolver, 1),
                                    ("via Unbound, warm cache (best of 3)", via_resolver, 3),
                                    ("authoritative, referrals from the parent (best of 3)", authoritative, 3)):
            seconds, flattened, errors = timed_prepare(root, rounds)
            rows.append(Row(BENCH, f"{TARGETS} ALIAS targets resolved and flattened in a plan, {label}",
                            round(seconds, 3), "s", f"< {TARGET_SECONDS}",
                            seconds < TARGET_SECONDS and flattened == TARGETS,
                            detail={"flattened": flattened, "errors": errors}))
        rows += slow_resolver(lab, via_resolver, targets)
    return rows


def slow_resolver(lab: Lab, root: Path, targets: list[str]) -> list[Row]:
    """The same resolver 40 ms away (bench/relay.py, 20 ms each way): what concurrency is
    for. One after another is measured on SAMPLE targets and scaled up."""
    relay_address = f"{lab_net()}.31"
    settings = (root / "dnssync.yaml").read_text().replace(lab.resolver, f"{relay_address}:53")
    (root / "dnssync.yaml").write_text(settings)
    relay = subprocess.Popen([PYTHON, str(ROOT / "bench" / "relay.py"), "--delay", "0.02",
                              f"{relay_address}:53={lab.resolver}"], stdout=subprocess.PIPE, text=True)
    try:
        assert relay.stdout is not None and relay.stdout.readline().strip() == "READY"
        concurrent, flattened, errors = timed_prepare(root)
        sequential = one_by_one(root, targets[:SAMPLE]) * len(targets) / SAMPLE
    finally:
        relay.terminate()
        relay.communicate(timeout=10)
    return [Row(BENCH, f"{TARGETS} targets via a resolver 40 ms away, concurrently (the plan)",
                round(concurrent, 3), "s", detail={"flattened": flattened, "errors": errors}),
            Row(BENCH, f"{TARGETS} targets via a resolver 40 ms away, one after another (estimated"
                f" from {SAMPLE})", round(sequential, 1), "s")]


def one_by_one(root: Path, targets: list[str]) -> float:
    """Each target waiting for the one before it (A and AAAA still asked together)."""
    repo = Repository.load(root)

    async def run() -> float:
        resolver = await TargetResolver.for_config(repo.config, repo.desired)
        async with Engine(repo.config.defaults.timeout) as engine:
            start = time.perf_counter()
            for target in targets:
                await resolver.resolve(engine, target)
            return time.perf_counter() - start
    return asyncio.run(run())
