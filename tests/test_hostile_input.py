"""Hostile input (issue 17): a pull request, a careless operator or a broken server
trying to make dnssync read files outside the repository, run code, exhaust memory or
time, or show a secret. Same rules as test_bad_input: exit 2, file:line, no traceback,
nothing sent (a real listening socket counts connections), and bounded time and memory,
asserted here, not only printed.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from rich.console import Console

from dnssync.applying.record import ApplyResult, Outcome
from dnssync.model.plan import Plan
from dnssync.repo.yamlfile import MAX_DEPTH
from dnssync.report.text import print_apply
from tests import test_bad_input
from tests.test_bad_input import SECRET, check_rejected, run, write_repo

REPO_ROOT = Path(__file__).resolve().parent.parent
listener = test_bad_input.listener  # the same fixture: a socket that counts connections
OUTSIDE = "TOP-SECRET-FILE-CONTENT-of-the-runner"


@pytest.fixture
def outside_file(tmp_path) -> Path:
    """A file of the machine, beside (not inside) the repository."""
    path = tmp_path / "runner-secret.txt"
    path.write_text(f"{OUTSIDE}\n")
    return path


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), "-c", "user.email=t@example.com", "-c", "user.name=t",
                           *args], check=True, capture_output=True, text=True).stdout.strip()


# ---- 1. nothing is read outside the repository ------------------------------------------------

@pytest.mark.parametrize("command", ["validate", "plan", "apply"])
def test_include_outside_the_repository_refused(tmp_path, listener, outside_file, command):
    zone = "www:\n  type: TXT\n  value: !include ../../runner-secret.txt\n"
    root = write_repo(tmp_path / "repo", listener.port, zone=zone)
    args = [command, "--yes"] if command == "apply" else [command]
    output = check_rejected(run(root, *args), listener, "example.com.yaml:3", "outside the repository")
    assert OUTSIDE not in output


def test_include_through_a_symlink_leaving_the_repository_refused(tmp_path, listener, outside_file):
    root = write_repo(tmp_path / "repo", listener.port,
                      zone="www:\n  type: TXT\n  value: !include part.txt\n")
    (root / "zones" / "part.txt").symlink_to(outside_file)
    output = check_rejected(run(root, "validate"), listener, "example.com.yaml:3", "outside the repository")
    assert OUTSIDE not in output


def test_include_inside_the_repository_still_works(tmp_path, listener):
    root = write_repo(tmp_path / "repo", listener.port, zone="www:\n  type: TXT\n  value: !include ../common/v.yaml\n")
    (root / "common").mkdir()
    (root / "common" / "v.yaml").write_text("shared-value\n")
    result = run(root, "validate")
    assert result.exit_code == 0, result.output


def test_zone_file_that_is_a_symlink_out_of_the_repository_refused(tmp_path, listener, outside_file):
    root = write_repo(tmp_path / "repo", listener.port)
    (root / "zones" / "leak.org.yaml").symlink_to(outside_file)
    output = check_rejected(run(root, "validate"), listener, "leak.org.yaml", "outside the repository")
    assert OUTSIDE not in output


def test_split_zone_folder_that_is_a_symlink_out_of_the_repository_refused(tmp_path, listener, outside_file):
    root = write_repo(tmp_path / "repo", listener.port)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "www.yaml").write_text(f"www:\n  type: TXT\n  value: {OUTSIDE}\n")
    (root / "zones" / "leak.org.").symlink_to(elsewhere)
    output = check_rejected(run(root, "plan"), listener, "www.yaml", "outside the repository")
    assert OUTSIDE not in output


def test_provider_file_that_is_a_symlink_out_of_the_repository_refused(tmp_path, listener):
    root = write_repo(tmp_path / "repo", listener.port)
    elsewhere = tmp_path / "other.yaml"
    elsewhere.write_text(f"class: powerdns\nhost: 127.0.0.1\nport: {listener.port}\napi_key: {OUTSIDE}\n"
                         "nameservers: [ns1.example.net.]\n")
    (root / "providers" / "other.yaml").symlink_to(elsewhere)
    output = check_rejected(run(root, "validate"), listener, "other.yaml", "outside the repository")
    assert OUTSIDE not in output


@pytest.fixture
def history(tmp_path, listener):
    """A git repository whose zone includes ../common/part.yaml: `base` commit with
    192.0.2.1, HEAD with 192.0.2.2, and the working disk edited to 192.0.2.3."""
    root = write_repo(tmp_path / "repo", listener.port,
                      zone="www:\n  type: A\n  value: !include ../common/part.yaml\n")
    (root / "common").mkdir()
    part = root / "common" / "part.yaml"
    part.write_text("192.0.2.1\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")
    part.write_text("192.0.2.2\n")
    git(root, "commit", "-qam", "head")
    part.write_text("192.0.2.3\n")
    return root


def test_plan_base_reads_includes_from_the_revision_tree(history, listener):
    result = run(history, "plan", "--base", "HEAD~1", "--format", "json")
    assert result.exit_code == 0, result.output
    changes = json.loads(result.stdout)["providers"][0]["changes"]
    assert [(c["existing"]["values"], c["desired"]["values"]) for c in changes] == [(["192.0.2.1"], ["192.0.2.3"])]
    assert listener.connections == 0


def test_plan_base_refuses_an_include_leaving_the_revision_tree(history, listener, outside_file):
    zone = history / "zones" / "example.com.yaml"
    zone.write_text("www:\n  type: TXT\n  value: !include ../../../runner-secret.txt\n")
    git(history, "commit", "-qam", "hostile")
    zone.write_text("www:\n  type: TXT\n  value: fine\n")
    result = run(history, "plan", "--base", "HEAD", "--format", "markdown")
    output = check_rejected(result, listener, "example.com.yaml:3", "outside the repository")
    assert OUTSIDE not in output


def test_plan_base_refuses_a_committed_symlink_leaving_the_repository(history, listener, outside_file):
    (history / "zones" / "leak.org.yaml").symlink_to(outside_file)
    git(history, "add", "-A")
    git(history, "commit", "-qm", "hostile")
    (history / "zones" / "leak.org.yaml").unlink()
    output = check_rejected(run(history, "plan", "--base", "HEAD", "--format", "github"), listener,
                            "leak.org.yaml", "refused")
    assert OUTSIDE not in output


#: `python -m dnssync`, reporting at exit the process's peak memory (VmHWM starts afresh
#: at exec, unlike ru_maxrss, which keeps the forked test process's size); dnssync leaves
#: by os._exit (cli.run), which runs no atexit handler, so that is where it is reported
_MEASURED = """import os, runpy, sys
def peak():
    kb = next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM"))
    sys.stderr.write(f"\\nPEAK_KB {kb}\\n")
    sys.stderr.flush()
leave = os._exit
os._exit = lambda code: (peak(), leave(code))
sys.argv[0] = "dnssync"
runpy.run_module("dnssync", run_name="__main__", alter_sys=True)
"""


def run_cli(root: Path, *args: str, cwd: Path | None = None) -> tuple[int, str, float, float]:
    """`python -m dnssync` in a subprocess: exit code, output, CPU seconds (not wall time:
    the machine is shared; wait4 gives that one child's) and its peak memory in MB."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TEST_PDNS_KEY": SECRET}
    out = root.parent / "cli-output.txt"
    with open(out, "w") as handle:
        process = subprocess.Popen([sys.executable, "-c", _MEASURED, "-c", str(root), *args], cwd=cwd or root.parent,
                                   stdout=handle, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    output = out.read_text()
    peak_kb = int(output.rsplit("PEAK_KB ", 1)[1].split()[0])
    return process.returncode, output, usage.ru_utime + usage.ru_stime, peak_kb / 1024


def test_provider_class_from_an_arbitrary_module_is_not_imported(tmp_path, listener):
    """`import this` prints the Zen of Python: had validate imported it, it would show."""
    root = write_repo(tmp_path / "repo", listener.port,
                      provider="class: this.Nope\nhost: x\nnameservers: [ns1.example.net.]\n")
    code, output, _, _ = run_cli(root, "validate")
    assert code == 2, output
    assert "Beautiful is better than ugly" not in output
    assert "pdns.yaml:1" in output and "trusted_modules" in output and "Traceback" not in output
    assert listener.connections == 0


def test_trusted_modules_opts_in(tmp_path, listener):
    root = write_repo(tmp_path / "repo", listener.port,
                      provider="class: this.Nope\nhost: x\nnameservers: [ns1.example.net.]\n",
                      config="zones: zones\nproviders: providers\ntrusted_modules: [this]\n")
    code, output, _, _ = run_cli(root, "validate")
    assert code == 2 and "Beautiful is better than ugly" in output and "has no class Nope" in output


def test_provider_package_planted_in_the_repository_is_not_imported(tmp_path, listener):
    """`python -m dnssync` run in the repository puts it on sys.path: a PR's octodns_evil.py
    must not run just because its name looks like a plugin."""
    root = write_repo(tmp_path / "repo", listener.port,
                      provider="class: octodns_evil.Provider\nhost: x\nnameservers: [ns1.example.net.]\n")
    marker = tmp_path / "imported"
    (root / "octodns_evil.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    code, output, _, _ = run_cli(root, "validate", cwd=root)
    assert code == 2, output
    assert not marker.exists() and "not an installed package" in output and "pdns.yaml:1" in output


# ---- 4. bounded YAML: alias bombs, include loops, deep nesting -------------------------------

def nested_anchors(levels: int = 10) -> str:
    """About 500 bytes that expand to 9**levels strings (a "billion laughs")."""
    inner = "&a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"
    for i in range(1, levels):
        inner = f"&a{i} [{inner}, " + ", ".join([f"*a{i - 1}"] * 8) + "]"
    return inner


BOMBS = {
    "zone-values": ({"zone": f"www:\n  type: TXT\n  values: {nested_anchors()}\n"}, "example.com.yaml:3"),
    "provider-option": ({"provider": "class: powerdns\nhost: 127.0.0.1\napi_key: env/TEST_PDNS_KEY\n"
                                     f"nameservers: [ns1.example.net.]\ntimeout: {nested_anchors()}\n"},
                        "pdns.yaml:5"),
    "resolvers": ({"config": f"zones: zones\nproviders: providers\nresolvers: {nested_anchors()}\n"},
                  "dnssync.yaml:3"),
    "include-fan-out": ({"zone": "www:\n  type: TXT\n  values: !include f0.yaml\n",
                         "extra_files": {f"zones/f{i}.yaml": "[" + ", ".join([f"!include f{i + 1}.yaml"] * 9) + "]\n"
                                         for i in range(9)} | {"zones/f9.yaml": "[a, b, c, d, e, f, g, h, i]\n"}},
                        ".yaml:1"),
}


@pytest.mark.parametrize("case", sorted(BOMBS))
def test_yaml_bomb_refused_fast_and_small(tmp_path, listener, case):
    kwargs, where = BOMBS[case]
    root = write_repo(tmp_path / "repo", listener.port, **kwargs)
    started = time.process_time()
    check_rejected(run(root, "plan"), listener, where, "expands the data past")
    assert time.process_time() - started < 0.5, "refusing a bomb must be quick"
    code, output, cpu, peak_mb = run_cli(root, "validate")
    assert code == 2 and "expands the data past" in output and "Traceback" not in output
    assert peak_mb < 100, f"{peak_mb:.0f} MB"
    assert cpu < 3, f"{cpu:.1f} s of CPU, interpreter start included"


def test_include_loop_is_an_error_with_file_and_line(tmp_path, listener):
    root = write_repo(tmp_path / "repo", listener.port, zone="www:\n  type: TXT\n  value: !include ../a/loop.yaml\n")
    (root / "a").mkdir()
    (root / "a" / "loop.yaml").write_text("!include ../a/loop2.yaml\n")
    (root / "a" / "loop2.yaml").write_text("!include loop.yaml\n")
    check_rejected(run(root, "validate"), listener, "loop2.yaml:1", "include loop", "loop.yaml -> loop2.yaml")


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 900, 100_000])
def test_deep_nesting_is_an_error_with_file_and_line_not_recursion(tmp_path, listener, depth):
    zone = "www:\n  type: TXT\n  value: " + "[" * depth + "x" + "]" * depth + "\n"
    root = write_repo(tmp_path / "repo", listener.port, zone=zone)
    started = time.process_time()
    output = check_rejected(run(root, "validate"), listener, "example.com.yaml:3", "nest")
    assert "RecursionError" not in output and time.process_time() - started < 1
    assert f"deeper than {MAX_DEPTH}" in output or "maximum nesting depth" in output  # libyaml's own limit


def test_aliases_of_ordinary_size_still_work(tmp_path, listener):
    zone = ("a:\n  type: A\n  values: &ips [192.0.2.1, 192.0.2.2]\nb:\n  type: A\n  values: *ips\n"
            "c:\n  <<: &d {type: A, ttl: 60}\n  value: 192.0.2.3\nd:\n  <<: *d\n  value: 192.0.2.4\n")
    result = run(write_repo(tmp_path / "repo", listener.port, zone=zone), "validate")
    assert result.exit_code == 0, result.output


# ---- 6. what no server can take -------------------------------------------------------------

@pytest.mark.parametrize("name,why", [(f"{'a' * 64}.com", "label of 64 octets"), ("my zone.com", "white space"),
                                      ("a..b.com", "empty label")])
@pytest.mark.parametrize("command", ["validate", "plan"])
def test_zone_file_name_no_server_takes(tmp_path, listener, name, why, command):
    root = write_repo(tmp_path / "repo", listener.port)
    (root / "zones" / "example.com.yaml").rename(root / "zones" / f"{name}.yaml")
    (root / "providers" / "pdns.yaml").write_text(
        f"class: powerdns\nhost: 127.0.0.1\nport: {listener.port}\napi_key: env/TEST_PDNS_KEY\n"
        f"nameservers: [{{name: ns1.example.net., address: '127.0.0.1:{listener.port}'}}]\n")
    check_rejected(run(root, command), listener, f"{name}.yaml", "zone.name", why)


def test_ttl_string_in_range_taken_as_octodns_takes_it_with_a_warning(tmp_path, listener):
    root = write_repo(tmp_path / "repo", listener.port, zone="www:\n  type: A\n  ttl: '300'\n  value: 192.0.2.1\n")
    result = run(root, "validate")
    assert result.exit_code == 0, result.output
    assert "example.com.yaml:3" in result.output and "written as a string; taken as 300" in result.output


def test_huge_rrset_refused_within_bounds(tmp_path, listener):
    """A 3 MB zone of which one RRset cannot fit any message: refused, quickly and small."""
    zone = "big:\n  type: TXT\n  values:\n" + "".join(f"    - value-{i:06d}-{'y' * 200}\n" for i in range(15_000))
    root = write_repo(tmp_path / "repo", listener.port, zone=zone)
    started = time.process_time()
    check_rejected(run(root, "plan"), listener, "example.com.yaml:1", "zone.size")
    assert time.process_time() - started < 5
    code, output, cpu, peak_mb = run_cli(root, "validate")
    assert code == 2 and "zone.size" in output and peak_mb < 200 and cpu < 8, f"{peak_mb:.0f} MB, {cpu:.1f} s"


# ---- 10. secrets echoed in other forms -------------------------------------------------------

class EchoingApi(BaseHTTPRequestHandler):
    """A PowerDNS-like API that refuses the key and echoes it back in three disguises."""

    def do_GET(self) -> None:
        key = self.headers.get("X-API-Key", "")
        body = json.dumps({"error": f"key {key.lower()} / {key.upper()} / {base64.b64encode(key.encode()).decode()}"
                                    " is not valid"}).encode()
        self.send_response(422)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_secret_echoed_in_case_and_base64_forms_is_masked(tmp_path, fmt):
    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoingApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        root = write_repo(tmp_path / "repo", server.server_address[1])
        result = run(root, "--debug", "plan", "--format", fmt)
    finally:
        server.shutdown()
    output = result.output
    assert "is not valid" in output, output  # the server's message did arrive
    for form in (SECRET, SECRET.lower(), SECRET.upper(), base64.b64encode(SECRET.encode()).decode()):
        assert form not in output, form


# ---- 11. wording of a failed apply -----------------------------------------------------------

def apply_text(*outcomes: Outcome) -> str:
    console = Console(record=True, width=200)
    print_apply(console, ApplyResult(id="x", snapshot=None, plan=Plan(zones={}, providers=[]),
                                     outcomes=list(outcomes)))
    return console.export_text()


def test_failed_apply_at_every_provider_does_not_claim_others_were_applied():
    text = apply_text(*(Outcome(p, "example.com.", "failed", changes=2, error="down", pending=2)
                        for p in ("alpha", "bravo", "charlie")))
    assert "Apply FAILED at alpha, bravo, charlie; there are no other providers." in text
    assert "other providers were applied" not in text


def test_failed_apply_names_the_providers_that_were_applied_or_skipped():
    text = apply_text(Outcome("alpha", "a.", "failed", changes=2, error="down", pending=2),
                      Outcome("bravo", "a.", "applied", changes=2),
                      Outcome("charlie", "a.", "unchanged"),
                      Outcome("delta", "a.", "skipped", changes=2, error="not applied: a canary provider failed"))
    assert ("Apply FAILED at alpha; applied at bravo; charlie already matched git; nothing sent to delta."
            in " ".join(text.split()))
    text = apply_text(Outcome("alpha", "a.", "failed", changes=2, error="down", pending=2),
                      Outcome("bravo", "a.", "applied", changes=2), Outcome("charlie", "a.", "applied", changes=2))
    assert "Apply FAILED at alpha; the other providers (bravo, charlie) were applied." in text


def test_plan_base_out_writes_the_report(history, listener):
    """Review finding 9: with --base, --out is the report file (as --help says), not the
    deprecated "save the plan", which refused naming --save-plan, a flag never given."""
    report = history.parent / "report.txt"
    result = run(history, "plan", "--base", "HEAD~1", "--out", str(report))
    assert result.exit_code == 0, result.output
    assert "--save-plan" not in result.output and "deprecated" not in result.output
    text = report.read_text()
    assert "192.0.2.3" in text and not text.lstrip().startswith("{")
    assert f"Wrote the text plan to {report}." in result.output
    assert listener.connections == 0


EVIL = "import pathlib, os\npathlib.Path(os.environ['EVIL_MARKER']).write_text('ran')\nclass EvilProvider: pass\n"


def provider(cls: str, port: int) -> str:
    return f"class: {cls}\nnameservers:\n  - name: ns9.example.net.\n    address: 127.0.0.1:{port}\n"


@pytest.fixture
def evil(tmp_path, monkeypatch):
    """An installed-looking module (outside the repository, on sys.path) that records being imported."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "evilmod.py").write_text(EVIL)
    monkeypatch.syspath_prepend(str(site))
    marker = tmp_path / "imported"
    monkeypatch.setenv("EVIL_MARKER", str(marker))
    yield marker
    sys.modules.pop("evilmod", None)


@pytest.mark.parametrize("command", [["plan", "--base", "HEAD"], ["validate", "--offline", "--base", "HEAD"]])
def test_a_branch_cannot_add_trusted_modules_for_base(history, listener, evil, command):
    """Review finding 13: the fork pull-request job runs the branch's dnssync.yaml; with
    --base the trust list that counts is REV's, checked before any class is imported."""
    (history / "dnssync.yaml").write_text("zones: zones\nproviders: providers\ntrusted_modules: [evilmod]\n")
    (history / "providers" / "evil.yaml").write_text(provider("evilmod.EvilProvider", listener.port))
    check_rejected(run(history, *command), listener, "--base HEAD: dnssync.yaml here lists evilmod under"
                   " trusted_modules:, which HEAD's dnssync.yaml does not", "Nothing was imported")
    assert not evil.exists(), "the branch's module was imported"


def test_a_module_the_base_trusts_still_works(history, listener, evil):
    (history / "dnssync.yaml").write_text("zones: zones\nproviders: providers\ntrusted_modules: [evilmod]\n")
    git(history, "commit", "-qam", "trust evilmod (reviewed on the default branch)")
    result = run(history, "plan", "--base", "HEAD")
    assert result.exit_code == 0, result.output
    assert listener.connections == 0


def test_a_trusted_module_that_is_a_repository_file_is_not_imported_by_base(history, listener, evil, monkeypatch):
    (history / "dnssync.yaml").write_text("zones: zones\nproviders: providers\ntrusted_modules: [localmod]\n")
    (history / "localmod.py").write_text(EVIL)
    git(history, "add", "-A")
    git(history, "commit", "-qm", "trust localmod")
    monkeypatch.syspath_prepend(str(history))  # `python -m dnssync` from the repository root
    (history / "providers" / "local.yaml").write_text(provider("localmod.EvilProvider", listener.port))
    check_rejected(run(history, "validate", "--offline", "--base", "HEAD"), listener,
                   "trusted module localmod is a file in the repository")
    assert not evil.exists()
    sys.modules.pop("localmod", None)
