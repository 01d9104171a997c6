"""The super-resolution step: the network's ONNX export against torch, a flat image staying flat,
tiled equal to one piece, the engine's `upscale` step and CLI, and the new parameter validated."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from engine.contract import GatysParams, ParamError, Upscale, params_from_dict
from export.upscaler import UpscalerConfig, UpscalerNet

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def _net(seed: int = 0) -> UpscalerNet:
    """A small network with random (non-zero) weights everywhere, the tail included, so every
    branch really contributes."""
    torch.manual_seed(seed)
    net = UpscalerNet(UpscalerConfig(scale=4, width=8, depth=1))
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0.0, 0.2)
    return net.eval()


def _checkpoint(net: UpscalerNet, path) -> None:
    torch.save({"kind": "upscaler", "step": 0, "wall_s": 0.0, "history": [],
                "settings": {"data": "paintings", "out": str(path.parent), "size": 64,
                             "batch": 4, "lr": 1e-3, "seed": 0, "zoom": 8.0,
                             **net.cfg.to_dict()},
                "model": net.state_dict()}, path)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    from export.onnx_export import export_checkpoint

    folder = tmp_path_factory.mktemp("models")
    ckpt = folder.parent / "up.pt"
    _checkpoint(_net(), ckpt)
    meta = export_checkpoint(ckpt, model_id="up4", name="Test upscaler", out_dir=folder,
                             thumbnail_photo=None)
    return folder, meta


@pytest.fixture
def with_models(installed, monkeypatch):
    from engine import fast

    monkeypatch.setenv("NST_MODEL_PATH", str(installed[0]))
    monkeypatch.setattr(fast, "_registry", fast.Registry())
    return installed


def test_onnx_export_matches_torch_at_two_sizes(installed) -> None:
    _, meta = installed
    assert meta["kind"] == "upscaler" and meta["scale"] == 4
    diffs = meta["parity"]["max_abs_diff"]
    assert len(diffs) == 2 and max(diffs.values()) < 1e-3


def test_untrained_network_is_exactly_bicubic() -> None:
    net = UpscalerNet(UpscalerConfig(width=8, depth=1))
    x = torch.rand(1, 3, 10, 12)
    want = torch.nn.functional.interpolate(x, scale_factor=4, mode="bicubic",
                                           align_corners=False)
    assert torch.equal(net(x), want)


def test_engine_bicubic_is_torchs_at_every_factor() -> None:
    from engine.upscale import bicubic_up

    x = torch.rand(1, 3, 9, 14)
    for s in (2, 3, 4):
        want = torch.nn.functional.interpolate(x, scale_factor=s, mode="bicubic",
                                               align_corners=False)[0].permute(1, 2, 0).numpy()
        got = bicubic_up(x[0].permute(1, 2, 0).numpy(), s)
        assert got.shape == want.shape and np.abs(got - want).max() < 1e-5


def test_export_is_detail_only_and_split_skip_keeps_the_function(installed, tmp_path) -> None:
    """The exported graph has no Resize (the engine adds the bicubic enlargement); an older
    graph with the skip inside, split by export.upscaler.split_skip, computes the same."""
    import onnx
    import onnxruntime as ort

    from engine.upscale import bicubic_up
    from export.onnx_export import write_onnx
    from export.upscaler import split_skip

    folder, meta = installed
    assert meta["architecture"]["skip"] == "engine"
    ops = {n.op_type for n in onnx.load(str(folder / "up4.onnx")).graph.node}
    assert "Resize" not in ops and "DepthToSpace" in ops
    net = _net(seed=5)
    write_onnx(net, tmp_path / "whole.onnx")  # the old form: the skip in the graph
    split_skip(str(tmp_path / "whole.onnx"), str(tmp_path / "detail.onnx"))
    cpu = ["CPUExecutionProvider"]
    whole = ort.InferenceSession(str(tmp_path / "whole.onnx"), providers=cpu)
    detail = ort.InferenceSession(str(tmp_path / "detail.onnx"), providers=cpu)
    x = torch.rand(1, 3, 17, 21).numpy()
    base = bicubic_up(x[0].transpose(1, 2, 0), 4).transpose(2, 0, 1)[None]
    got = detail.run(None, {"input": x})[0] + base
    assert np.abs(got - whole.run(None, {"input": x})[0]).max() < 1e-5


def test_flat_image_stays_flat(with_models) -> None:
    from engine import upscale

    flat = np.full((30, 41, 3), (0.2, 0.5, 0.7), np.float32)
    out, info = upscale.to_size(flat, (164, 120), Upscale.SHARP)
    assert info["upscale"] == "up4" and out.shape == (120, 164, 3)
    assert np.abs(out - flat[0, 0]).max() < 1e-4


def test_tiled_equals_one_piece(with_models) -> None:
    from engine import fast, upscale

    rgb = np.random.default_rng(0).random((53, 70, 3), dtype=np.float32)
    model = upscale.find_network()
    sess = fast.session_for(model, "cpu")
    ctx = upscale._context(model)
    whole = upscale.run_network(rgb, sess, ctx, tile=1000)
    tiled = upscale.run_network(rgb, sess, ctx, tile=16)
    assert whole.shape == (212, 280, 3)
    assert np.abs(whole - tiled).max() < 1e-4
    # ... and the network really does something beyond bicubic on this picture.
    smooth, _ = upscale.to_size(rgb, (280, 212), Upscale.SMOOTH)
    assert np.abs(np.clip(whole, 0, 1) - smooth).mean() > 0.01


def test_passes_for_each_factor() -> None:
    from engine.upscale import passes_for

    assert [passes_for(f, 4) for f in (1.0, 1.5, 4.0, 4.14, 8.3, 10.5, 16.0, 40.0)] == \
        [0, 1, 1, 1, 1, 2, 2, 2]


def test_upscale_parameter_is_validated() -> None:
    assert params_from_dict(GatysParams, {"upscale": "smooth"}).upscale is Upscale.SMOOTH
    assert GatysParams().upscale is Upscale.SHARP
    with pytest.raises(ParamError, match="upscale"):
        params_from_dict(GatysParams, {"upscale": "blurry"})


def test_pipeline_brings_a_small_render_to_the_region_with_the_network(with_models) -> None:
    from engine import pipeline
    from engine.contract import JobRequest, Method
    from engine.images import Picture

    rng = np.random.default_rng(1)
    photo = Picture(rng.random((40, 56, 3), dtype=np.float32))
    style = Picture(rng.random((32, 32, 3), dtype=np.float32))
    request = JobRequest(Method.GATYS, GatysParams(size=64, iterations=2, multiscale=False))
    out, info = pipeline.run(request, photo, [style], output_size=(224, 160))
    assert out.rgb.shape == (160, 224, 3) and info["upscale"] == "up4"
    smooth = JobRequest(Method.GATYS, GatysParams(size=64, iterations=2, multiscale=False,
                                                  upscale=Upscale.SMOOTH))
    _, info = pipeline.run(smooth, photo, [style], output_size=(224, 160))
    assert info["upscale"] == "lanczos"


def test_cli_upscale(with_models, tmp_path) -> None:
    from engine.images import Picture, load_picture, save_picture

    src = tmp_path / "in.png"
    save_picture(Picture(np.random.default_rng(2).random((20, 30, 3), dtype=np.float32)), src)
    env = {**__import__("os").environ}
    r = subprocess.run([sys.executable, "-m", "engine", "upscale", str(src), "-o",
                        str(tmp_path / "out.png"), "--json", "-q"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert (info["width"], info["height"], info["upscale"]) == (120, 80, "up4")
    assert load_picture(tmp_path / "out.png").size == (120, 80)
    r = subprocess.run([sys.executable, "-m", "engine", "upscale", str(src), "-o",
                        str(tmp_path / "x.png"), "--scale", "99"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--scale" in r.stderr


def test_training_resumes_exactly_and_loads_weights_only(tmp_path) -> None:
    from engine.images import Picture, save_picture
    from export.training_run import load_checkpoint
    from export.upscale_train import UpscaleSettings, train_upscaler

    photos = tmp_path / "paintings"
    photos.mkdir()
    rng = np.random.default_rng(3)
    for i in range(3):
        save_picture(Picture(rng.random((80, 96, 3), dtype=np.float32)), photos / f"p{i}.png")

    def settings(out: str, steps: int) -> UpscaleSettings:
        return UpscaleSettings(data=str(photos), out=str(tmp_path / out), steps=steps, batch=2,
                               size=32, width=4, depth=1, checkpoint_every=1, bf16="off",
                               cache_dir=str(tmp_path / "cache"))

    class Killed(Exception):
        pass

    def kill_at_2(event) -> None:
        if event.step == 2:
            raise Killed

    with pytest.raises(Killed):
        train_upscaler(settings("split", 3), progress=kill_at_2)
    train_upscaler(settings("split", 3))  # resumes at step 2
    train_upscaler(settings("whole", 3))
    a = load_checkpoint(tmp_path / "split" / "upscaler.pt")  # weights_only=True inside
    b = load_checkpoint(tmp_path / "whole" / "upscaler.pt")
    assert a["step"] == b["step"] == 3 and a["kind"] == "upscaler"
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k


def test_training_starts_from_a_shipped_onnx(tmp_path) -> None:
    """`--init-from MODEL.onnx`: the shipped upscaler's checkpoint is not in the repository; its
    exported weights (initialisers named like the torch modules) start a further run exactly."""
    import onnx
    from onnx import numpy_helper

    from engine.images import Picture, save_picture
    from export.training_run import load_checkpoint
    from export.upscale_train import UpscaleSettings, train_upscaler

    photos = tmp_path / "paintings"
    photos.mkdir()
    save_picture(Picture(np.random.default_rng(4).random((80, 96, 3), dtype=np.float32)),
                 photos / "p.png")
    shipped = ROOT / "engine" / "models" / "upscaler_x4.onnx"
    common = dict(data=str(photos), steps=1, batch=2, size=32, width=48, depth=4, lr=1e-12,
                  bf16="off", cache_dir=str(tmp_path / "cache"))
    train_upscaler(UpscaleSettings(out=str(tmp_path / "ft"), init_from=str(shipped), **common))
    got = load_checkpoint(tmp_path / "ft" / "upscaler.pt")["model"]
    for t in onnx.load(str(shipped)).graph.initializer:
        want = torch.from_numpy(numpy_helper.to_array(t).copy())
        assert torch.allclose(got[t.name.removeprefix("net.")], want, atol=1e-6), t.name
    with pytest.raises(ValueError, match="every weight"):
        train_upscaler(UpscaleSettings(out=str(tmp_path / "wide"), init_from=str(shipped),
                                       **{**common, "depth": 5}))


def test_models_lists_upscalers_apart_from_styles(with_models, capsys) -> None:
    from engine.__main__ import main

    assert main(["models", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert "up4" in [m["id"] for m in out["upscalers"]]
    assert "up4" not in [m["id"] for m in out["models"]]
    assert main(["models"]) == 0
    text = capsys.readouterr().out
    assert text.index("upscaling") < text.index("up4")
