"""Snapshots: each provider's live content of each zone, saved before apply.

A snapshot is a folder `<state>/snapshots/<id>/<provider>/<zone>yaml` in octoDNS
YAML (readable, and loadable as a zone file) plus `meta.json`. `dnssync restore
<id>` plans each saved zone as the desired content of its provider and applies
it, so whatever an apply did can be undone, provider by provider.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from octodns.record import Record
from octodns.zone import Zone

from dnssync.errors import UsageError
from dnssync.state import stamp, write_json
from dnssync.yamlfile import Mapping, YamlError, load_file
from dnssync.zones import dump_zone


@dataclass
class SnapshotEntry:
    provider: str
    zone: str
    exists: bool | None
    records: int


def snapshots_dir(state_dir: Path) -> Path:
    return state_dir / "snapshots"


def save(state_dir: Path, zones: list[tuple[str, Zone, bool | None]], revision: str | None,
         snapshot_id: str | None = None) -> str:
    """Write (provider, live zone, exists) triples into a new snapshot, or add them to
    `snapshot_id` (a provider first read on a retry joins its apply's snapshot)."""
    snapshot_id = snapshot_id or stamp()
    folder = snapshots_dir(state_dir) / snapshot_id
    meta_path = folder / "meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {
        "id": snapshot_id, "created": datetime.now(UTC).isoformat(timespec="seconds"), "revision": revision,
        "entries": []}
    for provider, zone, exists in zones:
        dump_zone(zone, folder / provider / f"{zone.name}yaml")
        meta["entries"].append(SnapshotEntry(provider, zone.name, exists, len(zone.records)).__dict__)
    write_json(meta_path, meta)
    return snapshot_id


def list_snapshots(state_dir: Path) -> list[str]:
    root = snapshots_dir(state_dir)
    return sorted(p.name for p in root.iterdir() if (p / "meta.json").exists()) if root.is_dir() else []


def load(state_dir: Path, snapshot_id: str, sub_zones: dict[str, set[str]]) -> dict[tuple[str, str], Zone]:
    """(provider, zone name) -> Zone with the saved content. `snapshot_id` may be
    'latest' or a unique prefix of an id."""
    ids = list_snapshots(state_dir)
    matches = ids[-1:] if snapshot_id == "latest" else [i for i in ids if i.startswith(snapshot_id)]
    if not ids:
        raise UsageError("nothing to restore: no snapshots yet (apply saves one before it changes"
                         f" anything; none in {snapshots_dir(state_dir)})")
    if len(matches) != 1:
        known = ", ".join(ids[-5:])
        raise UsageError(f"no unique snapshot {snapshot_id!r} in {snapshots_dir(state_dir)} (latest: {known})")
    folder = snapshots_dir(state_dir) / matches[0]
    result = {}
    for path in sorted(folder.glob("*/*yaml")):
        name = path.name[: -len("yaml")]
        zone = Zone(name, sub_zones.get(name, set()))
        try:
            data, _ = load_file(path)
        except YamlError as e:
            raise UsageError(f"snapshot file {path} is unreadable: {e}") from None
        for record_name, value in (data or Mapping()).items():
            for item in value if isinstance(value, list) else [value]:
                zone.add_record(Record.new(zone, record_name or "", dict(item), lenient=True), lenient=True)
        result[(path.parent.name, name)] = zone
    return result
