"""A user's repository, loaded: config, desired zones, providers.

Every command starts here, so every command checks input the same way: all
bad input is found before any provider is contacted (ConfigError, exit 2).
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from octodns.provider.base import BaseProvider
from octodns.zone import Zone

from dnssync.model.binding import repository_digest
from dnssync.model.errors import ConfigError, UsageError
from dnssync.model.findings import Finding, Severity, has_errors
from dnssync.model.plan import Plan
from dnssync.repo import gitrev
from dnssync.repo.checks import check_targets
from dnssync.repo.config import Config, read_config
from dnssync.repo.cuts import check_cuts
from dnssync.repo.desired import build_desired
from dnssync.repo.nameservers import read_auto
from dnssync.repo.octodns_config import config_from_octodns
from dnssync.repo.plugins import build_providers, import_plugins, plugin_for_type
from dnssync.repo.spread import load_spread, zone_sizes
from dnssync.repo.zonefiles import scan
from dnssync.repo.zones import DesiredZone, discover, load_zones


def cross_check(config: Config, zones: list[DesiredZone], all_zone_names: list[str]) -> list[Finding]:
    """Zones no provider serves, and providers naming zones that have no file."""
    findings = []
    for desired in zones:
        if not config.providers_for(desired.name):
            findings.append(Finding(
                Severity.ERROR, "config.zone-unserved",
                f"zone {desired.zone.decoded_name} is served by no provider (check each provider's"
                " 'zones' list)", zone=desired.name, file=desired.files[0] if desired.files else None,
                line=1,
            ))
    for provider in config.providers.values():
        for name in provider.zones or []:
            if name not in all_zone_names:
                findings.append(Finding(
                    Severity.ERROR, "config.zone-unknown",
                    f"provider {provider.name!r} serves {name} but there is no zone file for it in"
                    f" {config.zones_dir}", provider=provider.name, file=provider.file,
                    line=provider.lines.get("zones"),
                ))
    return findings


def checked_zones(config: Config, only: list[str] | None = None, jobs: int | None = None,
                  sources: dict[str, list[Path]] | None = None) -> tuple[list[DesiredZone], list[Finding]]:
    """The zones loaded with dnssync's checks and the installed plugins' record types: the
    repository layer joins the zone loader with them, so zones.py imports neither. A
    large repository is loaded in up to `jobs` processes (spread.py; None: one per core), and
    so is one large zone file when it is the only part (fileparts.py).
    `sources`: the zone files, when the caller has scanned them (a scan reads every file's head)."""
    files = sources if sources is not None else discover(config.zones_dir, config.zone_files)

    def load(names: list[str], jobs: int) -> tuple[list[DesiredZone], list[Finding]]:
        return load_zones(config, names, (check_targets, check_cuts), plugin_for_type, files, jobs)

    return load_spread(load, zone_sizes(files, list(files) if only is None else only), jobs)


def read_settings(config_path: Path | str, octodns_config: Path | None = None,
                  offline: bool = False) -> tuple[Config | None, list[Finding]]:
    """dnssync.yaml and providers/, or an octoDNS config, with every finding."""
    if octodns_config is not None:
        return config_from_octodns(octodns_config, offline)
    return read_config(config_path, offline)


def load_settings(config_path: Path | str, octodns_config: Path | None = None, offline: bool = False) -> Config:
    """The settings alone (no zone loaded), for commands that do not need the zones
    (restore, snapshots, import): ConfigError on any error. `offline`: no provider
    will be contacted, so missing secrets are no error (`snapshots` lists files)."""
    config, findings = read_settings(config_path, octodns_config, offline)
    if config is None or has_errors(findings):
        raise ConfigError(findings)
    return config


@dataclass(frozen=True)
class Selection:
    """Which zones a command works on: named zones (`--zone`) and/or one shard of N
    (`--shard i/N`, how large users spread thousands of zones over a CI matrix).
    Shards hash the zone name, so a zone stays in its shard when others come and go."""

    zones: tuple[str, ...] = ()
    shard: tuple[int, int] | None = None

    def wants(self, zone: str) -> bool:
        if self.zones and zone not in self.zones:
            return False
        if self.shard is None:
            return True
        index, count = self.shard
        return int(hashlib.sha256(zone.encode()).hexdigest(), 16) % count == index - 1

    def pick(self, zones: list[str]) -> list[str]:
        missing = [z for z in self.zones if z not in zones]
        return [z for z in zones if self.wants(z)] + missing  # a missing named zone is reported


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """`i/N` with 1 <= i <= N."""
    if not text:
        return None
    index, _, count = text.partition("/")
    try:
        shard = int(index), int(count)
    except ValueError:
        raise UsageError(f"--shard takes i/N (e.g. 2/8), not {text!r}") from None
    if not 1 <= shard[0] <= shard[1]:
        raise UsageError(f"--shard {text}: i must be between 1 and N")
    return shard


@dataclass
class Repository:
    config: Config
    zones: list[DesiredZone]
    desired: dict[str, Zone]
    findings: list[Finding] = field(default_factory=list)
    _providers: dict[str, BaseProvider] | None = None
    offline: bool = False
    _nameservers_read: bool = False

    selection: Selection = field(default_factory=Selection)
    #: the names of every zone the repository has files for, loaded or not (None: not
    #: yet scanned; see `managed`)
    _managed: frozenset[str] | None = None

    @classmethod
    def load(cls, config_path: Path | str, selection: Selection = Selection(),
             octodns_config: Path | None = None, offline: bool = False) -> Repository:
        """Load and check everything; `offline` tolerates missing secrets (no provider
        will be contacted, e.g. reviewing a pull request from a fork)."""
        config, findings = read_settings(config_path, octodns_config, offline)
        if config is None:
            raise ConfigError(findings)
        import_plugins(list(config.providers.values()))  # their record types, before any zone
        found = scan(config.zones_dir, config.zone_files)
        findings = findings + found.skipped
        try:
            loaded, zone_findings = checked_zones(config, selection.pick(list(found.zones)), sources=found.zones)
        except ConfigError as e:  # report config and zone problems together
            raise ConfigError(findings + e.findings) from None
        findings = findings + zone_findings + cross_check(config, loaded, list(found.zones))
        if has_errors(findings):
            raise ConfigError(findings)
        desired, apex = build_desired(config, loaded)
        return cls(config, loaded, desired, findings + apex, selection=selection, offline=offline,
                   _managed=frozenset(found.zones))

    @property
    def managed(self) -> frozenset[str]:
        """Every zone the repository has files for, not only the ones loaded (a zone's
        parent may be one of them): from the scan the load made, else scanned now."""
        if self._managed is None:
            self._managed = frozenset(scan(self.config.zones_dir, self.config.zone_files).zones)
        return self._managed

    @cached_property
    def identity(self) -> dict[str, str]:
        """What a saved plan is bound to (binding.repository_digest): apply --plan refuses
        a plan made for another repository. The zones are those the load's scan found
        (`managed`), the zones the plan was made from; a second scan read every file's
        head again (20-30 ms of a 200-zone plan)."""
        return repository_digest(self.config, list(self.managed))

    @property
    def revision(self) -> str | None:
        return gitrev.head_revision(self.config.root)

    def providers(self) -> dict[str, BaseProvider]:
        """Every configured provider, built once (a ConfigError lists all that fail)."""
        if self._providers is None:
            self._providers = build_providers(list(self.config.providers.values()))
        return self._providers

    def read_nameservers(self, create_at: frozenset[str] = frozenset()) -> None:
        """Read `nameservers: auto` from the providers' APIs (once), and rebuild the desired
        zones' apex NS with them; the providers in `create_at` create zones they lack
        first (see `create_pending_zones`)."""
        if self._nameservers_read or self.offline or not any(
                p.auto_nameservers for p in self.config.providers.values()):
            return
        self._nameservers_read = True
        found = read_auto(self.config, self.providers(), list(self.desired), create_at)
        self.desired, apex = build_desired(self.config, self.zones)
        self.findings = [f for f in self.findings if f.code != "zone.apex-ns"
                         and not f.code.startswith("plan.nameservers")] + apex + found

    def create_pending_zones(self, plan: Plan, providers: list[str] | None = None) -> list[str]:
        """Create the zones `plan` says an `auto` provider (of `providers`, None: all) does
        not host yet (`plan.nameservers-pending`), and read their nameservers again.
        Only apply calls this, after the plan was shown, gated and confirmed: creating a
        zone is a change (a billable one at Route53). Returns "provider/zone" created."""
        pending = [f for f in plan.findings if f.code == "plan.nameservers-pending"
                   and (providers is None or f.provider in providers)]
        if not pending:
            return []
        self._nameservers_read = False
        self.read_nameservers(create_at=frozenset(f.provider for f in pending))
        return [f"{f.provider}/{f.zone}" for f in pending]

    def serves(self, providers: list[str] | None = None, zones: list[str] | None = None) -> dict[str, list[str]]:
        """zone (the repository's, or `zones`) -> the providers that serve it: all of them,
        or only those named in `providers` (an empty list names none)."""
        unknown = set(providers or []) - set(self.config.providers)
        if unknown:
            raise UsageError(f"no provider named {', '.join(sorted(unknown))} (known:"
                             f" {', '.join(sorted(self.config.providers))})")
        return {
            zone: [p.name for p in self.config.providers_for(zone) if providers is None or p.name in providers]
            for zone in (self.desired if zones is None else zones)
        }

    def locate(self, zone: str, name: str, rtype: str) -> tuple[str | None, int | None]:
        """Where a record is written in git (file, line), for findings to point at."""
        desired = self.zones_by_name.get(zone)
        return desired.location(name, rtype) if desired else (None, None)

    @cached_property
    def zones_by_name(self) -> dict[str, DesiredZone]:
        return {z.name: z for z in self.zones}

    def locate_finding(self, finding: Finding) -> Finding:
        """The finding pointed at the record's file and line in git, when it is about one."""
        if finding.file or not (finding.zone and finding.type and finding.name is not None):
            return finding
        file, line = self.locate(finding.zone, finding.name, finding.type)
        return dataclasses.replace(finding, file=file, line=line) if line else finding

    def locate_changes(self, plan: Plan) -> None:
        """Point every planned change at the file and line where git defines the record."""
        for pp in plan.providers:
            for change in pp.changes:
                change.file, change.line = self.locate(pp.zone, change.name, change.type)
