"""Ctrl-C during apply (issue 17, point 2), against the real lab in a real subprocess:
sending stops at the next batch boundary within a couple of seconds, every provider is
re-read and the summary says how much is pending, the apply record and snapshot are
whole, and a re-run converges. A second Ctrl-C stops at once and says what is unknown."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from dnssync.watch.changes import read_apply
from tests.conftest import ROOT, unique_zone
from tests.test_push_lab import ask

RECORDS = 1500
#: small batches, so the apply takes seconds and has many batch boundaries
SMALL_BATCHES = {"pdns": {"max_request_bytes": 5_000}, "bind": {"update_batch_size": 50},
                 "knot": {"update_batch_size": 50}}


def big_zone() -> str:
    return "".join(f"h{i:05d}:\n  type: A\n  value: 10.{i // 65536}.{i // 256 % 256}.{i % 256}\n"
                   for i in range(RECORDS))


def start_apply(repo) -> tuple[subprocess.Popen, Path]:
    out = repo.root.parent / f"{repo.root.name}-apply.txt"
    env = {**repo.env, "PYTHONPATH": str(ROOT)}
    with open(out, "w") as handle:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen([sys.executable, "-m", "dnssync", "-c", str(repo.root), "--no-color",
                                    "apply", "--yes"], stdout=handle, stderr=subprocess.STDOUT, env=env)
    return process, out


def wait_until_sending(lab, zone: str, process: subprocess.Popen, timeout: float = 60) -> None:
    """Until every server answers the zone's first record: each is in its batches."""
    deadline = time.monotonic() + timeout
    for server in lab.servers:
        while ask(lab, server, f"h00000.{zone}", "A") != {"10.0.0.0"}:
            assert process.poll() is None, "apply ended before the test saw it sending"
            assert time.monotonic() < deadline, f"apply never started sending to {server}"
            time.sleep(0.05)


def pending(repo) -> int:
    result = repo.run("plan", "--format", "json")
    return sum(len(p["changes"]) for p in json.loads(result.stdout)["providers"])


def apply_in_flight(make_repo, lab):
    """A repository with the big zone, and its apply running, sending to every server."""
    zone = unique_zone()
    repo = make_repo({zone: big_zone()}, provider_extra=SMALL_BATCHES)
    process, out = start_apply(repo)
    wait_until_sending(lab, zone, process)
    return repo, process, out


def test_ctrl_c_stops_at_a_batch_boundary_reports_and_converges(make_repo, lab):
    repo, process, out = apply_in_flight(make_repo, lab)
    process.send_signal(signal.SIGINT)
    interrupted = time.monotonic()
    time.sleep(2.5)  # "within a second or two": whatever is live now must stay as it is
    live_soon_after = pending(repo)
    code = process.wait(120)
    took = time.monotonic() - interrupted
    output = out.read_text()
    assert code == 130, output
    assert pending(repo) == live_soon_after, "batches were still sent 2.5 s after Ctrl-C"
    assert "Traceback" not in output and "Ctrl-C: stopping at the next batch boundary" in output
    summary = next(line for line in output.splitlines() if "Apply STOPPED by Ctrl-C" in line)
    left, total = (int(n) for n in summary.split("PARTIALLY APPLIED: ")[1].split(" change")[0].split(" of "))
    assert 0 < left < total == 3 * RECORDS, summary  # every record, at 3 providers
    assert left == live_soon_after, "the summary is what the providers hold, read back"
    # the apply record is whole (sealed) and says the same; the snapshot is whole too
    record = sorted((repo.root / ".dnssync" / "applies").glob("*.json"))[-1]
    watched = read_apply(record)
    assert set(watched.failed) == {"pdns", "bind", "knot"}
    outcomes = json.loads(record.read_text())["outcomes"]
    assert {o["status"] for o in outcomes} == {"interrupted"}
    assert all(0 < o["pending"] < RECORDS for o in outcomes), outcomes  # each stopped mid-way
    assert sum(o["pending"] for o in outcomes) == left
    listing = repo.run("snapshots")
    assert listing.exit_code == 0 and "pdns/" in listing.output
    # a re-run (with the providers' usual batch sizes, to be quick) converges
    for name, options in SMALL_BATCHES.items():
        path = repo.root / "providers" / f"{name}.yaml"
        path.write_text("".join(line for line in path.read_text().splitlines(keepends=True)
                                if not line.startswith(tuple(options))))
    again = repo.run("apply", "--yes")
    assert again.exit_code == 0, again.output
    assert pending(repo) == 0
    assert took < 30, f"Ctrl-C to exit took {took:.1f} s"


def test_second_ctrl_c_stops_at_once_and_says_what_is_unknown(make_repo, lab):
    _, process, out = apply_in_flight(make_repo, lab)
    process.send_signal(signal.SIGINT)
    time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    second = time.monotonic()
    code = process.wait(30)
    took = time.monotonic() - second
    output = out.read_text()
    assert code == 130, output
    assert took < 1.0, f"{took:.2f} s after the second Ctrl-C"
    assert "Stopped at once." in output and "Run `dnssync plan`" in output and "Traceback" not in output
    assert "Unknown: how much of the batch in flight reached" in output or "No batch was in flight" in output
