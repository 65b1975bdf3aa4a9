"""What the benchmarks share: generated zones, the lab, and running dnssync, the
reference tools (octodns-report, dnsperf) and measuring them from outside, as
subprocesses, the way a user runs them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.lab import Lab  # noqa: E402  (the lab lives with the tests)

PYTHON = sys.executable
OCTODNS_REPORT_TIMED = Path(__file__).with_name("octodns_report_timed.py")


@dataclass
class Row:
    """One measured number, with its target when the issue sets one."""

    bench: str
    metric: str
    value: float | int | str | None
    unit: str = ""
    target: str = ""
    passed: bool | None = None
    detail: dict[str, Any] = field(default_factory=dict)


def zone_yaml(zone: str, count: int) -> str:
    """`count` RRsets of the common types, names in octoDNS's natural order."""
    lines = ["---"]
    for i in range(count):
        kind = i % 20
        lines.append(f"h{i:06d}:")
        if kind < 10:
            lines += ["  type: A", f"  value: 10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"]
        elif kind < 13:
            lines += ["  type: AAAA", f"  value: 2001:db8::{i >> 16:x}:{i & 0xFFFF:x}"]
        elif kind < 15:
            lines += ["  type: CNAME", f"  value: h{i - 13:06d}.{zone}"]
        elif kind < 18:
            lines += ["  type: TXT", f"  value: v=bench{i} token-{i * 7919:x}"]
        elif kind == 18:
            lines += ["  type: MX", "  value:", f"    exchange: h{i - 18:06d}.{zone}",
                      f"    preference: {i % 50}"]
        else:
            lines += ["  type: CAA", "  value:", "    flags: 0", "    tag: issue",
                      f"    value: ca{i % 7}.example.net"]
    return "\n".join(lines) + "\n"


def query_text(zone: str, count: int) -> str:
    """The same questions for dnsperf: `name type` per line."""
    types = ["A"] * 10 + ["AAAA"] * 3 + ["CNAME"] * 2 + ["TXT"] * 3 + ["MX", "CAA"]
    return "".join(f"h{i:06d}.{zone} {types[i % 20]}\n" for i in range(count))


def query_file(zone: str, count: int, path: Path) -> Path:
    """`query_text` written to `path`, dnsperf's input."""
    path.write_text(query_text(zone, count))
    return path


def write_repo(lab: Lab, root: Path, zones: dict[str, str], providers: list[str],
               nameservers: dict[str, list[dict]] | None = None) -> dict[str, str]:
    extra = {p: {"nameservers": ns} for p, ns in (nameservers or {}).items()}
    env = lab.write_repo(root, {f"{z}yaml": text for z, text in zones.items()}, providers,
                         {"defaults": {"timeout": 3, "retries": 2, "backoff": 0.2}}, extra)
    # run as an installed tool runs, from cached bytecode: a machine that sets
    # PYTHONDONTWRITEBYTECODE (this one does) would have dnssync, installed editable,
    # compile its changed modules on every run (0.3 s), while octoDNS's were compiled at install
    env = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "PYTHONPATH": str(ROOT)}


def dnssync(root: Path, env: dict[str, str], *args: str, check: bool = True
            ) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    done = subprocess.run([PYTHON, "-m", "dnssync", "-c", str(root), *args], env=env,
                          capture_output=True, text=True, timeout=1800)
    elapsed = time.perf_counter() - start
    if check and done.returncode not in (0, 1):
        raise RuntimeError(f"dnssync {' '.join(args)} exited {done.returncode}: {done.stderr}")
    return elapsed, done


def push(root: Path, env: dict[str, str]) -> float:
    elapsed, done = dnssync(root, env, "apply", "--yes", "--force")
    if done.returncode != 0:
        raise RuntimeError(f"apply failed: {done.stdout[-2000:]} {done.stderr[-2000:]}")
    return elapsed


def verify(root: Path, env: dict[str, str], *args: str) -> tuple[float, dict]:
    elapsed, done = dnssync(root, env, "verify", "--format", "json", *args)
    return elapsed, json.loads(done.stdout)


def _tree_pss_kib(pid: int) -> int:
    """The memory of a process and every process below it (KiB): the sum of their
    proportional set sizes (/proc/N/smaps_rollup), so pages forked workers still share
    with their parent are counted once, as the machine holds them."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                parent = int(handle.read().rsplit(b")", 1)[1].split()[1])  # field 4
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(name))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/smaps_rollup") as handle:
                total += next(int(line.split()[1]) for line in handle if line.startswith("Pss:"))
        except (OSError, StopIteration):
            pass
        todo += children.get(current, [])
    return total


class TreeMemory:
    """Samples a process tree's memory (PSS) every `every` seconds until stopped:
    a command that forks workers (verify, plan, the zone loader) is measured with them,
    which wait4's peak (the largest single process) would not do."""

    def __init__(self, pid: int, every: float = 0.25):
        self.pid, self.every, self.peak_kib = pid, every, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.peak_kib = max(self.peak_kib, _tree_pss_kib(self.pid))

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak_kib


def timed(command: list[str], env: dict[str, str], ok: tuple[int, ...] = (0, 3)
          ) -> tuple[float, int, int]:
    """Wall seconds, peak memory in MiB (of the process and its workers together, PSS,
    or the largest single process's RSS by wait4 if that is more), and exit status of one run of
    `command`; an exit status not in `ok` raises with the command's stderr."""
    with tempfile.TemporaryFile() as stderr:  # a pipe would fill up (octoDNS logs a lot)
        start = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        memory = TreeMemory(process.pid)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
        tree_kib = memory.stop()
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode not in ok:
            stderr.seek(0)
            raise RuntimeError(f"{' '.join(command[:4])} failed ({process.returncode}):"
                               f" {stderr.read().decode(errors='replace')[-2000:]}")
    return elapsed, max(usage.ru_maxrss, tree_kib) // 1024, process.returncode


def cpu_seconds(pid: int) -> float:
    """The CPU (user and system, every thread) a running process has used so far: a lab
    server's share of the machine during a run, read from outside as `ps` reads it."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_memory_mb(command: list[str], env: dict[str, str], workdir: Path
                   ) -> tuple[float, int, str]:
    """Run a command; return its peak resident memory with its workers' (MB, as `timed`),
    its exit code and its stdout."""
    out = workdir / "peak-memory.out"
    with out.open("w") as handle:
        process = subprocess.Popen(command, env=env, stdout=handle, stderr=subprocess.DEVNULL)
        memory = TreeMemory(process.pid)
        _, status, usage = os.wait4(process.pid, 0)
        tree_kib = memory.stop()
    process.returncode = os.waitstatus_to_exitcode(status)
    return max(usage.ru_maxrss, tree_kib) / 1024, process.returncode, out.read_text()


def octodns_report(zones_dir: Path, zone: str, servers: list[str], workdir: Path,
                   concurrency: int = 64, timeout: float = 1.0) -> dict[str, Any]:
    """octodns-report on the same zone file and servers; its query phase is timed by a
    wrapper around its event loop (its code runs unchanged)."""
    config = workdir / "octodns.yaml"
    config.write_text(yaml.safe_dump({
        "providers": {"config": {"class": "octodns.provider.yaml.YamlProvider",
                                 "directory": str(zones_dir), "default_ttl": 3600}},
        "zones": {zone: {"sources": ["config"], "targets": ["config"]}},
    }))
    command = [PYTHON, str(OCTODNS_REPORT_TIMED), "--config-file", str(config), "--zone", zone,
               "--source", "config", "--concurrency", str(concurrency), "--timeout", str(timeout),
               *servers]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"octodns-report failed: {done.stderr[-2000:]}")
    query_seconds = float(done.stderr.split("QUERY_SECONDS ")[-1].split()[0])
    rows = [line.split(",") for line in done.stdout.strip().splitlines()[1:]]
    answers = [cell for row in rows for cell in row[3:-1]]
    return {"wall": wall, "query_seconds": query_seconds, "queries": len(answers),
            "timeouts": sum("*timeout*" in a for a in answers),
            "inconsistent": sum(row[-1] != "True" for row in rows)}


def dnsperf(server: str, queries: Path, seconds: int = 3) -> float | None:
    """dnsperf's queries per second against one server (None when not installed)."""
    binary = shutil.which("dnsperf")
    if binary is None:
        return None
    done = subprocess.run([binary, "-s", server, "-d", str(queries), "-l", str(seconds),
                           "-c", "4", "-q", "200"], capture_output=True, text=True, timeout=120)
    for line in done.stdout.splitlines():
        if "Queries per second:" in line:
            return float(line.split(":")[1])
    return None


def lab_net() -> str:
    return os.environ.get("DNSSYNC_LAB_NET", "127.0.0")
