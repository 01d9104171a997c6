"""How fast this machine runs a kind of work, as measured by the engine's own last runs, and what
that predicts: the GIMP dialog's "1024 px would take about 95 s" (issue #15).

A Gatys run records seconds per megapixel-iteration of full-network work (a light scale's
iteration counts as `DEPTH_COST[Depth.STROKES]` of one; engine/gatys/schedule.py), per lane.
The figure is kept in memory and in a small JSON file in the user's cache folder, so an engine
started later (they exit when idle) still knows it. Nothing is guessed: before the first run
there is no estimate.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

from engine import config

log = logging.getLogger(__name__)

_lock = threading.Lock()
_measured: dict[str, float] = {}
# Sizes (longest side) and qualities the health answer estimates, for a 4:3 picture; a caller
# scales by its own picture's area (the work is proportional to the pixel count at every scale).
SIZES = (256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096)
REFERENCE_WH = (4000, 3000)
MIN_WORK = 2e6  # pixel-iterations; a 512 px default run is about 8e6


def cache_file() -> Path:
    return config.cache_dir() / "speed.json"


def _load() -> dict[str, float]:
    try:
        data = json.loads(cache_file().read_text())
    except (OSError, ValueError):
        return {}
    return {k: float(v) for k, v in data.items()
            if isinstance(v, (int, float)) and 0 < float(v) < 1e6}


def record(kind: str, seconds: float, megapixel_iterations: float) -> None:
    """A finished run of `kind` (e.g. "gatys:cpu") took `seconds` for that much work."""
    if seconds <= 0 or megapixel_iterations <= 0:
        return
    rate = seconds / megapixel_iterations
    with _lock:
        _measured[kind] = rate
        try:  # best effort: a read-only home must not fail the job
            path = cache_file()
            path.parent.mkdir(parents=True, exist_ok=True)
            merged = {**_load(), kind: rate}
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(merged))
            tmp.replace(path)
        except OSError as exc:
            log.debug("speed not saved: %s", exc)


def rate(kind: str) -> float | None:
    """Seconds per megapixel-iteration of `kind` measured here, or None."""
    with _lock:
        if kind not in _measured:
            saved = _load().get(kind)
            if saved is not None:
                _measured[kind] = saved
        return _measured.get(kind)


def gatys_estimates(lane: str = "cpu") -> dict | None:
    """Seconds a Gatys run would take at each of SIZES and each quality, for a 4:3 picture, from
    the measured rate; None before the first measured run."""
    r = rate(f"gatys:{lane}")
    if r is None:
        return None
    from engine.contract import GatysParams, Quality
    from engine.gatys.schedule import plan, total_cost

    table = {q.value: {str(s): round(total_cost(plan(REFERENCE_WH, GatysParams(size=s,
                                                                             quality=q)))
                                      / 1e6 * r, 1)
                       for s in SIZES}
             for q in Quality}
    return {"s_per_mp_iteration": round(r, 4), "aspect": "4:3", "seconds": table}
