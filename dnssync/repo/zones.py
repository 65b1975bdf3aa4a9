"""Desired zones: octoDNS YAML zone files in git turned into octoDNS Zone objects.

The file layout is octoDNS's YamlProvider layout, so an octoDNS repository works
unchanged: `zones/example.com.yaml` (also .yml/.json), a split folder
`zones/example.com./*.yaml`, or both (hybrid). Records go through octoDNS's own
`Record.new` validation and zone validators; dnssync adds the checks octoDNS
leaves out (checks.py) and remembers the file and line of every record so each
problem and each later finding can point at it.
"""

from __future__ import annotations

import io
import pickle
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from octodns.record import Record
from octodns.record.exception import ValidationError as RecordValidationError
from octodns.zone import Zone
from octodns.zone.base import DuplicateRecordException

from dnssync.model.cachedzone import CachedZone
from dnssync.model.errors import ConfigError
from dnssync.model.findings import Finding, Severity, has_errors
from dnssync.model.suggest import did_you_mean
from dnssync.repo.config import Config, ZoneFiles, zone_name
from dnssync.repo.fileparts import read_in_parts
from dnssync.repo.targetnames import absolute_targets
from dnssync.repo.yamlfile import Mapping, Sequence, WrittenInt, YamlError, load_file, natural_order
from dnssync.repo.zonefiles import scan

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
    #: records git has that dnssync sends to no provider (a CNAME's neighbours under
    #: `lenient`), each with why; plan reports them as parity findings
    withheld: list[tuple[Record, str]] = field(default_factory=list)

    def location(self, name: str, rtype: str) -> tuple[str | None, int | None]:
        return self.locations.get((name, rtype), (self.files[0] if self.files else None, None))

    @property
    def records(self) -> list[Record]:
        return sorted(self.zone.records, key=lambda r: (r.name, r._type))


def zone_yaml(zone: Zone) -> str:
    """A zone as an octoDNS YAML zone file's text: what octoDNS's own `safe_dump` writes
    (its natural key order, indent, block style, `---`), emitted by libyaml. octoDNS's
    pure-Python emitter took most of a fleet's snapshot (every changed zone is saved
    before an apply, every restored one rendered): 40% of a 200-zone restore's CPU."""
    data: dict[str, list[dict]] = {}
    for record in sorted(zone.records, key=lambda r: (r.name, r._type)):
        data.setdefault(record.name, []).append({**record.data, "type": record._type})
    return yaml.dump({k: v[0] if len(v) == 1 else v for k, v in data.items()}, Dumper=_ZoneDumper,
                     indent=2, default_style="", default_flow_style=False, explicit_start=True)


class _ZoneDumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """libyaml's emitter with octoDNS's representers: every mapping in natural key
    order, every str and dict subclass (octoDNS's value types) as plain str and dict."""

    def natural_mapping(self, data: dict) -> yaml.MappingNode:
        order = natural_order(list(data))
        return self.represent_mapping("tag:yaml.org,2002:map", sorted(data.items(), key=lambda kv: order(kv[0])))


_ZoneDumper.add_representer(dict, _ZoneDumper.natural_mapping)
_ZoneDumper.add_multi_representer(dict, _ZoneDumper.natural_mapping)
_ZoneDumper.add_multi_representer(str, lambda dumper, data: dumper.represent_str(str(data)))  # libyaml: a str


def dump_zone(zone: Zone, path: Path) -> None:
    """Write a zone as an octoDNS YAML zone file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(zone_yaml(zone))


def discover(zones_dir: Path, settings: ZoneFiles | None = None) -> dict[str, list[Path]]:
    """Zone name -> its files, in octoDNS's deterministic (sorted) order (zonefiles.scan
    also says what was skipped)."""
    return scan(zones_dir, settings).zones


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


#: what the servers do with a CNAME beside other data, as seen on the lab's real servers
CNAME_BESIDE_DATA = ("PowerDNS refuses the change (HTTP 422 'Conflicts with pre-existing RRset'); BIND and"
                     " Knot answer the update NOERROR but keep only one side (RFC 2136 3.4.2.2)")
_LENIENT = " (accepted: lenient)"


def _record_lenient(item: Mapping) -> bool:
    octodns = item.get("octodns")
    return isinstance(octodns, dict) and bool(octodns.get("lenient"))


def _strict(data: dict[str, Any]) -> dict[str, Any]:
    """The record's data without its `octodns: {lenient: true}`, so octoDNS reports what
    lenient would hide (it only logs it)."""
    octodns = {k: v for k, v in data["octodns"].items() if k != "lenient"}
    return {**data, "octodns": octodns}


#: why a plugin's record type (`Route53Provider/ALIAS`) is not registered, or None once
#: importing its plugin registered it. Passed in (providers.plugin_for_type) so that the
#: zone loader does not import the provider layer above it.
TypeResolver = Callable[[str, Path | None], str | None]
#: a check of a loaded zone (checks.check_targets, cuts.check_cuts): passed in for the same reason
ZoneCheck = Callable[[DesiredZone], list[Finding]]


#: a record made from a file, not yet in its zone: (record, name as written, type, file, line)
Made = tuple[Record, str, str, str, int]
#: a record made (or None) and the findings reported before it
Step = tuple[list[Finding], Made | None]


class _ZonePickler(pickle.Pickler):
    """Pickles records without their zone (a Record pickles its zone, and so every record
    in it): the zone is named, and `_ZoneUnpickler` puts its own in its place."""

    def __init__(self, file: io.BytesIO, zone: Zone):
        super().__init__(file, pickle.HIGHEST_PROTOCOL)
        self.zone = zone

    def persistent_id(self, obj: Any) -> str | None:
        return "zone" if obj is self.zone else None


class _ZoneUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, zone: Zone):
        super().__init__(file)
        self.zone = zone

    def persistent_load(self, pid: Any) -> Zone:
        if pid != "zone":
            raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")
        return self.zone


class _ZoneBuilder:
    def __init__(self, name: str, sub_zones: set[str], config: Config, type_resolver: TypeResolver | None = None,
                 jobs: int = 1):
        self.zone = CachedZone(name, sub_zones)
        self.jobs = jobs  # processes a large file may be read by
        self.config = config
        self.type_resolver = type_resolver
        self.desired = DesiredZone(name, self.zone, [])
        self.findings: list[Finding] = []
        self.lenient = config.zone_files.is_lenient(name)

    def problem(self, code: str, message: str, file: str, line: int | None,
                name: str | None = None, rtype: str | None = None,
                severity: Severity = Severity.ERROR) -> None:
        self.findings.append(Finding(severity, code, message, zone=self.zone.name,
                                     name=name, type=rtype, file=file, line=line))

    def add_file(self, path: Path) -> None:
        file = str(path)
        self.desired.files.append(file)
        if self.jobs > 1 and self._add_in_parts(path):
            return
        try:
            data, order = load_file(path, self.config.root)
        except YamlError as e:
            self.findings.append(e.finding)
            return
        self.findings.extend(self._key_order(order))
        if data is None:
            return
        if not isinstance(data, Mapping):
            self.problem("config.schema", "a zone file maps record names to records", file, 1)
            return
        for made in self._made(data, file):
            self._place(*made)

    def _made(self, data: Mapping, file: str) -> Iterator[Made]:
        """Each record of a file's top-level mapping made (octoDNS's Record.new, dnssync's
        checks of one record, their findings reported), in file order, not yet in the zone."""
        for name, value in data.items():
            line = data.line_of(name)
            kind = data.typed_keys.get(name)
            if kind is not None:
                self.problem("zone.name-unquoted",
                             f"the name {name!r} is unquoted, and YAML reads it as {kind}: dnssync takes it"
                             f" as written, {_fqdn(name, self.zone)} (never the apex); quote it ('{name}':)"
                             " so every YAML reader agrees", file, line, name, severity=Severity.WARNING)
            items = value if isinstance(value, Sequence) else [value]
            # a record is at its name's line; in a list of records, at its item's line
            item_lines = value.item_lines if isinstance(value, Sequence) else [line]
            for item, item_line in zip(items, item_lines, strict=True):
                made = self._make(str(name) if name is not None else "", item, file, item_line or line)
                if made is not None:
                    yield made

    def _steps(self, data: Mapping, file: str) -> list[Step]:
        """`_made` of a part of a file, each record with the findings made before it
        (taken out of `findings`): `_replay` adds them where one pass would have."""
        start = len(self.findings)
        steps: list[Step] = []
        for made in self._made(data, file):
            steps.append((self.findings[start:], made))
            del self.findings[start:]
        steps.append((self.findings[start:], None))
        del self.findings[start:]
        return steps

    def _replay(self, steps: list[Step]) -> None:
        for findings, made in steps:
            self.findings.extend(findings)
            if made is not None:
                self._place(*made)

    def _add_in_parts(self, path: Path) -> bool:
        """A large file read by up to `jobs` processes (fileparts.py): the records come back
        pickled without their zone (a Record pickles its zone, so every record in it), this
        process's zone put in its place. False when the file is read in one pass instead."""
        read = read_in_parts(path, self.config.root, self.jobs, lambda data: self._steps(data, str(path)),
                             self._send, self._receive)
        if read is None:
            return False
        parts, order = read
        self.findings.extend(self._key_order(order))
        for steps in parts:
            self._replay(steps)
        return True

    def _send(self, steps: list[Step]) -> bytes:
        buffer = io.BytesIO()
        _ZonePickler(buffer, self.zone).dump(steps)
        return buffer.getvalue()

    def _receive(self, sent: bytes) -> list[Step]:
        return _ZoneUnpickler(io.BytesIO(sent), self.zone).load()

    def _key_order(self, order: list[Finding]) -> list[Finding]:
        """Key-order findings that say what the repository's setting makes of them."""
        where = self.config.zone_files.order_from
        if self.config.defaults.enforce_order:
            return [Finding(Severity.ERROR, f.code, f"{f.message}. Refused: enforce_order is true ({where});"
                            " sort the keys, or set enforce_order: false there", file=f.file, line=f.line)
                    for f in order]
        why = (f"enforce_order is false ({where})" if where else
               "dnssync.yaml does not set defaults.enforce_order (off by default); octoDNS's YamlProvider"
               " refuses it unless its enforce_order is false")
        return [Finding(Severity.WARNING, f.code, f"{f.message}. Accepted: {why}", file=f.file, line=f.line)
                for f in order]

    def _prepare(self, item: dict[str, Any]) -> dict[str, Any]:
        data: dict[str, Any] = dict(item)
        data.setdefault("ttl", self.config.defaults.default_ttl)
        if not self.config.defaults.escaped_semicolons and data.get("type") in ("TXT", "SPF"):
            for key in ("value", "values"):
                if isinstance(data.get(key), str):
                    data[key] = data[key].replace(";", "\\;")
                elif isinstance(data.get(key), list):
                    data[key] = [v.replace(";", "\\;") if isinstance(v, str) else v for v in data[key]]
        return data

    def _new_record(self, name: str, item: Mapping, file: str, line: int) -> Record | None:
        """octoDNS's Record.new with every reason reported at its line: an error, or under
        lenient (the zone's or the record's) a warning and the record kept, as octoDNS keeps it."""
        rtype = str(item["type"])
        data, relative = absolute_targets(item, line)
        for target in relative:
            self.problem("zone.relative-target",
                         f"{_fqdn(name, self.zone)} {rtype} target {target.written!r} has no trailing dot:"
                         f" every provider serves the absolute name {target.written}. (as Route53 reads"
                         f" it), never one relative to the zone; write `{target.written}.`",
                         file, target.line, name, rtype, Severity.WARNING)
        data = self._prepare(data)
        record_lenient = _record_lenient(item)
        lenient = self.lenient or record_lenient
        try:
            record = Record.new(self.zone, name, _strict(data) if record_lenient else data, lenient=False)
        except RecordValidationError as e:
            for reason in e.reasons:
                code = _VALIDATOR_CODES.get(getattr(reason, "validator_id", None) or "", "zone.record")
                self.problem(code, f"{_fqdn(name, self.zone)}: {reason}" + (_LENIENT if lenient else ""),
                             file, _line_of_reason(str(reason), item, line), name, rtype,
                             Severity.WARNING if lenient else Severity.ERROR)
            if not lenient:
                return None
            record = None
        except Exception as e:  # octoDNS raises bare Exception for an unknown type
            code = "zone.record-type" if "Unknown record type" in str(e) else "zone.record"
            message = str(e).split(", " + file)[0]
            if code == "zone.record-type" and "/" in rtype and self.type_resolver:  # its plugin registers it
                why = self.type_resolver(rtype, self.config.root)
                if why is None:
                    return self._new_record(name, item, file, line)
                message = f"record type {rtype!r}: {why}"
            elif code == "zone.record-type":
                message += did_you_mean(rtype, sorted(Record.registered_types()))
            self.problem(code, f"{_fqdn(name, self.zone)}: {message}", file, _line_of_reason(message, item, line),
                         name, rtype)
            return None
        if record is None or record_lenient:
            try:
                record = Record.new(self.zone, name, data, lenient=True)
            except Exception as e:  # lenient skips validation, not building: octoDNS cannot hold it
                self.problem("zone.record", f"{_fqdn(name, self.zone)}: octoDNS cannot build this"
                             f" record, lenient or not: {e}", file, line, name, rtype)
                return None
        return record

    def _sub_zone_of(self, name: str, rtype: str) -> str | None:
        """The managed sub-zone a record belongs to (octoDNS's rule), or None."""
        if name in self.zone.sub_zones:
            return None if rtype in ("NS", "DS") else name
        return next((sub for sub in self.zone.sub_zones if name.endswith(f".{sub}")), None)

    def _make(self, name: str, item: Any, file: str, line: int) -> Made | None:
        """One record made and checked by itself, or None (each reason reported)."""
        if not isinstance(item, Mapping):
            self.problem("config.schema", f"record {name!r} must be a mapping with a type", file, line, name)
            return None
        rtype = str(item.get("type", ""))
        if not rtype:
            self.problem("zone.record", f"record {name!r} has no type", file, line, name)
            return None
        if "ttl" in item and not self._ttl_ok(item, name, rtype, file):
            return None
        record = self._new_record(name, item, file, line)
        if record is None:
            return None
        lenient = self.lenient or record.lenient
        sub = self._sub_zone_of(record.name, rtype)
        if sub is not None:
            self.problem("zone.subzone", f"Record {record.fqdn} is under a managed subzone ({sub}."
                         f"{self.zone.name} has its own zone file)" + (_LENIENT if lenient else ""),
                         file, line, name, rtype, Severity.WARNING if lenient else Severity.ERROR)
            if not lenient:
                return None
        return record, name, rtype, file, line

    def _place(self, record: Record, name: str, rtype: str, file: str, line: int) -> None:
        """A made record into the zone, in file order (a duplicate is reported here)."""
        try:
            self.zone.add_record(record, lenient=self.lenient or record.lenient)
        except DuplicateRecordException:
            first = self.desired.locations.get((record.name, rtype))
            where = f" (first at {first[0]}:{first[1]})" if first else ""
            self.problem("zone.duplicate", f"{record.fqdn} {rtype} is defined twice{where}",
                         file, line, name, rtype)
            return
        self.desired.locations[(record.name, rtype)] = (file, line)

    def _ttl_ok(self, item: Mapping, name: str, rtype: str, file: str) -> bool:
        """octoDNS takes `int(ttl)`: `true` becomes 1, `300.7` 300, the string "3000000000"
        skips every range check, and YAML 1.1 reads `01234` as octal 668. Refuse what
        would silently change; take a numeric string as octoDNS does, with a warning."""
        ttl, line = item["ttl"], item.line_of("ttl")

        def refuse(code: str, message: str) -> bool:
            self.problem(code, message, file, line, name, rtype)
            return False

        if isinstance(ttl, bool) or not isinstance(ttl, int | str):
            shown = str(ttl).lower() if isinstance(ttl, bool) else repr(ttl)
            return refuse("zone.ttl", f"TTL {shown} is not a whole number of seconds (octoDNS would"
                                      f" silently use {_int_or(ttl)})")
        if isinstance(ttl, WrittenInt):
            return refuse("zone.ttl", f"TTL {ttl.written} is read by YAML as {int(ttl)} (octal, hex or"
                                      " sexagesimal): write the number in plain decimal")
        if isinstance(ttl, str):
            if not _DECIMAL.fullmatch(ttl.strip()):
                return refuse("zone.ttl", f"TTL {ttl!r} is not a whole number of seconds")
            if not 0 <= int(ttl) <= 2**31 - 1:
                return refuse("zone.ttl-range", f"TTL {ttl!r} (a string, so octoDNS checks no range) is"
                                                " outside 0 .. 2147483647 (RFC 2181 8)")
            self.problem("zone.ttl", f"TTL {ttl!r} is written as a string; taken as {int(ttl)} as octoDNS"
                                     " does (write it without quotes)", file, line, name, rtype,
                         Severity.WARNING)
        elif not 0 <= ttl <= 2**31 - 1:
            return refuse("zone.ttl-range", f"TTL {ttl} is outside 0 .. 2147483647 (RFC 2181 8)")
        return True

    def validate_zone(self) -> None:
        """octoDNS's zone validators; under lenient (the zone's, or every record's involved)
        each reason is a warning, as octoDNS logs it, and a CNAME keeps its name alone."""
        for reason in self.zone.validators.process_zone(self.zone):
            records = sorted(getattr(reason, "records", ()) or (), key=lambda r: (r.name, r._type))
            validator = getattr(reason, "validator_id", None) or ""
            lenient = self.lenient or bool(records and getattr(reason, "lenient", False))
            cname = next((r for r in records if r._type == "CNAME"), None)
            if validator == "cname-coexistence" and cname is not None:
                self._cname_beside_data(cname, records, lenient)
                continue
            code = _VALIDATOR_CODES.get(validator, "zone.zone")
            if records:
                file, line = self.desired.location(records[-1].name, records[-1]._type)
                name = records[-1].name
            else:
                file, line, name = (self.desired.files or [None])[0], None, None
            self.problem(code, str(reason) + (_LENIENT if lenient else ""), file or "", line, name,
                         severity=Severity.WARNING if lenient else Severity.ERROR)

    def _cname_beside_data(self, cname: Record, records: list[Record], lenient: bool) -> None:
        """RFC 1034 3.6.2: an error at the CNAME's line; under lenient the CNAME is sent
        alone and the rest withheld from every provider (plan names them), so all
        providers serve the same thing and none refuses the change."""
        others = [r for r in records if r is not cname]
        kinds = ", ".join(r._type for r in others)
        file, line = self.desired.location(cname.name, "CNAME")
        what = (f"{cname.fqdn} CNAME beside {kinds} at the same name is invalid DNS (RFC 1034 3.6.2):"
                f" {CNAME_BESIDE_DATA}")
        if not lenient:
            self.problem("zone.cname-other", f"{what}. Keep the CNAME alone at its name, or move the {kinds}"
                         " elsewhere", file or "", line, cname.name, "CNAME")
            return
        self.problem("zone.cname-other", f"{what}. Under lenient dnssync sends every provider the CNAME"
                     f" alone and withholds the {kinds} (plan lists them)", file or "", line, cname.name, "CNAME",
                     Severity.WARNING)
        for record in others:
            self.zone.remove_record(record)
            self.desired.withheld.append((record, f"beside the CNAME at {cname.fqdn} (lenient)"))


_DECIMAL = re.compile(r"[-+]?[0-9]+")


def _int_or(value: Any) -> str:
    try:
        return str(int(value))
    except (TypeError, ValueError):
        return "nothing: it fails"


def zone_name_problem(name: str) -> str | None:
    """Why a zone name taken from a file name is not a DNS name no server would take
    (a 64-octet label, an empty label from `..`, white space), or None."""
    if any(c.isspace() for c in name):
        return "contains white space"
    labels = name.rstrip(".").split(".")
    if name != "." and any(not label for label in labels):
        return "has an empty label ('..' or a leading dot)"
    long = [label for label in labels if len(label) > 63]
    if long:
        return f"has a label of {len(long[0])} octets, max is 63 (RFC 1035 2.3.4)"
    if len(name) > 254:
        return f"is {len(name) - 1} octets long, max is 253 (RFC 1035 2.3.4)"
    return None


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


def load_zones(config: Config, only: list[str] | None = None, checks: Iterable[ZoneCheck] = (),
               type_resolver: TypeResolver | None = None,
               sources: dict[str, list[Path]] | None = None,
               jobs: int = 1) -> tuple[list[DesiredZone], list[Finding]]:
    """Load every zone in the repository (or only the named ones), each checked by `checks`
    (repo.checked_zones passes dnssync's), a plugin's record type registered by `type_resolver`.
    `sources`: the zone files, when the caller has scanned them already (`discover`'s).
    `jobs`: processes a large zone file may be read by (fileparts.py).

    Raises ConfigError when any zone has an error; returns the zones and the
    warnings otherwise."""
    if sources is None:
        sources = discover(config.zones_dir, config.zone_files)
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
        problem = zone_name_problem(name)
        if problem:
            findings.append(Finding(Severity.ERROR, "zone.name", f"zone name {name!r} (from the file name) {problem}",
                                    zone=name, file=str(sources[name][0])))
            continue
        builder = _ZoneBuilder(name, subs.get(name, set()), config, type_resolver, jobs)
        for path in sources[name]:
            builder.add_file(path)
        if not has_errors(builder.findings):
            builder.validate_zone()
        for check in checks:
            builder.findings.extend(check(builder.desired))
        findings.extend(builder.findings)
        zones.append(builder.desired)
    if has_errors(findings):
        raise ConfigError(findings)
    return zones, findings
