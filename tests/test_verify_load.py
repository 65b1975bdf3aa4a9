"""verify under load and on a lossy path (issue 17, point 8): the engine slows down to a
slow or lossy nameserver, like TCP congestion control, instead of opening its circuit
breaker and reporting healthy servers. Zero false findings on three runs in a row:
through bench/relay.py (delay and loss) in front of the lab's real servers, and on
embedded servers loaded by verify itself (they share its process and CPU)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dnssync.embedded.fleet import Fleet
from dnssync.repo.repository import load_settings
from tests.conftest import ROOT, unique_zone
from tests.embedded_repo import free_port, run, write_repo


def a_records(count: int) -> list[tuple[str, str]]:
    return [(f"h{i:05d}", f"10.{i // 65536}.{i // 256 % 256}.{i % 256}") for i in range(count)]


def zone_yaml(records: list[tuple[str, str]]) -> str:
    return "".join(f"{name}:\n  type: A\n  value: {value}\n" for name, value in records)


def problems(output: str) -> tuple[list[dict], int]:
    """verify's error and warning findings (a `verify.throttled` note is information), and
    how many nameservers it said it slowed down to."""
    findings = json.loads(output)["findings"]
    throttled = sum(f["code"] == "verify.throttled" for f in findings)
    return [f for f in findings if f["severity"] != "info"], throttled


@pytest.fixture
def relays(lab):
    """bench/relay.py on free ports of 127.0.0.1, one per lab server: 20 ms each way and
    5% of UDP datagrams lost each way (seeded, so every run loses alike)."""
    ports = {name: free_port() for name in lab.servers}
    pairs = [f"127.0.0.1:{ports[name]}={server.address}:{server.port}" for name, server in lab.servers.items()]
    relay = subprocess.Popen([sys.executable, str(ROOT / "bench" / "relay.py"), "--delay", "0.02",
                              "--loss", "0.05", *pairs], stdout=subprocess.PIPE, text=True)
    try:
        assert relay.stdout is not None and relay.stdout.readline().strip() == "READY"
        yield ports
    finally:
        relay.terminate()
        relay.communicate(timeout=10)


def test_lossy_slow_path_gives_no_false_findings(make_repo, lab, relays):
    zone = unique_zone()
    repo = make_repo({zone: zone_yaml(a_records(1000))}, config={"parent": {"check": False}})
    assert repo.run("apply", "--yes").exit_code == 0
    for name, port in relays.items():  # verify asks through the relays, apply went direct
        path = repo.root / "providers" / f"{name}.yaml"
        data = yaml.safe_load(path.read_text())
        for ns in data["nameservers"]:
            ns["address"] = f"127.0.0.1:{port}"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    for attempt in range(3):
        result = repo.run("verify", "--format", "json", "--no-extra", "--timeout", "1", "--retries", "1")
        found, _ = problems(result.stdout)
        assert result.exit_code == 0 and not found, (attempt, found[:5])


def embedded_zone(root: Path, records: list[tuple[str, str]]) -> None:
    """Three embedded providers serving `records`: one record applied as usual, the rest
    written into their master files (pushing them through RFC 2136 would take minutes)."""
    write_repo(root, {"load.example.yaml": zone_yaml(records[:1])}, ["alpha", "bravo", "charlie"])
    config = root / "dnssync.yaml"
    config.write_text(config.read_text() + "parent:\n  check: false\n")
    with Fleet.for_config(load_settings(root), root / "data"):
        applied = run(root, "apply", "--yes")
        assert applied.exit_code == 0, applied.output
    masters = sorted((root / "data").rglob("*zone"))
    assert len(masters) == 3
    for master in masters:
        with master.open("a") as handle:
            handle.writelines(f"{name}.load.example. 3600 IN A {value}\n" for name, value in records[1:])
    (root / "zones" / "load.example.yaml").write_text(zone_yaml(records))


@pytest.mark.slow  # tens of seconds: `make test-unit` leaves it out
def test_embedded_servers_under_load_give_no_false_findings(tmp_path):
    """A window of 512 questions per nameserver, a 0.3 s timeout and one retry, on three
    embedded servers answering from verify's own process: far more than they keep up
    with. Before congestion control this reported thousands of timeouts.

    Each server also drops 3 % of the questions, so that the load is there on any
    machine, fast or idle: verify must slow down (and say so) on every one of them, and
    still report no false finding."""
    root = tmp_path / "repo"
    embedded_zone(root, a_records(4000))
    with Fleet.for_config(load_settings(root), root / "data") as fleet:
        for server in fleet.servers.values():
            server.set_faults(drop=0.03)
        slowed = 0
        for attempt in range(3):
            result = run(root, "verify", "--format", "json", "--no-extra", "--timeout", "0.3", "--retries", "1",
                         "--window", "512")
            found, throttled = problems(result.stdout)
            assert result.exit_code == 0 and not found, (attempt, len(found), found[:3])
            slowed += throttled
    assert slowed, "verify never said it slowed down, though every server dropped questions"
