"""The `dnssync` process as a user runs it (cli.run): it leaves without tearing its heap
down, so what it printed, and its exit code, must still all arrive."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _dnssync(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "dnssync", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def _repo(root: Path, zone: str) -> Path:
    (root / "zones").mkdir(parents=True)
    (root / "providers").mkdir()
    (root / "dnssync.yaml").write_text("zones: zones\nproviders: providers\n")
    (root / "providers" / "pdns.yaml").write_text(
        "class: powerdns\nhost: 127.0.0.1\napi_key: env/TEST_EXIT_KEY\nnameservers:\n"
        "  - name: ns1.example.net.\n    address: 127.0.0.1:5300\n")
    (root / "zones" / "example.com.yaml").write_text(zone)
    return root


def test_every_line_and_the_exit_code_arrive(tmp_path):
    # a target without its trailing dot is a warning: 2,000 of them, ~1 MB of JSON
    names = "".join(f"h{i:04d}:\n  type: CNAME\n  value: target{i}.example.net\n" for i in range(2000))
    root = _repo(tmp_path / "good", names)
    done = _dnssync("validate", "--offline", "--format", "json", cwd=root)
    assert done.returncode == 0, done.stderr
    findings = json.loads(done.stdout)["findings"]  # all of it arrived, flushed
    assert len(findings) == 2000 and {f["code"] for f in findings} == {"zone.relative-target"}

    bad = _repo(tmp_path / "bad", "www:\n  type: A\n  value: 192.0.2.999\n")
    done = _dnssync("validate", "--offline", cwd=bad)
    assert done.returncode == 2
    assert "example.com.yaml:3" in done.stdout + done.stderr and "Traceback" not in done.stderr


def test_a_reader_that_goes_away_is_no_traceback(tmp_path):
    names = "".join(f"h{i:04d}:\n  type: A\n  value: 192.0.2.{i % 250}\n" for i in range(3000))
    root = _repo(tmp_path, names)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    dnssync = subprocess.Popen([sys.executable, "-m", "dnssync", "validate", "--offline", "--format", "json"],
                               cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert dnssync.stdout is not None and dnssync.stderr is not None
    dnssync.stdout.read(10)
    dnssync.stdout.close()  # as `| head -c 10` does
    stderr = dnssync.stderr.read().decode()
    dnssync.wait(timeout=120)
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
