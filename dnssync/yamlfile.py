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
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any

import yaml
from natsort import natsort_keygen

from dnssync.findings import Finding, Severity

_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_natural = natsort_keygen()
_DIGIT = re.compile(r"\d")
#: what YAML 1.1 would have made of an unquoted key, by the type it resolves to
_KINDS: dict[type, str] = {type(None): "a null", bool: "a boolean", int: "an integer", float: "a number",
                           datetime.date: "a date", datetime.datetime: "a timestamp"}


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


class Sequence(list):
    """A list that knows the line of itself and of each item."""

    file: str = ""
    line: int = 0

    def __init__(self, *args: Any):
        super().__init__(*args)
        self.item_lines: list[int] = []


class YamlError(Exception):
    """A file could not be loaded; `finding` says where and why."""

    def __init__(self, finding: Finding):
        self.finding = finding
        super().__init__(f"{finding.location}: {finding.message}")


def _problem(file: str, line: int | None, message: str) -> YamlError:
    return YamlError(
        Finding(Severity.ERROR, "config.yaml", message, file=file, line=line)
    )


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Builds data straight from libyaml's parse events, never a node tree: the tree
    (two Mark objects per node) of a 100,000-record zone file is 260 MB, the data a
    fraction of that."""

    def __init__(self, stream: Any, file: str):
        super().__init__(stream)
        self.file = file
        self.order_problems: list[Finding] = []
        self.anchors: dict[str, Any] = {}

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
        event = self.get_event()
        if isinstance(event, yaml.AliasEvent):
            if event.anchor not in self.anchors:
                raise _problem(self.file, event.start_mark.line + 1,
                               f"not valid YAML: found undefined alias {event.anchor!r}")
            return self.anchors[event.anchor]
        if isinstance(event, yaml.MappingStartEvent):
            self._plain_tag(event, "tag:yaml.org,2002:map")
            value: Any = self.build_mapping(event)
        elif isinstance(event, yaml.SequenceStartEvent):
            self._plain_tag(event, "tag:yaml.org,2002:seq")
            value = self.build_sequence(event)
        else:
            value = self.build_scalar(event)
        if event.anchor:
            self.anchors[event.anchor] = value
        return value

    def _plain_tag(self, event: Any, default: str) -> None:
        if event.tag not in (None, "!", default):
            raise _problem(self.file, event.start_mark.line + 1,
                           f"unsupported tag {event.tag!r} on a collection")

    def build_scalar(self, event: yaml.ScalarEvent) -> Any:
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.resolve(yaml.ScalarNode, event.value, event.implicit)
        node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
        constructor = self.yaml_constructors.get(tag, self.yaml_constructors[None])
        return constructor(self, node)

    def build_mapping(self, event: yaml.MappingStartEvent) -> Mapping:
        result = Mapping()
        result.file = self.file
        result.line = event.start_mark.line + 1
        keys: list[Any] = []
        merges: list[tuple[Any, int]] = []
        while not self.check_event(yaml.MappingEndEvent):
            key_event = self.peek_event()
            line = key_event.start_mark.line + 1
            if isinstance(key_event, yaml.ScalarEvent) and key_event.value == "<<" \
                    and key_event.tag is None and key_event.implicit[0]:
                self.get_event()  # a YAML merge key: `<<: *defaults`
                merges.append((self.build_value(), line))
                continue
            key = self._as_written(self.build_value(), key_event, result)
            value_line = self.peek_event().start_mark.line + 1
            value = self.build_value()
            try:
                hash(key)
            except TypeError:
                raise _problem(self.file, line, "a mapping key must be a plain value") from None
            if key in result.key_lines:
                raise _problem(self.file, line, f"duplicate key {key!r} (first defined at line"
                                                f" {result.key_lines[key]})")
            result[key] = value
            result.key_lines[key] = line
            result.value_lines[key] = value_line
            keys.append(key)
        self.get_event()  # MappingEnd
        for merged, line in merges:
            for source in merged if isinstance(merged, list) else [merged]:
                if not isinstance(source, dict):
                    raise _problem(self.file, line, "a merge key (<<) takes a mapping")
                for key, value in source.items():
                    if key not in result:
                        result[key] = value
                        result.key_lines[key] = result.value_lines[key] = line
        self._check_order(keys, result)
        return result

    @staticmethod
    def _as_written(key: Any, event: Any, mapping: Mapping) -> Any:
        """A scalar key YAML resolved to a non-string is the text the author wrote."""
        if isinstance(key, str) or not isinstance(event, yaml.ScalarEvent):
            return key
        kind = _KINDS.get(type(key))
        if kind is None:
            return key
        mapping.typed_keys[event.value] = kind
        return event.value

    def _check_order(self, keys: list[Any], mapping: Mapping) -> None:
        """Report the first mapping out of octoDNS's order, and how many more there are."""
        if not all(isinstance(k, str) for k in keys):
            return
        if keys == sorted(keys) and not _DIGIT.search("".join(keys)):
            return  # without digits natural order is plain order: the common, cheap case
        if self.order_problems:
            if sorted(keys, key=_natural) != keys:
                self.order_problems[0].extra["more"] += 1
            return
        expected = sorted(keys, key=_natural)
        for got, want in zip(keys, expected, strict=True):
            if got != want:
                self.order_problems.append(
                    Finding(
                        Severity.WARNING,
                        "zone.key-order",
                        f"keys out of octoDNS's natural order: expected {want!r} before {got!r}",
                        file=self.file,
                        line=mapping.key_lines[got],
                        extra={"more": 0},
                    )
                )
                return

    def build_sequence(self, event: yaml.SequenceStartEvent) -> Sequence:
        result = Sequence()
        result.file = self.file
        result.line = event.start_mark.line + 1
        while not self.check_event(yaml.SequenceEndEvent):
            result.item_lines.append(self.peek_event().start_mark.line + 1)
            result.append(self.build_value())
        self.get_event()  # SequenceEnd
        return result

    def construct_include(self, node: yaml.ScalarNode) -> Any:
        """octoDNS's `!include other.yaml`, relative to the including file."""
        target = Path(self.file).parent / self.construct_scalar(node)
        data, problems = load_file(target)
        self.order_problems.extend(problems)
        return data


_Loader.add_constructor("!include", _Loader.construct_include)


def load_file(path: Path) -> tuple[Any, list[Finding]]:
    """Load one YAML or JSON file. Returns the data (Mapping/Sequence/scalars) and the
    non-fatal findings (key order). Raises YamlError for anything unreadable."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _problem(file, None, "file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise _problem(file, None, f"cannot read file: {e}") from None
    loader = _Loader(text, file)
    try:
        data = loader.build()
    except YamlError:
        raise
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else None
        reason = " ".join(p for p in (e.context, e.problem) if p)
        raise _problem(file, line, f"not valid YAML: {reason}") from None
    except yaml.YAMLError as e:
        raise _problem(file, None, f"not valid YAML: {e}") from None
    finally:
        loader.dispose()
    for problem in loader.order_problems:
        if problem.extra.get("more"):
            object.__setattr__(problem, "message",
                               f"{problem.message}; {problem.extra['more']} more mapping(s) in this file")
    return data, loader.order_problems
