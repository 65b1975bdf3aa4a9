"""Snapshots: each provider's live content of each zone, saved before apply.

A snapshot is a folder `<state>/snapshots/<id>/<provider>/<zone>yaml` in octoDNS
YAML (readable, and loadable as a zone file) plus `meta.json`. `dnssync restore
<id>` plans each saved zone as the desired content of its provider and applies
it, so whatever an apply did can be undone, provider by provider.
"""

from __future__ import annotations

import fcntl
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from octodns.record import Record
from octodns.zone import Zone

from dnssync.applying.state import read_sealed, resolve_id, stamp, write_all, write_json
from dnssync.model.errors import UsageError
from dnssync.repo.yamlfile import Mapping, YamlError, load_file
from dnssync.repo.zones import zone_yaml


@dataclass
class SnapshotEntry:
    provider: str
    zone: str
    exists: bool | None
    records: int


def snapshots_dir(state_dir: Path) -> Path:
    return state_dir / "snapshots"


@dataclass(frozen=True)
class Rendered:
    """One provider's live zone as its snapshot file: made where the zone was read (an
    apply worker process), saved by whoever writes the snapshot."""

    entry: SnapshotEntry
    text: bytes


def render(provider: str, zone: Zone, exists: bool | None) -> Rendered:
    return Rendered(SnapshotEntry(provider, zone.name, exists, len(zone.records)), zone_yaml(zone).encode())


def save(state_dir: Path, zones: list[tuple[str, Zone, bool | None]], revision: str | None,
         snapshot_id: str | None = None) -> str:
    """Write (provider, live zone, exists) triples into a new snapshot, or add them to
    `snapshot_id` (a provider first read on a retry joins its apply's snapshot): their
    files written, then listed (`write_files`, `add_entries`)."""
    snapshot_id = snapshot_id or stamp()
    written = write_files(state_dir, [render(*triple) for triple in zones], snapshot_id)
    return add_entries(state_dir, written, revision, snapshot_id)


def write_files(state_dir: Path, zones: list[Rendered], snapshot_id: str) -> list[dict]:
    """Write the zone files of `zones` into snapshot `snapshot_id`, each atomically and
    fsynced, and return their meta.json entries, which `add_entries` lists. Each process
    of an apply writes the files of the zones it read (at once, on every core); none is
    part of the snapshot until listed."""
    folder = snapshots_dir(state_dir) / snapshot_id
    files, entries = {}, []
    for zone in zones:
        file = f"{zone.entry.provider}/{zone.entry.zone}yaml"
        files[folder / file] = zone.text
        entries.append({**zone.entry.__dict__, "file": file, "sha256": hashlib.sha256(zone.text).hexdigest()})
    write_all(files)
    return entries


def add_entries(state_dir: Path, entries: list[dict], revision: str | None, snapshot_id: str) -> str:
    """List written zone files (`write_files`) in snapshot `snapshot_id`'s meta.json, made
    if new. meta.json, sealed with a checksum, is written last and lists each zone file's
    sha256 and record count, so `load` can tell a snapshot that is whole from one
    truncated, emptied or edited since. Several processes of one apply may add to one
    snapshot: its meta.json is read and rewritten under a lock."""
    folder = snapshots_dir(state_dir) / snapshot_id
    meta_path = folder / "meta.json"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        meta = read_sealed(meta_path, "snapshot") if meta_path.exists() else {
            "id": snapshot_id, "created": datetime.now(UTC).isoformat(timespec="seconds"), "revision": revision,
            "entries": []}
        meta["entries"] += entries
        write_json(meta_path, meta, sealed=True)
    return snapshot_id


def list_snapshots(state_dir: Path) -> list[str]:
    root = snapshots_dir(state_dir)
    return sorted(p.name for p in root.iterdir() if (p / "meta.json").exists()) if root.is_dir() else []


def load(state_dir: Path, snapshot_id: str, sub_zones: dict[str, set[str]],
         accept_unsealed: bool = False) -> dict[tuple[str, str], Zone]:
    """(provider, zone name) -> Zone with the saved content. `snapshot_id` may be
    'latest' or a unique prefix of an id. Verifies the whole snapshot first (meta.json's
    checksum, each file's sha256 and record count, no file missing or added) and
    refuses a damaged one: restoring an emptied file would delete every record."""
    chosen = resolve_id(snapshot_id, list_snapshots(state_dir), "snapshot", snapshots_dir(state_dir),
                        "nothing to restore: no snapshots yet (apply saves one before it changes"
                        f" anything; none in {snapshots_dir(state_dir)})")
    folder = snapshots_dir(state_dir) / chosen
    meta = read_sealed(folder / "meta.json", "snapshot", accept_unsealed, "restore --accept-unsealed")

    def damaged(why: str) -> UsageError:
        return UsageError(f"snapshot {chosen} is damaged: {why}. Refusing to restore it (nothing was sent).")

    try:
        entries = {str(e["file"]): e for e in meta["entries"]}
    except (KeyError, TypeError):
        raise damaged("meta.json lacks a file and checksum for each zone (made by an older dnssync?)") from None
    found = {str(p.relative_to(folder)) for p in folder.glob("*/*yaml")}
    if found - set(entries):
        raise damaged(f"{', '.join(sorted(found - set(entries)))} not listed in meta.json")
    result = {}
    for file, entry in sorted(entries.items()):
        path = folder / file
        if len(Path(file).parts) != 2 or not path.resolve().is_relative_to(folder.resolve()):
            raise damaged(f"meta.json lists {file!r}, which is not a provider/zone file inside the snapshot")
        try:
            text = path.read_bytes() if not path.is_symlink() else b""
        except OSError as e:
            raise damaged(f"{file}: {e.strerror}") from None
        if hashlib.sha256(text).hexdigest() != entry.get("sha256"):
            raise damaged(f"{file} does not match its checksum ({len(text):,} bytes)")
        name = path.name[: -len("yaml")]
        zone = Zone(name, sub_zones.get(name, set()))
        try:
            data, _ = load_file(path)
        except YamlError as e:
            raise damaged(f"{file} is unreadable: {e}") from None
        for record_name, value in (data or Mapping()).items():
            for item in value if isinstance(value, list) else [value]:
                zone.add_record(Record.new(zone, record_name or "", dict(item), lenient=True), lenient=True)
        if len(zone.records) != entry.get("records"):
            raise damaged(f"{file} holds {len(zone.records)} record(s), meta.json says {entry.get('records')}")
        result[(path.parent.name, name)] = zone
    return result
