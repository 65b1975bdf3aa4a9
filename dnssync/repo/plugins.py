"""Provider plugins: octoDNS provider classes, built from providers/*.yaml.

dnssync owns orchestration, not providers: any octoDNS provider class works.
Short names map to the classes we test against the real servers, and where an
octoDNS plugin has a known bug the name (even written in full, as an octoDNS
config would) resolves to dnssync's fixed subclass in this package.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import re
from pathlib import Path
from typing import Any

from octodns.provider.base import BaseProvider

from dnssync.model.errors import ConfigError, OptionError
from dnssync.model.findings import Finding, Severity
from dnssync.model.secrets import redact
from dnssync.model.suggest import did_you_mean
from dnssync.providers.capabilities import DECLARED_ATTR
from dnssync.providers.hints import HINTS_ATTR, Hints, install_hint
from dnssync.repo.config import ProviderConfig
from dnssync.repo.yamlfile import inside

log = logging.getLogger(__name__)

SHORT_NAMES = {
    "powerdns": "dnssync.providers.powerdns.PowerDnsProvider",
    "rfc2136": "dnssync.providers.rfc2136.Rfc2136Provider",
    "bind": "dnssync.providers.rfc2136.BindProvider",
    "knot": "dnssync.providers.rfc2136.KnotProvider",
    "zonefile": "octodns_bind.ZoneFileProvider",
    "embedded": "dnssync.embedded.provider.EmbeddedProvider",
    "route53": "dnssync.providers.route53.Route53Provider",
    "cloudflare": "octodns_cloudflare.CloudflareProvider",
    "yaml": "octodns.provider.yaml.YamlProvider",
}

#: octoDNS classes whose bugs dnssync's subclasses fix (see each subclass's docstring)
FIXED = {
    "octodns_powerdns.PowerDnsProvider": SHORT_NAMES["powerdns"],
    "octodns_bind.Rfc2136Provider": SHORT_NAMES["rfc2136"],
    "octodns_bind.BindProvider": SHORT_NAMES["bind"],
    "octodns_route53.Route53Provider": SHORT_NAMES["route53"],
}


def class_path(name: str) -> str:
    path = SHORT_NAMES.get(name, name)
    return FIXED.get(path, path)


def untrusted(module_name: str, trusted: tuple[str, ...], root: Path | None) -> str | None:
    """Why a provider class must not be imported from `module_name`, or None.

    Importing runs the module's code, during an offline `validate` of a pull request too,
    so only installed octoDNS provider packages (`octodns`, `octodns_*`) and dnssync are
    imported, unless dnssync.yaml's `trusted_modules:` names the module (or a parent)."""
    top = module_name.split(".")[0]
    if any(module_name == t or module_name.startswith(t + ".") for t in trusted):
        return None
    if top == "dnssync":
        return None
    if not (top == "octodns" or top.startswith("octodns_")):
        return (f"module {module_name!r} is not an octoDNS provider package (octodns, octodns_*) nor dnssync;"
                " if you trust it, list it under trusted_modules: in dnssync.yaml")
    spec = importlib.util.find_spec(top)  # finds, never runs, a top-level package
    if spec is not None and root is not None and spec.origin and inside(Path(spec.origin), root):
        return (f"module {top!r} is a file in the repository ({spec.origin}), not an installed package;"
                " if you trust it, list it under trusted_modules: in dnssync.yaml")
    return None


def import_class(path: str, trusted: tuple[str, ...] = (), root: Path | None = None) -> type:
    """The class at `path` (module.Class); ImportError says what to install or type instead,
    or why the module is not imported at all (see `untrusted`)."""
    module_name, _, class_name = path.rpartition(".")
    if not module_name:
        raise ImportError(f"{path!r} is neither a short name ({', '.join(SHORT_NAMES)}) nor module.Class"
                          + did_you_mean(path, list(SHORT_NAMES)))
    refusal = untrusted(module_name, trusted, root)
    if refusal:
        raise ImportError(f"not imported: {refusal}")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        missing = e.name or module_name
        install = install_hint(missing)
        raise ImportError(f"no module named {missing!r}" + (f": {install}" if install else "")
                          + ("" if install else did_you_mean(module_name, [p.rpartition(".")[0] for p in
                                                                           SHORT_NAMES.values()]))) from None
    try:
        return getattr(module, class_name)
    except AttributeError:
        raise ImportError(f"module {module_name} has no class {class_name}"
                          + did_you_mean(class_name, [n for n in dir(module) if n.endswith("Provider")])) from None


def import_plugins(configs: list[ProviderConfig]) -> None:
    """Import every configured provider's class before zones are loaded: octoDNS plugins
    register their own record types (`PowerDnsProvider/LUA`) when imported, as an
    octoDNS config's providers are built before its zones. A class that does not import
    is reported (file:line) by build_provider; here it only registers nothing."""
    for config in configs:
        try:
            import_class(class_path(config.cls), config.trusted_modules, config.root)
        except Exception:  # build_provider reports it with the file and line
            log.debug("provider class %s does not import", config.cls)


def plugin_for_type(rtype: str, root: Path | None = None) -> str | None:
    """A provider-specific type (`Route53Provider/ALIAS`) registered by importing its plugin,
    octoDNS's `octodns_<name>` module (octodns_route53): None once registered, else why not.
    A module of that name inside the repository `root` is not an installed plugin: not run."""
    provider, _, _ = rtype.partition("/")
    if not provider.endswith("Provider") or provider == "Provider":
        return "not a record type octoDNS or any plugin knows"
    module = "octodns_" + provider[: -len("Provider")].lower()
    refusal = untrusted(module, (), root)
    if refusal:
        return f"not imported: {refusal}"
    try:
        importlib.import_module(module)
    except ImportError:
        return (f"its plugin, {module} ({provider}), is not installed: pip install {module.replace('_', '-')}"
                f" (or remove the record)")
    except Exception as e:  # a plugin's own import error, whatever it is
        return f"its plugin {module} does not import: {type(e).__name__}: {e}"
    from octodns.record import Record

    return None if rtype in Record.registered_types() else f"{module} registers no type {rtype!r}"


def build_provider(config: ProviderConfig) -> BaseProvider:
    """Instantiate one provider. Constructing does not contact it (octoDNS providers are
    lazy), so this is safe in `validate`. Any problem is a ConfigError at the right line."""

    def fail(message: str, key: str = "class") -> ConfigError:
        return ConfigError([Finding(Severity.ERROR, "config.provider-class", redact(message),
                                    provider=config.name, file=config.file,
                                    line=config.lines.get(key, 1))])

    path = class_path(config.cls)
    try:
        cls = import_class(path, config.trusted_modules, config.root)
    except ImportError as e:
        raise fail(f"provider class {config.cls!r} does not import: {e}") from None
    except Exception as e:  # any error raised while importing the plugin
        raise fail(f"provider class {config.cls!r} does not import: {type(e).__name__}: {e}") from None
    if not (isinstance(cls, type) and issubclass(cls, BaseProvider)):
        raise fail(f"{config.cls!r} is not an octoDNS provider class")
    options: dict[str, Any] = {"strict_supports": False, **config.options}
    try:
        provider = cls(config.name, **options)
    except TypeError as e:
        match = re.search(r"unexpected keyword argument '(\w+)'", str(e))
        if match:
            raise fail(f"provider {config.name!r} ({config.cls}) has no option {match.group(1)!r}",
                       match.group(1)) from None
        match = re.search(r"missing \d+ required positional arguments?: (.+)", str(e))
        if match:
            raise fail(f"provider {config.name!r} ({config.cls}) needs option(s) {match.group(1)}") from None
        raise fail(f"provider {config.name!r} could not be set up: {e}") from None
    except OptionError as e:
        raise fail(f"provider {config.name!r} ({config.cls}): {e}", e.option) from None
    except Exception as e:
        raise fail(f"provider {config.name!r} could not be set up: {type(e).__name__}: {e}") from None
    if config.auto_nameservers and not callable(getattr(provider, "zone_nameservers", None)):
        raise fail(f"provider {config.name!r} ({config.cls}) cannot read its nameservers from its API, so"
                   " 'nameservers: auto' does not work for it: list them (name and address)", "nameservers")
    setattr(provider, DECLARED_ATTR, dict(config.capabilities))
    setattr(provider, HINTS_ATTR, Hints(config.name, config.cls, config.options.get("host"),
                                        config.options.get("port"), dict(config.env)))
    return provider


def build_providers(configs: list[ProviderConfig]) -> dict[str, BaseProvider]:
    """Build every provider, collecting all errors into one ConfigError."""
    providers, findings = {}, []
    for config in configs:
        try:
            providers[config.name] = build_provider(config)
        except ConfigError as e:
            findings.extend(e.findings)
    if findings:
        raise ConfigError(findings)
    return providers
