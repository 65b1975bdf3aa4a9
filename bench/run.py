"""Run every benchmark (`make bench`): each bench/<name>.py script in its own process.

Each script starts what it needs (the lab, in $DNSSYNC_LAB_NET), compares dnssync
with a reference tool in the same run, prints its numbers, saves them under
bench/results/ and exits non-zero when it misses its target. Give names to run
only some: `python bench/run.py watch_cpu`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(names: list[str]) -> int:
    scripts = sorted(p for p in HERE.glob("*.py")
                     if p.name != "run.py" and not p.name.startswith("_"))
    if names:
        scripts = [p for p in scripts if p.stem in names]
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    failed = []
    for script in scripts:
        print(f"== {script.stem}", flush=True)
        if subprocess.run([sys.executable, str(script)], env=env, check=False).returncode != 0:
            failed.append(script.stem)
    if failed:
        print(f"FAILED: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
