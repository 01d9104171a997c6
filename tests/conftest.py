"""Every test writes the engine's measured speed (engine/speed.py) into a scratch cache folder,
never into the developer's own ~/.cache, whose figure the GIMP dialog quotes."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _scratch_speed_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
    from engine import speed

    monkeypatch.setattr(speed, "_measured", {})
