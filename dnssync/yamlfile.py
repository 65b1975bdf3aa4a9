"""YAML (and JSON, which is YAML) loading that remembers where everything came from.

Why not octoDNS's loader: it is pure Python (most of octoDNS's plan time on big
zones), it silently keeps the last of two duplicate keys, and it refuses keys out
of natural order outright. This loader uses libyaml's C parser where available,
rejects duplicate keys with both line numbers, records the line of every key and
value so errors can name `file:line`, and reports (not rejects) key order.
"""

from __future__ import annotations

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


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    def __init__(self, stream: Any, file: str):
        super().__init__(stream)
        self.file = file
        self.order_problems: list[Finding] = []

    def construct_lined_mapping(self, node: yaml.MappingNode) -> Mapping:
        self.flatten_mapping(node)
        result = Mapping()
        result.file = self.file
        result.line = node.start_mark.line + 1
        keys: list[Any] = []
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise _problem(
                    self.file, key_node.start_mark.line + 1, "a mapping key must be a plain value"
                ) from None
            line = key_node.start_mark.line + 1
            if key in result.key_lines:
                raise _problem(
                    self.file,
                    line,
                    f"duplicate key {key!r} (first defined at line {result.key_lines[key]})",
                )
            result[key] = self.construct_object(value_node, deep=True)
            result.key_lines[key] = line
            result.value_lines[key] = value_node.start_mark.line + 1
            keys.append(key)
        self._check_order(keys, result)
        return result

    def _check_order(self, keys: list[Any], mapping: Mapping) -> None:
        """Report the first mapping out of octoDNS's order, and how many more there are."""
        if not all(isinstance(k, str) for k in keys):
            return
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
                        f"keys out of octoDNS's natural order: expected {want!r} before"
                        f" {got!r} (dnssync accepts this; octoDNS's YamlProvider would refuse it)",
                        file=self.file,
                        line=mapping.key_lines[got],
                        extra={"more": 0},
                    )
                )
                return

    def construct_lined_sequence(self, node: yaml.SequenceNode) -> Sequence:
        result = Sequence()
        result.file = self.file
        result.line = node.start_mark.line + 1
        for item in node.value:
            result.append(self.construct_object(item, deep=True))
            result.item_lines.append(item.start_mark.line + 1)
        return result

    def construct_include(self, node: yaml.ScalarNode) -> Any:
        """octoDNS's `!include other.yaml`, relative to the including file."""
        target = Path(self.file).parent / self.construct_scalar(node)
        data, problems = load_file(target)
        self.order_problems.extend(problems)
        return data


_Loader.add_constructor("tag:yaml.org,2002:map", _Loader.construct_lined_mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _Loader.construct_lined_sequence)
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
        data = loader.get_single_data()
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
