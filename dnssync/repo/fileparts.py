"""One large zone file read by several processes at once.

Why: a zone of 10,000 records is one file, and reading it (YAML events into line-tracked
data, octoDNS's `Record.new` with its validation, dnssync's checks of each record) is
about a second of one core's work in every command, while the other cores wait;
spread.py can only share out whole zones. A zone file is one mapping of names, so it is
cut before top-level keys (a line that starts a `name:` at column 0) into parts of
about equal size; forked workers read the later parts while this process reads the
first, and hand back what they made (the caller pickles the records without their zone).

The result must be exactly one pass's: each part is parsed with the file's own line
numbers, and any part that is not plainly a slice of the top-level mapping gives the
whole file back to one pass (return None): a part that is no valid YAML by itself (a
quoted or flow value cut in two, a second document, a YAML error anywhere: one pass
says where), one that uses an anchor, alias, merge key or `!include` (its data could
depend on another part), a part whose first key is not at its cut, and a name defined
in two parts (one pass reports the duplicate). Key order is judged as one pass does:
`yamlfile.join_order`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from dnssync.model.findings import Finding
from dnssync.repo.spread import forked
from dnssync.repo.yamlfile import Mapping, Part, YamlError, join_order, load_part

#: bytes of a zone file a process must have at least to be worth forking: about 1,500
#: records, 0.12 s of reading. Measured (in-process load, two idle cores): a file of 2,000
#: records (97 KB) gains nothing, 3,000 records 0.04 s of 0.25, 5,000 0.08 of 0.41, 10,000 0.17 of 0.82
MIN_PART_BYTES = 75_000
#: this process's part, relative to a worker's: it also unpickles and places every
#: record, and checks the whole zone, after the workers are done
FIRST_SHARE = 1.15
#: a line starting a top-level key: a plain name at column 0 followed by `:`
_KEY_LINE = re.compile(r"[A-Za-z0-9_][^\n]*?:(?: |\n)")
#: what makes line numbers or the document's meaning differ between a part and the
#: whole: line breaks other than \n (YAML also breaks lines at them), directives
_ODD = re.compile("[\r\x85\u2028\u2029]|^%", re.MULTILINE)

M = TypeVar("M")


def cut(text: str, count: int, first_share: float = FIRST_SHARE) -> list[tuple[int, str]]:
    """`text` cut before top-level keys into at most `count` parts, the first `first_share`
    of the others' size: [(its first line, 0-based; its text)]. One part when it cannot be cut."""
    if _ODD.search(text):
        return [(0, text)]
    total = len(text)
    weights = [first_share] + [1.0] * (count - 1)
    parts: list[tuple[int, str]] = []
    start = line = 0
    done = 0.0
    for weight in weights[:-1]:
        done += weight
        position = text.find("\n", max(start + 1, int(total * done / sum(weights))) - 1)
        while position != -1 and not _KEY_LINE.match(text, position + 1):
            position = text.find("\n", position + 1)
        if position == -1:
            break
        parts.append((line, text[start:position + 1]))
        line += text.count("\n", start, position + 1)
        start = position + 1
    parts.append((line, text[start:]))
    return parts


def _read_part(path: Path, root: Path, index: int, first_line: int, text: str,
               make: Callable[[Mapping], M]) -> tuple[list[Any], dict[Any, int], Part, M] | None:
    """One part read and made: its top-level keys and their lines, its key-order state
    (without its data) and `make` of its data; None when it is not plainly a slice."""
    try:
        part = load_part(text, str(path), first_line, root)
    except YamlError:
        return None
    data = part.data
    if not isinstance(data, Mapping) or not data or not part.plain:
        return None
    keys = list(data)
    if index and data.key_lines[keys[0]] != first_line + 1:
        return None
    lines = {key: data.key_lines[key] for key in keys}
    return keys, lines, replace(part, data=None), make(data)


def read_in_parts(path: Path, root: Path, jobs: int, make: Callable[[Mapping], M],
                  send: Callable[[M], Any], receive: Callable[[Any], M]) -> tuple[list[M], list[Finding]] | None:
    """`make` of each part of the file's top-level mapping, in file order, and the file's
    key-order findings (what `load_file` gives); None when the file is better read in one
    pass (small, not inside `root`, unreadable, or not plainly cut: see the module).
    A worker's `make` result travels as `send` of it, back here through `receive`."""
    try:
        size = path.stat().st_size
        if size < 2 * MIN_PART_BYTES or not path.resolve().is_relative_to(root.resolve()):
            return None
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None  # one pass reports it
    parts = cut(text, min(jobs, int(size / MIN_PART_BYTES)))
    if len(parts) < 2:
        return None

    def work(part: tuple[int, tuple[int, str]]) -> Any:
        index, (first_line, part_text) = part
        read = _read_part(path, root, index, first_line, part_text, make)
        return read if read is None or index == 0 else (*read[:3], send(read[3]))

    results = forked(work, list(enumerate(parts)))
    if results is None or any(result is None for result in results):
        return None
    keys: list[Any] = []
    lines: dict[Any, int] = {}
    for part_keys, part_lines, _, _ in results:
        if any(key in lines for key in part_keys):
            return None  # a name in two parts: one pass reports the duplicate where it is
        keys += part_keys
        lines.update(part_lines)
    order = join_order([result[2] for result in results], keys, lines, str(path))
    return [results[0][3]] + [receive(result[3]) for result in results[1:]], order
