"""engine.fast: registry, sessions, stylize at odd sizes, foreign and broken files."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
from fast_fixtures import write_tiny_model

from engine import fast
from engine.cancel import CancelToken
from engine.contract import Device, FastParams, JobRequest, Method
from engine.errors import BadModel, Cancelled, DeviceUnavailable, UnknownModel
from engine.fast.registry import Registry
from engine.images import Picture
from engine.pipeline import run as pipeline_run
from engine.runtime import onnx_providers


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    write_tiny_model(folder, "tiny")
    return folder


@pytest.fixture
def installed(models_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("NST_MODEL_PATH", str(models_dir))
    monkeypatch.setenv("NST_CONFIG_DIR", str(tmp_path / "config"))
    return models_dir


def _export(module: torch.nn.Module, path, shape, names=("input", "output"), dynamic=True):
    axes = {0: "n", 2: "h", 3: "w"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), (torch.rand(*shape),), str(path),
                          input_names=[names[0]], output_names=[names[1]],
                          dynamic_axes={names[0]: axes, names[1]: axes} if dynamic else None,
                          opset_version=17, dynamo=False)


def _rgb(h, w, seed=0):
    return np.random.default_rng(seed).random((h, w, 3), dtype=np.float32)


def test_list_models_reads_metadata_and_thumbnail(installed):
    models = {m.id: m for m in fast.list_models()}
    tiny = models["tiny"]
    assert tiny.name.startswith("Tiny test model")
    assert tiny.thumbnail.startswith(b"\x89PNG")
    assert tiny.metadata["input"]["range"] == [0.0, 1.0]
    assert tiny.metadata["stride"] == 4
    json.dumps(tiny.to_dict())  # the summary is JSON-able


@pytest.mark.parametrize("h,w", [(1, 1), (5, 3), (33, 47), (68, 92), (301, 157)])
def test_stylize_keeps_the_content_size_at_odd_sizes(installed, h, w):
    result = fast.stylize(_rgb(h, w), FastParams(model="tiny"))
    assert result.rgb.shape == (h, w, 3) and result.rgb.dtype == np.float32
    assert 0.0 <= result.rgb.min() and result.rgb.max() <= 1.0
    assert result.info["provider"] == "CPUExecutionProvider"
    assert result.info["device"] == "cpu"


def test_tiled_run_matches_untiled_away_from_seams_and_reports_progress(installed):
    img = _rgb(200, 300, 1)
    whole = fast.stylize(img, FastParams(model="tiny", tile=512)).rgb
    events = []
    tiled = fast.stylize(img, FastParams(model="tiny", tile=64), progress=events.append).rgb
    assert events[-1].fraction == 1.0 and events[-1].stage.startswith("tile ")
    assert len(events) > 4
    # Instance norm differs per tile, so equal only within a tolerance, never wildly off.
    assert np.abs(whole - tiled).mean() < 0.05


def test_cancel_stops_between_tiles(installed):
    token = CancelToken()

    def progress(ev):
        if ev.iteration == 2:
            token.cancel()

    with pytest.raises(Cancelled):
        fast.stylize(_rgb(200, 200), FastParams(model="tiny", tile=64), progress=progress,
                     cancel=token)


def test_keep_colors_keeps_the_original_chroma(installed):
    img = _rgb(40, 40, 2)
    out = fast.stylize(img, FastParams(model="tiny", keep_colors=True)).rgb
    yiq = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]],
                   np.float32)
    chroma_out, chroma_in = out @ yiq[1:].T, img @ yiq[1:].T
    inside = (out > 0.01).all(axis=2) & (out < 0.99).all(axis=2)  # not clipped
    np.testing.assert_allclose(chroma_out[inside], chroma_in[inside], atol=2e-3)


def test_pipeline_strength_zero_gives_the_original(installed):
    img = _rgb(30, 20)
    req = JobRequest(method=Method.FAST, params=FastParams(model="tiny", strength=0.0))
    pic, info = pipeline_run(req, Picture(img, None))
    np.testing.assert_allclose(pic.rgb, img, atol=1e-6)
    assert info["provider"] == "CPUExecutionProvider"


def test_unknown_model(installed):
    with pytest.raises(UnknownModel, match="nope"):
        fast.stylize(_rgb(8, 8), FastParams(model="nope"))


def test_corrupt_and_foreign_files_are_clear_errors_and_others_still_work(tmp_path):
    write_tiny_model(tmp_path, "good")
    (tmp_path / "garbage.onnx").write_bytes(b"\x08\x01not a model at all")
    truncated = (tmp_path / "good.onnx").read_bytes()[:500]
    write_tiny_model(tmp_path, "cut")
    (tmp_path / "cut.onnx").write_bytes(truncated)  # json sha256 no longer matches
    classifier = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.AdaptiveAvgPool2d(1),
                                     torch.nn.Flatten())
    _export(classifier, tmp_path / "classifier.onnx", (1, 3, 32, 32), dynamic=False)
    (tmp_path / "badjson.json").write_text("{not json")
    (tmp_path / "badjson.onnx").write_bytes((tmp_path / "good.onnx").read_bytes())
    meta = json.loads((tmp_path / "good.json").read_text())
    meta.update(id="badfield", stride="four")
    (tmp_path / "badfield.json").write_text(json.dumps(meta))

    reg = Registry([tmp_path])
    models, problems = reg.scan()
    assert set(models) == {"good", "cut"}
    assert "protobuf" in problems["garbage"].lower() or "load" in problems["garbage"].lower()
    assert "RGB image network" in problems["classifier"]
    assert "JSON" in problems["badjson"]
    assert "stride" in problems["badfield"]
    for bad in ("garbage", "classifier", "badjson", "badfield"):
        with pytest.raises(BadModel):
            reg.get(bad)

    fast._registry, saved = reg, fast._registry
    try:
        with pytest.raises(BadModel, match="sha256"):
            fast.stylize(_rgb(8, 8), FastParams(model="cut"))
        with pytest.raises(BadModel, match="RGB image network"):
            fast.stylize(_rgb(8, 8), FastParams(model="classifier"))
        out = fast.stylize(_rgb(9, 9), FastParams(model="good"))  # the engine carries on
        assert out.rgb.shape == (9, 9, 3)
    finally:
        fast._registry = saved


class _ZooLike(torch.nn.Module):
    """Stands in for an ONNX Model Zoo fast-neural-style net: 0..255 in and out, fixed 224."""

    def forward(self, x):
        return 255.0 - x  # colour inversion: easy to check in 0..1 terms


def test_zoo_style_fixed_224_model_is_inferred_and_runs(tmp_path):
    _export(_ZooLike(), tmp_path / "mosaic-9.onnx", (1, 3, 224, 224), ("input1", "output1"),
            dynamic=False)
    reg = Registry([tmp_path])
    info = reg.get("mosaic-9")
    assert info.inferred
    assert info.meta.fixed_size == (224, 224) and info.meta.range == (0.0, 255.0)
    fast._registry, saved = reg, fast._registry
    try:
        img = _rgb(300, 250)
        out = fast.stylize(img, FastParams(model="mosaic-9")).rgb
        np.testing.assert_allclose(out, 1.0 - img, atol=1e-5)
        small = _rgb(50, 60)
        np.testing.assert_allclose(fast.stylize(small, FastParams(model="mosaic-9")).rgb,
                                   1.0 - small, atol=1e-5)
    finally:
        fast._registry = saved


@pytest.mark.skipif("CUDAExecutionProvider" in onnx_providers(),
                    reason="checks the error when CUDA is absent; this onnxruntime has CUDA")
def test_cuda_without_cuda_provider_is_a_clear_error(installed):
    with pytest.raises(DeviceUnavailable, match="CUDA"):
        fast.stylize(_rgb(8, 8), FastParams(model="tiny", device=Device.CUDA))


def test_fp16_variant_is_not_listed_as_a_model_and_cpu_runs_fp32(tmp_path):
    import shutil

    write_tiny_model(tmp_path, "v")
    meta = json.loads((tmp_path / "v.json").read_text())
    shutil.copy(tmp_path / "v.onnx", tmp_path / "v.fp16.onnx")
    from export.onnx_export import sha256_file

    meta["variants"] = {"fp16": {"file": "v.fp16.onnx", "kept": True,
                                 "sha256": sha256_file(tmp_path / "v.fp16.onnx")}}
    (tmp_path / "v.json").write_text(json.dumps(meta))
    reg = Registry([tmp_path])
    models, problems = reg.scan()
    assert set(models) == {"v"} and not problems
    sess = fast.session_for(models["v"], "cpu")
    assert sess.path.name == "v.onnx"


def test_models_command_lists_models_and_problems(installed, tmp_path, monkeypatch, capsys):
    from engine.__main__ import main

    (tmp_path / "junk.onnx").write_bytes(b"junk")
    monkeypatch.setenv("NST_MODEL_PATH", f"{installed}{__import__('os').pathsep}{tmp_path}")
    assert main(["models", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert "tiny" in [m["id"] for m in out["models"]]
    assert [p["id"] for p in out["problems"]] == ["junk"]
    assert out["runtime"]["auto_provider"] in ("CPUExecutionProvider", "CUDAExecutionProvider")
    assert main(["models"]) == 0
    text = capsys.readouterr().out
    assert "tiny" in text and "UNUSABLE junk" in text


def test_small_photos_run_as_one_tile_and_large_ones_are_tiled() -> None:
    from engine.fast import AUTO_TILE, UNKNOWN_ONE_PIECE, auto_tile

    # A model that does not describe itself: the conservative defaults.
    assert auto_tile(817, 1224) == 1224  # a 1 MP photo: one tile, no overlap, no seam
    assert auto_tile(3, 5) == AUTO_TILE  # tiny: padded inside one tile
    assert auto_tile(1200, 2000) == 2000 and 1200 * 2000 <= UNKNOWN_ONE_PIECE
    assert auto_tile(4001, 5999) == AUTO_TILE  # 24 MP: bounded memory


@pytest.mark.parametrize("layout,width,one_piece,tiles_24mp", [
    ("light", 8, (1500, 3000), 6),  # 4.5 MP in one piece; 24 MP in 6 tiles of 4.3 MP
    ("johnson", 8, (1500, 1600), 12),
    ("johnson", 32, (700, 800), 70),  # 4x the memory per pixel: 768 px tiles
])
def test_automatic_tile_follows_the_models_memory_per_pixel(layout, width, one_piece, tiles_24mp):
    from engine.fast import (
        MAX_AUTO_TILE,
        MIN_AUTO_TILE,
        OVERLAP,
        TILE_MEMORY_MB,
        auto_tile,
        memory_per_megapixel,
    )
    from engine.fast.metadata import ModelMeta
    from engine.fast.tiling import fitted_side, plan

    meta = ModelMeta(id="m", name="m", file="m.onnx", sha256=None, input_name="input",
                     output_name="output",
                     extra={"architecture": {"layout": layout, "width": width, "depth": 3}})
    mb = memory_per_megapixel(meta)
    budget = TILE_MEMORY_MB / mb * 1e6
    h, w = one_piece
    assert auto_tile(h, w, mb) >= max(h, w)  # one piece
    side = auto_tile(4001, 5999, mb)
    tiles = plan(4004, 6000, side, OVERLAP, 4)
    assert len(tiles) == tiles_24mp
    area = (tiles[0].y1 - tiles[0].y0) * (tiles[0].x1 - tiles[0].x0)
    assert area <= budget or side == MIN_AUTO_TILE
    # ... and it is the largest such side.
    if side < MAX_AUTO_TILE and side > MIN_AUTO_TILE:
        bigger = side + 256
        assert fitted_side(4004, bigger, OVERLAP, 4) * fitted_side(6000, bigger, OVERLAP, 4) \
            > budget
    # Exported before `layout` existed: the Johnson layout.
    legacy = ModelMeta(id="m", name="m", file="m.onnx", sha256=None, input_name="i",
                       output_name="o", extra={"architecture": {"width": 8, "depth": 3}})
    assert memory_per_megapixel(legacy) == pytest.approx(37.0 * 8)
    assert memory_per_megapixel(ModelMeta(id="m", name="m", file="m.onnx", sha256=None,
                                          input_name="i", output_name="o")) is None
