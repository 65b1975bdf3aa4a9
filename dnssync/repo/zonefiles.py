"""Which files in the zones folder are zones: octoDNS YamlProvider's rules, with what was
skipped and why.

octoDNS reads `<zone>.yaml` and, with `split_extension: .`, every `*.yaml` in the folder
`<zone>.`; its zones are the ones its config lists. Real repositories keep other files
beside them: the octoDNS config itself, fragments a script concatenates
(`k8s.io._0_base.yaml`), notes. Taking every `*.yaml` for a zone turned those into
bogus zones that apply then created on providers. Here a file is a zone only if octoDNS
would read it as one: under an octoDNS config only the zones it declares; under
dnssync.yaml every file named for a zone (its last label could be a top-level domain).
Everything else that looks like zone data is reported, never loaded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from dnssync.model.findings import Finding, Severity
from dnssync.repo.config import ZoneFiles, zone_name

#: a label a top-level domain can have (RFC 1123 2.1, RFC 3696 2: not all-numeric; IDNA's xn--)
_TLD = re.compile(r"^(?=.*[a-z])[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
#: top-level keys that make a YAML file an octoDNS config (a zone file's keys are labels)
_CONFIG_KEY = re.compile(r"^(providers|zones):\s*$", re.MULTILINE)


@dataclass
class Discovered:
    """The zones of a folder (name -> files in octoDNS's sorted order) and what was skipped."""

    zones: dict[str, list[Path]] = field(default_factory=dict)
    skipped: list[Finding] = field(default_factory=list)

    def skip(self, path: Path, reason: str, severity: Severity = Severity.WARNING) -> None:
        self.skipped.append(Finding(severity, "config.zone-skipped", f"not a zone: {path.name}: {reason}",
                                    file=str(path)))


def _is_octodns_config(path: Path) -> bool:
    """An octoDNS config has top-level `providers:` and `zones:` (cheap: no YAML parse)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            head = handle.read(65536)
    except OSError:
        return False
    return {m.group(1) for m in _CONFIG_KEY.finditer(head)} == {"providers", "zones"}


def _zone_of(stem: str) -> tuple[str | None, str]:
    """The zone a file name declares, or None and why it declares none."""
    try:
        name = zone_name(stem)
    except Exception as e:  # octoDNS's IDNA error, whatever its class
        return None, f"{stem!r} is not a domain name ({e})"
    last = name.rstrip(".").rsplit(".", 1)[-1]
    if not _TLD.match(last):
        base = stem.rsplit(".", 1)[0]
        return None, (f"its last label {last!r} is no top-level domain, so it names no zone (octoDNS reads"
                      f" only <zone>.yaml). If it is part of the zone {base}, move it into the split"
                      f" folder {base}./ or `!include` it from {base}.yaml")
    return name, ""


def scan(folder: Path, settings: ZoneFiles | None = None) -> Discovered:
    """The zones in `folder` as octoDNS would find them, and every file skipped with why."""
    settings = settings or ZoneFiles()
    found = Discovered()
    if not folder.is_dir():
        return found
    declared = set(settings.declared) if settings.declared is not None else None
    zones: dict[str, list[Path]] = {}
    split = settings.split_extension
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            if split and entry.name.endswith(split):
                stem = entry.name[: -len(split)] if split != "." else entry.name
                name, why = _zone_of(stem)
                if name is None:
                    found.skip(entry, why)
                elif declared is not None and name not in declared:
                    found.skip(entry, "the octoDNS config does not list this zone", Severity.INFO)
                else:
                    files = [p for p in entry.iterdir() if p.is_file() and p.suffix in settings.suffixes]
                    zones.setdefault(name, []).extend(files)
            continue
        if not entry.is_file() or entry.suffix not in (".yaml", ".yml", ".json"):
            continue  # notes, scripts: octoDNS ignores them too
        if entry.name == settings.shared:
            found.skip(entry, "it is the shared_filename every zone includes", Severity.INFO)
            continue
        if not settings.zonefile:
            found.skip(entry, "the YamlProvider has disable_zonefile: true (split folders only)", Severity.INFO)
            continue
        if entry.suffix not in settings.suffixes:
            found.skip(entry, f"octoDNS reads only {' '.join(settings.suffixes)} zone files", Severity.INFO)
            continue
        if _is_octodns_config(entry):
            found.skip(entry, "it is an octoDNS config (top-level providers: and zones:), not zone data;"
                              " point dnssync at it with --octodns-config, or move it out of the zones"
                              " folder", Severity.INFO)
            continue
        name, why = _zone_of(entry.stem)
        if name is None:
            found.skip(entry, why)
        elif declared is not None and name not in declared:
            found.skip(entry, "the octoDNS config does not list this zone", Severity.INFO)
        else:
            zones.setdefault(name, []).append(entry)
    shared = [folder / settings.shared] if settings.shared and (folder / settings.shared).is_file() else []
    found.zones = {name: sorted(files + shared) for name, files in sorted(zones.items())}
    return found
