"""The library's import graph, read from the source (ast) of every module of plugins/es_embedding:
no import circles, counting imports inside functions too (a circle hidden in a function is still
one); and the triggers, which the triggerer imports, import none of the operator layer.

Importing `a.b.c` first runs the package `a.b` (its __init__, which may import its other modules):
an edge to `a.b` too, from a module outside `a.b`. Inside a package, a module that imports a sibling
by its full path finds the package already running, which is harmless; one that imports from its
own package's __init__ is a circle, and counts as one."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "plugins" / "es_embedding"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str) -> set[str]:
    """The package's modules `name` imports, anywhere in its source."""
    found = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{name}: relative import"
            # `from a.b import c` imports a.b, and a.b.c when c is a module.
            targets = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        for target in targets:
            if target not in MODULES or name.startswith(f"{target}."):
                continue  # not ours, or a package the importer belongs to (already running)
            found.add(target)
            package = target.rpartition(".")[0]
            while package and not (name == package or name.startswith(f"{package}.")):
                found.add(package)
                package = package.rpartition(".")[0]
    return found - {name}


GRAPH = {name: imports_of(name) for name in MODULES}


def circles() -> list[list[str]]:
    """Every import circle (one path around each strongly connected component), by Tarjan."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(GRAPH[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for name in sorted(GRAPH):
        if name not in index:
            visit(name)
    return found


def reachable(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for target in GRAPH[todo.pop()] - seen:
            seen.add(target)
            todo.append(target)
    return seen


def test_the_graph_is_read_from_every_module():
    assert {"es_embedding.base", "es_embedding.waits", "es_embedding.index.start"} <= set(MODULES)
    assert GRAPH["es_embedding.index.pooled"] >= {"es_embedding.index.start", "es_embedding.index.wait"}


def test_no_import_circles():
    assert circles() == []


def test_a_circle_would_be_found(monkeypatch):
    monkeypatch.setitem(
        GRAPH, "es_embedding.settings", GRAPH["es_embedding.settings"] | {"es_embedding.base"}
    )
    assert circles() == [["es_embedding.base", "es_embedding.settings"]]


def test_the_triggers_import_nothing_of_the_operator_layer():
    assert reachable("es_embedding.triggers") <= {
        "es_embedding.checks",
        "es_embedding.errors",
        "es_embedding.hooks",
        "es_embedding.reports",
    }


def test_a_circle_through_a_package_would_be_found(monkeypatch):
    # resolve imports es_embedding.model.known, which runs es_embedding.model's __init__ first.
    assert "es_embedding.model" in GRAPH["es_embedding.resolve"]
    trained_model = "es_embedding.model.trained_model"
    monkeypatch.setitem(GRAPH, trained_model, GRAPH[trained_model] | {"es_embedding.resolve"})
    [circle] = circles()
    assert {"es_embedding.model", trained_model, "es_embedding.resolve"} <= set(circle)
