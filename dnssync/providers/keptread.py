"""One read of a zone serving both of plan's looks at it.

Why: plan first asks whether a provider holds a zone exactly as it should
(planning/unchanged.py, a read in DNS's meaning); when it does not, octoDNS's
populate reads the same zone again to build its records. For every changed pair,
and every pair of a first apply, that was two zone transfers (or two GETs of the
zone) where one would do: a sixth of a first apply's CPU, and twice the load on the
provider. Inside `keep_reads()` the quick read's raw answer is kept, per thread,
provider and zone, and the populate that follows in the same thread takes it
instead of reading again. Whatever is not taken is dropped when the block ends, so
no later read (an apply's read-back, a re-plan) is ever answered from it.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from typing import Any

_local = threading.local()


@contextmanager
def keep_reads() -> Iterator[None]:
    """Within the block (one pair's planning, in this thread), a whole-zone read is kept
    for the one populate that follows it."""
    _local.kept = {}
    try:
        yield
    finally:
        _local.kept = None


def keep(provider: object, key: Hashable, raw: Any) -> None:
    """Keep `raw` (a transfer's records, an HTTP response) for the next `take`, if inside
    `keep_reads`."""
    kept = getattr(_local, "kept", None)
    if kept is not None:
        kept[(id(provider), key)] = raw


def take(provider: object, key: Hashable) -> Any | None:
    """The kept read of `key` for this provider, once; None when there is none."""
    kept = getattr(_local, "kept", None)
    return kept.pop((id(provider), key), None) if kept else None


def keeping() -> bool:
    """Whether a read made now would be kept (inside `keep_reads`)."""
    return getattr(_local, "kept", None) is not None
