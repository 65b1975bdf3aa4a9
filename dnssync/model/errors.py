"""Exceptions that carry user-facing meaning (and an exit code) to the CLI.

Anything else that escapes a command is a bug; the CLI still turns it into a
one-line message, never a traceback, unless --debug is given.
"""

from __future__ import annotations

from dnssync.model.findings import Finding


class DnssyncError(Exception):
    """Base class; `exit_code` is what the CLI exits with."""

    exit_code = 1


class ConfigError(DnssyncError):
    """Bad input: configuration or zone files. Nothing was sent to any provider.

    Holds every problem found (not only the first), each as a Finding with the
    file and line, so one run of `dnssync validate` shows them all."""

    exit_code = 2

    def __init__(self, findings: list[Finding]):
        self.findings = findings
        super().__init__("; ".join(f"{f.location}: {f.message}" for f in findings))


class UsageError(DnssyncError):
    """A command was called in a way that cannot work (bad flag combination, missing file)."""

    exit_code = 2


class PlanMismatch(DnssyncError):
    """`apply --plan`: the reviewed plan no longer matches the providers' live state."""

    exit_code = 1


class LockHeld(DnssyncError):
    """Another apply holds the repository's lock."""

    exit_code = 1
