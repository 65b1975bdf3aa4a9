"""How much the parity gate adds to a plan, on a large zone, beside octoDNS's own work.

Reference: octoDNS processes the desired zone once per target anyway
(`_process_desired_zone`, inside every plan). dnssync's parity gate does that
plus the TTL clamp and one comparison of every record across the providers.
Both run here on the same 10,000-record zone for PowerDNS, BIND and Knot
providers (constructed, never contacted: nothing here needs a server), and the
ratio is printed and saved under bench/results/.

    PYTHONPATH=$PWD python bench/parity.py [records]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from octodns.record import Record
from octodns.zone import Zone
from octodns_powerdns import PowerDnsProvider

from dnssync.config import Policy
from dnssync.parity import check_zone
from dnssync.providers.capabilities import served_zone
from dnssync.providers.rfc2136 import BindProvider, KnotProvider
from tests.lab.zonegen import big_zone_data

ROUNDS = 5


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


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    desired = build(n)
    providers = {
        "pdns": PowerDnsProvider("pdns", "127.0.0.1", "unused", strict_supports=False),
        "bind": BindProvider("bind", "127.0.0.1", strict_supports=False),
        "knot": KnotProvider("knot", "127.0.0.1", strict_supports=False),
    }
    reference = best(lambda: [p._process_desired_zone(desired.copy()) for p in providers.values()])

    def gate() -> None:
        served = {name: served_zone(p, desired) for name, p in providers.items()}
        check_zone(desired, served, Policy(), lambda *_: (None, None))

    ours = best(gate)
    result = {"records": len(desired.records), "providers": len(providers),
              "octodns_process_s": round(reference, 4), "parity_gate_s": round(ours, 4),
              "ratio": round(ours / reference, 2), "rounds": ROUNDS}
    print(json.dumps(result, indent=2))
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "parity.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
