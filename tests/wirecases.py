"""Damaged DNS messages, for the tests that hold a reader off the wire to dnspython's
or to "Malformed, or nothing at all"."""

from __future__ import annotations

import random


def damaged(data: bytes, seed: int, count: int = 3000, changes: int = 3, start: int = 12) -> list[bytes]:
    """Every truncation of the message `data`, and `count` copies of it with one to
    `changes` octets from offset `start` on (past the header by default) changed at
    random: the same cases for the same seed."""
    rnd = random.Random(seed)
    cases = [data[:n] for n in range(len(data))]
    for _ in range(count):
        corrupt = bytearray(data)
        for _ in range(rnd.randint(1, changes)):
            corrupt[rnd.randrange(start, len(corrupt))] = rnd.randrange(256)
        cases.append(bytes(corrupt))
    return cases
