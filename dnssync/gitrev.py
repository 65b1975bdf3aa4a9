"""Git revisions of the user's repository (plans and applies record which one)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def head_revision(path: Path) -> str | None:
    """The commit checked out at `path`, with `+dirty` when zone files are modified."""
    try:
        rev = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(path), "status", "--porcelain"], capture_output=True,
                               text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return rev + ("+dirty" if dirty else "")
