"""One name per concept: no two modules of dnssync define a public class or type alias of
the same name (`Served`, `Target`, `Answer`, `Reply`, `Observed` each meant two things
once; docs/DEVELOPING.md has the table of what each name means now)."""

from __future__ import annotations

import ast
from collections import defaultdict

from tests.conftest import ROOT


def _type_names() -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    for path in sorted((ROOT / "dnssync").rglob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef):
                name = node.name
            elif (isinstance(node, ast.Assign) and len(node.targets) == 1
                  and isinstance(node.targets[0], ast.Name)):
                name = node.targets[0].id  # a type alias: CapWords, not a CONSTANT
                if not name[:1].isupper() or name.isupper():
                    continue
            else:
                continue
            if not name.startswith("_"):
                found[name].append(str(path.relative_to(ROOT)))
    return found


def test_no_two_modules_define_the_same_type_name():
    names = _type_names()
    assert {"Answer", "Sections", "Reply", "Polled", "Listing", "RRsetState", "SoaSerial"} <= set(names)
    assert {name: paths for name, paths in names.items() if len(paths) > 1} == {}
