"""The state folder cannot be trusted (issue 17, point 3): snapshots, apply records and
the lock are written atomically and sealed, and a damaged one is refused before
anything is sent. The restore tests run against the real lab."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dnssync.applying import state
from dnssync.applying.state import apply_lock, read_sealed, write_json
from dnssync.model.errors import LockHeld, UsageError
from dnssync.watch.changes import read_apply
from tests.conftest import unique_zone
from tests.test_push_lab import ask

RECORDS = "".join(f"h{i:02d}:\n  type: A\n  value: 192.0.2.{i}\n" for i in range(20))


def snapshot_folder(root: Path) -> Path:
    folders = sorted((root / ".dnssync" / "snapshots").iterdir())
    return folders[-1]


def damage_empty_zone_file(folder: Path) -> None:
    next(folder.glob("pdns/*yaml")).write_text("")


def damage_truncated_meta(folder: Path) -> None:
    meta = folder / "meta.json"
    meta.write_text(meta.read_text()[:50])


def damage_record_count(folder: Path) -> None:
    """An edited meta.json (the count made to match an emptied file) breaks its seal."""
    meta = folder / "meta.json"
    data = json.loads(meta.read_text())
    for entry in data["entries"]:
        entry["records"] = 0
    meta.write_text(json.dumps(data))
    damage_empty_zone_file(folder)


def damage_stray_file(folder: Path) -> None:
    (folder / "pdns" / "other.test.yaml").write_text("{}\n")


@pytest.mark.parametrize("damage", [damage_empty_zone_file, damage_truncated_meta, damage_record_count,
                                    damage_stray_file])
def test_damaged_snapshot_is_refused_and_nothing_is_sent(make_repo, lab, damage):
    zone = unique_zone()
    repo = make_repo({zone: RECORDS}, providers=["pdns"])
    assert repo.run("apply", "--yes").exit_code == 0
    repo.zone_file(zone).write_text(RECORDS + "extra:\n  type: A\n  value: 192.0.2.99\n")
    applied = repo.run("apply", "--yes")  # snapshots the 21 records (20 + apex NS) first
    assert applied.exit_code == 0, applied.output
    damage(snapshot_folder(repo.root))
    result = repo.run("restore", "latest", "--yes")
    assert result.exit_code == 2, result.output
    assert "is damaged" in result.output and "nothing was sent" in result.output
    assert ask(lab, "pdns", f"h05.{zone}", "A") == {"192.0.2.5"}
    assert ask(lab, "pdns", f"extra.{zone}", "A") == {"192.0.2.99"}


def test_snapshot_lists_checksum_and_count_per_zone_file(make_repo):
    zone = unique_zone()
    repo = make_repo({zone: RECORDS}, providers=["pdns"])
    repo.run("apply", "--yes")
    repo.zone_file(zone).write_text(RECORDS.replace("192.0.2.5\n", "192.0.2.55\n"))
    assert repo.run("apply", "--yes").exit_code == 0
    meta = json.loads((snapshot_folder(repo.root) / "meta.json").read_text())
    (entry,) = meta["entries"]
    assert entry["records"] == 21 and len(entry["sha256"]) == 64 and entry["file"] == f"pdns/{zone}yaml"
    assert meta["checksum"].startswith("sha256:")
    restored = repo.run("restore", "latest", "--yes")
    assert restored.exit_code == 0, restored.output


def test_edited_apply_record_is_refused(tmp_path):
    path = write_json(tmp_path / "applies" / "x.json", {"id": "x", "plan": "{}", "outcomes": []}, sealed=True)
    data = json.loads(path.read_text())
    data["outcomes"] = [{"provider": "a", "status": "applied"}]
    path.write_text(json.dumps(data))
    with pytest.raises(UsageError, match="checksum does not match"):
        read_apply(path)
    path.write_text(path.read_text()[:20])
    with pytest.raises(UsageError, match="damaged"):
        read_sealed(path, "apply record")


def test_atomic_write_keeps_the_old_file_when_interrupted(tmp_path, monkeypatch):
    path = write_json(tmp_path / "meta.json", {"old": True})

    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(state.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_json(path, {"new": True})
    assert json.loads(path.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["meta.json"]  # no temporary file left behind


def test_lock_that_is_a_symlink_is_refused_and_not_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "apply.lock").symlink_to(victim)
    with pytest.raises(UsageError, match="is a symlink: refused"), apply_lock(tmp_path / "state"):
        pass
    assert victim.read_text() == "keep me\n"


def test_lock_that_is_a_directory_is_refused(tmp_path):
    (tmp_path / "state" / "apply.lock").mkdir(parents=True)
    with pytest.raises(UsageError, match="is a directory: refused"), apply_lock(tmp_path / "state"):
        pass


def test_lock_held_by_a_live_process_names_it_not_a_dead_one(tmp_path):
    folder = tmp_path / "state"
    folder.mkdir()
    # an earlier holder died, leaving its note; a live process then took the lock without
    # (yet) writing its own note
    (folder / "apply.lock").write_text(f"pid 999999 on {os.uname().nodename} since long ago")
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, sys, time\n"
        f"f = open({str(folder / 'apply.lock')!r}, 'a')\n"
        "fcntl.flock(f, fcntl.LOCK_EX)\nprint('held', flush=True)\ntime.sleep(60)\n")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        with pytest.raises(LockHeld) as caught, apply_lock(folder):
            pass
        assert f"pid {holder.pid} " in str(caught.value) and "999999" not in str(caught.value)
        assert time.monotonic() - started < 1
    finally:
        holder.kill()
        holder.wait()


# Review finding 6: the checksum is required, entry paths stay inside the snapshot, and with
# DNSSYNC_PLAN_KEY set the state is signed as plans are.

def reseal(path: Path, data: dict) -> None:
    """What anyone who can write .dnssync/ can do: edit, then recompute the unkeyed sum."""
    data = {k: v for k, v in data.items() if k not in ("checksum", "signature")}
    path.write_text(json.dumps({**data, "checksum": state.digest(data)}))


def test_state_file_without_checksum_is_refused_unless_accepted(tmp_path):
    path = tmp_path / "meta.json"
    path.write_text(json.dumps({"id": "x", "entries": []}))
    with pytest.raises(UsageError, match=r"has no checksum .* run again with restore --accept-unsealed"):
        read_sealed(path, "snapshot", flag="restore --accept-unsealed")
    with pytest.raises(UsageError, match="has no checksum"):
        read_apply(path)
    assert read_sealed(path, "snapshot", accept_unsealed=True) == {"id": "x", "entries": []}


def test_with_the_key_set_state_is_signed_and_a_resummed_edit_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("DNSSYNC_PLAN_KEY", "k" * 32)
    path = write_json(tmp_path / "x.json", {"id": "x", "outcomes": []}, sealed=True)
    assert json.loads(path.read_text())["signature"].startswith("hmac-sha256:")
    assert read_sealed(path, "apply record") == {"id": "x", "outcomes": []}
    data = json.loads(path.read_text())
    reseal(path, {**data, "outcomes": [{"provider": "a"}]})
    with pytest.raises(UsageError, match="not signed, but DNSSYNC_PLAN_KEY is set"):
        read_sealed(path, "apply record")
    edited = {**data, "outcomes": [{"provider": "a"}]}
    edited.pop("checksum")
    path.write_text(json.dumps({**edited, "checksum": state.digest({k: v for k, v in edited.items()
                                                                    if k != "signature"})}))
    with pytest.raises(UsageError, match="signature does not match"):
        read_sealed(path, "apply record")
    monkeypatch.setenv("DNSSYNC_PLAN_KEY", "other" * 8)
    write_json(path, {"id": "y"}, sealed=True)
    monkeypatch.setenv("DNSSYNC_PLAN_KEY", "k" * 32)
    with pytest.raises(UsageError, match="signature does not match"):
        read_sealed(path, "apply record")


def test_snapshot_entry_outside_the_snapshot_folder_is_refused(tmp_path):
    from octodns.record import Record
    from octodns.zone import Zone

    from dnssync.applying import snapshot

    zone = Zone("example.test.", set())
    zone.add_record(Record.new(zone, "www", {"type": "A", "ttl": 60, "value": "192.0.2.1"}))
    sid = snapshot.save(tmp_path, [("pdns", zone, True)], None)
    folder = snapshot.snapshots_dir(tmp_path) / sid
    outside = tmp_path / "chosen.yaml"  # any YAML the writer likes, e.g. one that deletes everything
    outside.write_text((folder / "pdns" / "example.test.yaml").read_text())
    meta = json.loads((folder / "meta.json").read_text())
    meta["entries"][0]["file"] = "../../chosen.yaml"
    meta["entries"][0]["sha256"] = hashlib.sha256(outside.read_bytes()).hexdigest()
    (folder / "pdns" / "example.test.yaml").unlink()
    reseal(folder / "meta.json", meta)
    with pytest.raises(UsageError, match=r"lists '\.\./\.\./chosen\.yaml', which is not a provider/zone file"
                                         " inside the snapshot"):
        snapshot.load(tmp_path, "latest", {})


def test_restore_of_an_unsealed_snapshot_needs_the_flag(make_repo, lab):
    zone = unique_zone()
    repo = make_repo({zone: RECORDS}, providers=["pdns"])
    assert repo.run("apply", "--yes").exit_code == 0
    repo.zone_file(zone).write_text(RECORDS + "extra:\n  type: A\n  value: 192.0.2.99\n")
    assert repo.run("apply", "--yes").exit_code == 0
    meta = snapshot_folder(repo.root) / "meta.json"
    data = json.loads(meta.read_text())
    data.pop("checksum")
    meta.write_text(json.dumps(data))
    refused = repo.run("restore", "latest", "--yes")
    assert refused.exit_code == 2, refused.output
    assert "has no checksum" in refused.output and "restore --accept-unsealed" in refused.output
    assert ask(lab, "pdns", f"extra.{zone}", "A") == {"192.0.2.99"}  # nothing was sent
    accepted = repo.run("restore", "latest", "--yes", "--accept-unsealed")
    assert accepted.exit_code == 0, accepted.output
    assert ask(lab, "pdns", f"extra.{zone}", "A") == set()


def test_atomic_write_takes_over_a_temporary_left_by_a_crash_and_follows_no_symlink(tmp_path):
    """The temporary file's name is this process's and thread's: one left by a crashed
    process that had the same pid is replaced, and a symlink planted at the name is
    removed, never written through."""
    import threading

    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    folder = tmp_path / "state"
    folder.mkdir()
    tmp = folder / f".meta.json.{os.getpid()}.{threading.get_native_id()}.tmp"
    tmp.symlink_to(victim)
    write_json(folder / "meta.json", {"first": True})
    assert victim.read_text() == "keep me\n"
    tmp.write_text("half a file from a crash")
    write_json(folder / "meta.json", {"second": True})
    assert json.loads((folder / "meta.json").read_text()) == {"second": True}
    assert sorted(p.name for p in folder.iterdir()) == ["meta.json"]
