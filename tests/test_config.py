"""engine.config: folders, the token file, model search path, tolerant settings."""

from __future__ import annotations

import json
import logging
import os
import stat
import sys
from pathlib import Path

import pytest

from engine import config


def test_config_dir_env_wins(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("NST_CONFIG_DIR", str(tmp_path / "cfg"))
    assert config.config_dir() == tmp_path / "cfg"
    assert config.token_path() == tmp_path / "cfg" / "token"
    assert config.settings_path() == tmp_path / "cfg" / "engine.json"


@pytest.mark.skipif(sys.platform != "linux", reason="XDG rules are Linux's")
def test_config_dir_follows_xdg(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("NST_CONFIG_DIR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert config.config_dir() == tmp_path / "xdg" / "neural-style"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert config.config_dir() == tmp_path / "home" / ".config" / "neural-style"


def test_models_dirs_order(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("NST_CONFIG_DIR", str(tmp_path / "cfg"))
    monkeypatch.setenv("NST_MODEL_PATH", os.pathsep.join([str(tmp_path / "a"), "",
                                                          str(tmp_path / "b")]))
    assert config.models_dirs() == [config.PACKAGED_MODELS, tmp_path / "cfg" / "models",
                                    tmp_path / "a", tmp_path / "b"]
    assert config.PACKAGED_MODELS == Path(config.__file__).resolve().parent / "models"


def test_ensure_token_creates_private_file_once(tmp_path) -> None:
    path = tmp_path / "new" / "token"
    token = config.ensure_token(path)
    assert len(token) >= 32 and path.read_text().strip() == token
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert config.ensure_token(path) == token  # stable across starts
    assert config.ensure_token(tmp_path / "other") != token  # random, not derived


def test_ensure_token_tightens_mode_and_replaces_empty(tmp_path, caplog) -> None:
    path = tmp_path / "token"
    path.write_text("  my-secret \n")
    os.chmod(path, 0o644)
    with caplog.at_level(logging.WARNING):
        assert config.ensure_token(path) == "my-secret"
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert "readable by others" in caplog.text
    path.write_text("")
    fresh = config.ensure_token(path)
    assert fresh and path.read_text().strip() == fresh


def test_settings_load_tolerantly(tmp_path, caplog) -> None:
    path = tmp_path / "engine.json"
    assert config.load_server_settings(path) == config.ServerSettings()  # missing: defaults
    path.write_text(json.dumps({"port": 9000, "max_pixels": "oops", "max_queued_jobs": -3,
                                "idle_exit_minutes": 15, "allow_remote": "yes",
                                "colour": "blue"}))
    with caplog.at_level(logging.WARNING):
        s = config.load_server_settings(path)
    assert s.port == 9000 and s.idle_exit_minutes == 15.0
    defaults = config.ServerSettings()
    assert (s.max_pixels, s.max_queued_jobs, s.allow_remote) == (
        defaults.max_pixels, defaults.max_queued_jobs, False)
    for words in ("max_pixels='oops' ignored", "max_queued_jobs=-3 ignored",
                  "unknown setting 'colour'", "allow_remote='yes' ignored"):
        assert words in caplog.text
    path.write_text("[1, 2]")
    assert config.load_server_settings(path) == defaults
    path.write_text("{broken")
    assert config.load_server_settings(path) == defaults


def test_settings_limits_view() -> None:
    s = config.ServerSettings(max_pixels=10, max_body_bytes=2048, max_queued_jobs=1)
    assert s.limits() == {"max_pixels": 10, "max_body_bytes": 2048, "max_queued_jobs": 1}
