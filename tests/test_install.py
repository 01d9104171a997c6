"""install.py against fake home trees (Linux incl. Flatpak and Snap, macOS, Windows layouts):
placement, idempotence, refusal to overwrite, --uninstall leaving no trace, --check pinpointing
a broken piece, the remote-engine mode, and one real venv install (slow)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import sysconfig
import venv as venv_module
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INSTALL = ROOT / "install.py"
SRC = ROOT / "gimp_plugin"


def load_install():
    spec = importlib.util.spec_from_file_location("install_under_test", INSTALL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def clean_env(home: Path, **extra) -> dict:
    """A fake user: only HOME (and APPDATA...) point into the tree; PIP_* are kept."""
    env = {k: v for k, v in os.environ.items()
           if k.startswith("PIP_") or k in ("PATH", "LANG", "SYSTEMROOT")}
    env["HOME"] = str(home)
    env.update(extra)
    return env


def run(home: Path, *args, env_extra=None, check=True):
    env = clean_env(home, **(env_extra or {}))
    r = subprocess.run([sys.executable, str(INSTALL), *args], env=env, capture_output=True,
                       text=True, cwd=str(home))
    if check:
        assert r.returncode == 0, r.stdout + r.stderr
    return r


def tree(root: Path) -> dict:
    """Every path under root with its content hash (folders as 'dir') and mode."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_dir():
            out[rel] = "dir"
        else:
            out[rel] = (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mode & 0o777)
    return out


def fake_venv(home: Path) -> Path:
    """A real venv (no pip in it) that sees this interpreter's packages through a .pth file and
    the checkout through PYTHONPATH: it imports engine, torch and onnxruntime, so install.py
    reuses it without pip, whichever Python runs the tests (a bare symlink to the interpreter is
    not a venv: install.py would then run pip on the system's Python)."""
    venv = home / "venv"
    venv_module.EnvBuilder(with_pip=False, symlinks=os.name != "nt").create(venv)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    ours = dict.fromkeys(sysconfig.get_path(k) for k in ("purelib", "platlib"))
    (site / "outer-packages.pth").write_text("\n".join(ours) + "\n")
    return venv


LINUX_PROFILES = [".config/GIMP/3.0", ".config/GIMP/2.10",
                  ".var/app/org.gimp.GIMP/config/GIMP/3.0",
                  "snap/gimp/current/.config/GIMP/2.10"]


def make_profiles(home: Path, profiles) -> None:
    for p in profiles:
        (home / p).mkdir(parents=True)


def assert_plugin(folder: Path, major: str, venv_python: str | None):
    d = folder / "neural-style"
    main = d / "neural-style.py"
    want = SRC / ("neural_style_gimp3.py" if major == "3" else "neural_style_gimp2.py")
    assert main.read_bytes() == want.read_bytes()
    assert os.access(main, os.X_OK)
    for name in load_install().SHARED:
        assert (d / name).read_bytes() == (SRC / name).read_bytes()
        assert not os.access(d / name, os.X_OK), "2.10 would try to run it as a plug-in"
    assert (d / "nst_dialog_gimp3.py").exists() == (major == "3")
    cfg = json.loads((d / "nst_config.json").read_text())
    assert cfg["version"] == 1 and cfg["installed_by"] == "neural-style install.py"
    if venv_python:
        assert cfg["engine_command"][:4] == [venv_python, "-m", "engine", "serve"]
        assert cfg["token_file"] in cfg["engine_command"]
    return cfg


# --------------------------------------------------------------------------------- layouts

def test_linux_layouts_incl_flatpak_and_snap(tmp_path):
    home = tmp_path / "home"
    make_profiles(home, LINUX_PROFILES + [".config/GIMP/2.8", ".config/GIMP/3.2"])
    run(home, "--no-venv")
    data = home / ".local/share/neural-style"
    py = str(data / "venv" / "bin" / "python")
    for profile in LINUX_PROFILES + [".config/GIMP/3.2"]:
        major = "2" if profile.endswith("2.10") else "3"
        cfg = assert_plugin(home / profile / "plug-ins", major, py)
        assert cfg["token_file"] == str(home / ".config/neural-style/token")
        assert cfg["engine_url"] == "http://127.0.0.1:8765"
        assert cfg["log_file"] == str(data / "engine.log")
    assert not (home / ".config/GIMP/2.8/plug-ins").exists(), "GIMP 2.8 is not supported"
    token = home / ".config/neural-style/token"
    assert token.read_text().strip() and (token.stat().st_mode & 0o777) == 0o600


def test_macos_layout(tmp_path):
    home = tmp_path / "home"
    make_profiles(home, ["Library/Application Support/GIMP/3.0",
                         "Library/Application Support/GIMP/2.10"])
    run(home, "--no-venv", "--platform", "darwin")
    base = home / "Library/Application Support"
    py = str(base / "neural-style" / "venv" / "bin" / "python")
    cfg = assert_plugin(base / "GIMP/3.0/plug-ins", "3", py)
    assert_plugin(base / "GIMP/2.10/plug-ins", "2", py)
    assert cfg["token_file"] == str(base / "neural-style" / "token")


def test_windows_layout(tmp_path):
    home = tmp_path / "home"
    roaming, local = home / "AppData/Roaming", home / "AppData/Local"
    make_profiles(home, ["AppData/Roaming/GIMP/3.0", "AppData/Roaming/GIMP/2.10"])
    run(home, "--no-venv", "--platform", "win32",
        env_extra={"APPDATA": str(roaming), "LOCALAPPDATA": str(local)})
    py = str(local / "neural-style" / "venv" / "Scripts" / "python.exe")
    cfg = assert_plugin(roaming / "GIMP/3.0/plug-ins", "3", py)
    assert_plugin(roaming / "GIMP/2.10/plug-ins", "2", py)
    assert cfg["token_file"] == str(roaming / "neural-style" / "token")


def test_gimp_dir_and_version_guess(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    a, b = tmp_path / "custom/GIMP/2.10/plug-ins", tmp_path / "elsewhere"
    run(home, "--no-venv", "--gimp-dir", str(a), "--gimp-dir", str(b))
    assert_plugin(a, "2", None)
    assert_plugin(b, "3", None)
    c = tmp_path / "forced"
    run(home, "--no-venv", "--gimp-dir", str(c), "--gimp-version", "2")
    assert_plugin(c, "2", None)


def test_no_gimp_found_installs_into_gimp3s_default_folder(tmp_path):
    """GIMP never started (or not installed yet): the plug-in goes where GIMP 3 will look."""
    home = tmp_path / "home"
    home.mkdir()
    r = run(home, "--no-venv")
    assert_plugin(home / ".config/GIMP/3.0/plug-ins", "3", None)
    said = [line for line in r.stdout.splitlines() if "default folder" in line]
    assert len(said) == 1 and ".config/GIMP/3.0/plug-ins" in said[0] and "--gimp-dir" in said[0]


def test_config_folder_rule_matches_the_engine(tmp_path, monkeypatch):
    from engine import config as engine_config

    install = load_install()
    monkeypatch.setenv("HOME", str(tmp_path))
    for var in ("NST_CONFIG_DIR", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: tmp_path))
    assert install.config_dir("linux") == engine_config.config_dir()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert install.config_dir("linux") == engine_config.config_dir()
    monkeypatch.setenv("NST_CONFIG_DIR", str(tmp_path / "explicit"))
    assert install.config_dir("linux") == engine_config.config_dir()


# ------------------------------------------------------------------- idempotence, ownership

def test_idempotent(tmp_path):
    home = tmp_path / "home"
    make_profiles(home, LINUX_PROFILES[:2])
    run(home, "--no-venv")
    first = tree(home)
    r = run(home, "--no-venv")
    assert tree(home) == first
    assert "updated" not in r.stdout and "unchanged" in r.stdout


def test_refuses_to_overwrite_a_foreign_file(tmp_path):
    home = tmp_path / "home"
    make_profiles(home, [".config/GIMP/3.0"])
    foreign = home / ".config/GIMP/3.0/plug-ins/neural-style/nst_host.py"
    foreign.parent.mkdir(parents=True)
    foreign.write_text("# someone else's file\n")
    r = run(home, "--no-venv", check=False)
    assert r.returncode == 1 and str(foreign) in r.stderr and "refusing" in r.stderr
    assert foreign.read_text() == "# someone else's file\n"


def test_refuses_to_overwrite_a_file_changed_after_install(tmp_path):
    home = tmp_path / "home"
    make_profiles(home, [".config/GIMP/3.0"])
    run(home, "--no-venv")
    edited = home / ".config/GIMP/3.0/plug-ins/neural-style/nst_config.json"
    edited.write_text('{"edited": true}\n')
    r = run(home, "--no-venv", check=False)
    assert r.returncode == 1 and "changed since it was installed" in r.stderr
    assert edited.read_text() == '{"edited": true}\n'


def test_uninstall_leaves_no_trace(tmp_path):
    home = tmp_path / "home"
    make_profiles(home, LINUX_PROFILES)
    (home / ".config/GIMP/3.0/plug-ins").mkdir()
    (home / ".config/GIMP/3.0/plug-ins/other-plugin.py").write_text("# not ours\n")
    before = tree(home)
    run(home, "--no-venv")
    (home / ".local/share/neural-style/engine.log").write_text("engine output\n")
    assert tree(home) != before
    run(home, "--uninstall")
    assert tree(home) == before
    r = run(home, "--uninstall")
    assert "nothing to uninstall" in r.stdout


def test_uninstall_keeps_files_changed_by_the_user(tmp_path):
    home = tmp_path / "home"
    make_profiles(home, [".config/GIMP/3.0"])
    run(home, "--no-venv")
    cfg = home / ".config/GIMP/3.0/plug-ins/neural-style/nst_config.json"
    cfg.write_text("{}\n")
    r = run(home, "--uninstall")
    assert cfg.read_text() == "{}\n" and "kept" in r.stdout
    assert not (cfg.parent / "neural-style.py").exists()


# ------------------------------------------------------------------------------------ check

@pytest.fixture()
def installed(tmp_path):
    home = tmp_path / "home"
    make_profiles(home, [".config/GIMP/3.0", ".config/GIMP/2.10"])
    venv = fake_venv(home)
    extra = {"PYTHONPATH": str(ROOT)}
    r = run(home, "--venv", str(venv), "--port", "9", env_extra=extra)
    assert "already installed" in r.stdout  # reused, no pip
    return home, venv, extra


def check(home, extra):
    return run(home, "--check", env_extra=extra, check=False)


def test_check_passes_on_a_good_install(installed):
    home, venv, extra = installed
    r = check(home, extra)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "everything is in place" in r.stdout
    assert "VGG19 weights" in r.stdout and "not running" in r.stdout


@pytest.mark.parametrize("breakage, words", [
    (lambda h, v: os.chmod(h / ".config/GIMP/3.0/plug-ins/neural-style/neural-style.py",
                           0o644), ["3.0/plug-ins/neural-style/neural-style.py",
                                    "not executable"]),
    (lambda h, v: (h / ".config/GIMP/2.10/plug-ins/neural-style/nst_config.json").write_text(
        "{not json"), ["2.10/plug-ins/neural-style/nst_config.json", "not a valid"]),
    (lambda h, v: (h / ".config/neural-style/token").unlink(), ["token file", "unreadable"]),
    (lambda h, v: (h / ".config/GIMP/3.0/plug-ins/neural-style/nst_client.py").unlink(),
     ["3.0/plug-ins/neural-style/nst_client.py is missing"]),
    (lambda h, v: (v / "bin" / "python").unlink(), ["does not exist"]),
])
def test_check_pinpoints_the_broken_piece(installed, breakage, words):
    home, venv, extra = installed
    breakage(home, venv)
    r = check(home, extra)
    assert r.returncode == 1
    fails = [line for line in r.stdout.splitlines() if "FAIL" in line]
    assert fails and all(any(w in line for line in fails) for w in words), r.stdout


def test_remote_engine_installs_only_the_plugins(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    token = tmp_path / "gpu-token"
    token.write_text("secret\n")
    plugins = tmp_path / "plug-ins"
    run(home, "--gimp-dir", str(plugins), "--engine-url", "http://gpu-box:8765",
        "--token-file", str(token))
    cfg = assert_plugin(plugins, "3", None)
    assert cfg["engine_command"] is None
    assert cfg["engine_url"] == "http://gpu-box:8765" and cfg["token_file"] == str(token)
    assert not (home / ".local/share/neural-style/venv").exists()
    assert not (home / ".config/neural-style/token").exists()
    r = run(home, "--check", check=False)
    assert r.returncode == 1 and "remote engine at http://gpu-box:8765 does not answer" in r.stdout
    run(home, "--uninstall")
    assert token.read_text() == "secret\n", "the remote token is not ours to delete"
    assert not plugins.exists() or not any(plugins.rglob("*"))


def test_remote_engine_needs_a_token_file(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    r = run(home, "--gimp-dir", str(tmp_path / "p"), "--engine-url", "http://x:1", check=False)
    assert r.returncode == 1 and "--token-file" in r.stderr


# ------------------------------------------------------------------------------ torch build

def test_torch_build_choice(tmp_path, monkeypatch):
    install = load_install()
    py = Path("/v/bin/python")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert install.torch_build("auto") == "cpu"
    smi = tmp_path / "nvidia-smi"
    smi.write_text("#!/bin/sh\n")
    smi.chmod(0o755)
    assert install.torch_build("auto") == "cuda"
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    cpu = install.torch_install_command(py, "cpu", "linux", None)
    assert cpu[-2:] == ["--extra-index-url", install.TORCH_CPU_INDEX]
    assert install.TORCH_PIN in cpu
    assert "--extra-index-url" not in install.torch_install_command(py, "cuda", "linux", None)
    assert "--extra-index-url" not in install.torch_install_command(py, "cpu", "darwin", None)
    monkeypatch.setenv("PIP_FIND_LINKS", "/opt/wheels")
    assert "--extra-index-url" not in install.torch_install_command(py, "cpu", "linux", None)
    idx = install.torch_install_command(py, "cuda", "win32", "https://example/cu126")
    assert idx[-2:] == ["--index-url", "https://example/cu126"]


# ------------------------------------------------------------------------- real venv (slow)

@pytest.mark.slow
def test_real_venv_install_check_and_uninstall(tmp_path):
    """The whole thing for real: a new venv, the torch pin, the engine from this checkout, the
    plug-ins, --check (which imports the engine in the venv and finds the weights), then
    --uninstall removes the venv too."""
    home = tmp_path / "home"
    make_profiles(home, [".config/GIMP/3.0"])
    r = run(home)
    venv = home / ".local/share/neural-style/venv"
    assert (venv / "bin" / "python").exists(), r.stdout
    r = run(home, "--check", check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    run(home, "--uninstall")
    assert not venv.exists()

