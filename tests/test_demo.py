"""`dnssync demo` end to end on the repository's own example (moved to free ports): it
tells the whole story, its output holds the findings it promises, it leaves the user's
files alone, and it stops every server it started, also when interrupted."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.embedded_repo import copy_example_repo, free_port, run, write_repo


def port_free(port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        try:
            udp.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """The demo, run once for the module; `result.verify_runs` counts the verify runs
    it made (each verify the story shows must be asked of the servers only once)."""
    from dnssync.commands import verify as verify_command

    root = tmp_path_factory.mktemp("demo") / "repo"
    ports = copy_example_repo(root)
    before = {p: p.read_text() for p in (root / "zones").iterdir()}
    runs = []
    real = verify_command.verify_zones

    def counted(*args, **kwargs):
        if kwargs.get("records", True):  # not `verify --dnssec`
            runs.append(args)
        return real(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(verify_command, "verify_zones", counted)
        result = run(root, "demo")
    result.verify_runs = len(runs)
    return root, ports, before, result


def test_demo_tells_the_whole_story(demo_run):
    root, _, _, result = demo_run
    output = result.output
    assert result.exit_code == 0, output
    assert "✗" not in output
    # an apex ALIAS (to a name the demo's own zone serves: no internet) answered alike
    assert "example.net.'s apex is an ALIAS to edge.example.net., as a site behind a CDN has it. alpha holds" in output
    assert re.search(r"alpha +│ 198\.51\.100\.1 +│ 2001:db8:1::80 ", output), output
    assert "✓ every provider answers the same A and AAAA at example.net." in output
    steps = ["1. Push the zones", "2. Prove it over DNS", "3. bravo serves stale data",
             "4. bravo goes down", "5. bravo is repaired", "6. Sign example.net at every provider",
             "Try it yourself"]
    positions = [output.index(step) for step in steps]
    assert positions == sorted(positions)
    assert output.count("✓") == 14
    # multi-signer: 3 providers x 2 foreign ZSKs planned, applied after the wait, 3 KSKs' DS
    signing = output[output.index("6. Sign example.net"):output.index("Try it yourself")]
    assert "✓ the plan shows the key exchange like any other change: 6 DNSKEYs to publish" in signing
    assert "waiting 2s (the longest DNSKEY TTL)" in signing
    assert "✓ every provider's signatures validate against every provider's keys" in signing
    assert "DNSSEC OK: 1 zone(s)" in signing  # the matrix, every cell valid
    assert len(re.findall(r"│ (alpha|bravo|charlie) +│ +(\d+)/\2 │ +(\d+)/\3 │ +(\d+)/\4 │", signing)) == 3
    assert len(re.findall(r"example\.net\. IN DS \d+ 13 2 [0-9a-f]{64} ; KSK \d+ \(ECDSAP256SHA256\) of", signing)) == 3
    assert output.count("Verify OK") == 2  # after the first push, and after the repair
    assert output.count("$ dnssync verify\n") == 4 == result.verify_runs  # each shown once, run once
    assert output.count("$ dnssync verify --dnssec") == 1  # the matrix after the key exchange
    # the stale record: the edit, apply succeeding everywhere, verify finding only that record
    edit = re.search(r"example\.com\.yaml: (\S+) A (\S+) → (\S+)", output)
    assert edit, output
    name, old, new = edit.groups()
    stale = output[output.index("3. bravo serves stale data"):output.index("4. bravo goes down")]
    assert "Apply complete." in stale
    assert re.search(rf"bravo .*│ error .*│ verify\.values .*│ {name}\.example\.com\. A", stale)
    assert re.search(rf"expected: \d+ {re.escape(new)} ", stale)
    assert re.search(rf"observed: \d+ {re.escape(old)} ", stale)
    assert "1 error(s)" in stale
    # the outage: apply fails at bravo only, and says so
    outage = output[output.index("4. bravo goes down"):output.index("5. bravo is repaired")]
    assert re.search(r"bravo\s+│ example\.com\. │ failed", outage)
    assert re.search(r"alpha\s+│ example\.com\. │ applied", outage)
    assert re.search(r"charlie\s+│ example\.com\. │ applied", outage)
    assert "Apply FAILED at bravo; the other providers (alpha, charlie) were applied." in outage
    assert len(re.findall(r"bravo .*│ error .*│ verify\.unreachable", outage)) == 2  # both zones
    verify = outage[outage.index("$ dnssync verify"):]
    assert "2 error(s)" in verify and not re.search(r"│ (alpha|charlie) ", verify)
    repaired = output[output.index("5. bravo is repaired"):]
    assert re.search(r"bravo\s+│ example\.com\. │ applied", repaired)
    # the repair is watched until it has propagated: the new name's negative-cache TTL
    # (5 s on the demo's servers) is waited out, and the story ends there, in seconds
    assert "$ dnssync apply --yes --wait --deadline 30 --interval 0.2" in repaired
    assert "negative TTL 5 s" in repaired
    assert "fully propagated: every nameserver serves the new data and no cache can hold the old" \
        in repaired
    took = int(re.search(r"The demo took (\d+)s", output).group(1))
    assert took < 60
    assert f"dnssync -c {root} fault bravo --stale" in output  # as this demo was started
    assert f"dnssync -c {root} serve" in output


def test_demo_leaves_the_repository_and_ports_alone(demo_run):
    root, ports, before, result = demo_run
    assert {p: p.read_text() for p in (root / "zones").iterdir()} == before
    assert not (root / ".dnssync").exists()
    scratch = Path(re.search(r"scratch copy of .* in (\S+)\.\n", result.output).group(1))
    assert not scratch.exists()
    assert all(port_free(port) for port in ports.values())


def test_demo_interrupted_stops_every_server(tmp_path):
    root = tmp_path / "repo"
    ports = copy_example_repo(root)
    demo = subprocess.Popen([sys.executable, "-m", "dnssync", "-c", str(root), "demo"],
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        for line in demo.stdout:
            if line.startswith("1. Push the zones"):
                demo.send_signal(signal.SIGINT)  # Ctrl-C, while the servers run
                break
        output = line + demo.stdout.read()
        demo.wait(timeout=20)
    finally:
        if demo.poll() is None:
            demo.kill()
    assert demo.returncode == 130, output
    assert "Interrupted: stopping the embedded nameservers." in output
    assert all(port_free(port) for port in ports.values())


def test_demo_needs_embedded_providers(tmp_path):
    write_repo(tmp_path / "repo", {"example.org.yaml": "www:\n  type: A\n  value: 192.0.2.1\n"},
               ["only"])
    result = run(tmp_path / "repo", "demo")
    assert result.exit_code == 2
    assert "two or more providers of class 'embedded'" in result.output
    (tmp_path / "repo" / "providers" / "real.yaml").write_text(
        "class: powerdns\nhost: 127.0.0.1\napi_key: x-not-used\nnameservers: [ns1.real.example.]\n")
    result = run(tmp_path / "repo", "demo")
    assert result.exit_code == 2
    assert "only where every provider is 'embedded'" in result.output
    assert "also has real" in result.output


def test_repository_default_is_three_embedded_providers():
    result = run(ROOT, "validate")
    assert result.exit_code == 0, result.output
    assert "Valid: 2 zone(s), 3 provider(s)." in result.output
    assert free_port()  # the helper the other tests rely on finds ports


#: escape codes: those that move the cursor (a live view redrawing) end a line here
MOVES = re.compile(r"\x1b\[[0-9;?]*[ABGHJK]|\r")
STYLES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def demo_in_a_terminal(root: Path, columns: int, rows: int) -> str:
    """The demo as a terminal of `columns` x `rows` shows it (a real pseudo-terminal,
    so the commands see a tty: colours, live views), its escape codes removed."""
    import fcntl
    import pty
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    demo = subprocess.Popen([sys.executable, "-m", "dnssync", "-c", str(root), "demo"], stdin=follower,
                            stdout=follower, stderr=follower, env={**os.environ, "PYTHONPATH": str(ROOT),
                                                                   "COLUMNS": str(columns), "LINES": str(rows),
                                                                   "TERM": "xterm-256color"}, close_fds=True)
    os.close(follower)
    chunks = []
    try:
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the demo ended: the terminal is closed
                break
            if not chunk:
                break
            chunks.append(chunk)
        demo.wait(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
        os.close(leader)
    assert demo.returncode == 0
    return STYLES.sub("", MOVES.sub("\n", b"".join(chunks).decode(errors="replace")))


def test_demo_reads_well_at_80_columns_and_keeps_its_climax(tmp_path):
    root = tmp_path / "repo"
    copy_example_repo(root)
    shown = demo_in_a_terminal(root, 80, 24)
    lines = shown.splitlines()
    assert max(len(line) for line in lines) <= 80
    # no table breaks a word in two: these are printed whole, each on one line
    for word in ("verify.extra-unchecked", '"mailto:security@example.com"', "added-during-outage.example.com.",
                 "ns1.bravo.example"):
        assert word in shown, word
    assert not any(line.rstrip().endswith(("exampl", "-unc", "examp")) for line in lines)
    # the watch shows progress while it waits, and the story's end is all there
    repair = shown[shown.index("5. bravo is repaired"):shown.index("6. Sign example.net")]
    assert "more lines" not in repair
    assert "Watching apply" in repair
    words = " ".join(repair.split())  # as read, whatever the line breaks
    countdown = set(re.findall(r"caches may hold old answers until \S+ \(in (\d+) s\)", words))
    assert len(countdown) >= 2, repair  # the live view counts down while it waits
    assert "fully propagated: every nameserver serves the new data and no cache can hold the old" in words
    everything = " ".join(shown.split())
    assert everything.index("fully propagated") < everything.index("Try it yourself")


def test_ctrl_c_that_a_finished_apply_took_still_stops_the_demo():
    """apply takes SIGINT itself while it runs; a Ctrl-C after its last batch lets it finish
    with exit 0. The demo must still stop (not tell the rest of its story)."""
    from rich.console import Console

    from dnssync.cli import main
    from dnssync.commands.demo import Interrupts, Story
    from dnssync.model import interrupt

    story = Story(Console(file=io.StringIO()), ROOT, False, Interrupts(), main)
    assert story._call(("validate",), tty=False) == 0  # no Ctrl-C: the story goes on
    interrupt.STOP.set()
    try:
        with pytest.raises(KeyboardInterrupt):
            story._call(("validate",), tty=False)
    finally:
        interrupt.STOP.clear()
