"""A newcomer's first command (issue #10): `install.py --demo` on a machine where GIMP has never
started installs the engine, renders the demo and puts the plug-in where GIMP 3 will look; pip is
never run on an interpreter that is not a venv."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_install import ROOT, assert_plugin, fake_venv, run

pytestmark = pytest.mark.skipif(os.name == "nt", reason="shell-script interpreter doubles")


def scripted_python(venv: Path, calls: Path, status: int, *, is_venv: bool) -> Path:
    """An interpreter double: logs its arguments, exits with `status` (0: "imports the engine")."""
    (venv / "bin").mkdir(parents=True)
    if is_venv:
        (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    python = venv / "bin" / "python"
    python.write_text(f'#!/bin/sh\necho "$@" >> {calls}\nexit {status}\n')
    python.chmod(0o755)
    return python


def test_demo_without_any_gimp_profile_installs_renders_and_says_where(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    calls = tmp_path / "calls"
    scripted_python(home / "venv", calls, 0, is_venv=True)
    r = run(home, "--venv", str(home / "venv"), "--demo")
    assert_plugin(home / ".config/GIMP/3.0/plug-ins", "3", str(home / "venv/bin/python"))
    said = [line for line in r.stdout.splitlines() if "default folder" in line]
    assert len(said) == 1 and str(home / ".config/GIMP/3.0/plug-ins") in said[0], r.stdout
    stylize = [c for c in calls.read_text().splitlines() if "-m engine stylize" in c]
    assert len(stylize) == 1 and str(ROOT / "demo" / "out.png") in stylize[0]
    assert "demo written to" in r.stdout


def test_check_reports_the_default_folder_install(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    venv = fake_venv(home)
    extra = {"PYTHONPATH": str(ROOT)}
    run(home, "--venv", str(venv), "--port", "9", env_extra=extra)
    r = run(home, "--check", env_extra=extra)
    notes = [line for line in r.stdout.splitlines() if "default folder" in line]
    assert len(notes) == 1 and "first start" in notes[0], r.stdout
    assert "everything is in place" in r.stdout
    # Once GIMP has started and filled its profile, the note has no reason to be.
    (home / ".config/GIMP/3.0/gimprc").write_text("")
    assert "default folder" not in run(home, "--check", env_extra=extra).stdout


def test_a_python_that_is_not_a_venv_never_gets_pip(tmp_path):
    """--venv naming a folder whose python is not a venv (no pyvenv.cfg: e.g. a bare symlink to
    the system's interpreter) and lacks the engine: refused; pip never runs on it."""
    home = tmp_path / "home"
    home.mkdir()
    calls = tmp_path / "calls"
    scripted_python(home / "notavenv", calls, 1, is_venv=False)
    r = run(home, "--venv", str(home / "notavenv"), check=False)
    assert r.returncode == 1 and "not a Python venv" in r.stderr, r.stdout + r.stderr
    assert "pip" not in calls.read_text()
