"""The project's packages import each other without cycles, and the benchmarks never import the
tests: computed from the source (the AST), so a new import that closes a loop fails here."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: The top-level packages whose modules are checked.
TOP = ("hotline", "scheduler", "db", "bench")


def _node(module: str) -> str | None:
    """The package a module belongs to: ``hotline.calls`` for ``hotline.calls.tracker``; a
    module directly in ``hotline/`` (``hotline.controller``) is its own node; None: outside."""
    parts = module.split(".")
    if parts[0] not in TOP:
        return None
    if len(parts) == 1:
        return parts[0]
    if parts[0] == "hotline":
        return ".".join(parts[:2])
    return parts[0]


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST) -> Iterator[str]:
    """Every module imported at run time (function-level imports included; imports under
    ``if TYPE_CHECKING:`` are annotations only and skipped)."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)
        stack.extend(ast.iter_child_nodes(node))


def _exists(module: str) -> bool:
    path = ROOT.joinpath(*module.split("."))
    return path.is_dir() or path.with_suffix(".py").exists()


def import_graph() -> dict[str, dict[str, str]]:
    """Package -> {package it imports: one file that does}."""
    graph: dict[str, dict[str, str]] = {}
    for top in TOP:
        for path in sorted((ROOT / top).rglob("*.py")):
            rel = path.relative_to(ROOT)
            module = ".".join(rel.with_suffix("").parts).removesuffix(".__init__")
            source = _node(module)
            assert source is not None
            edges = graph.setdefault(source, {})
            for name in _imports(ast.parse(path.read_text("utf-8"))):
                target = _node(name)
                if target is not None and target != source and _exists(name):
                    edges.setdefault(target, str(rel))
    return graph


def cycles(graph: dict[str, dict[str, str]]) -> list[list[str]]:
    """The strongly connected components of more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_packages_import_each_other_without_cycles():
    """No package imports, directly or through others, a package that imports it back."""
    graph = import_graph()
    loops = cycles(graph)
    explained = [[f"{a} -> {b} ({graph[a][b]})" for a in loop for b in loop if b in graph[a]]
                 for loop in loops]
    assert loops == [], explained


def test_the_cycle_finder_finds_a_planted_loop():
    """The check can fail: a graph with a loop through three packages reports it."""
    graph = {"a": {"b": "a.py"}, "b": {"c": "b.py"}, "c": {"a": "c.py"}, "d": {"a": "d.py"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_benchmarks_do_not_import_the_tests():
    """bench/ stands on its own: nothing in it imports tests/."""
    offenders = [str(path.relative_to(ROOT)) for path in sorted((ROOT / "bench").rglob("*.py"))
                 if any(name == "tests" or name.startswith("tests.")
                        for name in _imports(ast.parse(path.read_text("utf-8"))))]
    assert offenders == []


def test_the_ami_package_imports_nothing_else_of_the_project():
    """hotline/ami/ is the protocol layer: it depends on no other package of ours."""
    assert set(import_graph().get("hotline.ami", {})) == set()
