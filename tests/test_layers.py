"""The package's static import graph follows the pipeline: no cycle, and no module
imports a later layer, so a newcomer can read the tree from the bottom up.

Imports inside functions count (a lazy import hides a cycle, it does not remove it);
`if TYPE_CHECKING:` blocks do not; importing `a.b.c` also runs `a` and `a.b`, so those
count too. The layers, lowest first, are `LAYERS` (docs/DEVELOPING.md explains each).
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "dnssync"
#: lowest first: a module may import its own layer and the ones before it, never a later one
LAYERS = ["model", "query", "providers", "repo", "planning", "applying", "verify", "watch", "report",
          "embedded", "commands", "cli", "__main__"]


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


def layer_of(module: str) -> int:
    """The index of a module's layer in `LAYERS`; the package itself (version only) is below all."""
    parts = module.split(".")
    return -1 if len(parts) == 1 else LAYERS.index(parts[1])


def violations(graph: dict[str, set[str]]) -> list[str]:
    """Every import of a later layer, of another command (commands share only
    commands.base), and of anything but model from model (data is importable anywhere)."""
    found = []
    for module, deps in sorted(graph.items()):
        for dep in sorted(deps):
            later = layer_of(dep) > layer_of(module)
            sibling_command = (module.startswith("dnssync.commands.") and dep.startswith("dnssync.commands.")
                               and dep != "dnssync.commands.base")
            impure_model = module.startswith("dnssync.model.") and not dep.startswith("dnssync.model")
            if later or sibling_command or impure_model:
                found.append(f"{module} -> {dep}")
    return found


def test_no_import_cycle():
    assert not cycles(import_graph()), "import cycle(s)"


def test_every_module_is_in_a_layer_and_imports_no_later_layer():
    graph = import_graph()
    assert all(layer_of(m) >= -1 for m in graph)  # LAYERS.index raises for a package not placed
    assert not violations(graph)


def test_the_layer_check_finds_what_it_forbids():
    graph = {"dnssync.model.plan": {"dnssync.repo.config"}, "dnssync.query.engine": {"dnssync.verify.run"},
             "dnssync.commands.demo": {"dnssync.commands.verify", "dnssync.commands.base"},
             "dnssync.verify.run": {"dnssync.query.engine", "dnssync.model.plan"}}
    assert violations(graph) == ["dnssync.commands.demo -> dnssync.commands.verify",
                                 "dnssync.model.plan -> dnssync.repo.config",
                                 "dnssync.query.engine -> dnssync.verify.run"]


def test_the_cycle_finder_finds_cycles_hidden_in_functions_and_packages(tmp_path):
    graph = {"dnssync.a": {"dnssync.b"}, "dnssync.b": {"dnssync.c"}, "dnssync.c": {"dnssync.a"},
             "dnssync.d": {"dnssync.a"}}
    assert cycles(graph) == [{"dnssync.a", "dnssync.b", "dnssync.c"}]
    # the real graph sees an import made inside a function, and a package's __init__ run
    source = tmp_path / "late.py"
    source.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import dnssync.cli\n"
                      "def f():\n    from dnssync.verify import run\n")
    assert _imports(source, "dnssync.late") == {"typing", "typing.TYPE_CHECKING", "dnssync.verify",
                                                 "dnssync.verify.run"}
    graph = import_graph()
    assert "dnssync.providers" in graph["dnssync.repo.config"]  # a package's __init__ runs too


def test_the_developer_guide_places_every_module():
    """docs/DEVELOPING.md's layer table is how a newcomer finds a module: a new one is
    described there, in its layer's row (or the DNSSEC row), or this fails."""
    guide = (ROOT / "docs" / "DEVELOPING.md").read_text()
    rows = {line.split("`")[1].rstrip("/"): line for line in guide.splitlines() if line.startswith("| `")}
    dnssec = next((line for line in guide.splitlines() if line.startswith("| DNSSEC")), "")
    unplaced = [f"{layer}/{path.stem}" for layer in LAYERS if (PACKAGE / layer).is_dir()
                for path in sorted((PACKAGE / layer).glob("*.py")) if path.stem != "__init__"
                and f"`{path.stem}`" not in rows.get(layer, "") and f"`{path.stem} " not in rows.get(layer, "")
                and f"`{path.stem} (" not in rows.get(layer, "") and f"`{layer}/{path.stem}`" not in dnssec]
    assert not unplaced, f"not in docs/DEVELOPING.md's layer table: {unplaced}"
