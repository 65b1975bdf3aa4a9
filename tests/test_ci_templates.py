"""The CI templates in docs/ci work as copied: valid YAML, they install this project
(setup.cfg's distribution name, not PyPI's unrelated `dnssync`), and every dnssync
command in them exists with every option it is given, as the real CLI's --help shows."""

from __future__ import annotations

import configparser
import re
import shlex

import click
import pytest
import yaml
from click.testing import CliRunner

from dnssync.cli import all_commands, main
from tests.conftest import ROOT

TEMPLATES = sorted((ROOT / "docs" / "ci").glob("*.yml"))
GLOBAL_WITH_VALUE = {"-c", "--config", "--octodns-config"}


def distribution() -> str:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    return parser["metadata"]["name"]


def shell_lines(template: dict) -> list[str]:
    """Every shell line of a GitHub workflow (steps' `run`) or GitLab file (`script`s)."""
    lines: list[str] = []

    def walk(node: object, key: str = "") -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, str(k))
        elif isinstance(node, list):
            for item in node:
                walk(item, key)
        elif isinstance(node, str) and key in ("run", "script", "before_script", "after_script"):
            lines.extend(line.strip() for line in node.splitlines() if line.strip())

    walk(template)
    return lines


def commands(line: str) -> list[list[str]]:
    """The simple commands of one shell line, each as words (redirections dropped)."""
    line = re.sub(r"\$\{\{[^}]*\}\}", "X", line)  # GitHub expressions
    out = []
    for part in re.split(r"&&|\|\||;|\|", line):
        words = shlex.split(part, comments=True)
        while len(words) >= 2 and words[-2] in (">", ">>"):
            words = words[:-2]
        if words:
            out.append(words)
    return out


def help_of(command: str) -> str:
    result = CliRunner().invoke(main, [command, "--help"], terminal_width=200)
    assert result.exit_code == 0, (command, result.output)
    return result.output


def check_dnssync(words: list[str]) -> None:
    args = iter(words[1:])
    command = None
    for word in args:
        if word in GLOBAL_WITH_VALUE:
            next(args)
        elif not word.startswith("-"):
            command = word
            break
    assert command in all_commands(), f"{' '.join(words)}: no command {command!r}"
    shown = help_of(command)
    params = {opt: p for p in all_commands()[command].params for opt in getattr(p, "opts", [])}
    rest = list(args)
    for index, word in enumerate(rest):
        if not word.startswith("-"):
            continue
        option = word.split("=", 1)[0]
        assert re.search(rf"(^|[ ,]){re.escape(option)}\b", shown, re.M), \
            f"{' '.join(words)}: `dnssync {command} --help` shows no {option}"
        param = params[option]
        if isinstance(param.type, click.Choice):
            value = word.split("=", 1)[1] if "=" in word else rest[index + 1]
            assert value in param.type.choices, f"{' '.join(words)}: {option} {value}"


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_template_installs_this_project_and_its_commands_exist(path):
    template = yaml.safe_load(path.read_text())
    name = distribution()
    assert name != "dnssync"  # PyPI's `dnssync` is someone else's program
    installs, checked = [], 0
    for line in shell_lines(template):
        for words in commands(line):
            if words[:2] == ["pip", "install"]:
                spec = next(w for w in words[2:] if not w.startswith("-"))
                installs.append(re.sub(r"^\$\{DNSSYNC_SOURCE:-(.*)\}$", r"\1", spec))
            elif words[0] == "dnssync":
                check_dnssync(words)
                checked += 1
    assert installs and set(installs) == {name}, installs
    assert checked >= 5
    if "jobs" in template:  # GitHub: the JUnit report action may publish its check
        for job in template["jobs"].values():
            if any("action-junit-report" in str(step.get("uses", "")) for step in job["steps"]):
                assert job["permissions"]["checks"] == "write"


def test_readme_installs_this_project():
    readme = (ROOT / "README.md").read_text()
    name = distribution()
    assert f"pip install {name}" in readme
    # every install of this project in README and docs (extras included) names the distribution,
    # except the sentence warning that `pip install dnssync` is someone else's program
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")), *sorted((ROOT / "docs").rglob("*.yml"))]
    wrong = []
    for path in docs:
        for match in re.finditer(r"pip install (?:-\S+ )*['\"]?(dnssync[^\s'\"`]*)(`? installs an unrelated)?",
                                 path.read_text()):
            if not match.group(2) and not match.group(1).startswith(name):
                wrong.append(f"{path.name}: {match.group(0)}")
    assert not wrong, wrong


def test_template_check_catches_an_unknown_option():
    with pytest.raises(AssertionError, match="shows no --timeout"):
        check_dnssync(["dnssync", "watch", "--timeout", "60"])  # deprecated: not in --help
    with pytest.raises(AssertionError, match="--format xml"):
        check_dnssync(["dnssync", "verify", "--format", "xml"])
