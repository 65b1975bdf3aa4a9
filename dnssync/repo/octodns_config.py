"""Read an existing octoDNS repository's config (`--octodns-config FILE`).

A user with an octoDNS repo can point dnssync at it unchanged: the zones come
from its YamlProvider source's folder (with its options: default_ttl,
enforce_order, escaped_semicolons), and its targets become dnssync providers
serving the zones that list them. octoDNS configs name no nameservers, so
verify-type commands can only check providers once nameservers are known.
"""

from __future__ import annotations

import os
from pathlib import Path

from dnssync.model.findings import Finding
from dnssync.model.secrets import redact
from dnssync.repo.config import (
    Checker,
    Config,
    Defaults,
    ProviderConfig,
    ZoneFiles,
    env_names,
    load_data,
    resolve_env,
    zone_name,
)
from dnssync.repo.plugins import class_path, import_class
from dnssync.repo.yamlfile import Mapping

_YAML_SOURCES = ("octodns.provider.yaml.YamlProvider", "octodns.provider.yaml.SplitYamlProvider")


def _source_options(name: str, options: Mapping, defaults: Defaults, files: ZoneFiles, checker: Checker) -> None:
    """The YamlProvider source's options that change what its zones contain and which files they are."""
    defaults.default_ttl = checker.typed(options, "default_ttl", int, defaults.default_ttl)
    defaults.enforce_order = bool(options.get("enforce_order", True))
    files.order_from = (f"enforce_order of YamlProvider {name!r}, {options.file}:{options.line_of('enforce_order')}"
                        if "enforce_order" in options else
                        f"octoDNS's default for YamlProvider {name!r}, {options.file}:{options.line}")
    if options.get("escaped_semicolons") is not None:
        defaults.escaped_semicolons = bool(options["escaped_semicolons"])
    if str(options.get("class")).endswith("SplitYamlProvider"):
        files.split_extension = str(options.get("extension", "."))
    else:
        split = options.get("split_extension")
        files.split_extension = str(split) if split else None
    files.suffixes = (".yaml",)  # octoDNS reads no other zone files
    files.zonefile = not options.get("disable_zonefile", False)
    files.shared = str(options["shared_filename"]) if options.get("shared_filename") else None


def config_from_octodns(path: Path, offline: bool = False) -> tuple[Config | None, list[Finding]]:
    """The octoDNS config as a dnssync Config, and every finding (as read_config)."""
    checker = Checker(offline, path.resolve().parent)
    file = str(path)
    data = checker.mapping(load_data(path, checker), file, "octoDNS config")
    if data is None:
        return None, checker.findings
    providers = checker.mapping(data.get("providers"), file, "providers") or Mapping()
    zones = checker.mapping(data.get("zones"), file, "zones") or Mapping()
    defaults = Defaults()
    files = ZoneFiles(declared=[])
    manager = checker.mapping(data.get("manager"), file, "manager") or Mapping()
    defaults.concurrency = checker.typed(manager, "max_workers", int, defaults.concurrency)
    resolved = {}
    for name, options in providers.items():  # octoDNS builds every provider, used or not
        if not isinstance(options, Mapping) or "class" not in options:
            checker.error("config.schema", f"provider {name!r} needs a class", file, providers.line_of(name))
            continue
        try:
            import_class(class_path(str(options["class"])), root=path.parent)
        except Exception as e:  # the plugin's own import error, whatever it is
            checker.error("config.provider-class", redact(f"provider {name!r}: class {options['class']!r} does"
                          f" not import: {type(e).__name__}: {e}"), file, options.line_of("class"))
        resolved[name] = {k: resolve_env(v, k, options, checker) for k, v in options.items() if k != "class"}
    if not zones:
        checker.error("config.schema", "no zones configured", file, data.line_of("zones"))
    zones_dir: Path | None = None
    targets: dict[str, list[str]] = {}
    every: set[str] = set()  # "*" when the config has dynamic zones, and the targets serving them all
    for name, zone in zones.items():
        if not isinstance(zone, Mapping):
            checker.error("config.schema", f"zone {name!r} must be a mapping", file, zones.line_of(name))
            continue
        for source in zone.get("sources") or []:
            options = providers.get(source)
            if options is None:
                checker.error("config.schema", f"zone {name!r} names unknown source {source!r}", file,
                              zone.line_of("sources"))
            elif options.get("class") in _YAML_SOURCES and zones_dir is None:
                directory = Path(str(resolved.get(source, {}).get("directory") or "."))
                zones_dir = directory if directory.is_absolute() or directory.exists() else path.parent / directory
                _source_options(str(source), options, defaults, files, checker)
        dynamic = str(name) == "*"  # octoDNS's dynamic zones: every zone its source lists
        if dynamic:
            every.add("*")
        else:
            files.declared.append(zone_name(name))
        if zone.get("lenient"):
            files.lenient.add("*" if dynamic else zone_name(name))
        for target in zone.get("targets") or []:
            if target not in providers:
                checker.error("config.schema", f"zone {name!r} names unknown target {target!r}", file,
                              zone.line_of("targets"))
            elif dynamic:
                every.add(target)
            else:
                targets.setdefault(target, []).append(zone_name(name))
    if zones_dir is None and zones:
        checker.error("config.schema", "no zone has a YamlProvider source, so dnssync finds no zone files",
                      file, data.line_of("zones"))
    if "*" in every:
        files.declared = None
    zones_dir = zones_dir or path.parent
    # the repository: the config's folder and the zones folder it names (often ../zones)
    root = Path(os.path.commonpath([path.resolve().parent, zones_dir.resolve()]))
    config = Config(root=root, file=file, zones_dir=zones_dir, providers={}, defaults=defaults, zone_files=files)
    for target in every - {"*"}:
        targets.setdefault(target, [])
    for target, served in targets.items():
        options = providers[target]
        if target not in resolved:
            continue
        config.providers[target] = ProviderConfig(
            name=target, cls=str(options.get("class")), options=resolved[target], nameservers=[],
            zones=None if target in every else served,
            file=file, lines={"class": options.line_of("class")}, env=env_names(options),
        )
        checker.warn("config.provider-nameservers",
                     f"octoDNS provider {target!r} names no nameservers; verify cannot check it",
                     file, providers.line_of(target))
    return config, checker.findings
