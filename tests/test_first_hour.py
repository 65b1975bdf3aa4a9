"""A new user's first hour (issue 16): the CLI where people type options, messages that
say what to do, and output that reads well at 80 columns. No servers needed here;
the lab and embedded-server parts live beside their subjects."""

from __future__ import annotations

import io
import json
import shlex
import socket
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml
from click.testing import CliRunner
from rich.console import Console
from rich.table import Table

from dnssync.cli import all_commands, main
from dnssync.model.findings import Finding, Severity
from dnssync.model.plan import Change, Plan, ProviderPlan
from dnssync.providers.hints import install_hint
from dnssync.report.fit import Fitted
from dnssync.report.github import findings_annotations
from dnssync.report.markdown import plan_markdown
from dnssync.report.text import FULL_ROWS, print_plan
from dnssync.verify import delegation
from tests.conftest import ROOT
from tests.embedded_repo import write_repo

GLOBAL = ("-c", "--config", "--octodns-config", "--debug", "--no-color")


def invoke(*args: str, cwd: Path | None = None):
    runner = CliRunner()
    if cwd is None:
        return runner.invoke(main, list(args), catch_exceptions=False)
    with runner.isolated_filesystem(temp_dir=cwd):
        return runner.invoke(main, list(args), catch_exceptions=False)


def small_repo(root: Path) -> Path:
    write_repo(root, {"example.test.yaml": "www:\n  type: A\n  value: 192.0.2.1\n"}, ["alpha"])
    return root


def test_every_command_takes_the_global_options_after_it_too(tmp_path):
    for name in all_commands():
        shown = invoke(name, "--help").output
        assert all(option in shown for option in GLOBAL), (name, shown)
    root = small_repo(tmp_path / "repo")
    result = invoke("-c", str(tmp_path / "elsewhere"), "validate", "--no-color", "-c", str(root))
    assert result.exit_code == 0, result.output
    assert "Valid: 1 zone(s), 1 provider(s)." in result.output
    result = invoke("validate", f"--config={root}", "--debug")
    assert result.exit_code == 0 and " DEBUG " in result.output
    assert invoke("validate", "--no-colr").exit_code == 2


def secret_repo(root: Path) -> Path:
    """A repository whose provider takes its API key from an environment variable that
    is not set: a laptop without the CI secrets."""
    small_repo(root)
    (root / "providers" / "pdns.yaml").write_text(
        "class: powerdns\nhost: 127.0.0.1\nport: 9\napi_key: env/DNSSYNC_FIRST_HOUR_UNSET\n"
        "nameservers: [{name: ns1.pdns.example., address: '127.0.0.1:9'}]\n")
    return root


def test_local_work_needs_no_provider_secrets(tmp_path):
    root = secret_repo(tmp_path / "repo")
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    entry = shlex.split(next(h["entry"] for h in hooks if h["id"] == "dnssync-validate"))
    assert entry[0] == "dnssync"
    result = invoke("-c", str(root), *entry[1:])  # the shipped pre-commit hook, as it runs
    assert result.exit_code == 0, result.output
    result = invoke("-c", str(root), "snapshots")
    assert result.exit_code == 0, result.output
    assert "No snapshots yet" in result.output
    result = invoke("-c", str(root), "restore", "latest", "--yes")  # the cause, not the secret
    assert result.exit_code == 2 and "nothing to restore: no snapshots yet" in result.output
    assert invoke("-c", str(root), "snapshots", "--format", "json").output.strip() == "[]"
    # validate contacts no provider: it only says which secret plan and apply will need
    result = invoke("-c", str(root), "validate")
    assert result.exit_code == 0, result.output
    assert ("pdns.yaml:4: warning config.env-missing: 'api_key' reads environment variable"
            " DNSSYNC_FIRST_HOUR_UNSET, which is not set: plan, apply, verify and drift need it") in result.output
    for command in ("watch", "soa"):  # DNS only: they get as far as their own business
        result = invoke("-c", str(root), command)
        assert "env-missing" not in result.output, (command, result.output)
    # a command that contacts providers still names what is missing, and sends nothing
    result = invoke("-c", str(root), "plan")
    assert result.exit_code == 2 and "error config.env-missing" in result.output


def test_one_vocabulary_across_commands(tmp_path):
    outs = {name: option.help for name, command in all_commands().items() for option in command.params
            if option.name == "out"}
    assert set(outs) >= {"plan", "verify", "drift", "validate"}
    assert len(set(outs.values())) == 1, outs  # one meaning of --out
    formats = {name for name, command in all_commands().items() for option in command.params
               if option.name == "fmt"}
    assert formats >= {"validate", "plan", "apply", "verify", "watch", "drift", "soa", "snapshots"}
    per_query = {o.name: o.help for o in all_commands()["verify"].params if o.name == "query_timeout"}
    total = {o.name: o.help for c in ("watch", "apply") for o in all_commands()[c].params if o.name == "deadline"}
    assert "per query" in per_query["query_timeout"] and "in all" in total["deadline"]
    # the old spellings still work, and say what to type instead
    root = small_repo(tmp_path / "repo")
    result = invoke("-c", str(root), "snapshots", "--json")
    assert result.exit_code == 0 and "Note: snapshots --json is deprecated; use --format json" in result.output
    result = invoke("-c", str(root), "watch", "--timeout", "5")
    assert "Note: watch --timeout is deprecated; use --deadline" in result.output


def test_validate_takes_provider_shard_and_junit_like_the_others(tmp_path):
    root = small_repo(tmp_path / "repo")
    (root / "zones" / "bad.test.yaml").write_text("www:\n  type: A\n  value: not-an-address\n")
    out = tmp_path / "validate.xml"
    result = invoke("-c", str(root), "validate", "--provider", "alpha", "--format", "junit", "--out", str(out))
    assert result.exit_code == 2
    xml = ET.parse(out).getroot()
    failed = [case.get("classname") for case in xml.iter("testcase") if case.find("failure") is not None]
    assert failed == ["bad.test"]
    result = invoke("-c", str(root), "validate", "--zone", "example.test", "--shard", "1/1", "--format", "junit")
    assert result.exit_code == 0 and 'failures="0"' in result.output
    result = invoke("-c", str(root), "validate", "--zone", "example.test", "--provider", "nobody")
    assert result.exit_code == 2 and "no provider named nobody" in result.output


def test_markdown_plan_shows_a_change_made_alike_at_several_providers_once():
    same = Change("update", "www", "A", {"ttl": 300, "values": ["192.0.2.1"]}, {"ttl": 300, "values": ["192.0.2.2"]})
    other = Change("create", "new", "A", None, {"ttl": 300, "values": ["192.0.2.9"]})
    plan = Plan(zones={}, providers=[ProviderPlan("alpha", "example.test.", changes=[same]),
                                     ProviderPlan("bravo", "example.test.", changes=[same, other]),
                                     ProviderPlan("charlie", "example.test.", changes=[same]),
                                     ProviderPlan("delta", "example.test."), ProviderPlan("echo", "example.test.")])
    rows = [line for line in plan_markdown(plan).splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert rows == ["| alpha, bravo, charlie | update | `www` | A | 300 192.0.2.1 | 300 192.0.2.2 |",
                    "| bravo | create | `new` | A |  | 300 192.0.2.9 |",
                    "| delta, echo | no changes |  |  |  |  |"]


def test_github_annotations_carry_expected_and_observed():
    finding = Finding(Severity.ERROR, "verify.values", "ns1.b serves www.example.test. A differently",
                      zone="example.test.", expected="300 192.0.2.2", observed="300 192.0.2.66",
                      file="zones/example.test.yaml", line=3)
    assert findings_annotations([finding]) == (
        "::error file=zones/example.test.yaml,line=3,title=dnssync verify.values::ns1.b serves"
        " www.example.test. A differently%0Aexpected: 300 192.0.2.2%0Aobserved: 300 192.0.2.66\n")


def test_special_use_zones_report_no_public_parent_and_never_ask_the_root(tmp_path, monkeypatch):
    """RFC 6761/6762/8375 names: verify says no public parent exists and never starts a
    walk from the root servers (the walk is replaced here by one that records it was
    asked and sends nothing, so even a regression sends no packet off this machine)."""
    walks = []

    async def no_walk(engine, zone, roots):
        walks.append(zone)
        return [], "not walked in this test"

    monkeypatch.setattr(delegation, "find_parent", no_walk)
    zones = ["a.test.", "b.example.", "c.invalid.", "d.localhost.", "e.local.", "f.home.arpa."]
    root = tmp_path / "repo"
    write_repo(root, {f"{z}yaml": "" for z in [*zones, "notatest."]}, ["alpha"])
    result = invoke("-c", str(root), "verify", "--delegation", "--format", "json", *(f"--zone={z}" for z in zones))
    assert result.exit_code == 0, result.output
    assert walks == []
    findings = json.loads(result.output)["findings"]
    assert sorted((f["zone"], f["code"], f["severity"]) for f in findings) == sorted(
        (z, "delegation.special-use", "info") for z in zones)
    invoke("-c", str(root), "verify", "--delegation", "--zone", "notatest.")
    assert walks == ["notatest."]  # an ordinary name is walked as before
    # a root of your own (parent.roots) may hold any name: it is asked
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as own_root:
        own_root.bind(("127.0.0.1", 0))
        own_root.settimeout(5)
        config = yaml.safe_load((root / "dnssync.yaml").read_text())
        config["parent"] = {"roots": [f"127.0.0.1:{own_root.getsockname()[1]}"]}
        (root / "dnssync.yaml").write_text(yaml.safe_dump(config))
        monkeypatch.undo()
        invoke("-c", str(root), "verify", "--delegation", "--zone", "a.test.")
        assert b"test" in own_root.recv(512).lower()


def test_empty_and_wrong_places_say_so_plainly(tmp_path, monkeypatch):
    root = small_repo(tmp_path / "repo")
    result = invoke("-c", str(root), "watch")
    assert result.exit_code == 2
    assert "nothing to watch: no apply has been made from this repository yet" in result.output
    result = invoke("-c", str(root), "restore", "latest", "--yes")
    assert result.exit_code == 2
    assert "nothing to restore: no snapshots yet (apply saves one before it changes anything" in result.output
    # outside a repository: the cause alone, first
    (tmp_path / "elsewhere" / "deep").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "elsewhere" / "deep")
    result = invoke("validate")
    assert result.exit_code == 2
    assert result.output.splitlines()[0].endswith(
        "config.no-repository: not a dnssync repository (no dnssync.yaml here or in any parent folder)")
    assert "1 error(s)" in result.output
    # inside one, any folder finds it, as git does
    monkeypatch.chdir(root / "zones")
    result = invoke("validate")
    assert result.exit_code == 0 and "Valid: 1 zone(s)" in result.output, result.output
    result = invoke("-c", str(tmp_path / "missing.yaml"), "validate")
    assert result.exit_code == 2 and "file not found: " in result.output


def provider_file(root: Path, cls: str) -> None:
    (root / "providers" / "other.yaml").write_text(
        f"class: {cls}\nnameservers: [{{name: ns1.other.example., address: '127.0.0.1:9'}}]\n")


def test_errors_say_what_to_do(tmp_path):
    root = small_repo(tmp_path / "repo")
    port = yaml.safe_load((root / "providers" / "alpha.yaml").read_text())["port"]
    result = invoke("-c", str(root), "plan")  # nobody ran `dnssync serve`
    assert result.exit_code == 1
    assert (f"provider alpha (embedded) at 127.0.0.1:{port}: connection refused: is the server at"
            f" 127.0.0.1:{port} running? (for the embedded providers: `dnssync serve`)") in result.output
    expected = {
        "octodns_ns1.Ns1Provider": "does not import: no module named 'octodns_ns1': pip install octodns-ns1",
        "octodns_route53_x.Route53Provider": "pip install octodns-route53-x",
        "powerdsn": "did you mean 'powerdns'?",
        "octodns_powerdns.PowerDNSProvider": "has no class PowerDNSProvider; did you mean 'PowerDnsProvider'?",
    }
    for cls, message in expected.items():
        provider_file(root, cls)
        result = invoke("-c", str(root), "validate", "--offline")
        assert result.exit_code == 2 and message in result.output, (cls, result.output)
    assert install_hint("octodns_route53") == "pip install octodns-route53 (or dnssync-verified[route53])"
    (root / "providers" / "other.yaml").unlink()
    (root / "zones" / "example.test.yaml").write_text("www:\n  type: CNMAE\n  value: example.test.\n")
    result = invoke("-c", str(root), "validate")
    assert """Unknown record type: "CNMAE"; did you mean 'CNAME'?""" in result.output


def test_a_big_plan_is_summarised_and_prints_in_under_a_second():
    changes = [Change("create", f"host{i}", "A", None, {"ttl": 300, "values": [f"10.0.{i // 250}.{i % 250}"]})
               for i in range(20_000)]
    plan = Plan(zones={}, providers=[ProviderPlan(p, "big.test.", changes=changes, exists=False)
                                     for p in ("bind", "knot", "pdns")])
    console = Console(file=io.StringIO(), width=80, no_color=True)
    started = time.process_time()  # CPU time: a loaded CI machine does not fail it
    print_plan(console, plan)
    elapsed = time.process_time() - started
    shown = console.file.getvalue()
    assert elapsed < 1.0, elapsed
    assert "│ knot     │ big.test. │ 20,000 │      0 │      0 │ + create zone │" in shown
    assert "│ bind     │ big.test. │ + create      │ host0  │ A    │ 300 10.0.0.0  │" in shown
    assert "… and 59,973 more (see --format json / --out)" in shown
    assert len(shown.splitlines()) < 60 and max(map(len, shown.splitlines())) <= 80
    small = Plan(zones={}, providers=[ProviderPlan("bind", "big.test.", changes=changes[:FULL_ROWS])])
    console = Console(file=io.StringIO(), width=80, no_color=True)
    print_plan(console, small)  # a plan that fits is shown whole
    assert f"host{FULL_ROWS - 1} " in console.file.getvalue() and "more (see" not in console.file.getvalue()


def test_tables_never_break_a_word():
    table = Table(title="example.com")
    for column in ("provider", "action", "name", "type", "ttl / values"):
        table.add_column(column, overflow="fold")
    table.add_row("alpha", "+ create", "added-during-outage", "CAA",
                  '3600 0 iodef "mailto:security@example.com", 0 issue "letsencrypt.org"')
    for width, as_table in ((120, True), (60, False)):
        console = Console(file=io.StringIO(), width=width, no_color=True)
        console.print(Fitted(table))
        shown = console.file.getvalue()
        assert ("┃ provider" in shown) is as_table
        assert '"mailto:security@example.com",' in shown and "added-during-outage" in shown
        assert max(map(len, shown.splitlines())) <= width


def test_plan_out_writes_the_report_and_save_plan_the_plan(tmp_path):
    """Against a provider that cannot be read (nothing listens): the plan still has a
    row per provider, which is all --out and --save-plan need to show their meaning."""
    root = small_repo(tmp_path / "repo")
    report, saved, old = tmp_path / "plan.txt", tmp_path / "plan.json", tmp_path / "old.json"
    result = invoke("-c", str(root), "plan", "--format", "text", "--out", str(report), "--save-plan", str(saved))
    assert "alpha" in report.read_text() and "│ error" in report.read_text()
    assert json.loads(saved.read_text())["providers"][0]["provider"] == "alpha"
    assert f"Wrote the text plan to {report}." in result.output
    result = invoke("-c", str(root), "plan", "--out", str(old))  # the old spelling: the plan to apply
    assert json.loads(old.read_text())["providers"][0]["provider"] == "alpha"
    assert "Note: plan --out FILE (with the text report) for the plan to apply is deprecated" in result.output
