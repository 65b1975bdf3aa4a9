"""YAML (and JSON, which is YAML) loading that remembers where everything came from.

Why not octoDNS's loader: it is pure Python (most of octoDNS's plan time on big
zones), it silently keeps the last of two duplicate keys, and it refuses keys out
of natural order outright. This loader uses libyaml's C parser where available,
rejects duplicate keys with both line numbers, records the line of every key and
value so errors can name `file:line`, and reports (not rejects) key order.

A plain key that YAML 1.1 reads as another type (`null:`, `on:`, `1.5:`,
`2024-01-01:`) is kept as the text written: in a zone file a key is a label, and
`null:` silently becoming the apex (or `on:` the name `True`) is never what the
author meant. `Mapping.typed_keys` says which keys were read that way, so the
zone loader can warn and suggest quoting.

Repository files come from pull requests, so the loader also bounds what a hostile
file can make it do: an alias shares the anchored object (nothing is copied), but
everything downstream (octoDNS records, JSON, deep copies) walks the expansion, so
the expanded size is counted and refused past `MAX_EXPANSION` nodes (a kilobyte of
nested anchors is billions); nesting stops at `MAX_DEPTH` (Python's recursion limit
must never be what stops it); and `!include` reads only files inside the repository
root, symlinks resolved, never in a loop.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from dnssync.model.errors import DnssyncException
from dnssync.model.findings import Finding, Severity

#: nodes an alias or include may add to a file's data, beyond what is written out:
#: far above any real use (defaults merged into records), far below a YAML bomb
MAX_EXPANSION = 200_000
#: collections nested deeper than this are refused (a zone record is 4 levels deep)
MAX_DEPTH = 100

_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DIGIT = re.compile(r"\d")
_ASCII_NUMBER = re.compile(r"([0-9]+)")
#: what YAML 1.1 would have made of an unquoted key, by the type it resolves to
_KINDS: dict[type, str] = {type(None): "a null", bool: "a boolean", int: "an integer", float: "a number",
                           datetime.date: "a date", datetime.datetime: "a timestamp"}


def _ascii_natural(key: str) -> list[str | int]:
    """octoDNS's natural order (natsort's default key) for an ASCII key: text and numbers
    alternating, `h10` after `h9`. The same order as natsort's key, ties included (its
    key drops the empty texts this one keeps at either end, which sort first in both),
    at a tenth of its cost: a zone file's top-level keys are its names, digits common."""
    parts: list[str | int] = _ASCII_NUMBER.split(key)  # type: ignore[assignment]
    parts[1::2] = map(int, parts[1::2])  # type: ignore[arg-type]
    return parts


@cache
def _natsort_key() -> Callable[[str], Any]:
    """natsort's own key, for keys beyond ASCII (Unicode digits, normalisation); imported
    on first use, as most repositories never need it."""
    from natsort import natsort_keygen

    return natsort_keygen()


def natural_order(keys: list[str]) -> Callable[[str], Any]:
    """The key that sorts `keys` in octoDNS's natural order."""
    return _ascii_natural if all(k.isascii() for k in keys) else _natsort_key()


class Mapping(dict):
    """A dict that knows the file and line of itself, of each key and of each value."""

    file: str = ""
    line: int = 0

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.key_lines: dict[Any, int] = {}
        self.value_lines: dict[Any, int] = {}
        #: keys kept as written although YAML 1.1 reads them as another type: key -> that type
        self.typed_keys: dict[str, str] = {}

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


class WrittenInt(int):
    """An integer YAML 1.1 read from something other than plain decimal (`01234` is octal
    668, `0x10`, `1_000`, `1:30` is 90): it keeps what was written, so a TTL check can say
    the file does not mean what it looks like."""

    written: str = ""


_PLAIN_INT = re.compile(r"[-+]?(0|[1-9][0-9]*)")
#: the first characters of the plain scalars YAML 1.1 may read as another type than a string
#: (the resolver's own table): a plain scalar starting with any other character is its text
_RESOLVABLE = frozenset(first for first in _BaseLoader.yaml_implicit_resolvers if first)


class Sequence(list):
    """A list that knows the line of itself and of each item."""

    file: str = ""
    line: int = 0

    def __init__(self, *args: Any):
        super().__init__(*args)
        self.item_lines: list[int] = []


class YamlError(DnssyncException):
    """A file could not be loaded; `finding` says where and why."""

    def __init__(self, finding: Finding):
        self.finding = finding
        super().__init__(f"{finding.location}: {finding.message}")


def _problem(file: str, line: int | None, message: str) -> YamlError:
    return YamlError(
        Finding(Severity.ERROR, "config.yaml", message, file=file, line=line)
    )


class _Reading:
    """What one top-level load shares with the files it includes: the repository root
    includes must stay inside, how to read a file, the include chain (loops), the
    files already included (with their sizes) and the expansion used so far."""

    def __init__(self, root: Path, read: Callable[[Path], str]):
        self.root = root
        self.read = read
        self.chain: list[Path] = []
        self.included: dict[Path, tuple[Any, int]] = {}
        self.expanded = 0

    def expand(self, nodes: int, file: str, line: int, what: str) -> None:
        self.expanded += nodes
        if self.expanded > MAX_EXPANSION:
            raise _problem(file, line, f"{what} expands the data past {MAX_EXPANSION:,} nodes: refused"
                                       " (a YAML bomb, or aliases/includes used far beyond their purpose)")


def inside(path: Path, root: Path) -> bool:
    """Whether `path`, with every symlink resolved, is `root` or below it."""
    return path.resolve().is_relative_to(root.resolve())


def disk_reader(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def disorder(keys: list[Any], key_lines: dict[Any, int], file: str) -> Finding | None:
    """The key-order finding of one mapping (its first key out of octoDNS's natural
    order, at that key's line), or None when its keys are in order."""
    if not all(isinstance(k, str) for k in keys):
        return None
    if keys == sorted(keys) and not _DIGIT.search("".join(keys)):
        return None  # without digits natural order is plain order: the common, cheap case
    expected = sorted(keys, key=natural_order(keys))
    for got, want in zip(keys, expected, strict=True):
        if got != want:
            return Finding(Severity.WARNING, "zone.key-order",
                           f"keys out of octoDNS's natural order: expected {want!r} before {got!r}",
                           file=file, line=key_lines[got])
    return None


def _order_problem(first: Finding | None, more: int) -> list[Finding]:
    """A file's one key-order finding: its first mapping out of order, and how many more."""
    if first is None:
        return []
    suffix = f"; {more} more mapping(s) in this file" if more else ""
    return [replace(first, message=first.message + suffix, extra={"more": more})]


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Builds data straight from libyaml's parse events, never a node tree: the tree
    (two Mark objects per node) of a 100,000-record zone file is 260 MB, the data a
    fraction of that."""

    def __init__(self, stream: Any, file: str, reading: _Reading):
        super().__init__(stream)
        self.file = file
        self.reading = reading
        self.first_disorder: Finding | None = None  # this file's first mapping out of order
        self.more_disorder = 0  # and how many more of its mappings are
        self.included_order_problems: list[Finding] = []  # those of the files it includes
        self.anchors: dict[str, tuple[Any, int]] = {}  # anchor -> (data, its expanded size in nodes)
        self.nodes = 0  # nodes built so far, aliases and includes counted expanded
        self.depth = 0
        self.data: Any = None
        self.top_order = True  # check the top-level mapping's key order (a file part leaves it to the join)

    def build(self) -> Any:
        """The single document's data (None for an empty stream)."""
        self.get_event()  # StreamStart
        if self.check_event(yaml.StreamEndEvent):
            return None
        self.get_event()  # DocumentStart
        data = self.build_value()
        self.get_event()  # DocumentEnd
        if not self.check_event(yaml.StreamEndEvent):
            raise _problem(self.file, self.peek_event().start_mark.line + 1,
                           "expected a single document")
        return data

    def build_value(self) -> Any:
        return self.build_event(self.get_event())

    def build_event(self, event: Any) -> Any:
        """The data of the node `event` starts (its collection's events consumed too)."""
        if isinstance(event, yaml.ScalarEvent):  # most nodes: first, and without the bookkeeping below
            self.nodes += 1
            try:
                value = self.build_scalar(event)
            except ValueError as e:  # `2024-02-30`, an integer of 5,000 digits: PyYAML's int() or date()
                raise _problem(self.file, event.start_mark.line + 1, f"cannot read this value: {e}") from None
            if event.anchor:
                self.anchors[event.anchor] = (value, 1)
            return value
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent):
            if event.anchor not in self.anchors:
                raise _problem(self.file, line, f"not valid YAML: found undefined alias {event.anchor!r}")
            data, size = self.anchors[event.anchor]
            self.reading.expand(size, self.file, line, f"alias *{event.anchor}")
            self.nodes += size
            return data
        before = self.nodes
        self.nodes += 1
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _problem(self.file, line, f"nested deeper than {MAX_DEPTH} levels: refused")
        if isinstance(event, yaml.MappingStartEvent):
            self._plain_tag(event, "tag:yaml.org,2002:map")
            value: Any = self.build_mapping(event)
        else:
            self._plain_tag(event, "tag:yaml.org,2002:seq")
            value = self.build_sequence(event)
        self.depth -= 1
        if event.anchor:
            self.anchors[event.anchor] = (value, self.nodes - before)
        return value

    def _plain_tag(self, event: Any, default: str) -> None:
        if event.tag not in (None, "!", default):
            raise _problem(self.file, event.start_mark.line + 1,
                           f"unsupported tag {event.tag!r} on a collection")

    def build_scalar(self, event: yaml.ScalarEvent) -> Any:
        tag, text = event.tag, event.value
        if tag is None:  # the common cases, without a node, a resolver's regexes and a constructor
            if not event.implicit[0]:
                return text  # quoted, literal or folded: a string (the resolver's default tag)
            if text and text[0] not in _RESOLVABLE:
                return text  # plain, and no implicit type starts with its first character
            if text.isascii() and text.isdigit() and (text[0] != "0" or text == "0"):
                return int(text)  # plain decimal: what YAML 1.1's int reads it as
            tag = self.resolve(yaml.ScalarNode, text, event.implicit)
        elif tag == "!":
            tag = self.resolve(yaml.ScalarNode, text, event.implicit)
        node = yaml.ScalarNode(tag, text, event.start_mark, event.end_mark, event.style)
        constructor = self.yaml_constructors.get(tag, self.yaml_constructors[None])
        value = constructor(self, node)
        if type(value) is int and not _PLAIN_INT.fullmatch(text):
            value = WrittenInt(value)
            value.written = text
        return value

    def build_mapping(self, event: yaml.MappingStartEvent) -> Mapping:
        result = Mapping()
        result.file = self.file
        result.line = event.start_mark.line + 1
        keys: list[Any] = []
        merges: list[tuple[Any, int]] = []
        while True:
            key_event = self.get_event()
            if isinstance(key_event, yaml.MappingEndEvent):
                break
            line = key_event.start_mark.line + 1
            if isinstance(key_event, yaml.ScalarEvent) and key_event.value == "<<" \
                    and key_event.tag is None and key_event.implicit[0]:
                merges.append((self.build_value(), line))  # a YAML merge key: `<<: *defaults`
                continue
            key = self._as_written(self.build_event(key_event), key_event, result)
            value_event = self.get_event()
            value = self.build_event(value_event)
            if type(key) is not str:
                try:
                    hash(key)
                except TypeError:
                    raise _problem(self.file, line, "a mapping key must be a plain value") from None
            if key in result.key_lines:
                raise _problem(self.file, line, f"duplicate key {key!r} (first defined at line"
                                                f" {result.key_lines[key]})")
            result[key] = value
            result.key_lines[key] = line
            result.value_lines[key] = value_event.start_mark.line + 1
            keys.append(key)
        for merged, line in merges:
            for source in merged if isinstance(merged, list) else [merged]:
                if not isinstance(source, dict):
                    raise _problem(self.file, line, "a merge key (<<) takes a mapping")
                self.reading.expand(len(source), self.file, line, "merge key (<<)")
                for key, value in source.items():
                    if key not in result:
                        result[key] = value
                        result.key_lines[key] = result.value_lines[key] = line
        if self.depth > 1 or self.top_order:
            self._check_order(keys, result)
        return result

    @staticmethod
    def _as_written(key: Any, event: Any, mapping: Mapping) -> Any:
        """A scalar key YAML resolved to a non-string is the text the author wrote."""
        if isinstance(key, str) or not isinstance(event, yaml.ScalarEvent):
            return key
        kind = _KINDS.get(int if isinstance(key, WrittenInt) else type(key))
        if kind is None:
            return key
        mapping.typed_keys[event.value] = kind
        return event.value

    def _check_order(self, keys: list[Any], mapping: Mapping) -> None:
        """Remember the first mapping out of octoDNS's order, and count the others."""
        found = disorder(keys, mapping.key_lines, self.file)
        if found is None:
            return
        if self.first_disorder is None:
            self.first_disorder = found
        else:
            self.more_disorder += 1

    def order_problems(self) -> list[Finding]:
        """This file's key-order finding (its first mapping out of order, with how many
        more there are), then those of the files it includes. Built once the file is read:
        a Finding is frozen, and each file counts only its own mappings."""
        return _order_problem(self.first_disorder, self.more_disorder) + self.included_order_problems

    def build_sequence(self, event: yaml.SequenceStartEvent) -> Sequence:
        result = Sequence()
        result.file = self.file
        result.line = event.start_mark.line + 1
        while True:
            event = self.get_event()
            if isinstance(event, yaml.SequenceEndEvent):
                return result
            result.item_lines.append(event.start_mark.line + 1)
            result.append(self.build_event(event))

    def construct_include(self, node: yaml.ScalarNode) -> Any:
        """octoDNS's `!include other.yaml`, relative to the including file, and only
        inside the repository: a pull request must not make dnssync read (and then
        publish in validate's or a plan's output) a file of the machine it runs on."""
        line = node.start_mark.line + 1
        written = self.construct_scalar(node)
        target = Path(self.file).parent / written
        if not inside(target, self.reading.root):
            raise _problem(self.file, line, f"!include {written}: outside the repository: refused")
        key = target.resolve()
        if key in self.reading.chain:
            loop = " -> ".join(p.name for p in [*self.reading.chain, key])
            raise _problem(self.file, line, f"!include {written}: an include loop ({loop})")
        if key not in self.reading.included:
            if len(self.reading.chain) >= MAX_DEPTH:
                raise _problem(self.file, line, f"!include {written}: includes nested deeper than {MAX_DEPTH}")
            self.reading.chain.append(key)
            try:
                loader = _read(target, self.reading)
                self.reading.included[key] = (loader.data, loader.nodes)
                self.included_order_problems += loader.order_problems()
            finally:
                self.reading.chain.pop()
        else:
            data, size = self.reading.included[key]
            self.reading.expand(size, self.file, line, f"!include {written}")
        data, size = self.reading.included[key]
        self.nodes += size
        return data


_Loader.add_constructor("!include", _Loader.construct_include)


def _read(path: Path, reading: _Reading) -> _Loader:
    """Load one file into a loader (its `data`, `nodes`, `order_problems`); YamlError else."""
    file = str(path)
    try:
        text = reading.read(path)
    except FileNotFoundError:
        raise _problem(file, None, "file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise _problem(file, None, f"cannot read file: {e}") from None
    return _parse(_Loader(text, file, reading))


def _parse(loader: _Loader) -> _Loader:
    """The loader with its text's data built; YamlError naming file and line else."""
    file = loader.file
    try:
        loader.data = loader.build()
    except YamlError:
        raise
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else None
        reason = " ".join(p for p in (e.context, e.problem) if p)
        raise _problem(file, line, f"not valid YAML: {reason}") from None
    except yaml.YAMLError as e:
        raise _problem(file, None, f"not valid YAML: {e}") from None
    except RecursionError:  # a guard above failed: still a file:line, never a traceback
        raise _problem(file, None, "nested too deeply: refused") from None
    finally:
        loader.dispose()
    return loader


@dataclass
class Part:
    """One slice of a file's top-level keys, loaded alone (fileparts.py): its data, and
    what `join_order` needs to give the whole file's key-order finding."""

    data: Any
    first_disorder: Finding | None  # its first nested mapping out of order
    disordered: int  # its nested mappings out of order, that one included
    plain: bool  # no anchor, alias, merge key or include: its data does not depend on other parts


def load_part(text: str, file: str, first_line: int, root: Path) -> Part:
    """The top-level keys written from line `first_line` (0-based) of `file` on, as `text`:
    loaded with the whole file's line numbers, its top-level key order left to `join_order`.
    YamlError when it is no valid YAML by itself."""
    reading = _Reading(root, disk_reader)
    loader = _Loader("\n" * first_line + text, file, reading)
    loader.top_order = False
    _parse(loader)
    disordered = 0 if loader.first_disorder is None else loader.more_disorder + 1
    plain = not loader.anchors and not reading.expanded and not reading.included
    return Part(loader.data, loader.first_disorder, disordered, plain)


def join_order(parts: list[Part], keys: list[Any], key_lines: dict[Any, int], file: str) -> list[Finding]:
    """The key-order finding `load_file` gives for the file the parts were cut from: their
    nested mappings come in file order, the top-level mapping (all their keys) last."""
    firsts = [p.first_disorder for p in parts if p.first_disorder is not None]
    count = sum(p.disordered for p in parts)
    top = disorder(keys, key_lines, file)
    if top is not None:
        firsts.append(top)
        count += 1
    return _order_problem(firsts[0] if firsts else None, count - 1)


def load_file(path: Path, root: Path | None = None,
              read: Callable[[Path], str] = disk_reader) -> tuple[Any, list[Finding]]:
    """Load one YAML or JSON file. Returns the data (Mapping/Sequence/scalars) and the
    non-fatal findings (key order). Raises YamlError for anything unreadable.

    `root` is the repository: the file and everything it includes must be inside it,
    symlinks resolved (default: the file's own folder). `read` reads a file's text
    (`plan --base` reads a revision's tree, never the working disk)."""
    root = root if root is not None else path.parent
    resolved = path.resolve()
    if not resolved.is_relative_to(root.resolve()):  # `inside`, resolving the path once
        raise _problem(str(path), None, f"a symlink to {resolved}, outside the repository ({root}):"
                                        " refused")
    reading = _Reading(root, read)
    reading.chain.append(resolved)
    loader = _read(path, reading)
    return loader.data, loader.order_problems()
