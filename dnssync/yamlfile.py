"""YAML (and JSON, which is YAML) loading that remembers where everything came from.

Why not octoDNS's loader: it is pure Python (most of octoDNS's plan time on big
zones), it silently keeps the last of two duplicate keys, and it refuses keys out
of natural order outright. This loader uses libyaml's C parser where available,
rejects duplicate keys with both line numbers, records the line of every key and
value so errors can name `file:line`, and reports (not rejects) key order.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from natsort import natsort_keygen

from dnssync.findings import Finding, Severity

_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_natural = natsort_keygen()


class Mapping(dict):
    """A dict that knows the file and line of itself, of each key and of each value."""

    file: str = ""
    line: int = 0

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.key_lines: dict[Any, int] = {}
        self.value_lines: dict[Any, int] = {}

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


_MAP, _SEQ, _STR = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"
_DIGIT = re.compile(r"\d")


class _Builder:
    """Turns libyaml's composed node tree into Python data with line numbers.

    PyYAML's generic constructor machinery costs most of a load (1 s of 1.3 s for a
    10,000-record zone); tags are already resolved by the composer, so a direct walk
    of the nodes does the same work about thirty times faster."""

    def __init__(self, loader: Any, file: str):
        self.loader = loader
        self.file = file
        self.order_problems: list[Finding] = []
        self._built: dict[int, Any] = {}  # anchors: one object per node, even when aliased

    def build(self, node: yaml.Node) -> Any:
        tag = node.tag
        if tag == _STR:
            return node.value
        if id(node) in self._built:
            return self._built[id(node)]
        if tag == _MAP:
            return self._mapping(node)
        if tag == _SEQ:
            result = Sequence()
            result.file, result.line = self.file, node.start_mark.line + 1
            self._built[id(node)] = result
            for item in node.value:
                result.append(self.build(item))
                result.item_lines.append(item.start_mark.line + 1)
            return result
        if tag == "!include":
            return self._include(node)
        constructor = self.loader.yaml_constructors.get(tag)
        if constructor is None:
            raise _problem(self.file, node.start_mark.line + 1, f"unknown tag {tag}")
        return constructor(self.loader, node)

    def _mapping(self, node: yaml.MappingNode) -> Mapping:
        if any(key.tag == _MERGE for key, _ in node.value):
            self.loader.flatten_mapping(node)  # YAML merge keys (<<)
        result = Mapping()
        result.file, result.line = self.file, node.start_mark.line + 1
        self._built[id(node)] = result
        for key_node, value_node in node.value:
            key = self.build(key_node)
            line = key_node.start_mark.line + 1
            if isinstance(key, list | dict):
                raise _problem(self.file, line, "a mapping key must be a plain value")
            if key in result.key_lines:
                raise _problem(self.file, line,
                               f"duplicate key {key!r} (first defined at line {result.key_lines[key]})")
            result[key] = self.build(value_node)
            result.key_lines[key] = line
            result.value_lines[key] = value_node.start_mark.line + 1
        self._check_order(list(result), result)
        return result

    def _check_order(self, keys: list[Any], mapping: Mapping) -> None:
        """Report the first mapping out of octoDNS's order, and how many more there are."""
        if not all(isinstance(k, str) for k in keys):
            return
        if keys == sorted(keys) and not _DIGIT.search("".join(keys)):
            return  # without digits natural order is plain order: the common, cheap case
        if sorted(keys, key=_natural) == keys:
            return
        if self.order_problems:
            self.order_problems[0].extra["more"] += 1
            return
        expected = sorted(keys, key=_natural)
        got, want = next((g, w) for g, w in zip(keys, expected, strict=True) if g != w)
        self.order_problems.append(Finding(
            Severity.WARNING, "zone.key-order",
            f"keys out of octoDNS's natural order: expected {want!r} before {got!r} (dnssync accepts"
            " this; octoDNS's YamlProvider would refuse it)",
            file=self.file, line=mapping.key_lines[got], extra={"more": 0},
        ))

    def _include(self, node: yaml.Node) -> Any:
        """octoDNS's `!include other.yaml`, relative to the including file."""
        line = node.start_mark.line + 1
        if not isinstance(node, yaml.ScalarNode):
            raise _problem(self.file, line, "!include takes one file name")
        target = Path(self.file).parent / node.value
        if not target.is_file():
            raise _problem(self.file, line, f"!include {node.value}: file not found")
        data, problems = load_file(target)
        self.order_problems.extend(problems)
        return data


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
    loader = _BaseLoader(text)
    builder = _Builder(loader, file)
    try:
        node = loader.get_single_node()
        data = builder.build(node) if node is not None else None
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
    for problem in builder.order_problems:
        if problem.extra.get("more"):
            object.__setattr__(problem, "message",
                               f"{problem.message}; {problem.extra['more']} more mapping(s) in this file")
    return data, builder.order_problems
