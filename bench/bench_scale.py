"""Fleet scale (issue 14): many small zones on PowerDNS, BIND and Knot, dnssync beside
octoDNS in the same run, and how both grow with the number of zones.

At each size (zones x 40 records x 3 providers), every command timed from outside as
a user runs it, start-up included:

* verify: `dnssync verify` (default mode: per-record queries, extra-record AXFR,
  delegation) against `octodns-report`, which takes one zone per run, so a user
  runs it once per zone (summed over every zone, or an even sample of REPORT_SAMPLE
  zones scaled up, at every size), its runs taking turns with dnssync's;
  queries per second from verify's own counters, beside dnsperf's against each
  server with the same questions (the servers' own rate in this run: this machine's
  speed swings, and the queries/s target is absolute); peak memory (wait4).
* plan: `dnssync plan` against `octodns-sync` (a dry run), nothing to change.
* first apply: fresh, empty zones pushed by `dnssync apply` and by
  `octodns-sync --doit` (octodns-bind's update batch lowered to stay under 64 KiB),
  at every size up to APPLY_MAX; both verified afterwards: they must converge.
* a silent provider (at the reference size): `plan` and `verify` with Knot's server
  stopped (SIGSTOP: it takes connections and never answers), beside octodns-sync's
  dry run; a provider that says nothing is asked twice per process, not once per zone
  (providers/breaker.py), and every other pair is still planned.

Targets (at 200 zones unless said): verify >= 25x octodns-report once per zone and
>= 20,000 queries/s; plan >= 3x octodns-sync; first apply <= 0.5x octodns-sync
--doit; 2,000 zones verified under 500 MB; time and memory growing no faster than
linearly. Writes bench/results/scale.md and bench/results/scale.png (matplotlib:
`pip install -e '.[bench]'`).

    python bench/run.py scale                        # 50, 200, 1,000, 2,000 zones
    DNSSYNC_BENCH_QUICK=1 python bench/run.py scale  # 50 and 200 zones only
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections import Counter
from pathlib import Path

from common import PYTHON, Lab, Row, cpu_seconds, dnsperf, lab_net, octodns_report, query_text, timed
from fleet import RECORDS, Fleet, fleet, subset

from dnssync.repo.spread import cores as usable_cores

BENCH = "scale"
BIN = Path(PYTHON).parent
QUICK = os.environ.get("DNSSYNC_BENCH_QUICK", "") not in ("", "0")
SIZES = (50, 200) if QUICK else (50, 200, 1000, 2000)
#: DNSSYNC_BENCH_SIZES=2000 measures only those sizes; the others come from the last
#: run's bench/results/scale.json (the table says which run each size is from)
ONLY = tuple(int(n) for n in os.environ.get("DNSSYNC_BENCH_SIZES", "").split(",") if n)
REFERENCE = 200  # the size the ratio targets are set at
QPS_TARGET = 20_000  # verify of REFERENCE zones, queries/s in the query phase
REPORT_SAMPLE = 50  # runs of octodns-report per size at most (an even sample, scaled up)
APPLY_MAX = 200 if QUICK else 2000  # first apply (fresh zones), by each tool
MEMORY_ZONES, MEMORY_LIMIT_MB = 2000, 500
SHARDS = 4  # verify --shard 1/SHARDS of the largest fleet, for docs/CI.md
SILENT = "knot"  # the provider whose server is stopped for the silent-provider rows
PROVIDER_TIMEOUT = 5.0  # the lab's provider files' `timeout`
RESULTS = Path(__file__).resolve().parent / "results"


def runs(size: int) -> int:
    return 3 if size <= REFERENCE else 1


def dnssync(f: Fleet, *args: str) -> list[str]:
    return [str(BIN / "dnssync"), "-c", str(f.root), *args]


def octodns_sync(lab: Lab, f: Fleet, *args: str) -> list[str]:
    return [str(BIN / "octodns-sync"), "--config-file", str(f.octodns_config(lab)), *args]


def measure_verify(lab: Lab, f: Fleet, size: int, workdir: Path) -> dict:
    walls, peaks, stats = [], [], {}
    out = workdir / f"verify-{size}.json"
    if size <= REFERENCE:  # beyond, a run takes tens of seconds: a warm-up is noise in it
        # one run untimed first: the servers' first answers for zones nobody has asked about
        # yet, and this size's first start-up, cost more than any later run's (the same
        # warm servers then serve octodns-report's runs)
        timed(dnssync(f, "verify", "--format", "json", "--out", str(out)), f.env, ok=(0, 1))
    # octodns-report on every zone up to REPORT_SAMPLE, else an even sample scaled up:
    # each run costs the same (start-up, one 40-record zone), and thousands of runs would
    # take most of an hour. Its runs are cut into one slice per dnssync run and the two
    # take turns, so both meet the same machine: its speed swings twofold within minutes
    # here, and a ratio of runs minutes apart measured that swing
    servers = [lab.servers[p].address for p in f.providers]
    sample = f.zones[::max(1, round(size / REPORT_SAMPLE))]
    count = runs(size)
    report_walls: list[float] = []
    phases: list[float] = []  # each run's query phase, seconds
    query_cpu: list[float] = []  # each run's: dnssync's in the query phase (its workers' summed)
    server_cpu: dict[str, list[float]] = {p: [] for p in f.providers}  # each run's, whole run
    for index in range(count):
        before = servers_cpu(lab, f)
        wall, peak, _ = timed(dnssync(f, "verify", "--format", "json", "--out", str(out)), f.env,
                              ok=(0, 1))
        for provider, used in servers_cpu(lab, f).items():
            server_cpu[provider].append(used - before[provider])
        walls.append(wall)
        peaks.append(peak)
        data = json.loads(out.read_text())
        stats = data["stats"]
        phases.append(stats["query_seconds"])
        query_cpu.append(stats["query_cpu_seconds"])
        errors = sum(f["severity"] == "error" for f in data["findings"])
        codes = Counter(f["code"] for f in data["findings"] if f["severity"] == "error")
        report_walls += [octodns_report(f.zones_dir, zone, servers, workdir)["wall"]
                         for zone in sample[index::count]]
    stats.pop("transfer_seconds", None)
    # the query phase's median, as the wall's: every run asks the same questions (the last
    # run's alone, as before, was whichever of the three came last)
    phase = statistics.median(phases)
    # a finding (a timeout on a loaded machine) is recorded, not fatal: the curve goes on
    return {"wall": statistics.median(walls), "walls": walls, "peak_mb": max(peaks),
            "ok": data["ok"], "errors": errors, "error_codes": dict(codes),
            "queries": stats["queries"], "query_seconds": phase, "query_phases": phases,
            "qps_query_phase": round(stats["queries"] / phase) if phase else None,
            "qps_wall": round(stats["queries"] / statistics.median(walls)),
            "octodns_report_per_zone": statistics.fmean(report_walls) * size,
            "octodns_report_runs": len(report_walls),
            "cpu": {"dnssync": round(statistics.median(query_cpu), 3),
                    "servers": {p: round(statistics.median(used), 3) for p, used in server_cpu.items()}}}


def servers_cpu(lab: Lab, f: Fleet) -> dict[str, float]:
    """The CPU each provider's lab server has used so far (a run's is the difference)."""
    return {p: cpu_seconds(lab.servers[p].process.pid) for p in f.providers}


def server_rates(lab: Lab, f: Fleet, workdir: Path) -> dict[str, float | None]:
    """dnsperf's queries/s against each provider's server, asked every record of every
    zone of `f` (what verify asks of it, less the apex questions and the transfers);
    None without dnsperf."""
    questions = workdir / "fleet-questions.txt"
    questions.write_text("".join(query_text(zone, RECORDS) for zone in f.zones))
    return {p: dnsperf(lab.servers[p].address, questions) for p in f.providers}


def measure_plan(lab: Lab, f: Fleet, size: int) -> dict:
    ours, theirs = [], []
    if size <= REFERENCE:  # untimed, both: a first start-up reads files no run before read
        timed(dnssync(f, "plan", "--detailed-exitcode"), f.env, ok=(0, 1, 3))
        timed(octodns_sync(lab, f), f.env)
    for _ in range(runs(size)):  # interleaved, so both see the same machine
        ours.append(timed(dnssync(f, "plan", "--detailed-exitcode"), f.env, ok=(0, 1, 3))[0])
        theirs.append(timed(octodns_sync(lab, f), f.env)[0])
    return {"wall": statistics.median(ours), "octodns_sync": statistics.median(theirs),
            "walls": ours, "octodns_walls": theirs}


def measure_apply(lab: Lab, workdir: Path, size: int) -> dict:
    """First apply of `size` fresh zones by each tool (zones of its own), then a verify
    of each: both must have converged. Both fleets are removed from the servers after,
    so that every size's apply meets servers holding the same zones (the verify fleet):
    PowerDNS on SQLite slows down for both tools as its database grows. Up to the
    reference size, medians of `runs` rounds, interleaved as the plan's are, so that one
    run's noise does not decide the ratio; each round meets the same servers (the other
    tool's fleet is gone by then)."""
    ours: list[float] = []
    theirs: list[float] = []
    peaks: list[int] = []
    octodns_peaks: list[int] = []
    result: dict = {"exit": 0, "dnssync_converged": True}
    for round_ in range(runs(size)):
        tag = f"{size}r{round_}x"
        mine = fleet(lab, workdir / f"apply-dnssync-{tag}", f"a{tag}", size)
        wall, peak, code = timed(dnssync(mine, "apply", "--yes", "--force"), mine.env, ok=(0, 1))
        ours.append(wall)
        peaks.append(peak)
        result["exit"] = result["exit"] or code
        result["dnssync_converged"] &= timed(dnssync(mine, "verify"), mine.env, ok=(0, 1))[2] == 0
        lab.remove_zones(mine.zones, mine.providers)
        other = fleet(lab, workdir / f"apply-octodns-{tag}", f"o{tag}", size)
        wall, peak, _ = timed(octodns_sync(lab, other, "--doit", "--force"), other.env)
        theirs.append(wall)
        octodns_peaks.append(peak)
        result["octodns_converged"] = result.get("octodns_converged", True) and timed(
            dnssync(other, "verify"), other.env, ok=(0, 1))[2] == 0
        lab.remove_zones(other.zones, other.providers)
    result.update(wall=statistics.median(ours), walls=ours, peak_mb=max(peaks),
                  octodns_doit=statistics.median(theirs), octodns_walls=theirs,
                  octodns_peak_mb=max(octodns_peaks))
    return result


def measure_silent(lab: Lab, f: Fleet, workdir: Path) -> dict:
    """plan and verify with SILENT's server stopped, and octodns-sync's dry run beside
    them: the wall time, and how much of the fleet is still planned and how much of it
    was never asked (breaker.NotAsked) instead of waiting out the timeout again."""
    plan_out, verify_out = workdir / "silent-plan.json", workdir / "silent-verify.json"
    with lab.frozen(SILENT):
        plan = timed(dnssync(f, "plan", "--format", "json", "--out", str(plan_out)), f.env, ok=(0, 1))[0]
        verify = timed(dnssync(f, "verify", "--format", "json", "--out", str(verify_out)), f.env, ok=(0, 1))[0]
        octodns, _, octodns_exit = timed(octodns_sync(lab, f), f.env, ok=(0, 1))
    pairs = json.loads(plan_out.read_text())["providers"]
    silent = [p for p in pairs if p["provider"] == SILENT]
    return {"plan": plan, "verify": verify, "octodns_sync": octodns, "octodns_sync_exit": octodns_exit,
            "others_planned": sum(1 for p in pairs if p["provider"] != SILENT and not p["error"]),
            "others": sum(1 for p in pairs if p["provider"] != SILENT),
            "silent_failed": sum(1 for p in silent if p["error"]), "silent": len(silent),
            "not_asked": sum(1 for p in silent if p["error"] and "not asked for" in p["error"]),
            "verify_ok": json.loads(verify_out.read_text())["ok"]}


def measure_shard(f: Fleet, shards: int) -> dict:
    """One CI job's share: `verify --shard 1/N` of the largest fleet (docs/CI.md)."""
    out = f.root / "shard.json"
    wall, peak, _ = timed(dnssync(f, "verify", "--format", "json", "--out", str(out),
                                  "--shard", f"1/{shards}"), f.env)
    zones = len({c["zone"] for c in json.loads(out.read_text())["checked"]})
    return {"shards": shards, "zones": zones, "wall": wall, "peak_mb": peak,
            "zones_per_minute": round(zones / wall * 60)}


def base_size(curve: dict[int, float]) -> int:
    """The size growth is measured from: REFERENCE, or the smallest when REFERENCE is
    the largest (quick mode)."""
    return REFERENCE if REFERENCE in curve and max(curve) > REFERENCE else min(curve)


def linear(curve: dict[int, float]) -> tuple[bool, float]:
    """Whether the per-zone cost at the largest size is at most 1.25 times the cost at
    `base_size` (noise allowed; a fixed start-up cost only makes larger sizes cheaper)."""
    largest, base = max(curve), base_size(curve)
    growth = (curve[largest] / largest) / (curve[base] / base)
    return growth <= 1.25, round(growth, 2)


def run(workdir: Path) -> list[Row]:
    results: dict[int, dict] = {}
    if ONLY and (RESULTS / "scale.json").exists():
        earlier = json.loads((RESULTS / "scale.json").read_text())
        results = {int(k): {**v, "run": v.get("run", "earlier"), "carried": True} for k, v in earlier.items()
                   if int(k) not in ONLY}
    sizes = ONLY or SIZES
    with Lab(workdir / "lab", net=lab_net()) as lab:
        whole = fleet(lab, workdir / "fleet", "s", max(sizes), served=True)
        for size in sizes:
            f = subset(lab, whole, workdir / f"fleet-{size}", size)
            results[size] = {"verify": measure_verify(lab, f, size, workdir),
                             "plan": measure_plan(lab, f, size)}
            if size == REFERENCE:
                results[size]["dnsperf"] = server_rates(lab, f, workdir)
                results[size]["silent"] = measure_silent(lab, f, workdir)
            if size <= APPLY_MAX:
                results[size]["apply"] = measure_apply(lab, workdir, size)
            print(f"  {size} zones: {json.dumps(results[size], default=round)}", flush=True)
            results[size]["run"] = time.strftime("%H:%M UTC", time.gmtime())
            if REFERENCE in results:  # written as it goes: the full curve takes half an hour
                write_markdown(results, rows_of(results))
                write_picture(results)
        f = subset(lab, whole, workdir / f"fleet-{max(sizes)}", max(sizes))
        results[max(sizes)]["shard"] = measure_shard(f, SHARDS)
    results = dict(sorted(results.items()))
    rows = rows_of(results)
    write_markdown(results, rows)
    write_picture(results)
    return rows


def budget_rows(verify: dict) -> list[Row]:
    """Where the CPU of a verify run goes, and what the queries/s target leaves dnssync.

    The lab's servers share the machine's cores with dnssync. Here (2 cores) a fleet's
    query phase keeps every core busy (/proc/stat sampled every 50 ms: no idle time in
    it), so its length is the CPU of both over the cores, and the servers' part is theirs,
    whatever asks them: what QPS_TARGET leaves dnssync per question is the cores'
    time in such a phase less the servers' CPU (taken over the whole run: a little of it
    falls outside the phase, so what is left is, if anything, less)."""
    used = verify.get("cpu")
    if not used:  # a size carried over from a run before these were measured
        return []
    cores = usable_cores()  # the cores verify spreads its workers over
    servers = used["servers"]
    queries = verify["queries"]
    phase_at_target = queries / QPS_TARGET
    left = max(0.0, cores * phase_at_target - sum(servers.values()))
    return [
        Row(BENCH, f"verify {REFERENCE}x40x3: the lab servers' CPU in one run", round(sum(servers.values()), 2),
            "s", detail={f"{p} s": s for p, s in servers.items()}),
        Row(BENCH, f"verify {REFERENCE}x40x3: dnssync's CPU in the query phase, per question",
            round(used["dnssync"] / queries * 1e6, 1), "µs",
            detail={"dnssync s": used["dnssync"], "queries": queries}),
        Row(BENCH, f"verify {REFERENCE}x40x3: dnssync CPU per question that {QPS_TARGET:,} queries/s leaves"
            f" beside these servers on {cores} cores", round(left / queries * 1e6, 1), "µs",
            detail={f"phase at {QPS_TARGET:,} queries/s s": round(phase_at_target, 2),
                    "cores x phase - servers s": round(left, 2)}),
    ]


def rows_of(results: dict[int, dict]) -> list[Row]:
    rows = []
    ref = results[REFERENCE]
    verify, plan = ref["verify"], ref["plan"]
    ratio = verify["octodns_report_per_zone"] / verify["wall"]
    rows.append(Row(BENCH, f"verify {REFERENCE}x40x3: dnssync / octodns-report once per zone",
                    round(ratio, 1), "x faster", ">= 25, no error", ratio >= 25 and verify["ok"],
                    detail={"dnssync s": verify["wall"],
                            "octodns-report s": verify["octodns_report_per_zone"]}))
    qps = verify["qps_query_phase"] or 0
    rows.append(Row(BENCH, f"verify {REFERENCE}x40x3: queries/s (query phase)", qps, "queries/s",
                    f">= {QPS_TARGET}", qps >= QPS_TARGET,
                    detail={"queries": verify["queries"], "wall qps": verify["qps_wall"]}))
    for provider, rate in ref.get("dnsperf", {}).items():
        rows.append(Row(BENCH, f"dnsperf against {provider}, the {REFERENCE} zones' records",
                        round(rate) if rate else "dnsperf not installed", "queries/s"))
    slowest = min((rate for rate in ref.get("dnsperf", {}).values() if rate), default=None)
    if slowest and qps:  # the machine's speed moves both (twice as fast within minutes here): this does not
        rows.append(Row(BENCH, f"verify {REFERENCE}x40x3: queries/s per query/s dnsperf gets from the slowest"
                        " server alone", round(qps / slowest, 2), "x",
                        detail={"verify queries/s": qps, "dnsperf queries/s": round(slowest)}))
    rows += budget_rows(verify)
    ratio = plan["octodns_sync"] / plan["wall"]
    rows.append(Row(BENCH, f"plan {REFERENCE}x40x3: dnssync / octodns-sync dry run",
                    round(ratio, 2), "x faster", ">= 3", ratio >= 3,
                    detail={"dnssync s": plan["wall"], "octodns-sync s": plan["octodns_sync"]}))
    rows += silent_rows(ref)
    apply = ref.get("apply")
    if apply and "octodns_doit" in apply:
        share = apply["wall"] / apply["octodns_doit"]
        converged = apply["dnssync_converged"] and apply["octodns_converged"]
        rows.append(Row(BENCH, f"first apply {REFERENCE}x40x3: dnssync / octodns-sync --doit",
                        round(share, 2), "x the time", "<= 0.5, both converge",
                        share <= 0.5 and converged,
                        detail={"dnssync s": apply["wall"], "octodns s": apply["octodns_doit"],
                                "dnssync converged": apply["dnssync_converged"],
                                "octodns converged": apply["octodns_converged"]}))
    if MEMORY_ZONES in results:
        peak = results[MEMORY_ZONES]["verify"]["peak_mb"]
        ok = results[MEMORY_ZONES]["verify"]["ok"]
        rows.append(Row(BENCH, f"verify {MEMORY_ZONES}x40x3: peak memory", peak, "MB",
                        f"< {MEMORY_LIMIT_MB}, no error", peak < MEMORY_LIMIT_MB and ok,
                        detail={"errors": results[MEMORY_ZONES]["verify"]["errors"]}))
    else:
        rows.append(Row(BENCH, f"verify {MEMORY_ZONES}x40x3: peak memory", "not run (quick mode)"))
    applied = [size for size, r in results.items() if "peak_mb" in r.get("apply", {})]
    if applied:  # no target: the memory target is verify's; this shows apply's beside octoDNS's
        apply = results[max(applied)]["apply"]
        rows.append(Row(BENCH, f"first apply {max(applied)}x40x3: peak memory", apply["peak_mb"], "MB",
                        detail={"octodns-sync --doit MB": apply["octodns_peak_mb"]}))
    shard = results[max(results)].get("shard")
    if shard:
        rows.append(Row(BENCH, f"verify --shard 1/{shard['shards']} of {max(results)} zones"
                        " (one CI job)", shard["zones_per_minute"], "zones/minute",
                        detail=shard))
    # growth only between sizes measured in this run: a row carried from an earlier run
    # (DNSSYNC_BENCH_SIZES) was measured when the machine may have been twice as fast
    ours = {s: r for s, r in results.items() if not r.get("carried")}
    for label, curve in (
        ("verify time", {s: r["verify"]["wall"] for s, r in ours.items()}),
        ("verify memory", {s: r["verify"]["peak_mb"] for s, r in ours.items()}),
        ("plan time", {s: r["plan"]["wall"] for s, r in ours.items()}),
        ("apply time", {s: r["apply"]["wall"] for s, r in ours.items() if "apply" in r}),
        ("apply memory", {s: r["apply"]["peak_mb"] for s, r in ours.items() if "peak_mb" in r.get("apply", {})}),
    ):
        if len(curve) < 2:
            continue  # one size of this run (a partial run): no growth to show
        ok, growth = linear(curve)
        rows.append(Row(BENCH, f"growth of {label} per zone, {base_size(curve)} -> {max(curve)} zones",
                        growth, "x", "<= 1.25 (linear)", ok,
                        detail={str(s): round(v, 2) for s, v in sorted(curve.items())}))
    return rows


def silent_rows(ref: dict) -> list[Row]:
    """The silent-provider rows: each command within its healthy time and four provider
    timeouts (two misses per process, at most, and a probe), every other pair planned,
    every silent pair reported."""
    silent = ref.get("silent")
    if not silent:
        return []
    rows = []
    for command, healthy in (("plan", ref["plan"]["wall"]), ("verify", ref["verify"]["wall"])):
        limit = healthy + 4 * PROVIDER_TIMEOUT
        whole = silent["others_planned"] == silent["others"] and silent["silent_failed"] == silent["silent"]
        rows.append(Row(BENCH, f"{command} {REFERENCE}x40x3 with {SILENT} silent (SIGSTOP): dnssync wall",
                        round(silent[command], 1), "s", f"< {limit:.0f} (healthy + 4 timeouts), rest planned",
                        silent[command] < limit and whole,
                        detail={key: silent[key] for key in ("others_planned", "others", "silent_failed",
                                                             "silent", "not_asked", "verify_ok")}))
    rows.append(Row(BENCH, f"octodns-sync dry run {REFERENCE}x40x3 with {SILENT} silent: wall",
                    round(silent["octodns_sync"], 1), "s",
                    detail={"exit": silent["octodns_sync_exit"],
                            "note": "exits at the first zone it cannot read, showing no plan"
                            if silent["octodns_sync_exit"] else "planned"}))
    return rows


def write_markdown(results: dict[int, dict], rows: list[Row]) -> None:
    RESULTS.mkdir(exist_ok=True)

    def cell(value: float | None, unit: str = " s") -> str:
        return "" if value is None else f"{value:,.1f}{unit}"

    lines = [
        "# Fleet scale: dnssync beside octoDNS", "",
        f"Zones x 40 records x 3 providers (PowerDNS, BIND, Knot) on the lab, lab net {lab_net()},"
        f" {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average"
        f" {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores. Whole commands, wall clock;"
        " the machine may be shared, so compare ratios within this run. Made by"
        f" `{'DNSSYNC_BENCH_QUICK=1 ' if QUICK else ''}python bench/run.py scale`"
        f" (octodns-report: {REPORT_SAMPLE} runs a size at most, scaled to every zone).", "",
        "![scale](scale.png)", "",
        "| zones | verify | octodns-report, once per zone | queries/s (query phase) | verify peak memory"
        " | plan | octodns-sync dry run | first apply | octodns-sync --doit | measured at |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size, r in sorted(results.items()):
        v, p, a = r["verify"], r["plan"], r.get("apply", {})
        lines.append(f"| {size:,} | {cell(v['wall'])} | {cell(v.get('octodns_report_per_zone'))} |"
                     f" {v['qps_query_phase'] or 0:,} | {v['peak_mb']} MB | {cell(p['wall'])} |"
                     f" {cell(p['octodns_sync'])} | {cell(a.get('wall'))} |"
                     f" {cell(a.get('octodns_doit'))} | {r.get('run', '')} |")
    lines += ["", "| target | measured | met |", "|---|---:|:---:|"]
    for row in rows:
        met = {True: "yes", False: "**no**", None: ""}[row.passed]
        target = f" ({row.target})" if row.target else ""
        lines.append(f"| {row.metric}{target} | {row.value} {row.unit} | {met} |")
    (RESULTS / "scale.md").write_text("\n".join(lines) + "\n")
    (RESULTS / "scale.json").write_text(json.dumps(results, indent=2, default=str))


def write_picture(results: dict[int, dict]) -> None:
    """Wall time against zones for verify, plan and apply, dnssync beside octoDNS, and
    verify's peak memory."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted(results)
    panels = [
        ("verify", "verify", "octodns_report_per_zone", "octodns-report, once per zone"),
        ("plan", "plan", "octodns_sync", "octodns-sync (dry run)"),
        ("first apply", "apply", "octodns_doit", "octodns-sync --doit"),
    ]
    figure, axes = plt.subplots(1, 4, figsize=(17, 4.2))
    for ax, (title, key, reference, reference_label) in zip(axes, panels, strict=False):
        ours = [(s, results[s][key]["wall"]) for s in sizes if key in results[s]]
        theirs = [(s, results[s][key][reference]) for s in sizes
                  if key in results[s] and reference in results[s][key]]
        ax.plot(*zip(*ours, strict=True), "o-", label="dnssync")
        if theirs:
            ax.plot(*zip(*theirs, strict=True), "s--", label=reference_label)
        ax.set_title(title)
        ax.set_xlabel("zones (x 40 records x 3 providers)")
        ax.set_ylabel("wall time, s")
        ax.legend()
        ax.grid(alpha=0.3)
    memory = axes[3]
    memory.plot(sizes, [results[s]["verify"]["peak_mb"] for s in sizes], "o-", label="dnssync verify")
    memory.axhline(MEMORY_LIMIT_MB, color="red", linestyle=":", label=f"{MEMORY_LIMIT_MB} MB target")
    memory.set_title("verify peak memory")
    memory.set_xlabel("zones (x 40 records x 3 providers)")
    memory.set_ylabel("MB")
    memory.legend()
    memory.grid(alpha=0.3)
    figure.suptitle(f"dnssync at fleet scale (lab, {os.cpu_count()} cores, load"
                    f" {os.getloadavg()[0]:.1f})")
    figure.tight_layout()
    figure.savefig(RESULTS / "scale.png", dpi=90)
    plt.close(figure)
