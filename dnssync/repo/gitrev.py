"""Git revisions of the user's repository: which commit a plan or apply was made from,
and the zone files as they were at another revision (for `plan --base`)."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

from dnssync.model.errors import UsageError


def _git(path: Path, *args: str, binary: bool = False) -> str | bytes:
    result = subprocess.run(["git", "-C", str(path), *args], capture_output=True, timeout=60, check=False)
    if result.returncode != 0:
        raise UsageError(f"git {' '.join(args)}: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout if binary else result.stdout.decode()


def head_revision(path: Path) -> str | None:
    """The commit checked out at `path`, with `+dirty` when files are modified."""
    try:
        rev = str(_git(path, "rev-parse", "HEAD")).strip()
        # untracked files (dnssync's own .dnssync/, a plan.json) do not make a revision dirty
        dirty = str(_git(path, "status", "--porcelain", "--untracked-files=no")).strip()
    except (OSError, subprocess.SubprocessError, UsageError):
        return None
    return rev + ("+dirty" if dirty else "")


def export_folder(path: Path, rev: str, folder: Path, target: Path) -> Path:
    """Write `folder` (inside the repository at `path`) as it was at `rev` below `target`;
    returns where it landed. A folder that did not exist at `rev` comes back empty."""
    top = Path(str(_git(path, "rev-parse", "--show-toplevel")).strip())
    try:
        commit = str(_git(path, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")).strip()
    except UsageError:
        raise UsageError(f"unknown git revision {rev!r} in {top}") from None
    relative = folder.resolve().relative_to(top.resolve())
    listed = str(_git(top, "ls-tree", "--name-only", commit, "--", str(relative))).strip()
    out = target / relative
    out.mkdir(parents=True, exist_ok=True)
    if listed:
        archive = _git(top, "archive", "--format=tar", commit, "--", str(relative), binary=True)
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:  # type: ignore[arg-type]
            try:  # "data": no absolute paths, no links leaving `target`, no devices
                tar.extractall(target, filter="data")
            except tarfile.FilterError as e:
                member = getattr(e, "tarinfo", None)
                name = member.name if member is not None else "?"
                raise UsageError(f"{name} at {rev}: refused ({e}); nothing outside the repository is read") from None
    return out
