"""The models shipped in engine/models: valid metadata, matching files, size limit, and they run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine import fast
from engine.contract import FastParams
from engine.fast.metadata import from_dict
from engine.fast.registry import Registry
from export.onnx_export import sha256_file

MODELS = Path(__file__).resolve().parents[1] / "engine" / "models"
ALL = sorted(MODELS.glob("*.json"))
SHIPPED = [p for p in ALL if json.loads(p.read_text()).get("kind", "style") == "style"]
UPSCALERS = [p for p in ALL if json.loads(p.read_text()).get("kind") == "upscaler"]


def test_at_least_four_models_with_starry_night():
    ids = {p.stem for p in SHIPPED}
    assert len(ids) >= 4 and "starry_night" in ids
    assert FastParams().model in ids  # the contract's default model is installed


@pytest.mark.parametrize("json_path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_model_is_valid_small_and_described(json_path):
    meta = from_dict(json.loads(json_path.read_text()), json_path.name)
    onnx = MODELS / meta.file
    assert onnx.stat().st_size <= 8 * 2**20
    assert sha256_file(onnx) == meta.sha256
    assert meta.range == (0.0, 1.0) and meta.stride == 4 and meta.fixed_size is None
    assert meta.thumbnail_png.startswith(b"\x89PNG")
    t = meta.training
    assert t["steps"] > 0 and t["command"].startswith("python -m export train")
    assert {"style", "content", "tv", "total"} <= set(t["final_losses"])
    assert max(meta.extra["parity"]["max_abs_diff"].values()) < 1e-3
    fp16 = meta.extra["variants"]["fp16"]
    if fp16["kept"]:
        assert sha256_file(MODELS / fp16["file"]) == fp16["sha256"]


def test_shipped_models_run(monkeypatch):
    monkeypatch.setattr(fast, "_registry", Registry([MODELS]))
    img = np.random.default_rng(0).random((37, 53, 3), dtype=np.float32)
    for model in fast.list_models():
        out = fast.stylize(img, FastParams(model=model.id)).rgb
        assert out.shape == img.shape and np.isfinite(out).all()
        assert np.abs(out - img).mean() > 0.02  # it changes the picture


def test_cli_json_reports_model_provider_and_tile(tmp_path):
    """`stylize -m MODEL --json` says which network ran where, as doctor and job results do."""
    import subprocess
    import sys

    from PIL import Image

    photo = tmp_path / "photo.png"
    Image.fromarray((np.random.default_rng(1).random((90, 130, 3)) * 255).astype(np.uint8)
                    ).save(photo)
    out = tmp_path / "out.jpg"
    proc = subprocess.run([sys.executable, "-m", "engine", "stylize", str(photo), "-m",
                           "starry_night", "-o", str(out), "--json", "-q"],
                          cwd=MODELS.parents[1], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    assert info["model"] == "starry_night" and info["method"] == "fast"
    assert info["provider"] == "CPUExecutionProvider" and info["device"] == "cpu"
    assert info["tile"] >= 130 and (info["width"], info["height"]) == (130, 90)
    with Image.open(out) as im:
        assert im.size == (130, 90)


@pytest.mark.parametrize("json_path", UPSCALERS, ids=lambda p: p.stem)
def test_shipped_upscaler_is_valid_small_and_described(json_path):
    meta = from_dict(json.loads(json_path.read_text()), json_path.name)
    onnx = MODELS / meta.file
    assert onnx.stat().st_size <= 8 * 2**20 and sha256_file(onnx) == meta.sha256
    assert meta.stride == 1 and meta.extra["scale"] == 4 and meta.fixed_size is None
    t = meta.training
    assert t["steps"] > 0 and t["command"].startswith("python -m export train-upscaler")
    assert max(meta.extra["parity"]["max_abs_diff"].values()) < 1e-3


def test_an_upscaler_is_shipped_and_not_offered_as_a_style():
    assert UPSCALERS, "engine/models has no upscaler (kind 'upscaler')"
    reg = Registry([MODELS])
    assert {p.stem for p in UPSCALERS}.isdisjoint(m.id for m in reg.list())
    assert [m.id for m in reg.list("upscaler")] == [p.stem for p in UPSCALERS]
