"""Ctrl-C during apply (issue 17, point 2), against the real lab in a real subprocess:
sending stops at the next batch boundary, every provider is re-read and the summary says
how much is pending, the apply record and snapshot are whole, and a re-run converges. A
second Ctrl-C stops at once and says what is unknown.

No race with the machine's speed: PowerDNS is reached through a proxy that holds one
request (the third batch) until the test has sent Ctrl-C, so the apply is always mid-way
when interrupted, and what reached PowerDNS after it is counted, not timed."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from dnssync.watch.changes import read_apply
from tests.conftest import ROOT, unique_zone
from tests.httpfault import FaultyProxy

RECORDS = 1500
#: small batches, so the apply has many batch boundaries
SMALL_BATCHES = {"pdns": {"max_request_bytes": 5_000}, "bind": {"update_batch_size": 50},
                 "knot": {"update_batch_size": 50}}
#: the PowerDNS batch (PATCH) the proxy holds: two went through, so the zone is part-written
HELD = 2


class Hold:
    """The proxy's decision: PATCH number HELD waits until the test releases it, then is
    passed on (or answered `answer`, when the apply is gone and nothing should reach the server)."""

    def __init__(self) -> None:
        self.holding = threading.Event()
        self.released = threading.Event()
        self.answer: int | None = None

    def __call__(self, method: str, path: str, count: int) -> int | None:
        if method == "PATCH" and count == HELD:
            self.holding.set()
            self.released.wait(120)
            return self.answer
        return None

    def release(self, answer: int | None = None) -> None:
        self.answer = answer
        self.released.set()


def big_zone() -> str:
    return "".join(f"h{i:05d}:\n  type: A\n  value: 10.{i // 65536}.{i // 256 % 256}.{i % 256}\n"
                   for i in range(RECORDS))


def start_apply(repo, jobs: str) -> tuple[subprocess.Popen, Path]:
    out = repo.root.parent / f"{repo.root.name}-apply.txt"
    env = {**repo.env, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}  # its output read while it runs
    with open(out, "w") as handle:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen([sys.executable, "-m", "dnssync", "-c", str(repo.root), "--no-color",
                                    "apply", "--yes", "--jobs", jobs], stdout=handle, stderr=subprocess.STDOUT, env=env)
    return process, out


def wait_for(what: str, done, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert process.poll() is None, f"apply ended before {what}"
        assert time.monotonic() < deadline, f"apply never got to {what}"
        time.sleep(0.05)


def pending(repo) -> int:
    result = repo.run("plan", "--format", "json")
    return sum(len(p["changes"]) for p in json.loads(result.stdout)["providers"])


def interrupted_once(process: subprocess.Popen, out: Path) -> None:
    """Ctrl-C, and wait until the apply said it is stopping (its flag is set)."""
    process.send_signal(signal.SIGINT)
    wait_for("saying it stops", lambda: "Ctrl-C: stopping at the next batch boundary" in out.read_text(), process)


@pytest.fixture(params=["1", "2"], ids=["threads", "workers"])
def apply_held(make_repo, lab, request):
    """A repository with the big zone (PowerDNS through a holding proxy) and its apply
    running, PowerDNS's third batch held: (repo, process, output file, proxy, hold).
    Applied by threads of the apply's process, and by two forked workers (planning/
    held.py: the Ctrl-C reaches only the parent, which passes it on)."""
    hold = Hold()
    proxy = FaultyProxy(f"http://{lab.pdns.address}:{lab.pdns.api_port}", hold).__enter__()
    zone = unique_zone()
    repo = make_repo({zone: big_zone()}, provider_extra={
        **SMALL_BATCHES, "pdns": {"host": "127.0.0.1", "port": proxy.port, **SMALL_BATCHES["pdns"]}})
    process, out = start_apply(repo, request.param)
    try:
        wait_for("PowerDNS's third batch", hold.holding.is_set, process)
        yield repo, process, out, proxy, hold
    finally:
        hold.release(503)  # if still held: the apply is gone, send PowerDNS nothing more
        if process.poll() is None:
            process.kill()
            process.wait()
        proxy.__exit__()


def test_ctrl_c_stops_at_a_batch_boundary_reports_and_converges(apply_held):
    repo, process, out, proxy, hold = apply_held
    interrupted_once(process, out)
    interrupted = time.monotonic()
    hold.release()  # the batch in flight completes; the next one must not be sent
    code = process.wait(120)
    took = time.monotonic() - interrupted
    output = out.read_text()
    assert code == 130, output
    sent = [path for method, path, _ in proxy.log if method == "PATCH"]
    assert len(sent) == HELD + 1, f"PowerDNS got {len(sent)} batches: sending went on after Ctrl-C"
    assert "Traceback" not in output and "Ctrl-C: stopping at the next batch boundary" in output
    summary = next(line for line in output.splitlines() if "Apply STOPPED by Ctrl-C" in line)
    left, total = (int(n) for n in summary.split("PARTIALLY APPLIED: ")[1].split(" change")[0].split(" of "))
    assert 0 < left < total == 3 * RECORDS, summary  # every record, at 3 providers
    assert left == pending(repo), "the summary is what the providers hold, read back"
    # the apply record is whole (sealed) and says the same; the snapshot is whole too
    record = sorted((repo.root / ".dnssync" / "applies").glob("*.json"))[-1]
    watched = read_apply(record)
    outcomes = {o["provider"]: o for o in json.loads(record.read_text())["outcomes"]}
    assert outcomes["pdns"]["status"] == "interrupted" and "pdns" in watched.failed
    assert 0 < outcomes["pdns"]["pending"] < RECORDS, outcomes["pdns"]  # stopped mid-way
    # BIND and Knot ran alongside: stopped at a boundary too, or done before the Ctrl-C
    assert all(o["status"] in ("interrupted", "applied") for o in outcomes.values()), outcomes
    # what is left is what the interrupted ones have pending (one done before the Ctrl-C has none)
    assert sum(o["pending"] for o in outcomes.values() if o["status"] == "interrupted") == left
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
    assert took < 60, f"Ctrl-C to exit took {took:.1f} s"


def test_second_ctrl_c_stops_at_once_and_says_what_is_unknown(apply_held):
    _, process, out, _, _ = apply_held  # PowerDNS's batch stays held: it is in flight
    interrupted_once(process, out)
    process.send_signal(signal.SIGINT)
    second = time.monotonic()
    code = process.wait(30)
    took = time.monotonic() - second
    output = out.read_text()
    assert code == 130, output
    assert took < 5.0, f"{took:.2f} s after the second Ctrl-C"  # "at once": not after the held batch
    assert "Stopped at once." in output and "Run `dnssync plan`" in output and "Traceback" not in output
    unknown = next(line for line in output.splitlines() if "Unknown: how much of the batch in flight reached" in line)
    assert "pdns" in unknown, unknown
