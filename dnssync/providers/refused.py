"""Changes a server refused, found by splitting the request that carried them.

An RFC 2136 update message and a PowerDNS PATCH are each all-or-nothing: one
record the server objects to (BIND's check-names, PowerDNS's 422 on a CNAME
beside other data) refuses the whole batch, and the answer rarely says which
record it was. `bisect` sends the batch, and when the server refuses it for a
reason that will not change on a retry, sends each half, down to the single
changes, so that everything else is applied and exactly the refused changes are
reported with the server's answer. Sending the same data again cannot help, so
a `Refused` error is never retried and never says "re-run apply".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from dnssync.model.errors import DnssyncException

T = TypeVar("T")


class Refused(DnssyncException):
    """The server refused some changes and applied the rest.

    `refused`: (the change in words, the server's reason) of each refused change;
    `applied`/`total` count the changes applied and sent."""

    transient = False

    def __init__(self, where: str, refused: list[tuple[str, str]], applied: int, total: int):
        self.refused, self.applied, self.total = refused, applied, total
        listed = "; ".join(f"{what}: {why}" for what, why in refused)
        super().__init__(f"{where} refused {len(refused)} of {total} RRset change(s), the other {applied} were"
                         f" applied: {listed}")


class Deterministic(DnssyncException):
    """Raised by a `send` callable: the server refused this batch for a reason of the
    data (REFUSED, NOTZONE, HTTP 422...), so it is worth splitting."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def bisect(items: Sequence[T], send: Callable[[Sequence[T]], None]) -> tuple[int, list[tuple[T, str]]]:
    """Send `items` with `send`; where a batch is refused (`Deterministic`), send its
    halves, in order, down to single items. Returns (items applied, [(item, reason)]
    refused). Any other exception from `send` propagates (transient: the caller retries)."""
    try:
        send(items)
    except Deterministic as e:
        if len(items) == 1:
            return 0, [(items[0], e.reason)]
        half = len(items) // 2
        applied_first, refused_first = bisect(items[:half], send)
        applied_second, refused_second = bisect(items[half:], send)
        return applied_first + applied_second, refused_first + refused_second
    return len(items), []
