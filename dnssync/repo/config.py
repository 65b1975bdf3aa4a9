"""Load and check a user's repository: dnssync.yaml and providers/*.yaml.

The result is plain data (`Config`, `ProviderConfig`); nothing here imports a
provider class or contacts anything. Every problem becomes a Finding with the
file and line, and all of them are collected (the caller raises ConfigError), so
the user fixes a file in one pass. Secrets are written `env/VAR`: they are read
from the environment here and registered for redaction before anything can log.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from octodns.record import Record
from octodns.record.exception import ValidationError
from octodns.zone import Zone

from dnssync.model import secrets
from dnssync.model.address import Nameserver, parse_address
from dnssync.model.findings import Finding, Severity
from dnssync.providers.capabilities import DECLARABLE, DECLARABLE_FLAGS
from dnssync.repo.yamlfile import Mapping, Sequence, YamlError, load_file

CONFIG_FILE = "dnssync.yaml"
ENV_PREFIX = "env/"
#: keys of a provider file that dnssync reads; every other key is the plugin's option
PROVIDER_KEYS = {"class", "nameservers", "zones", "canary", "capabilities"}
PARITY_MODES = ("error", "warn")
#: policy.alias: flatten ALIAS to A/AAAA where a provider cannot hold it (see planning/flatten.py),
#: leave it to the parity gate, or refuse ALIAS records a provider cannot hold
ALIAS_MODES = ("flatten", "native-only", "error")
#: policy.dnssec: no provider may sign on its own, or every provider signs (RFC 8901 model 2)
DNSSEC_MODES = ("unsigned", "multi-signer")
#: policy.dnssec.expiry_margin units: a signature expiring sooner is a warning
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass
class ProviderConfig:
    name: str
    cls: str
    options: dict[str, Any]
    nameservers: list[Nameserver]
    zones: list[str] | None
    file: str
    canary: bool = False
    lines: dict[str, int] = field(default_factory=dict)
    capabilities: dict[str, int] = field(default_factory=dict)  # declared normalisations, rules (min_ttl...)
    env: dict[str, str] = field(default_factory=dict)  # option -> the environment variable it reads
    #: where provider classes may come from beyond octoDNS's packages and dnssync (`trusted_modules:`)
    trusted_modules: tuple[str, ...] = ()
    root: Path | None = None  # the repository: a provider module found inside it is not installed
    #: `nameservers: auto`: the names come from the provider's API per zone (repo/nameservers.py),
    #: asked at `auto_address` when given, else wherever the names resolve
    auto_nameservers: bool = False
    auto_address: tuple[str, int] | None = None
    zone_nameservers: dict[str, list[Nameserver]] = field(default_factory=dict)

    def serves(self, zone: str) -> bool:
        return self.zones is None or zone in self._zone_set

    @cached_property
    def _zone_set(self) -> frozenset[str]:
        """`zones` as a set: a provider listing 20,000 zones is asked about each of them."""
        return frozenset(self.zones or ())

    def nameservers_for(self, zone: str) -> list[Nameserver]:
        """This provider's nameservers for `zone` (read from its API with `auto`)."""
        return self.zone_nameservers.get(zone, self.nameservers)


@dataclass
class Policy:
    update_threshold: float = 0.3
    delete_threshold: float = 0.3
    parity: str = "error"
    parity_zones: dict[str, str] = field(default_factory=dict)
    parity_types: dict[str, str] = field(default_factory=dict)
    alias: str = "flatten"
    alias_zones: dict[str, str] = field(default_factory=dict)
    alias_records: dict[str, str] = field(default_factory=dict)  # record FQDN -> mode
    #: flattened TTL = min(record TTL, max(target TTL, floor)): a CDN's 20 s TTL does not
    #: become the zone's unless the floor says so
    alias_ttl_floor: int = 60
    dnssec: str = "unsigned"
    dnssec_zones: dict[str, str] = field(default_factory=dict)
    #: seconds: an RRSIG expiring within this is a warning (resolvers fail once it has expired)
    dnssec_expiry_margin: int = 3 * 86400

    def dnssec_for(self, zone: str) -> str:
        """The DNSSEC mode of one zone: per zone beats the default."""
        return self.dnssec_zones.get(zone, self.dnssec)

    def alias_for(self, zone: str, fqdn: str) -> str:
        """The ALIAS mode for one record: per record beats per zone beats the default."""
        return self.alias_records.get(fqdn.lower(), self.alias_zones.get(zone, self.alias))

    def parity_for(self, zone: str, rtype: str) -> str:
        """The parity mode for one record: per type beats per zone beats the default."""
        return self.parity_types.get(rtype, self.parity_zones.get(zone, self.parity))


@dataclass
class Defaults:
    timeout: float = 5.0
    concurrency: int = 8
    retries: int = 3
    backoff: float = 1.0
    default_ttl: int = 3600
    escaped_semicolons: bool = True
    enforce_order: bool = False


@dataclass
class ApexNs:
    """How dnssync manages each zone's apex NS RRset (the union of all providers)."""

    manage: bool = True
    ttl: int = 3600


#: where a walk from the root starts when no parent is configured (a.-m.root-servers.net)
ROOT_SERVERS = (
    "198.41.0.4", "170.247.170.2", "192.33.4.12", "199.7.91.13", "192.203.230.10", "192.5.5.241",
    "192.112.36.4", "198.97.190.53", "192.36.148.17", "192.58.128.30", "193.0.14.129",
    "199.7.83.42", "202.12.27.33",
)


@dataclass
class ParentSettings:
    """Where the delegation check asks for each zone's delegation (`parent:` in dnssync.yaml).

    By default it walks from the root servers down, as a resolver does; private and
    test setups name the parent zone's nameservers instead, for every zone or per zone.
    `check: false` leaves the delegation out of a full verify, for setups that have no
    parent at all (the embedded demo; zones not yet delegated anywhere)."""

    check: bool = True
    nameservers: list[Nameserver] = field(default_factory=list)
    zones: dict[str, list[Nameserver]] = field(default_factory=dict)
    roots: list[Nameserver] = field(
        default_factory=lambda: [Nameserver(a, a) for a in ROOT_SERVERS])
    own_roots: bool = False  # `roots:` given: a private root, which may hold any name

    def servers_for(self, zone: str) -> list[Nameserver]:
        """The configured parent nameservers of `zone` (empty: find them from the root)."""
        return self.zones.get(zone, self.nameservers)


@dataclass
class ZoneFiles:
    """How zone files are found and read: octoDNS YamlProvider's layout options, which
    zones are declared (an octoDNS config lists them; dnssync.yaml: every zone file)
    and which are lenient (`lenient: [zone, "*"]`, octoDNS's per-zone `lenient: true`)."""

    split_extension: str | None = "."
    declared: list[str] | None = None
    suffixes: tuple[str, ...] = (".yaml", ".yml", ".json")
    zonefile: bool = True  # octoDNS's disable_zonefile: false
    shared: str | None = None  # octoDNS's shared_filename: a file every zone includes
    lenient: set[str] = field(default_factory=set)
    #: where `enforce_order` was set ("file:line" and the setting's name), None: dnssync's default
    order_from: str | None = None

    def is_lenient(self, zone: str) -> bool:
        return "*" in self.lenient or zone in self.lenient


@dataclass
class Config:
    root: Path
    file: str
    zones_dir: Path
    providers: dict[str, ProviderConfig]
    resolvers: list[str] = field(default_factory=list)
    state_dir: Path = Path(".dnssync")
    policy: Policy = field(default_factory=Policy)
    defaults: Defaults = field(default_factory=Defaults)
    apex_ns: ApexNs = field(default_factory=ApexNs)
    parent: ParentSettings = field(default_factory=ParentSettings)
    zone_files: ZoneFiles = field(default_factory=ZoneFiles)

    def providers_for(self, zone: str) -> list[ProviderConfig]:
        return [p for p in self.providers.values() if p.serves(zone)]


class Checker:
    """Collects findings while walking a loaded file. `offline` (reviewing a change
    without provider access, e.g. a pull request from a fork) tolerates missing secrets."""

    def __init__(self, offline: bool = False, root: Path | None = None) -> None:
        self.findings: list[Finding] = []
        self.offline = offline
        self.root = root  # the repository: files are read only inside it

    def error(self, code: str, message: str, file: str, line: int | None) -> None:
        self.findings.append(Finding(Severity.ERROR, code, message, file=file, line=line))

    def warn(self, code: str, message: str, file: str, line: int | None) -> None:
        self.findings.append(Finding(Severity.WARNING, code, message, file=file, line=line))

    def mapping(self, data: Any, file: str, what: str) -> Mapping | None:
        if data is None:
            data = Mapping()
            data.file = file
        if not isinstance(data, Mapping):
            self.error("config.schema", f"{what} must be a mapping", file, getattr(data, "line", 1))
            return None
        return data

    def unknown_keys(self, data: Mapping, allowed: set[str], what: str) -> None:
        for key in data:
            if key not in allowed:
                known = ", ".join(sorted(allowed))
                self.error(
                    "config.schema",
                    f"unknown key {key!r} in {what} (known: {known})",
                    data.file,
                    data.line_of(key),
                )

    def typed(self, data: Mapping, key: str, kind: type | tuple[type, ...], default: Any) -> Any:
        if key not in data:
            return default
        value = data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds:
            value = None  # YAML `yes` is not a number
        if not isinstance(value, kind):
            name = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            self.error(
                "config.schema",
                f"{key!r} must be a {name}, got {data[key]!r}",
                data.file,
                data.line_of(key),
            )
            return default
        return value


def load_data(path: Path, checker: Checker) -> Any:
    try:
        data, order = load_file(path, checker.root)
    except YamlError as e:
        checker.findings.append(e.finding)
        return None
    del order  # key order matters only in zone files
    return data


def zone_name(text: str) -> str:
    """Normalise a zone name: lower case, IDNA, with the trailing dot."""
    from octodns.idna import idna_encode

    name = str(text).strip().lower()
    if not name.endswith("."):
        name += "."
    return idna_encode(name)


def resolve_env(value: Any, key: str, data: Mapping, checker: Checker) -> Any:
    """Replace `env/VAR` (recursively) by the variable's value; register secrets."""
    if isinstance(value, dict):
        return {k: resolve_env(v, k, value if isinstance(value, Mapping) else data, checker)
                for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_env(v, key, data, checker) for v in value]
    if isinstance(value, str) and value.startswith(ENV_PREFIX):
        var, _, default = value[len(ENV_PREFIX):].partition("/")
        resolved = os.environ.get(var, default or None)
        if resolved is None and checker.offline:
            return None
        if resolved is None:
            checker.error(
                "config.env-missing",
                f"{key!r} reads environment variable {var} which is not set",
                data.file,
                data.line_of(key),
            )
            return None
        if secrets.is_secret_key(key):
            secrets.register(resolved)
        return resolved
    if isinstance(value, str) and secrets.is_secret_key(key):
        secrets.register(value)
        checker.warn(
            "config.secret-inline",
            f"{key!r} is written in the file; use env/VARIABLE so it stays out of git",
            data.file,
            data.line_of(key),
        )
    return value


def _ns_problem(name: str) -> str | None:
    """Why `name` cannot be an NS value, by octoDNS's own record validation (it goes into
    every zone's apex NS), or None."""
    try:
        Record.new(Zone("check.invalid.", []), "", {"type": "NS", "ttl": 0, "values": [name]})
    except ValidationError as e:
        return str(e.reasons[0])
    return None


def _nameservers(data: Mapping, checker: Checker) -> list[Nameserver]:
    raw = data.get("nameservers")
    if raw is None:
        return []
    if not isinstance(raw, Sequence):
        checker.error("config.schema", "'nameservers' must be a list", data.file, data.line_of("nameservers"))
        return []
    result = []
    for item, line in zip(raw, raw.item_lines, strict=True):
        if isinstance(item, str):
            item_map = Mapping(name=item)
            item_map.file, item_map.line = data.file, line
            item = item_map
        if not isinstance(item, Mapping) or "name" not in item:
            checker.error(
                "config.schema",
                "each nameserver needs a 'name' (as in NS records) and optionally an 'address'",
                data.file,
                line,
            )
            continue
        checker.unknown_keys(item, {"name", "address"}, "a nameserver")
        name = str(item["name"]).lower()
        if not name.endswith("."):
            name += "."
        invalid = _ns_problem(name)
        if invalid:
            checker.error("config.schema", f"nameserver name {item['name']!r} is not a host name: {invalid}",
                          data.file, item.line_of("name"))
            continue
        host, port = None, 53
        if item.get("address") is not None:
            try:
                host, port = parse_address(item["address"])
            except ValueError as e:
                checker.error(
                    "config.schema",
                    f"nameserver address {item['address']!r} is not host[:port]: {e}",
                    data.file,
                    item.line_of("address"),
                )
        result.append(Nameserver(name, host, port))
    return result


def _auto_nameservers(data: Mapping, checker: Checker) -> tuple[bool, tuple[str, int] | None]:
    """`nameservers: auto`, or `nameservers: {auto: true, address: HOST[:PORT]}` (where to
    ask the names the API gives, e.g. a stand-in for a cloud provider's edge in tests)."""
    raw = data.get("nameservers")
    if raw == "auto":
        return True, None
    if not isinstance(raw, Mapping):
        return False, None
    checker.unknown_keys(raw, {"auto", "address"}, "nameservers")
    if raw.get("auto") is not True:
        checker.error("config.schema", "'nameservers' is a list of names, 'auto', or {auto: true, address: ...}",
                      data.file, data.line_of("nameservers"))
        return False, None
    if raw.get("address") is None:
        return True, None
    try:
        return True, parse_address(str(raw["address"]))
    except ValueError as e:
        checker.error("config.schema", f"nameserver address {raw['address']!r} is not host[:port]: {e}",
                      data.file, raw.line_of("address"))
        return True, None


def _capabilities(data: Mapping, checker: Checker) -> dict[str, int]:
    """A provider file's declared normalisations (see providers/capabilities.py)."""

    section = data.get("capabilities")
    if section is None:
        return {}
    section = checker.mapping(section, data.file, "capabilities")
    if section is None:
        return {}
    checker.unknown_keys(section, set(DECLARABLE) | set(DECLARABLE_FLAGS), "capabilities")
    result: dict[str, int] = {}
    for key in DECLARABLE_FLAGS:  # acceptance rules a server's configuration turns on or off
        flag = checker.typed(section, key, bool, None)
        if flag is not None:
            result[key] = flag
    for key, (low, high) in DECLARABLE.items():
        value = checker.typed(section, key, int, None)
        if value is None:
            continue
        if not low <= value <= high:
            checker.error("config.schema", f"capabilities.{key} must be between {low} and {high}",
                          data.file, section.line_of(key))
        else:
            result[key] = value
    return result


def load_provider(path: Path, checker: Checker) -> ProviderConfig | None:
    data = checker.mapping(load_data(path, checker), str(path), f"provider file {path.name}")
    if data is None:
        return None
    file = str(path)
    if "class" not in data:
        checker.error("config.schema", "a provider needs a 'class' (e.g. powerdns, rfc2136)", file, 1)
        return None
    zones = data.get("zones")
    if zones is not None:
        if not isinstance(zones, list) or not all(isinstance(z, str) for z in zones):
            checker.error("config.schema", "'zones' must be a list of zone names", file, data.line_of("zones"))
            zones = None
        else:
            zones = [zone_name(z) for z in zones]
    options = {
        key: resolve_env(value, key, data, checker)
        for key, value in data.items()
        if key not in PROVIDER_KEYS
    }
    auto, auto_address = _auto_nameservers(data, checker)
    nameservers = [] if auto or isinstance(data.get("nameservers"), Mapping) else _nameservers(data, checker)
    if not nameservers and not auto:
        checker.error(
            "config.provider-nameservers",
            f"provider {path.stem!r} lists no nameservers: add 'nameservers' with the names its"
            " NS records use, so dnssync can verify what it serves",
            file,
            data.line_of("nameservers"),
        )
    return ProviderConfig(
        name=path.stem,
        cls=str(data["class"]),
        options=options,
        nameservers=nameservers,
        zones=zones,
        file=file,
        canary=bool(checker.typed(data, "canary", bool, False)),
        lines=dict(data.key_lines),
        capabilities=_capabilities(data, checker),
        env=env_names(data),
        auto_nameservers=auto,
        auto_address=auto_address,
    )


def env_names(options: Mapping) -> dict[str, str]:
    """option -> the environment variable its `env/VAR` value reads."""
    return {key: value[len(ENV_PREFIX):].partition("/")[0] for key, value in options.items()
            if isinstance(value, str) and value.startswith(ENV_PREFIX)}


def _policy(data: Mapping | None, checker: Checker) -> Policy:
    policy = Policy()
    if data is None:
        return policy
    checker.unknown_keys(data, {"update_threshold", "delete_threshold", "parity", "alias", "dnssec"}, "policy")
    for key in ("update_threshold", "delete_threshold"):
        value = checker.typed(data, key, (int, float), getattr(policy, key))
        if not 0 <= value <= 1:
            checker.error("config.schema", f"{key!r} is a share between 0 and 1", data.file, data.line_of(key))
        else:
            setattr(policy, key, float(value))
    parity = data.get("parity", "error")
    if isinstance(parity, Mapping):
        checker.unknown_keys(parity, {"default", "zones", "types"}, "policy.parity")
        policy.parity = str(parity.get("default", "error"))
        zones = checker.mapping(parity.get("zones"), data.file, "policy.parity.zones") or {}
        types = checker.mapping(parity.get("types"), data.file, "policy.parity.types") or {}
        policy.parity_zones = {zone_name(k): str(v) for k, v in zones.items()}
        policy.parity_types = {str(k).upper(): str(v) for k, v in types.items()}
    else:
        policy.parity = str(parity)
    for mode in (policy.parity, *policy.parity_zones.values(), *policy.parity_types.values()):
        if mode not in PARITY_MODES:
            checker.error("config.schema", f"parity must be error or warn, got {mode!r}", data.file,
                          data.line_of("parity"))
    _alias_policy(data, policy, checker)
    _dnssec_policy(data, policy, checker)
    return policy


def _dnssec_policy(data: Mapping, policy: Policy, checker: Checker) -> None:
    """`policy.dnssec: unsigned` or `{default, zones: {zone: mode}, expiry_margin: 3d}`."""
    dnssec = data.get("dnssec", "unsigned")
    modes: list[tuple[str, Mapping, str]] = []  # (mode, where, key) to check
    if isinstance(dnssec, Mapping):
        checker.unknown_keys(dnssec, {"default", "zones", "expiry_margin"}, "policy.dnssec")
        policy.dnssec = str(dnssec.get("default", "unsigned"))
        modes.append((policy.dnssec, dnssec, "default"))
        zones = checker.mapping(dnssec.get("zones"), data.file, "policy.dnssec.zones") or Mapping()
        policy.dnssec_zones = {zone_name(k): str(v) for k, v in zones.items()}
        modes += [(str(v), zones, k) for k, v in zones.items()]
        if "expiry_margin" in dnssec:
            value = dnssec["expiry_margin"]
            margin = None if isinstance(value, bool) else re.fullmatch(r"(\d+)([smhdw]?)", str(value).strip())
            if margin is None:
                checker.error("config.schema", "policy.dnssec.expiry_margin must be a duration such as"
                              f" 86400, 12h or 3d, got {value!r}", data.file, dnssec.line_of("expiry_margin"))
            else:
                policy.dnssec_expiry_margin = int(margin[1]) * DURATION_UNITS[margin[2] or "s"]
    else:
        policy.dnssec = str(dnssec)
        modes.append((policy.dnssec, data, "dnssec"))
    for mode, where, key in modes:
        if mode not in DNSSEC_MODES:
            checker.error("config.schema", f"dnssec must be one of {', '.join(DNSSEC_MODES)}, got {mode!r}",
                          data.file, where.line_of(key))


def _alias_policy(data: Mapping, policy: Policy, checker: Checker) -> None:
    """`policy.alias: flatten` or `{default, zones: {zone: mode}, records: {fqdn: mode}, ttl_floor}`."""
    alias = data.get("alias", "flatten")
    if isinstance(alias, Mapping):
        checker.unknown_keys(alias, {"default", "zones", "records", "ttl_floor"}, "policy.alias")
        policy.alias = str(alias.get("default", "flatten"))
        zones = checker.mapping(alias.get("zones"), data.file, "policy.alias.zones") or {}
        records = checker.mapping(alias.get("records"), data.file, "policy.alias.records") or {}
        policy.alias_zones = {zone_name(k): str(v) for k, v in zones.items()}
        policy.alias_records = {zone_name(k): str(v) for k, v in records.items()}
        floor = checker.typed(alias, "ttl_floor", int, policy.alias_ttl_floor)
        if not 0 <= floor <= 2**31 - 1:
            checker.error("config.schema", "policy.alias.ttl_floor must be between 0 and 2147483647",
                          data.file, alias.line_of("ttl_floor"))
        else:
            policy.alias_ttl_floor = floor
    else:
        policy.alias = str(alias)
    for mode in (policy.alias, *policy.alias_zones.values(), *policy.alias_records.values()):
        if mode not in ALIAS_MODES:
            checker.error("config.schema", f"alias must be one of {', '.join(ALIAS_MODES)}, got {mode!r}",
                          data.file, data.line_of("alias"))


def _addresses(data: Mapping, key: str, checker: Checker) -> list[Nameserver]:
    """A list of host[:port] under `key`, as nameservers named by their address."""
    raw = data.get(key)
    if not isinstance(raw, list) or not raw:
        checker.error("config.schema", f"parent {key!r} must be a list of host[:port]", data.file,
                      data.line_of(key))
        return []
    result = []
    for item in raw:
        try:
            host, port = parse_address(str(item))
        except ValueError as e:
            checker.error("config.schema", f"parent address {item!r} is not host[:port]: {e}",
                          data.file, data.line_of(key))
            continue
        result.append(Nameserver(str(item), host, port))
    return result


def _parent(data: Mapping | None, checker: Checker) -> ParentSettings:
    """`parent: {check: bool, nameservers: [...], zones: {zone: [...]}, roots: [...]}`."""
    settings = ParentSettings()
    if data is None:
        return settings
    checker.unknown_keys(data, {"check", "nameservers", "zones", "roots"}, "parent")
    settings.check = bool(checker.typed(data, "check", bool, True))
    if "nameservers" in data:
        settings.nameservers = _addresses(data, "nameservers", checker)
    if "roots" in data:
        settings.roots = _addresses(data, "roots", checker)
        settings.own_roots = True
    zones = checker.mapping(data.get("zones"), data.file, "parent.zones")
    for zone in zones or {}:
        settings.zones[zone_name(zone)] = _addresses(zones, zone, checker)
    return settings


def _section(data: Mapping, key: str, target: Any, checker: Checker) -> None:
    """Fill a dataclass of defaults from a mapping of the same keys."""
    section = data.get(key)
    if section is None:
        return
    section = checker.mapping(section, data.file, key)
    if section is None:
        return
    fields = vars(target)
    checker.unknown_keys(section, set(fields), key)
    for name, default in fields.items():
        kind: Any = (int, float) if isinstance(default, float) else type(default)
        value = checker.typed(section, name, kind, default)
        setattr(target, name, type(default)(value))


def _lenient(data: Mapping, checker: Checker) -> set[str]:
    """`lenient: [example.com, ...]` or `lenient: "*"`: zones loaded as octoDNS's
    `lenient: true` does (what it hides is still reported, as warnings)."""
    value = data.get("lenient")
    if value is None:
        return set()
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        checker.error("config.schema", "'lenient' is a list of zone names, or \"*\" for every zone",
                      data.file, data.line_of("lenient"))
        return set()
    return {n if n == "*" else zone_name(n) for n in names}


def _check_resolvers(resolvers: list, file: str, line: int | None, checker: Checker) -> None:
    """Each resolver `watch` observes must be host[:port], so a typo fails before any query."""
    lines = getattr(resolvers, "item_lines", [])
    for index, item in enumerate(resolvers):
        try:
            parse_address(str(item))
        except ValueError as e:
            checker.error("config.schema", f"resolver {item!r} is not host[:port]: {e}", file,
                          lines[index] if index < len(lines) else line)


def missing_secrets(config: Config) -> list[Finding]:
    """A warning for every `env/VAR` a provider file reads that is not set, for commands
    that contact no provider (validate, a pre-commit hook): they never need the secrets,
    but say which ones plan, apply, verify and drift will. Needs `config` read offline."""
    return [Finding(Severity.WARNING, "config.env-missing",
                    f"{key!r} reads environment variable {var}, which is not set: plan, apply, verify"
                    f" and drift need it (validate contacts no provider)", provider=provider.name,
                    file=provider.file, line=provider.lines.get(key))
            for provider in config.providers.values() for key, var in sorted(provider.env.items())
            if provider.options.get(key) is None and var not in os.environ]


def find_config(path: Path) -> Path:
    """Where dnssync.yaml is: `path`, or in the folder `path`; the bare default name is
    looked for in this folder and then in every parent folder, as git finds its
    repository, so a command works from any folder inside the repository. Returns
    `path` unchanged when there is none."""
    if path.is_dir():
        return path / CONFIG_FILE
    if path != Path(CONFIG_FILE) or path.exists():
        return path
    for folder in Path.cwd().parents:
        if (folder / CONFIG_FILE).is_file():
            return folder / CONFIG_FILE
    return path


def read_config(path: Path | str = CONFIG_FILE, offline: bool = False) -> tuple[Config | None, list[Finding]]:
    """Read dnssync.yaml (or the one in a folder) and every provider file. Returns what
    could be read with every finding (not only the first), so the caller can go on to
    check the zones too and report all problems in one run."""
    path = find_config(Path(path))
    if not path.is_file():
        return None, [Finding(Severity.ERROR, "config.no-repository", f"not a dnssync repository (no {CONFIG_FILE}"
                              " here or in any parent folder)" if path.name == CONFIG_FILE and not path.parent.name
                              else f"file not found: {path}", file=str(path))]
    root = path.parent
    checker = Checker(offline, path.resolve().parent)  # the config file the user names is trusted
    data = checker.mapping(load_data(path, checker), str(path), CONFIG_FILE)
    if data is None:
        return None, checker.findings
    checker.root = root
    checker.unknown_keys(
        data,
        {"zones", "providers", "resolvers", "state", "policy", "defaults", "apex_ns", "parent", "lenient",
         "trusted_modules"},
        CONFIG_FILE,
    )
    trusted = checker.typed(data, "trusted_modules", list, [])
    if not all(isinstance(m, str) and re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", m) for m in trusted):
        checker.error("config.schema", "'trusted_modules' must be a list of Python module names",
                      str(path), data.line_of("trusted_modules"))
        trusted = []
    zones_dir = root / str(checker.typed(data, "zones", str, "zones"))
    providers_dir = root / str(checker.typed(data, "providers", str, "providers"))
    resolvers = checker.typed(data, "resolvers", list, [])
    _check_resolvers(resolvers, str(path), data.line_of("resolvers"), checker)
    config = Config(
        root=root,
        file=str(path),
        zones_dir=zones_dir,
        providers={},
        resolvers=[str(r) for r in resolvers],
        state_dir=root / str(checker.typed(data, "state", str, ".dnssync")),
    )
    config.parent = _parent(checker.mapping(data.get("parent"), str(path), "parent"), checker)
    config.policy = _policy(checker.mapping(data.get("policy"), str(path), "policy"), checker)
    _section(data, "defaults", config.defaults, checker)
    config.zone_files.lenient = _lenient(data, checker)
    section = data.get("defaults")
    if isinstance(section, Mapping) and "enforce_order" in section:
        config.zone_files.order_from = f"defaults.enforce_order in {path}:{section.line_of('enforce_order')}"
    _section(data, "apex_ns", config.apex_ns, checker)
    if not 0 <= config.apex_ns.ttl <= 2**31 - 1:
        section = data["apex_ns"]
        checker.error("config.schema", f"apex_ns ttl {config.apex_ns.ttl} is outside 0 .. 2147483647 (RFC 2181 8)",
                      str(path), section.line_of("ttl") if isinstance(section, Mapping) else None)
        config.apex_ns.ttl = ApexNs.ttl
    if not zones_dir.is_dir():
        checker.error("config.schema", f"zones folder {zones_dir} does not exist", str(path), data.line_of("zones"))
    if not providers_dir.is_dir():
        checker.error(
            "config.schema", f"providers folder {providers_dir} does not exist", str(path),
            data.line_of("providers"),
        )
    else:
        files = sorted(p for p in providers_dir.iterdir() if p.suffix in (".yaml", ".yml", ".json"))
        for file in files:
            provider = load_provider(file, checker)
            if provider is not None:
                provider.trusted_modules, provider.root = tuple(trusted), root
                config.providers[provider.name] = provider
        if not files:
            checker.error("config.schema", f"no provider files in {providers_dir}", str(path), None)
    return config, checker.findings
