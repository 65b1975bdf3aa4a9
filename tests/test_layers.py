"""The package's static import graph has no cycle, so the layers stay readable.

Imports inside functions count (a lazy import hides a cycle, it does not remove it);
`if TYPE_CHECKING:` blocks do not; importing `a.b.c` also runs `a` and `a.b`, so those
count too. One old cycle is still known (config <-> providers, through the providers
package's __init__); it is listed here to be removed, and no new one may join it.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "dnssync"
KNOWN_CYCLES = [{"dnssync.repo.config", "dnssync.providers"}]


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, name: str) -> set[str]:
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    class Visitor(ast.NodeVisitor):
        def visit_If(self, node: ast.If) -> None:
            if "TYPE_CHECKING" in ast.unparse(node.test):
                for child in node.orelse:
                    self.visit(child)
                return
            self.generic_visit(node)

        def visit_Import(self, node: ast.Import) -> None:
            found.update(alias.name for alias in node.names)

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)

    Visitor().visit(ast.parse(path.read_text()))
    return found


def import_graph() -> dict[str, set[str]]:
    """module -> the dnssync modules importing it runs (parents of a.b.c included)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        ran = {".".join(dep.split(".")[:k]) for dep in _imports(path, name) if dep.startswith("dnssync.")
               for k in range(2, dep.count(".") + 2)}
        graph[name] = {dep for dep in ran if dep in modules and dep != name and not name.startswith(dep + ".")}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for dep in edges:
                if dep not in index:
                    index[dep] = low[dep] = len(index)
                    stack.append(dep)
                    on_stack.add(dep)
                    work.append((dep, iter(sorted(graph[dep]))))
                    break
                if dep in on_stack:
                    low[node] = min(low[node], index[dep])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(component)
    return found


def test_no_import_cycle_but_the_known_one():
    found = cycles(import_graph())
    new = [sorted(c) for c in found if c not in KNOWN_CYCLES]
    assert not new, f"import cycle(s): {new}"


def test_the_cycle_finder_finds_cycles_hidden_in_functions_and_packages():
    graph = {"dnssync.a": {"dnssync.b"}, "dnssync.b": {"dnssync.c"}, "dnssync.c": {"dnssync.a"},
             "dnssync.d": {"dnssync.a"}}
    assert cycles(graph) == [{"dnssync.a", "dnssync.b", "dnssync.c"}]
    # the real graph sees an import made inside a function, and a package's __init__ run
    graph = import_graph()
    assert "dnssync.providers" in graph["dnssync.repo.config"]
