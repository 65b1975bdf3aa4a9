"""How much the parity gate adds to a plan, on a large zone, beside octoDNS's own work.

Reference: octoDNS processes the desired zone once per target anyway
(`_process_desired_zone`, inside every plan). dnssync adds, per provider, what it
will serve (`planning.adjust.adjustments`: that processing plus the TTL clamp, done in each
provider's planning worker) and then the gate itself (`parity.check_plan`: one
pass over the records across providers, from the adjustments). Both run here on
the same 10,000-record zone for PowerDNS, BIND and Knot providers (constructed,
never contacted: nothing here needs a server).

    python bench/run.py parity
"""

from __future__ import annotations

import time
from pathlib import Path

from common import Row
from octodns.record import Record
from octodns.zone import Zone
from octodns_powerdns import PowerDnsProvider

from dnssync.model.plan import Plan, ProviderPlan
from dnssync.planning.adjust import adjustments
from dnssync.planning.parity import check_plan
from dnssync.providers.rfc2136 import BindProvider, KnotProvider
from dnssync.repo.config import Policy
from tests.lab.zonegen import big_zone_data

ROUNDS = 5
RECORDS = 10_000


def build(n: int) -> Zone:
    zone = Zone("bench.test.", [])
    for name, data in big_zone_data(n, zone.name).items():
        zone.add_record(Record.new(zone, name, data), lenient=True)
    return zone


def best(fn) -> float:
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def run(workdir: Path) -> list[Row]:
    desired = build(RECORDS)
    providers = {
        "pdns": PowerDnsProvider("pdns", "127.0.0.1", "unused", strict_supports=False),
        "bind": BindProvider("bind", "127.0.0.1", strict_supports=False),
        "knot": KnotProvider("knot", "127.0.0.1", strict_supports=False),
    }
    reference = best(lambda: [p._process_desired_zone(desired.copy()) for p in providers.values()])

    served = best(lambda: [adjustments(p, desired) for p in providers.values()])
    plan = Plan(zones={}, providers=[ProviderPlan(name, desired.name, adjustments=adjustments(p, desired)[0])
                                     for name, p in providers.items()])
    gate = best(lambda: check_plan(plan, {desired.name: desired}, providers, Policy(), lambda *_: (None, None)))
    setup = f"{len(desired.records)} records x {len(providers)} providers, best of {ROUNDS}"
    return [
        Row("parity", f"what each provider serves, all providers ({setup})", round(served, 4), "s"),
        Row("parity", "the gate across providers (from the adjustments)", round(gate, 4), "s"),
        Row("parity", "octoDNS's own per-target processing (reference)", round(reference, 4), "s"),
        Row("parity", "ratio (served + gate) / octoDNS processing", round((served + gate) / reference, 2)),
    ]
