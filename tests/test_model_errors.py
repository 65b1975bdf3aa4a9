"""The one error model (model/errors.py): every exception class dnssync defines derives
from DnssyncException and says whether it is transient."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import dnssync
from dnssync.model.errors import ConfigError, DnssyncError, DnssyncException
from dnssync.providers.rfc2136 import Rfc2136Error
from dnssync.providers.route53 import Route53Error
from dnssync.query.wire import Malformed


def _exception_classes() -> dict[str, type]:
    found = {}
    for info in pkgutil.walk_packages(dnssync.__path__, "dnssync."):
        if info.name.endswith(".__main__"):
            continue  # runs the CLI when imported
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if (inspect.isclass(value) and issubclass(value, BaseException)
                    and value.__module__ == module.__name__):
                found[f"{module.__name__}.{name}"] = value
    return found


def test_every_exception_class_of_dnssync_has_the_one_root():
    classes = _exception_classes()
    assert len(classes) >= 15  # the walk really found them (wire, axfr, providers, embedded...)
    strays = sorted(name for name, cls in classes.items() if not issubclass(cls, DnssyncException))
    assert strays == []
    assert all(isinstance(cls.transient, bool) for cls in classes.values())


def test_transient_is_false_unless_said_and_an_instance_may_say_so():
    assert ConfigError([]).transient is False and DnssyncError("x").transient is False
    assert Rfc2136Error("timed out", transient=True).transient is True
    assert Route53Error("throttled", transient=True).transient is True
    assert Rfc2136Error("refused").transient is False
    assert Malformed("bad").transient is False and isinstance(Malformed("bad"), DnssyncException)


def test_every_error_crosses_a_process_boundary_whole():
    """A worker process (verify --jobs, the zone loader) pickles the error it raises; the
    parent must get the same class with the same findings, message and flags."""
    import pickle

    from dnssync.model.errors import ConfigError
    from dnssync.model.findings import Finding, Severity
    from dnssync.providers.rfc2136 import Rfc2136Error

    bad = Finding(Severity.ERROR, "config.schema", "bad", file="zones/a.yaml", line=3)
    error = pickle.loads(pickle.dumps(ConfigError([bad])))
    assert type(error) is ConfigError and error.findings == [bad] and error.exit_code == 2
    assert str(error) == "zones/a.yaml:3: bad"
    refused = pickle.loads(pickle.dumps(Rfc2136Error("refused", transient=True, applied=2, total=5)))
    assert (str(refused), refused.transient, refused.applied, refused.total) == ("refused", True, 2, 5)
