"""The local state folder (.dnssync/ by default): lock, snapshots, apply records.

Nothing here is needed to plan; it exists so that apply never loses data
(snapshots), never runs twice at once (lock), and so that `watch` can follow
the last apply from another CI job (apply records).
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dnssync.errors import LockHeld, UsageError


def stamp() -> str:
    """A sortable, filename-safe UTC time stamp with microseconds (unique per run)."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")


@contextmanager
def apply_lock(state_dir: Path) -> Iterator[None]:
    """Hold the repository's apply lock, or raise LockHeld naming who holds it."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / "apply.lock"
    handle = open(path, "a+")  # noqa: SIM115 - held for the whole block
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise LockHeld(f"another apply is running ({holder}); lock file {path}") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()} since {stamp()}")
        handle.flush()
        yield
    finally:
        handle.close()


def write_json(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str))
    tmp.replace(path)
    return path


def applies_dir(state_dir: Path) -> Path:
    return state_dir / "applies"


def find_apply(state_dir: Path, which: str = "latest") -> Path:
    """The record of apply `which`: 'latest', an id, or a unique prefix of an id."""
    records = sorted(applies_dir(state_dir).glob("*.json"))
    ids = [r.stem for r in records]
    matches = (records[-1:] if which == "latest"
               else [r for r in records if r.stem.startswith(which)])
    if not records:
        raise UsageError("nothing to watch: no apply has been made from this repository yet"
                         f" ({applies_dir(state_dir)} is empty); watch follows an apply: run dnssync apply first")
    if len(matches) != 1:
        known = ", ".join(ids[-5:])
        raise UsageError(f"no unique apply {which!r} in {applies_dir(state_dir)} (latest: {known})")
    return matches[0]
