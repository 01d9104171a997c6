"""The hard boundaries: gimp_plugin/ imports only the stdlib and GIMP's modules; engine/ and
export/ never import GIMP; export/ may import engine/, never the reverse."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GIMP_MODULES = {"gi", "gimpfu", "gimp", "gimpenums", "gimpplugin", "gimpui", "gimpshelf",
                "gimpcolor", "gtk", "gobject", "pygtk", "glib"}
# Python 2.7 stdlib names the 2.10 plug-in may use under a try/except import.
PY2_STDLIB = {"urllib2", "urlparse", "httplib", "Queue", "__builtin__", "StringIO", "cStringIO",
              "ConfigParser", "thread"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("path", _files("gimp_plugin"), ids=lambda p: p.name)
def test_plugin_imports_only_stdlib_and_gimp(path: Path) -> None:
    local = {p.stem for p in (ROOT / "gimp_plugin").rglob("*.py")}
    bad = {n for n in _imports(path)
           if n not in sys.stdlib_module_names and n not in GIMP_MODULES
           and n not in PY2_STDLIB and n not in local and n != "__future__"}
    assert not bad, f"{path.name} imports {sorted(bad)}"


@pytest.mark.parametrize("path", _files("engine") + _files("export"),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_engine_and_export_never_import_gimp(path: Path) -> None:
    bad = _imports(path) & (GIMP_MODULES | {"gimp_plugin"})
    assert not bad, f"{path} imports {sorted(bad)}"


@pytest.mark.parametrize("path", _files("engine"), ids=lambda p: str(p.relative_to(ROOT)))
def test_engine_never_imports_export(path: Path) -> None:
    assert "export" not in _imports(path)


@pytest.mark.parametrize("path", _files("engine") + _files("export"),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_library_code_never_prints_or_exits(path: Path) -> None:
    if path.name.startswith("cli") or path.name == "__main__.py":
        return  # CLIs choose exit codes and draw progress bars
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            fn = node.func
            name = fn.id if isinstance(fn, ast.Name) else getattr(fn, "attr", "")
            owner = getattr(getattr(fn, "value", None), "id", "")
            assert name != "print", f"{path}:{node.lineno} prints"
            assert not (owner == "sys" and name == "exit"), f"{path}:{node.lineno} exits"
