"""README's quickstart, followed literally: its blocks are read from README.md (so the
README cannot drift from what works), in an empty folder, from dnssync.yaml to a clean
verify, with the embedded nameservers. Only the two ports change, to free ones, so that
runs on one machine never collide; every command is the README's, run by a real shell
process of the real CLI."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ROOT
from tests.embedded_repo import ask, free_port

FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)


def quickstart() -> list[tuple[str, str]]:
    """The quickstart's fenced blocks, (language, text), in order."""
    readme = (ROOT / "README.md").read_text()
    start = readme.index("## Quickstart")
    end = readme.index("### What to run next", start)
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(readme[start:end])]


def dnssync(cwd: Path, args: list[str], env: dict[str, str], **kwargs):
    return subprocess.Popen([sys.executable, "-m", "dnssync", *args], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kwargs)


def test_readme_quickstart_runs_to_a_clean_verify(tmp_path):
    blocks = quickstart()
    ports = {port: str(free_port()) for port in sorted(set(re.findall(r"\b53\d\d\b", "".join(
        text for lang, text in blocks if lang == "yaml"))))}
    assert len(ports) == 2, ports  # two embedded providers
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    cwd, serving, outputs = tmp_path, None, {}
    try:
        for lang, text in blocks:
            if lang == "yaml":
                path = text.splitlines()[0].removeprefix("# ").strip()
                for old, new in ports.items():
                    text = text.replace(old, new)
                (cwd / path).parent.mkdir(parents=True, exist_ok=True)
                (cwd / path).write_text(text)
                continue
            assert lang == "sh"
            for line in text.splitlines():
                for command in line.split("#", 1)[0].split("&&"):
                    words = shlex.split(command)
                    if not words:
                        continue
                    if words[0] == "mkdir":
                        (cwd / words[1]).mkdir()
                    elif words[0] == "cd":
                        cwd = cwd / words[1]
                    elif words[-1] == "&":  # `dnssync serve &`
                        assert words[:2] == ["dnssync", "serve"]
                        serving = dnssync(cwd, words[1:-1], env)
                        for port in ports.values():
                            wait_for(int(port))
                    else:
                        assert words[0] == "dnssync", command
                        process = dnssync(cwd, words[1:], env)
                        output, _ = process.communicate(timeout=60)
                        assert process.returncode == 0, (command, output)
                        outputs[words[1]] = output
    finally:
        if serving is not None:
            serving.terminate()
            serving.communicate(timeout=10)
    assert list(outputs) == ["validate", "plan", "apply", "verify"]
    assert "Verify OK" in outputs["verify"]
    assert "example.test. is under the special-use name test.: no public parent exists" in outputs["verify"]
    assert serving is not None and serving.returncode is not None


def wait_for(port: int, deadline: float = 10.0) -> None:
    """Until the embedded nameserver on `port` answers (any answer will do)."""
    end = time.monotonic() + deadline
    while True:
        try:
            ask(port, "example.test.", "SOA", timeout=0.5)
            return
        except Exception:
            if time.monotonic() > end:
                raise
            time.sleep(0.1)
