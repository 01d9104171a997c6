"""The engine's import graph has no cycle, lazy (function-level) imports included: a cycle held
together only by imports inside functions is still a cycle in the design (methods must not import
the pipeline that dispatches to them)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "export")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            out[_module_name(path)] = path
    return out


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The longest known module that `name` is or lies in."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph() -> dict[str, set[str]]:
    known = _modules()
    graph: dict[str, set[str]] = {m: set() for m in known}
    for mod, path in known.items():
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative: from the module's own package
                    base = mod if is_pkg else mod.rpartition(".")[0]
                    for _ in range(node.level - 1):
                        base = base.rpartition(".")[0]
                    prefix = f"{base}.{node.module}" if node.module else base
                else:
                    prefix = node.module or ""
                # `from pkg import name`: the submodule pkg.name where there is one, else an
                # attribute of pkg (the package itself is then the dependency).
                targets = [f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in known else prefix
                           for a in node.names]
            for t in targets:
                dep = _resolve(t, known)
                if dep and dep != mod:
                    graph[mod].add(dep)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return stack[stack.index(dep):] + [dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_engine_and_export_have_no_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_detector_sees_a_lazy_cycle() -> None:
    """Guard for the test above: a cycle through a function-level import is found."""
    graph = {"engine.pipeline": {"engine.gatys.transfer"},
             "engine.gatys.transfer": {"engine.pipeline"}}
    cycle = find_cycle(graph)
    assert cycle is not None and set(cycle) == set(graph) and cycle[0] == cycle[-1]
    real = import_graph()
    assert "engine.method" in real["engine.gatys.transfer"]
    assert "engine.pipeline" not in real["engine.gatys.transfer"]


def test_methods_never_import_the_pipeline() -> None:
    graph = import_graph()
    for mod, deps in graph.items():
        if mod.startswith(("engine.gatys", "engine.fast")):
            assert "engine.pipeline" not in deps, mod
