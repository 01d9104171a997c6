"""The installed engine holds every package of the checkout (install.py installs it with pip,
not in editable mode, so a package missing from the wheel is a method missing for the user)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

IGNORED = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "runs",
                                 "__pycache__", ".pytest_cache", ".ruff_cache")

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_holds_every_package_and_model(tmp_path):
    # A copy without build/ and *.egg-info: setuptools reuses those, which hides a missing package.
    src = tmp_path / "src"
    if (ROOT / ".git").exists():  # tracked and new files only (no chroot, venv or build output)
        listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                                check=True, capture_output=True, text=True).stdout.splitlines()
        for name in listed:
            if (ROOT / name).is_file():
                (src / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / name, src / name)
    else:
        shutil.copytree(ROOT, src, ignore=IGNORED)
    out = tmp_path / "wheel"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(out), str(src)], check=True, capture_output=True)
    (wheel,) = out.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for top in ("engine", "export"):
        for init in (ROOT / top).rglob("__init__.py"):
            assert init.relative_to(ROOT).as_posix() in names, f"{init} is not installed"
    for model in (ROOT / "engine" / "models").rglob("*"):
        if model.is_file() and model.suffix in (".onnx", ".json"):
            assert model.relative_to(ROOT).as_posix() in names, f"{model} is not installed"
