"""Run every benchmark: `make bench`, or `python bench/run.py [NAME ...]` for some
(`python bench/run.py scale` for the fleet curve alone; DNSSYNC_BENCH_QUICK=1 for
its quick form).

Each `bench/bench_<name>.py` has `run(workdir) -> list[Row]` (bench/common.py) and
measures dnssync against the reference tool in the same run, on the same servers.
The rows are printed as a table and saved as JSON under bench/results/. Numbers
from a shared machine are indicative; ratios are what to compare.
"""

from __future__ import annotations

import argparse
import compileall
import importlib
import json
import signal
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from common import Row, lab_net  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402


def benches() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def table(rows: list[Row]) -> Table:
    out = Table(title="dnssync benchmarks", title_justify="left")
    for column in ("bench", "metric", "value", "target", "ok"):
        out.add_column(column, overflow="fold")
    for row in rows:
        value = f"{row.value:,.3f}".rstrip("0").rstrip(".") if isinstance(row.value, float) \
            else str(row.value)
        ok = {True: "[green]yes[/]", False: "[bold red]NO[/]", None: ""}[row.passed]
        out.add_row(row.bench, row.metric, f"{value} {row.unit}".strip(), row.target, ok)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"of {', '.join(benches())}")
    args = parser.parse_args()
    # `kill` ends the run the way Ctrl-C does: every lab server is stopped by its pid
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    names = args.names or benches()
    unknown = set(names) - set(benches())
    if unknown:
        parser.error(f"no bench named {', '.join(sorted(unknown))}")
    # dnssync byte-compiled, as pip leaves an installed package (and the reference tools):
    # an editable checkout is compiled on its first import unless PYTHONDONTWRITEBYTECODE
    # is set, as on some CI machines, and then every timed dnssync run compiled its
    # hundred modules from source again (0.13 s of each run here)
    compileall.compile_dir(HERE.parent / "dnssync", quiet=1)
    rows: list[Row] = []
    console = Console()
    for name in names:
        console.print(f"[bold]bench {name}[/] (lab net {lab_net()})")
        module = importlib.import_module(f"bench_{name}")
        with tempfile.TemporaryDirectory(prefix=f"dnssync-bench-{name}-") as workdir:
            rows += module.run(Path(workdir))
    console.print(table(rows))
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    path = results / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps([asdict(r) for r in rows], indent=2, default=str))
    console.print(f"saved {path}")
    return 1 if any(r.passed is False for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
