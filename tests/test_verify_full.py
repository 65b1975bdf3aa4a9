"""verify spread over processes (verify/full.py): how the zones are cut into parts,
and how the parts' results become one run's."""

from __future__ import annotations

from dnssync.model.findings import Finding, Severity
from dnssync.query.answer import Endpoint
from dnssync.verify import full
from dnssync.verify.dnssec import DnssecResult
from dnssync.verify.full import Verified, merge, split
from dnssync.verify.run import Throttled, VerifyResult, throttled_findings


def test_split_cuts_sorted_zones_into_contiguous_parts_of_equal_work():
    work = {f"z{i:02d}.test.": 4000 for i in range(10)} | {"a-big.test.": 20000}
    parts = split(work, 3)
    assert [z for part in parts for z in part] == sorted(work)  # every zone once, in order
    assert len(parts) == 3
    loads = [sum(work[z] for z in part) for part in parts]
    assert max(loads) <= 24000 and min(loads) >= 16000, loads  # the big zone alone is its part
    assert parts[0] == ["a-big.test."]


def test_split_keeps_a_small_repository_in_one_process():
    work = {f"z{i}.test.": 43 * 3 for i in range(20)}  # 2,580 questions: not worth a fork
    assert split(work, 8) == [sorted(work)]
    assert split({}, 4) == []
    assert len(split({"a.": full.MIN_QUESTIONS, "b.": full.MIN_QUESTIONS}, 8)) == 2
    assert split({"a.": 10**6}, 4) == [["a."]]  # one zone is never split


def _part(zone: str, queries: int, query_seconds: float, throttled: dict, findings: list[Finding],
          started: float = 1000.0) -> Verified:
    """A worker's result: prepared for 0.5 s from `started`, then asking for `query_seconds`."""
    stats = {"queries": queries, "udp_sent": queries, "tcp": 1, "prepare_seconds": 0.5,
             "query_seconds": query_seconds, "query_cpu_seconds": 1.0, "seconds": 9.0,
             "transfer_seconds": {f"{zone} ns1": 0.1},
             "spans": {"prepare_seconds": (started, started + 0.5),
                       "query_seconds": (started + 0.5, started + 0.5 + query_seconds)}}
    dnssec = DnssecResult([], [], {"signatures": 2, "validated": 1, "queries": 10, "seconds": query_seconds})
    return Verified(VerifyResult(findings, [(zone, "bind", "ns1")], stats, throttled), dnssec)


def test_merge_sums_counters_reports_a_nameserver_once_and_throttling_in_sum():
    ns = Endpoint("127.0.0.3", 53, "ns1.bind.lab.")
    unresolvable = Finding(Severity.ERROR, "verify.unresolvable", "ns9.lab: no address", provider="knot",
                           nameserver="ns9.lab.")
    wrong = [Finding(Severity.ERROR, "verify.values", f"{z} differs", zone=z, provider="bind")
             for z in ("a.test.", "b.test.")]
    merged = merge([
        _part("a.test.", 3000, 2.0, {ns: Throttled("bind", "ns1", 16, 5)}, [unresolvable, wrong[0]]),
        _part("b.test.", 5000, 4.0, {ns: Throttled("bind", "ns1", 8, 7)}, [unresolvable, wrong[1]]),
    ], seconds=4.5, jobs=2)
    result = merged.result
    assert result.findings == [unresolvable, *wrong]
    assert result.checked == [("a.test.", "bind", "ns1"), ("b.test.", "bind", "ns1")]
    stats = result.stats
    assert (stats["jobs"], stats["parts"], stats["queries"], stats["udp_sent"], stats["tcp"]) == (2, 2, 8000, 8000, 2)
    assert (stats["query_seconds"], stats["prepare_seconds"], stats["seconds"]) == (4.0, 0.5, 4.5)
    assert stats["query_cpu_seconds"] == 2.0 and stats["queries_per_second"] == 2000
    assert stats["transfer_seconds"] == {"a.test. ns1": 0.1, "b.test. ns1": 0.1}
    assert stats["dnssec"] == {"signatures": 4, "validated": 2, "queries": 20, "seconds": 4.0}
    [finding] = throttled_findings(result.throttled, 64)
    assert "window 8 instead of 64" in finding.message and "asked 12 question(s) again" in finding.message


def test_a_large_fleet_is_cut_into_parts_of_bounded_work_verified_jobs_at_once():
    work = {f"z{i:04d}.test.": 129 for i in range(2000)}  # 2,000 zones x 40 records x 3 providers
    parts = split(work, 2)
    # 9 parts' worth, cut into 10: two workers at once, a 9th part alone left a core idle
    assert len(parts) == 10 and [z for part in parts for z in part] == sorted(work)
    assert max(sum(work[z] for z in part) for part in parts) <= full.MAX_QUESTIONS
    assert len(split(work, 4)) == 12 and len(split(work, 1)) == 9
    # two workers at once; the third part starts when the first ends (at 1002.5), so the
    # query phase runs from 1000.5 to 1008.0 (it was taken as 3 s + 5 s: "rounds")
    parts = [_part("0.test.", 1000, 2.0, {}, []), _part("1.test.", 1000, 3.0, {}, []),
             _part("2.test.", 1000, 5.0, {}, [], started=1002.5)]
    stats = merge(parts, seconds=9.0, jobs=2).result.stats
    assert (stats["jobs"], stats["parts"], stats["query_seconds"], stats["queries"]) == (2, 3, 7.5, 3000)
    assert stats["prepare_seconds"] == 1.0 and "spans" not in stats
    assert stats["dnssec"]["seconds"] == 8.0 and stats["dnssec"]["queries"] == 30


def test_a_phase_lasts_while_any_worker_is_in_it():
    assert full.covered([]) == 0.0
    assert full.covered([(2.0, 3.0), (0.0, 1.0), (2.5, 4.0)]) == 3.0  # a gap is not counted
    assert full.covered([(0.0, 5.0), (1.0, 2.0)]) == 5.0  # one inside another counts once


class _Busy:
    """A shared counter that a worker adds to between any two reads of it, as forked
    workers do while the parent reads (CI once saw a bar hear 71 answers of 72)."""

    def __init__(self) -> None:
        self.total, self.busy = 0, True

    @property
    def value(self) -> int:
        if self.busy:
            self.total += 1
        return self.total


def test_the_bar_hears_every_answer_the_workers_add_while_it_reads():
    counter, heard = _Busy(), []
    tick = full._ticker(counter, heard.append)
    for _ in range(5):
        tick()
    counter.busy = False  # the workers have ended
    tick()
    assert sum(heard) == counter.total == 5 and all(n > 0 for n in heard)
