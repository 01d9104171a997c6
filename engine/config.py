"""Where the engine keeps its things (config folder, token, fast models) and the service settings.

Settings are declared once (`ServerSettings`: default, range, help per field); the `serve` CLI
derives its flags from them and `load_server_settings` reads an optional JSON file tolerantly: a bad
value logs a warning and falls back to the default, so a typo never stops the engine from starting.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import stat
import sys
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.contract import ParamError, coerce, param

log = logging.getLogger(__name__)

APP_NAME = "neural-style"
CONFIG_ENV = "NST_CONFIG_DIR"
MODEL_PATH_ENV = "NST_MODEL_PATH"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_URL = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"
PACKAGED_MODELS = Path(__file__).resolve().parent / "models"


def config_dir() -> Path:
    """$NST_CONFIG_DIR, else the platform's per-user config folder + neural-style."""
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32":
        base = os.environ.get("APPDATA") or str(Path.home() / "AppData" / "Roaming")
        return Path(base) / APP_NAME
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / APP_NAME
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / APP_NAME


def cache_dir() -> Path:
    """The per-user cache folder + neural-style: things the engine can always make again (its
    measured speed, optimised graphs)."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / APP_NAME / "cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / APP_NAME
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / APP_NAME


def token_path() -> Path:
    return config_dir() / "token"


def settings_path() -> Path:
    return config_dir() / "engine.json"


def models_dirs() -> list[Path]:
    """Folders searched for fast models, in order: packaged, user config, then $NST_MODEL_PATH."""
    dirs = [PACKAGED_MODELS, config_dir() / "models"]
    for part in os.environ.get(MODEL_PATH_ENV, "").split(os.pathsep):
        if part.strip():
            dirs.append(Path(part.strip()).expanduser())
    return dirs


def read_token(path: str | os.PathLike[str]) -> str:
    token = Path(path).read_text(encoding="utf-8").strip()
    if not token:
        raise ValueError(f"token file {path} is empty")
    return token


def ensure_token(path: str | os.PathLike[str] | None = None) -> str:
    """The secret in `path` (default token_path()); created random with mode 0600 when missing."""
    path = Path(path) if path else token_path()
    try:
        token = read_token(path)
    except FileNotFoundError:
        token = ""
    except ValueError:
        token = ""
        path.unlink()  # an empty file helps nobody; replace it
    if token:
        _tighten_mode(path)
        return token
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    import secrets  # only here: the fast CLI path never makes a token

    token = secrets.token_urlsafe(32)
    try:
        # O_EXCL: two engines starting at once must not overwrite each other's secret.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_token(path)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(token + "\n")
    log.info("created access token %s", path)
    return token


def _tighten_mode(path: Path) -> None:
    if os.name != "posix":
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("token file %s was readable by others (mode %o); setting 0600", path, mode)
        os.chmod(path, 0o600)


# ------------------------------------------------------------------------------ service settings

@dataclass(frozen=True)
class ServerSettings:
    host: str = param(DEFAULT_HOST, "Address to listen on; anything but loopback needs "
                                       "allow_remote.")
    port: int = param(DEFAULT_PORT, "TCP port; 0 picks a free one (printed at start).",
                         min=0, max=65535)
    allow_remote: bool = param(False, "Allow binding a non-loopback address (put TLS in front).")
    token_file: str = param("", "File holding the bearer token (default: the config folder's "
                                   "'token', created when missing).")
    idle_exit_minutes: float = param(0.0, "Exit after this many minutes without requests or "
                                             "jobs; 0 never exits.", min=0.0, max=10080.0)
    max_pixels: int = param(64_000_000, "Largest image accepted, in pixels (per image).",
                               min=1, max=1_000_000_000)
    max_body_bytes: int = param(256 * 1024 * 1024, "Largest request body accepted, in bytes.",
                                   min=1024, max=16 * 1024**3)
    max_queued_jobs: int = param(16, "Jobs that may wait in the queue (running ones excluded); "
                                        "more get 429.", min=0, max=10_000)
    result_ttl_s: float = param(600.0, "Seconds a finished job and its result are kept.",
                                   min=1.0, max=7 * 86400.0)
    abandon_after_s: float = param(60.0, "Cancel a job whose client has not polled it for this "
                                            "many seconds (unless it asked for keep_alive).",
                                      min=1.0, max=7 * 86400.0)
    request_timeout_s: float = param(10.0, "Seconds a connection may take to send a complete "
                                           "request head; slower ones are closed.",
                                     min=0.5, max=3600.0)
    max_log_bytes: int = param(1_000_000, "Largest size of the log file the engine's output "
                                          "goes to (older lines move to FILE.1).",
                               min=10_000, max=10**10)

    def limits(self) -> dict[str, int]:
        return {"max_pixels": self.max_pixels, "max_body_bytes": self.max_body_bytes,
                "max_queued_jobs": self.max_queued_jobs}


def settings_from_dict(data: dict[str, Any], base: ServerSettings | None = None,
                       source: str = "settings") -> ServerSettings:
    """Tolerant: unknown keys and bad values are logged and ignored (the default stays)."""
    base = base or ServerSettings()
    fields = {f.name: f for f in dataclasses.fields(ServerSettings)}
    hints = typing.get_type_hints(ServerSettings)
    values: dict[str, Any] = {}
    for key, raw in data.items():
        f = fields.get(key)
        if f is None:
            log.warning("%s: unknown setting %r ignored", source, key)
            continue
        try:
            values[key] = coerce(f, hints[key], raw, exact_bool=True)
        except ParamError as exc:
            log.warning("%s: %s=%r ignored (%s); using %r", source, key, raw, exc,
                        getattr(base, key))
    return dataclasses.replace(base, **values)


def load_server_settings(path: str | os.PathLike[str] | None = None) -> ServerSettings:
    """Settings from a JSON object file (default settings_path()); a missing file means defaults."""
    path = Path(path) if path else settings_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return ServerSettings()
    except (OSError, ValueError) as exc:
        log.warning("cannot read settings %s (%s); using defaults", path, exc)
        return ServerSettings()
    if not isinstance(data, dict):
        log.warning("settings %s is not a JSON object; using defaults", path)
        return ServerSettings()
    return settings_from_dict(data, source=str(path))
