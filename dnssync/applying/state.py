"""The local state folder (.dnssync/ by default): lock, snapshots, apply records.

Nothing here is needed to plan; it exists so that apply never loses data
(snapshots), never runs twice at once (lock), and so that `watch` can follow
the last apply from another CI job (apply records).
"""

from __future__ import annotations

import fcntl
import hmac
import json
import os
import re
import socket
import stat
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dnssync.model.binding import KEY_ENV, plan_key, signature
from dnssync.model.canonjson import Pieces, canonical, joined, pieces, sha256_of
from dnssync.model.errors import LockHeld, UsageError


def stamp() -> str:
    """A sortable, filename-safe UTC time stamp with microseconds (unique per run)."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")


def _lock_holder(fd: int, path: Path) -> str:
    """Who holds the flock on `fd`'s file: the live process the kernel names (/proc/locks),
    else what the holder wrote, marked when that process is gone (a stale note)."""
    st = os.fstat(fd)
    device = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    try:
        for line in Path("/proc/locks").read_text().splitlines():
            fields = line.split()
            if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == device:
                pid = int(fields[4])
                try:
                    command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                except OSError:
                    command = ""
                return f"pid {pid} on {socket.gethostname()}" + (f": {command.strip()[:200]}" if command else "")
    except (OSError, ValueError):
        pass
    note = os.pread(fd, 4096, 0).decode(errors="replace").strip()
    match = re.match(r"pid (\d+) on (\S+)", note)
    if match and match.group(2) == socket.gethostname() and not Path(f"/proc/{match.group(1)}").exists():
        return f"another process; the lock file's note ({note}) names a process that is no longer running"
    return note or "another process"


@contextmanager
def apply_lock(state_dir: Path) -> Iterator[None]:
    """Hold the repository's apply lock, or raise LockHeld naming who holds it.

    The lock file is opened without following a symlink and must be a regular file:
    a state folder someone tampered with must not make apply write elsewhere."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / "apply.lock"
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as e:
        kind = "a symlink" if path.is_symlink() else "a directory" if path.is_dir() else f"unusable ({e.strerror})"
        raise UsageError(f"lock file {path} is {kind}: refused (nothing was sent); remove it by hand") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UsageError(f"lock file {path} is not a regular file: refused (nothing was sent)")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockHeld(f"another apply is running ({_lock_holder(fd, path)}); lock file {path}") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} since {stamp()}".encode(), 0)
        yield
    finally:
        os.close(fd)


def digest(data: Any) -> str:
    """sha256 of the canonical JSON of `data`: what a sealed state file's `checksum` is."""
    return sha256_of(canonical(data, default=str))


def write_atomic(path: Path, data: bytes) -> Path:
    """Write `path` so that it is, after a crash or Ctrl-C at any moment, either the old
    file or the whole new one: a temporary file beside it, fsync, rename, fsync the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _replace(path, data)
    _fsync_folder(path.parent)
    return path


#: files written at once by write_all: the file system commits concurrent fsyncs
#: together (one journal commit for many), where one after the other each waits for its own
_CONCURRENT_FSYNCS = 16


def write_all(files: dict[Path, bytes]) -> None:
    """`write_atomic` for many files (a snapshot of a fleet's zones): each file is still
    the old one or the whole new one after a crash, but the files are written and
    fsynced concurrently and each folder is fsynced once, after all its renames.
    Hundreds of fsyncs one after the other took seconds."""
    for folder in {path.parent for path in files}:
        folder.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=_CONCURRENT_FSYNCS) as pool:
        list(pool.map(lambda item: _replace(*item), files.items()))
    for folder in {path.parent for path in files}:
        _fsync_folder(folder)


_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL


def _replace(path: Path, data: bytes) -> None:
    """A temporary file beside `path`, fsynced, renamed over it (the folder not fsynced).
    Plain os calls on a name of this process and thread: tempfile.mkstemp's random name
    and a buffered file object were a third of the CPU of writing a fleet's snapshot
    (300 files of 600 bytes, 16 threads: 0.126 against 0.085 s, medians of 5), and no other
    writer can use this name while this thread does."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_native_id()}.tmp")
    try:
        try:  # O_EXCL: a symlink planted at the name is never followed
            fd = os.open(tmp, _NEW_FILE, 0o600)
        except FileExistsError:  # left by a crash of an earlier process with this pid
            tmp.unlink()
            fd = os.open(tmp, _NEW_FILE, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json(path: Path, data: Any, sealed: bool = False) -> Path:
    """Write JSON atomically; `sealed` adds a `checksum` of the content and, when
    DNSSYNC_PLAN_KEY is set, an HMAC `signature` of it (as saved plans have), which
    `read_sealed` verifies."""
    if sealed:
        return write_sealed(path, pieces(data, default=str))
    # not indented: Python's encoder indents at a fifth of the C encoder's speed, and a
    # fleet's apply record (every change of every pair) runs to megabytes (`jq .` shows it)
    return write_atomic(path, json.dumps(data, sort_keys=True, default=str).encode())


def write_sealed(path: Path, parts: Pieces) -> Path:
    """`write_json(..., sealed=True)` of a mapping given as canonical pieces (canonjson.py):
    its checksum is that of the pieces joined, and the file is that text with the
    checksum (and signature) added, so a big record is serialised once (compact JSON,
    which `read_sealed` reads like any other)."""
    checksum = sha256_of(joined(parts))
    key = plan_key()
    sealed = {**parts, "checksum": canonical(checksum)}
    if key is not None:
        sealed["signature"] = canonical(signature(checksum, key))
    return write_atomic(path, joined(sealed).encode())


def read_sealed(path: Path, what: str, accept_unsealed: bool = False, flag: str | None = None) -> dict:
    """A sealed JSON state file, or UsageError when it is unreadable, truncated or edited.

    The checksum catches accidents only: whoever can write the state folder can recompute
    it. So with DNSSYNC_PLAN_KEY set the file must also carry the key's HMAC, which only a
    holder of the key can make. A file without a checksum (or, with the key set, without a
    signature: written by an older dnssync or without the key) is refused unless
    `accept_unsealed`, which the refusal names as `flag` (e.g. `restore --accept-unsealed`)."""
    try:
        data = json.loads(path.read_text())
    except OSError as e:
        raise UsageError(f"cannot read {what} {path}: {e.strerror}") from None
    except ValueError as e:
        raise UsageError(f"{what} {path} is damaged (not JSON: {e}): refused (nothing was sent)") from None
    if not isinstance(data, dict):
        raise UsageError(f"{what} {path} is damaged (not a JSON object): refused (nothing was sent)")
    saved, signed = data.pop("checksum", None), data.pop("signature", None)
    key = plan_key()
    trust = f"; if you trust this file, run again with {flag}" if flag else ""
    if saved is None:
        if accept_unsealed:
            return data
        raise UsageError(f"{what} {path} has no checksum (made by an older dnssync, or the checksum was"
                         f" removed): refused (nothing was sent){trust}")
    if saved != digest(data):
        raise UsageError(f"{what} {path} is damaged (its checksum does not match its content):"
                         " refused (nothing was sent)")
    if key is not None and signed is None and not accept_unsealed:
        raise UsageError(f"{what} {path} is not signed, but {KEY_ENV} is set (written without the key):"
                         f" refused (nothing was sent){trust}")
    if key is not None and signed is not None and not hmac.compare_digest(str(signed), signature(saved, key)):
        raise UsageError(f"{what} {path}: its signature does not match ({KEY_ENV} differs, or the file was"
                         " edited and re-summed): refused (nothing was sent)")
    return data


def applies_dir(state_dir: Path) -> Path:
    return state_dir / "applies"


def resolve_id(which: str, ids: list[str], kind: str, folder: Path, empty: str) -> str:
    """The one id among `ids` (sorted, oldest first) that `which` names: 'latest', an id,
    or a unique prefix of one; else UsageError (`empty` when there are none at all).
    Snapshots and apply records are both named by it, the same way."""
    if not ids:
        raise UsageError(empty)
    matches = ids[-1:] if which == "latest" else [i for i in ids if i.startswith(which)]
    if len(matches) != 1:
        raise UsageError(f"no unique {kind} {which!r} in {folder} (latest: {', '.join(ids[-5:])})")
    return matches[0]


def find_apply(state_dir: Path, which: str = "latest") -> Path:
    """The record of apply `which`: 'latest', an id, or a unique prefix of an id."""
    folder = applies_dir(state_dir)
    found = resolve_id(which, sorted(r.stem for r in folder.glob("*.json")), "apply", folder,
                       "nothing to watch: no apply has been made from this repository yet"
                       f" ({folder} is empty); watch follows an apply: run dnssync apply first")
    return folder / f"{found}.json"
