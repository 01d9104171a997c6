"""Finding a real Python 2.7 (GIMP 2.10's Python-Fu) for the tests that run code under it.

This machine's image has one (pyenv 2.7.18); set NST_PYTHON2 to point at another. In CI
(NST_REQUIRE_PY2=1) a missing interpreter fails those tests instead of skipping them.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess

import pytest

REQUIRE = os.environ.get("NST_REQUIRE_PY2") == "1"


def find() -> str | None:
    cands = [os.environ.get("NST_PYTHON2")]
    cands += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/2.7*/bin/python2.7")))
    cands += [shutil.which("python2.7"), shutil.which("python2")]
    for c in cands:
        if not c or not os.path.isfile(c):
            continue
        try:
            r = subprocess.run([c, "-c", "import sys; print(sys.version_info[:2] == (2, 7))"],
                               capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if r.stdout.strip() == "True":  # a pyenv shim may exist yet run nothing
            return c
    return None


def require() -> str:
    exe = find()
    if exe is None:
        why = "no Python 2.7 interpreter here (set NST_PYTHON2)"
        if REQUIRE:
            pytest.fail(why + "; NST_REQUIRE_PY2=1 makes this a failure")
        pytest.skip(why)
    return exe
