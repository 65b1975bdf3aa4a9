"""An octoDNS Zone that builds its set of records once, not at every `records`.

octoDNS's `Zone.records` builds a new set of every record at each call, hashing each
record (a Python-level hash of its name and type), and a zone's records are asked for
again and again: by each provider's processing, each adjustment, each check, each
copy of the zone until it is changed. For a zone of 10,000 records that was a sixth
of verify's preparation. Here the set is built once per change of the zone and each
call gets its own copy of it (a set copied from a set keeps its hashes: no record is
hashed again), so a caller may change what it gets, as octoDNS's callers may.
Copies are CachedZones too, and a copy not changed yet asks its origin, as octoDNS's do.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from octodns.record import Record
from octodns.zone import Zone


def _changing(method: Callable[..., Any]) -> Callable[..., Any]:
    """`method` of a CachedZone, forgetting its built set of records before and after."""

    @functools.wraps(method)
    def change(self: CachedZone, *args: Any, **kwargs: Any) -> Any:
        self._built = None
        try:
            return method(self, *args, **kwargs)
        finally:
            self._built = None

    return change


class CachedZone(Zone):
    """A Zone whose `records` set is built once per change."""

    _built: frozenset[Record] | None = None

    @property
    def records(self) -> set[Record]:
        if self._origin:
            return self._origin.records
        built = self._built
        if built is None:
            built = self._built = frozenset(super().records)
        return set(built)

    # a change forgets the set, before (hydrating a copy asks the origin's records) and after
    add_record = _changing(Zone.add_record)
    remove_record = _changing(Zone.remove_record)

    def hydrate(self) -> bool:
        """A copy made a zone of its own (at its first change): each of the origin's nodes
        copied as a set, not each record added again with octoDNS's checks (lenient, as
        octoDNS's own hydrate adds them: they passed them in the origin). A zone is copied
        and changed for its managed apex NS and for each provider that cannot hold all of
        it: re-adding every record was a tenth of loading a fleet."""
        origin = self._origin
        if origin is None:
            return False
        while origin._origin is not None:  # a copy of a copy not changed yet: its origin's records
            origin = origin._origin
        self._origin = None
        self._records = defaultdict(set, {name: set(node) for name, node in origin._records.items() if node})
        self._root_ns = origin._root_ns
        self._built = None
        return True

    def copy(self) -> CachedZone:
        copy = super().copy()
        copy.__class__ = CachedZone  # octoDNS's copy is a plain Zone: keep the cache in copies too
        return copy

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_built", None)  # its records are pickled once, in the zone's own table
        return state
