"""The project's quality yardstick, ../shared/tools/nst_score.py, loaded once for the benchmark
scripts (it is a script, not a package): `module()` for its functions, `score` for its score."""

from __future__ import annotations

import functools
import importlib.util
import os
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NST_SHARED", ROOT.parent / "shared"))


@functools.cache
def module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("nst_score", SHARED / "tools/nst_score.py")
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def score(content: str, style: str, output: str, size: int = 512) -> dict:
    """nst_score.score: content, style, patch (lower is better) and the per-layer terms."""
    return module().score(content, style, output, size)
