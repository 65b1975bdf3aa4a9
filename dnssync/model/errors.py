"""The error model: every exception class dnssync defines derives from `DnssyncException`.

* `transient` (bool, on every one of them): whether trying the same thing again later
  may succeed (a timeout, a dropped connection, a throttled API: True) or not without a
  change (bad input, a refusal, a rejected key: False, the default). A class or an
  instance sets it; apply retries a provider only on a transient error (for exceptions
  of other libraries, providers.hints's `is_transient` translates them).
* `DnssyncError` and its subclasses carry user-facing meaning and an `exit_code` to the
  CLI, which prints them as one line (`Error: ...`).
* The others stay in the module of the stage that raises them, beside the code that
  knows what they mean: `query.wire.Malformed`, `query.axfr.TransferRefused` and `Silent`,
  `providers.breaker.NotAsked`, `model.errors.OptionError` (a provider's option refused
  by its class, read by repo/plugins.py),
  `repo.yamlfile.YamlError`, `model.interrupt.Interrupted`, `providers.refused.Refused`
  and `Deterministic`, `providers.rfc2136.Rfc2136Error`, `providers.route53.Route53Error`,
  `embedded.update.UpdateRefused`, `embedded.faults.FaultError`; `embedded.control.ControlError`
  and `embedded.server.ServerError` are DnssyncErrors. tests/test_model_errors.py holds
  every class to this.

Anything else that escapes a command is a bug; the CLI still turns it into a
one-line message, never a traceback, unless --debug is given.
"""

from __future__ import annotations

from dnssync.model.findings import Finding


class DnssyncException(Exception):
    """The root of every exception class dnssync defines (see the module docstring)."""

    #: whether trying again later may succeed; a subclass or an instance may set it
    transient: bool = False

    def __reduce__(self) -> tuple:
        """Pickled as its state, never re-made through `__init__` (a subclass's parameters
        differ from `args`: ConfigError takes findings): an error raised in a forked worker
        (verify --jobs, the zone loader, plan's workers) reaches the parent whole."""
        return (_restore, (type(self), self.args, self.__dict__))


def _restore(cls: type[DnssyncException], args: tuple, state: dict) -> DnssyncException:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class OptionError(DnssyncException, ValueError):
    """A provider option whose value cannot work. `option` names it, so that the config
    error points at that option's line of the provider file (repo/plugins.py), not at
    the provider's `class`."""

    def __init__(self, option: str, message: str):
        super().__init__(message)
        self.option = option


class DnssyncError(DnssyncException):
    """An error the CLI reports as one line; `exit_code` is what it exits with."""

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
