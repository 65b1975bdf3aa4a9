"""GitHub Actions workflow commands: annotations on the pull request's files.

A finding that comes from a zone file points at its file and line; a planned
change points at the record's line, so reviewers see each change on the diff.
Paths are made relative to $GITHUB_WORKSPACE (the checkout), as GitHub expects.
"""

from __future__ import annotations

import os
from pathlib import Path

from dnssync.model.findings import Finding, Severity
from dnssync.model.plan import Plan
from dnssync.report.values import value_lines

LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def _relative(file: str) -> str:
    workspace = Path(os.environ.get("GITHUB_WORKSPACE") or os.getcwd()).resolve()
    path = Path(file).resolve()
    return str(path.relative_to(workspace)) if path.is_relative_to(workspace) else file


def annotation(level: str, message: str, title: str, file: str | None = None, line: int | None = None) -> str:
    props = []
    if file:
        props.append(f"file={_property(_relative(file))}")
        if line:
            props.append(f"line={line}")
    props.append(f"title={_property(title)}")
    return f"::{level} {','.join(props)}::{_data(message)}\n"


def _message(finding: Finding) -> str:
    """The finding's message, then what was expected and what was observed, each on its
    own line (an annotation is all a reviewer sees of a finding)."""
    lines = [finding.message] + [f"{label}: {value}" for label, value in value_lines(finding)]
    return "\n".join(lines)


def findings_annotations(findings: list[Finding]) -> str:
    return "".join(annotation(LEVEL[f.severity], _message(f), f"dnssync {f.code}", f.file, f.line)
                   for f in findings)


def plan_annotations(plan: Plan) -> str:
    """Provider errors as errors; each change as a notice on the record's line."""
    out = [findings_annotations(plan.findings)]
    for pp in plan.providers:
        if pp.error:
            out.append(annotation("error", pp.error, f"dnssync plan: {pp.provider} {pp.zone}"))
        for c in (*pp.changes, *pp.keys):
            out.append(annotation("notice", c.summary, f"dnssync plan: {pp.provider}", c.file, c.line))
    return "".join(out)
