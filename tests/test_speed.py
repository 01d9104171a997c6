"""The engine's measured speed and the estimates the GIMP dialog quotes (engine/speed.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine import health, speed
from engine.contract import GatysParams, Quality
from engine.gatys.schedule import plan, total_cost


def test_no_estimate_before_a_measured_run() -> None:
    assert speed.rate("gatys:cpu") is None
    assert health.describe()["estimates"] == {"gatys": None}


def test_a_recorded_rate_predicts_from_the_engines_own_plan_and_survives_a_restart() -> None:
    speed.record("gatys:cpu", 30.0, 10.0)  # 3 s per megapixel-iteration
    table = health.describe()["estimates"]["gatys"]
    assert table["s_per_mp_iteration"] == 3.0 and table["aspect"] == "4:3"
    for q in Quality:
        for s in ("512", "2048"):
            want = total_cost(plan(speed.REFERENCE_WH, GatysParams(size=int(s), quality=q)))
            assert table["seconds"][q.value][s] == pytest.approx(want / 1e6 * 3.0, abs=0.1)
    assert table["seconds"]["normal"]["1024"] > table["seconds"]["normal"]["512"]
    saved = json.loads(speed.cache_file().read_text())
    assert saved == {"gatys:cpu": 3.0}
    speed._measured.clear()  # a new engine process: read back from the cache file
    assert speed.rate("gatys:cpu") == 3.0


def test_a_real_run_records_its_rate_and_a_thumbnail_does_not() -> None:
    from engine.gatys import stylize

    rng = np.random.default_rng(0)
    photo = rng.random((60, 80, 3), dtype=np.float32)
    stylize(photo, [photo], GatysParams(size=64, iterations=2, multiscale=False))
    assert speed.rate("gatys:cpu") is None  # 64 px x 2 iterations: too little to predict
    stylize(photo, [photo], GatysParams(size=400, iterations=20, multiscale=False))
    assert speed.rate("gatys:cpu") is not None and speed.rate("gatys:cpu") > 0


def test_a_broken_cache_file_is_ignored() -> None:
    speed.cache_file().parent.mkdir(parents=True, exist_ok=True)
    speed.cache_file().write_text("{not json")
    assert speed.rate("gatys:cpu") is None
    speed.record("gatys:cpu", 5.0, 1.0)
    assert speed.rate("gatys:cpu") == 5.0
