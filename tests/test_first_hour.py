"""A new user's first hour (issue 16): the CLI where people type options, messages that
say what to do, and output that reads well at 80 columns. No servers needed here;
the lab and embedded-server parts live beside their subjects."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from dnssync.cli import main
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
    for name, command in main.commands.items():
        shown = invoke(name, "--help").output
        assert all(option in shown for option in GLOBAL), (name, shown)
    root = small_repo(tmp_path / "repo")
    result = invoke("-c", str(tmp_path / "elsewhere"), "validate", "--no-color", "-c", str(root))
    assert result.exit_code == 0, result.output
    assert "Valid: 1 zone(s), 1 provider(s)." in result.output
    result = invoke("validate", f"--config={root}", "--debug")
    assert result.exit_code == 0 and " DEBUG " in result.output
    assert invoke("validate", "--no-colr").exit_code == 2
