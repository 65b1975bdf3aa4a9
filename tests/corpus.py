"""Where the octoDNS fixtures come from, so that a clone tests anywhere.

The fixtures (octoDNS's own `tests/config`: unit.tests.yaml, split and hybrid layouts,
the manager configs) are read from, in order:

1. `$DNSSYNC_CORPUS/octodns-fixtures` (a corpus laid out as the workplace's shared/corpus);
2. `../shared/corpus/octodns-fixtures` beside the checkout;
3. the source distribution of the installed octoDNS version, which ships the same
   fixtures, downloaded once with pip and kept in `~/.cache/dnssync/` (or
   `$XDG_CACHE_HOME/dnssync/`).

When none can be had, `FIXTURES` is None and the tests that need the data skip with
`MISSING`, which says how to get it. Nothing here raises at import: a fresh clone with
no corpus and no network still collects and runs every other test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _octodns_version() -> str | None:
    try:
        return version("octodns")
    except PackageNotFoundError:
        return None


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "dnssync"


def _from_sdist(release: str) -> Path | None:
    """octoDNS's sdist for `release`, unpacked once into the cache; its `tests/config`.

    Only the fixture folders are extracted (never paths that would leave the cache)."""
    target = _cache_dir() / f"octodns-{release}"
    config = target / "tests" / "config"
    if config.is_dir():
        return config
    with tempfile.TemporaryDirectory() as download:
        pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
               f"octodns=={release}", "-d", download]
        try:
            subprocess.run(pip, check=True, capture_output=True, timeout=60)
        except (OSError, subprocess.SubprocessError):
            return None
        archives = list(Path(download).glob("octodns-*.tar.gz"))
        if not archives:
            return None
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=target.parent))
        with tarfile.open(archives[0]) as archive:
            top = f"octodns-{release}/tests/"
            members = [m for m in archive.getmembers()
                       if m.name.startswith((top + "config", top + "zones")) and (m.isfile() or m.isdir())]
            for member in members:
                member.name = member.name[len(f"octodns-{release}/"):]
            archive.extractall(staging, members=members, filter="data")
        try:
            staging.rename(target)
        except OSError:  # another test process unpacked it first
            shutil.rmtree(staging, ignore_errors=True)
    return config if config.is_dir() else None


def _find() -> Path | None:
    for corpus in (os.environ.get("DNSSYNC_CORPUS"), ROOT.parent / "shared" / "corpus"):
        if corpus and (Path(corpus) / "octodns-fixtures" / "tests" / "config").is_dir():
            return Path(corpus) / "octodns-fixtures" / "tests" / "config"
    release = _octodns_version()
    return _from_sdist(release) if release else None


FIXTURES: Path | None = _find()
"""octoDNS's `tests/config` folder, or None when it cannot be had."""

MISSING = ("octoDNS's test fixtures are not available: set DNSSYNC_CORPUS to a corpus folder "
           "(with octodns-fixtures/tests/config), or allow `pip download --no-binary :all: octodns` "
           "to reach PyPI once (cached in ~/.cache/dnssync)")
