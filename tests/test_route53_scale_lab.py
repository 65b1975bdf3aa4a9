"""A 10,000-record zone converges at Route53 (moto's server): the push goes in requests
within Route53's limits (1,000 changes, 32,000 characters of values each), every RRset is
held afterwards, and the next plan is clean. The timing against octodns-sync is measured in
bench/bench_route53.py, not here."""

from __future__ import annotations

from tests.conftest import unique_zone
from tests.lab.zonegen import big_zone, big_zone_data
from tests.route53_repo import route53_repo, rrsets

RECORDS = 10_000


def test_ten_thousand_records_converge_at_route53(make_repo, lab, moto):
    zone = unique_zone("big")
    repo = route53_repo(make_repo, lab, moto, {zone: big_zone(RECORDS, zone)}, providers=[])
    pushed = repo.run("apply", "--yes", "--force")
    assert pushed.exit_code == 0, pushed.output[-3000:]

    held = rrsets(moto, zone)
    wanted = big_zone_data(RECORDS, zone)
    missing = [name for name, record in wanted.items() if (f"{name}.{zone}", record["type"]) not in held]
    assert not missing, f"{len(missing)} RRset(s) not held, e.g. {missing[:5]}"
    assert held[(f"zz-host-7.{zone}", "A")] == {"10.0.0.7"}
    assert held[(f"a-mx-7.{zone}", "MX")] == {f"10 zz-host-7.{zone}"}

    again = repo.run("plan", "--detailed-exitcode")
    assert again.exit_code == 0, again.output[-3000:]
