"""Desired zones: octoDNS YAML zone files in git turned into octoDNS Zone objects.

The file layout is octoDNS's YamlProvider layout, so an octoDNS repository works
unchanged: `zones/example.com.yaml` (also .yml/.json), a split folder
`zones/example.com./*.yaml`, or both (hybrid). Records go through octoDNS's own
`Record.new` validation and zone validators; dnssync adds the checks octoDNS
leaves out (checks.py) and remembers the file and line of every record so each
problem and each later finding can point at it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from octodns.record import Record
from octodns.record.exception import ValidationError as RecordValidationError
from octodns.zone import Zone
from octodns.zone.base import DuplicateRecordException, SubzoneRecordException
from octodns.zone.exception import ValidationError as ZoneValidationError

from dnssync.config import Config, zone_name
from dnssync.errors import ConfigError
from dnssync.findings import Finding, Severity, has_errors
from dnssync.yamlfile import Mapping, Sequence, YamlError, load_file

ZONE_SUFFIXES = (".yaml", ".yml", ".json")

#: octoDNS validator ids mapped to dnssync finding codes
_VALIDATOR_CODES = {
    "cname-root-rfc": "zone.cname-apex",
    "root-cname": "zone.cname-apex",
    "cname-coexistence": "zone.cname-other",
    "name-rfc": "zone.name",
    "ttl-rfc": "zone.ttl-range",
}


@dataclass
class DesiredZone:
    """One zone as git says it should be, with where each record was written."""

    name: str
    zone: Zone
    files: list[str]
    locations: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)

    def location(self, name: str, rtype: str) -> tuple[str | None, int | None]:
        return self.locations.get((name, rtype), (self.files[0] if self.files else None, None))

    @property
    def records(self) -> list[Record]:
        return sorted(self.zone.records, key=lambda r: (r.name, r._type))


def dump_zone(zone: Zone, path: Path) -> None:
    """Write a zone as an octoDNS YAML zone file (octoDNS's own dumper and key order)."""
    from octodns.yaml import safe_dump

    data: dict[str, list[dict]] = {}
    for record in sorted(zone.records, key=lambda r: (r.name, r._type)):
        data.setdefault(record.name, []).append({**record.data, "type": record._type})
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        safe_dump({k: v[0] if len(v) == 1 else v for k, v in data.items()}, handle)


def discover(zones_dir: Path) -> dict[str, list[Path]]:
    """Zone name -> its files, in octoDNS's deterministic (sorted) order."""
    found: dict[str, list[Path]] = {}
    if not zones_dir.is_dir():
        return found
    for entry in sorted(zones_dir.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_file() and entry.suffix in ZONE_SUFFIXES:  # `lan.yaml` is the zone `lan.`
            found.setdefault(zone_name(entry.stem), []).append(entry)
        elif entry.is_dir() and entry.name.endswith("."):
            files = sorted(p for p in entry.iterdir() if p.is_file() and p.suffix in ZONE_SUFFIXES)
            found.setdefault(zone_name(entry.name), []).extend(files)
    return {name: sorted(files) for name, files in sorted(found.items())}


def sub_zones_of(name: str, all_names: list[str]) -> set[str]:
    """Relative names of the zones in the repository that sit below `name`,
    which octoDNS needs so records under them are rejected from the parent."""
    return all_sub_zones([*all_names, name])[name]


def all_sub_zones(all_names: list[str]) -> dict[str, set[str]]:
    """`sub_zones_of` for every zone at once, by walking each name's parents: a fleet
    of 20,000 zones takes 20,000 short walks, not 20,000 scans of 20,000 names."""
    names = set(all_names)
    found: dict[str, set[str]] = {name: set() for name in names}
    for other in names:
        labels = other.split(".")
        for cut in range(1, len(labels) - 1):
            parent = ".".join(labels[cut:])
            if parent in names:
                found[parent].add(".".join(labels[:cut]))
    return found


class _ZoneBuilder:
    def __init__(self, name: str, sub_zones: set[str], config: Config):
        self.zone = Zone(name, sub_zones)
        self.config = config
        self.desired = DesiredZone(name, self.zone, [])
        self.findings: list[Finding] = []

    def problem(self, code: str, message: str, file: str, line: int | None,
                name: str | None = None, rtype: str | None = None,
                severity: Severity = Severity.ERROR) -> None:
        self.findings.append(Finding(severity, code, message, zone=self.zone.name,
                                     name=name, type=rtype, file=file, line=line))

    def add_file(self, path: Path) -> None:
        file = str(path)
        self.desired.files.append(file)
        try:
            data, order = load_file(path)
        except YamlError as e:
            self.findings.append(e.finding)
            return
        if self.config.defaults.enforce_order:
            order = [Finding(Severity.ERROR, f.code, f.message, file=f.file, line=f.line) for f in order]
        self.findings.extend(order)
        if data is None:
            return
        if not isinstance(data, Mapping):
            self.problem("config.schema", "a zone file maps record names to records", file, 1)
            return
        for name, value in data.items():
            line = data.line_of(name)
            items = value if isinstance(value, Sequence) else [value]
            # a record is at its name's line; in a list of records, at its item's line
            item_lines = value.item_lines if isinstance(value, Sequence) else [line]
            for item, item_line in zip(items, item_lines, strict=True):
                self.add_record(str(name) if name is not None else "", item, file, item_line or line)

    def _prepare(self, item: Mapping) -> dict[str, Any]:
        data: dict[str, Any] = dict(item)
        data.setdefault("ttl", self.config.defaults.default_ttl)
        if not self.config.defaults.escaped_semicolons and data.get("type") in ("TXT", "SPF"):
            for key in ("value", "values"):
                if isinstance(data.get(key), str):
                    data[key] = data[key].replace(";", "\\;")
                elif isinstance(data.get(key), list):
                    data[key] = [v.replace(";", "\\;") if isinstance(v, str) else v for v in data[key]]
        return data

    def add_record(self, name: str, item: Any, file: str, line: int) -> None:
        if not isinstance(item, Mapping):
            self.problem("config.schema", f"record {name!r} must be a mapping with a type", file, line, name)
            return
        rtype = str(item.get("type", ""))
        if not rtype:
            self.problem("zone.record", f"record {name!r} has no type", file, line, name)
            return
        ttl = item.get("ttl")
        if isinstance(ttl, int) and not isinstance(ttl, bool) and not 0 <= ttl <= 2**31 - 1:
            self.problem("zone.ttl-range", f"TTL {ttl} is outside 0 .. 2147483647 (RFC 2181 8)",
                         file, item.line_of("ttl"), name, rtype)
            return
        try:
            record = Record.new(self.zone, name, self._prepare(item), lenient=False)
        except RecordValidationError as e:
            for reason in e.reasons:
                code = _VALIDATOR_CODES.get(getattr(reason, "validator_id", None) or "", "zone.record")
                self.problem(code, f"{_fqdn(name, self.zone)}: {reason}", file,
                             _line_of_reason(str(reason), item, line), name, rtype)
            return
        except Exception as e:  # octoDNS raises bare Exception for an unknown type
            code = "zone.record-type" if "Unknown record type" in str(e) else "zone.record"
            message = str(e).split(", " + file)[0]
            self.problem(code, f"{_fqdn(name, self.zone)}: {message}", file, _line_of_reason(message, item, line),
                         name, rtype)
            return
        try:
            self.zone.add_record(record)
        except DuplicateRecordException:
            first = self.desired.locations.get((record.name, rtype))
            where = f" (first at {first[0]}:{first[1]})" if first else ""
            self.problem("zone.duplicate", f"{record.fqdn} {rtype} is defined twice{where}",
                         file, line, name, rtype)
            return
        except SubzoneRecordException as e:
            self.problem("zone.subzone", str(e).split(", ")[0], file, line, name, rtype)
            return
        self.desired.locations[(record.name, rtype)] = (file, line)

    def validate_zone(self) -> None:
        try:
            self.zone.validate()
        except ZoneValidationError as e:
            for reason in e.reasons:
                records = sorted(getattr(reason, "records", ()) or (), key=lambda r: (r.name, r._type))
                code = _VALIDATOR_CODES.get(getattr(reason, "validator_id", None) or "", "zone.zone")
                if records:
                    file, line = self.desired.location(records[-1].name, records[-1]._type)
                    name = records[-1].name
                else:
                    file, line, name = (self.desired.files or [None])[0], None, None
                self.problem(code, str(reason), file or "", line, name)


def _fqdn(name: str, zone: Zone) -> str:
    return f"{name}.{zone.decoded_name}" if name else zone.decoded_name


def _line_of_reason(reason: str, item: Mapping, default: int) -> int:
    """Point at the value a reason quotes (e.g. the bad IP address), else at the record."""
    def walk(node: Any, line: int) -> int | None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                found = walk(value, node.value_lines.get(key, line))
                if found:
                    return found
        elif isinstance(node, Sequence):
            for value, value_line in zip(node, node.item_lines, strict=True):
                found = walk(value, value_line)
                if found:
                    return found
        elif node is not None and str(node) and f'"{node}"' in reason:
            return line
        return None

    return walk(item, default) or default


def load_zones(config: Config, only: list[str] | None = None) -> tuple[list[DesiredZone], list[Finding]]:
    """Load every zone in the repository (or only the named ones) with dnssync's checks.

    Raises ConfigError when any zone has an error; returns the zones and the
    warnings otherwise."""
    from dnssync.checks import check_zone

    sources = discover(config.zones_dir)
    wanted = [zone_name(z) for z in only] if only is not None else list(sources)
    findings: list[Finding] = []
    zones: list[DesiredZone] = []
    subs = all_sub_zones(list(sources))
    for name in wanted:
        if name not in sources:
            findings.append(Finding(Severity.ERROR, "config.zone-unknown",
                                    f"no zone file for {name} in {config.zones_dir}", zone=name,
                                    file=str(config.zones_dir)))
            continue
        builder = _ZoneBuilder(name, subs.get(name, set()), config)
        for path in sources[name]:
            builder.add_file(path)
        if not has_errors(builder.findings):
            builder.validate_zone()
        builder.findings.extend(check_zone(builder.desired))
        findings.extend(builder.findings)
        zones.append(builder.desired)
    if has_errors(findings):
        raise ConfigError(findings)
    return zones, findings
