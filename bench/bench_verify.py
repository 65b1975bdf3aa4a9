"""`dnssync verify` against octodns-report and dnsperf, on the lab's real servers.

1. A 10,000-record zone on PowerDNS and BIND: dnssync's per-record queries
   against `octodns-report --concurrency 64` (target: 5x faster), with and without
   the default extra-record AXFR, dnsperf as the servers' limit, the same zone
   compared by AXFR (target: < 0.5 s per nameserver), and the default verify with
   one more provider whose nameserver never answers (target: no zone transfer is
   started towards it, so it costs its breaker's two timeouts, not a transfer's four).
2. A slow, lossy network (bench/relay.py: 40 ms each way, 1% UDP loss): 1,000
   records on 3 providers with 2 nameservers each (target: < 5 s, no findings),
   and octodns-report on the same relays.
3. A 100,000-record zone on BIND and Knot: peak memory of `dnssync verify`
   (target: < 500 MB).
"""

from __future__ import annotations

import statistics
import subprocess
import time
from pathlib import Path

import yaml
from common import (
    PYTHON,
    ROOT,
    Lab,
    Row,
    dnsperf,
    lab_net,
    octodns_report,
    peak_memory_mb,
    push,
    query_file,
    verify,
    write_repo,
    zone_yaml,
)

BENCH = "verify"


def _providers_zone(lab: Lab, zone: str, providers: list[str],
                    nameservers: list[str] | None = None) -> None:
    names = nameservers or sorted(lab.servers[p].nameserver for p in providers)
    lab.add_zone(zone, providers, names)


def ten_thousand(lab: Lab, workdir: Path) -> list[Row]:
    zone, count, providers = "bench10k.test.", 10_000, ["pdns", "bind"]
    _providers_zone(lab, zone, providers)
    root = workdir / "repo10k"
    env = write_repo(lab, root, {zone: zone_yaml(zone, count)}, providers)
    pushed = push(root, env)
    rows = [Row(BENCH, "10k: push to 2 providers (setup)", round(pushed, 2), "s")]

    wall, data = verify(root, env, "--no-extra")
    stats = data["stats"]
    ours = stats["queries"] / stats["query_seconds"]
    rows.append(Row(BENCH, "10k: dnssync verify, per-record queries", round(ours), "queries/s",
                    detail={"wall": wall, **stats}))
    rows.append(Row(BENCH, "10k: dnssync verify findings", len(data["findings"]), "",
                    "0", not data["findings"]))
    reference = octodns_report(root / "zones", zone,
                               [lab.servers[p].address for p in providers], workdir)
    theirs = reference["queries"] / reference["query_seconds"]
    rows.append(Row(BENCH, "10k: octodns-report --concurrency 64", round(theirs), "queries/s",
                    detail=reference))
    rows.append(Row(BENCH, "10k: speed-up, query phase (dnssync / octodns-report)",
                    round(ours / theirs, 1), "x", ">= 5", ours / theirs >= 5))
    rows.append(Row(BENCH, "10k: speed-up, whole command (wall clock)",
                    round(reference["wall"] / wall, 1), "x",
                    detail={"dnssync": wall, "octodns-report": reference["wall"]}))
    # the whole command's ratio: medians of three runs of each, interleaved so both see the
    # same machine (one run of each swung between 3.9x and 6.3x on the same code and box)
    wall_extra, data_extra = verify(root, env)
    walls, references = [wall_extra], [reference["wall"]]
    for _ in range(2):
        references.append(octodns_report(root / "zones", zone, [lab.servers[p].address for p in providers],
                                         workdir)["wall"])
        walls.append(verify(root, env)[0])
    wall_extra, reference_wall = statistics.median(walls), statistics.median(references)
    rows.append(Row(BENCH, "10k: dnssync verify with extra-record AXFR, wall (median of 3)",
                    round(wall_extra, 2), "s", detail={"walls": walls, **data_extra["stats"]}))
    rows.append(Row(BENCH, "10k: speed-up, whole command, default mode (wall clock, medians of 3)",
                    round(reference_wall / wall_extra, 2), "x", ">= 6", reference_wall / wall_extra >= 6,
                    detail={"dnssync": walls, "octodns-report": references}))
    default = data_extra["stats"]["queries"] / data_extra["stats"]["query_seconds"]
    rows.append(Row(BENCH, "10k: dnssync verify (default: with extra-record AXFR), queries",
                    round(default), "queries/s", detail={"findings": len(data_extra["findings"])}))
    rows.append(Row(BENCH, "10k: speed-up, default mode query phase (dnssync / octodns-report)",
                    round(default / theirs, 1), "x", ">= 5", default / theirs >= 5))
    rows.append(silent_provider(root, env, zone, workdir))
    queries = query_file(zone, count, workdir / "queries.txt")
    for provider in providers:
        rate = dnsperf(lab.servers[provider].address, queries)
        rows.append(Row(BENCH, f"10k: dnsperf against {provider}",
                        round(rate) if rate else "dnsperf not installed", "queries/s"))

    wall_axfr, data_axfr = verify(root, env, "--axfr", "--no-extra")
    transfers = data_axfr["stats"]["transfer_seconds"]
    slowest = max(transfers.values())
    rows.append(Row(BENCH, "10k: AXFR compare, slowest nameserver", round(slowest, 3), "s",
                    "< 0.5", slowest < 0.5 and not data_axfr["findings"],
                    detail={"wall": wall_axfr, "transfers": transfers,
                            "findings": len(data_axfr["findings"])}))
    return rows


def silent_provider(root: Path, env: dict[str, str], zone: str, workdir: Path) -> Row:
    """The default verify (extra-record AXFR) with one more provider whose nameserver
    drops every datagram and holds every TCP connection open without a word."""
    from tests.faultyns import FaultyNameserver

    timeout = 2.0
    api = workdir / "silent-api"
    api.mkdir(exist_ok=True)
    zone_text = (f"$TTL 60\n@ SOA ns1.silent.test. hostmaster.{zone} 1 3600 600 604800 5\n"
                 "@ NS ns1.silent.test.\n")
    provider = root / "providers" / "silent.yaml"
    with FaultyNameserver(zone, zone_text, mode="drop") as server:
        provider.write_text(yaml.safe_dump({"class": "yaml", "directory": str(api), "nameservers": [
            {"name": "ns1.silent.test.", "address": server.address}]}))
        try:
            wall, data = verify(root, env, "--query-timeout", str(timeout))
        finally:
            provider.unlink()
        transfers = server.transfers
    limit = 4 * timeout  # what one transfer towards it would hold a thread for
    return Row(BENCH, "10k: default verify with a silent 3rd provider (--timeout 2), wall",
               round(wall, 2), "s", f"< {limit:g}, no AXFR to it",
               wall < limit and transfers == 0,
               detail={"transfers to the silent nameserver": transfers,
                       "findings": sorted({f["code"] for f in data["findings"]})})


def slow_network(lab: Lab, workdir: Path) -> list[Row]:
    zone, count, providers = "slow1k.test.", 1_000, ["pdns", "bind", "knot"]
    net = lab_net()
    relays, nameservers, pairs = {}, {}, []
    host = 21
    for provider in providers:
        server = lab.servers[provider]
        nameservers[provider] = []
        for index in (1, 2):
            name = f"ns{index}.{provider}.lab."
            relays[name] = f"{net}.{host}"
            nameservers[provider].append({"name": name, "address": f"{net}.{host}:53"})
            pairs.append(f"{net}.{host}:53={server.address}:{server.port}")
            host += 1
    _providers_zone(lab, zone, providers, sorted(relays))
    root = workdir / "repo1k"
    env = write_repo(lab, root, {zone: zone_yaml(zone, count)}, providers, nameservers)
    push(root, env)
    relay = subprocess.Popen([PYTHON, str(ROOT / "bench" / "relay.py"), "--delay", "0.04",
                              "--loss", "0.01", *pairs], stdout=subprocess.PIPE, text=True)
    try:
        assert relay.stdout is not None and relay.stdout.readline().strip() == "READY"
        wall, data = verify(root, env)
        reference = octodns_report(root / "zones", zone, sorted(relays.values()), workdir)
    finally:
        relay.terminate()
        relayed = relay.communicate(timeout=10)[0].strip()
    stats = data["stats"]
    return [
        Row(BENCH, "slow net: dnssync verify 1k x 3 providers x 2 ns", round(wall, 2), "s",
            "< 5", wall < 5, detail={"relay": relayed, **stats}),
        Row(BENCH, "slow net: dnssync false findings", len(data["findings"]), "", "0",
            not data["findings"], detail={"findings": data["findings"][:5],
                                          "retransmits": stats["retransmits"]}),
        Row(BENCH, "slow net: octodns-report --concurrency 64", round(reference["wall"], 2), "s",
            detail=reference),
        Row(BENCH, "slow net: octodns-report answers lost (timeouts)", reference["timeouts"], "",
            detail={"inconsistent rows": reference["inconsistent"]}),
    ]


def hundred_thousand(lab: Lab, workdir: Path) -> list[Row]:
    # BIND and Knot: PowerDNS's API refuses the single 100,000-RRset PATCH that
    # octodns-powerdns sends (HTTP 400: over its request body limit)
    zone, count, providers = "bench100k.test.", 100_000, ["bind", "knot"]
    _providers_zone(lab, zone, providers)
    root = workdir / "repo100k"
    env = write_repo(lab, root, {zone: zone_yaml(zone, count)}, providers)
    start = time.perf_counter()
    push(root, env)
    pushed = time.perf_counter() - start
    command = [PYTHON, "-m", "dnssync", "-c", str(root), "verify", "--format", "json"]
    start = time.perf_counter()
    peak, code, _ = peak_memory_mb(command, env, workdir)
    wall = time.perf_counter() - start
    return [Row(BENCH, "100k: dnssync verify peak memory (2 providers, extra-record AXFR)",
                round(peak), "MB", "< 500", peak < 500 and code == 0,
                detail={"wall": wall, "exit": code, "push seconds": pushed})]


def run(workdir: Path) -> list[Row]:
    with Lab(workdir / "lab") as lab:
        return ten_thousand(lab, workdir) + slow_network(lab, workdir) \
            + hundred_thousand(lab, workdir)
