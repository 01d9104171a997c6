"""Training: exact resume after a kill, and two-process DDP == one process on the same batch.

Tiny everything (32 px crops, width 4, one residual block, fp32) so the file runs in well under
two minutes on a CPU; the real VGG19 backbone is used, as in real training."""

from __future__ import annotations

import dataclasses
import socket

import numpy as np
import pytest
import torch
from PIL import Image

from export.train import TrainSettings, train
from export.training_run import load_checkpoint


def _photo(rng: np.random.Generator, h: int, w: int) -> Image.Image:
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([np.sin(x * rng.uniform(2, 9)), np.cos(y * rng.uniform(2, 9)), x * y], 2)
    noisy = (base + 1) / 2 * 200 + rng.normal(0, 20, (h, w, 3))
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    rng = np.random.default_rng(0)
    (root / "photos").mkdir()
    for i in range(5):
        _photo(rng, 40 + 4 * i, 56 - 2 * i).save(root / "photos" / f"p{i}.png")
    _photo(rng, 64, 64).save(root / "style.png")
    return root


def _settings(folders, out, **kw) -> TrainSettings:
    base = dict(style=str(folders / "style.png"), data=str(folders / "photos"), out=str(out),
                size=32, style_size=64, steps=4, batch=2, width=4, depth=1, seed=3,
                preview_every=2, checkpoint_every=1, bf16="off",
                cache_dir=str(folders / "cache"))
    base.update(kw)
    return TrainSettings(**base)


class _Killed(Exception):
    pass


@pytest.mark.parametrize("patch_weight", [0.0, 2.0])
def test_killed_run_resumes_exactly(folders, tmp_path, patch_weight):
    # With the patch term too: its random sampling phase must come back with the RNG states.
    whole = train(_settings(folders, tmp_path / "whole", patch_weight=patch_weight))

    def kill_at_3(ev):
        if ev.step == 3:  # after step 3's update, before its checkpoint: like a SIGKILL
            raise _Killed()

    with pytest.raises(_Killed):
        train(_settings(folders, tmp_path / "split", patch_weight=patch_weight),
              progress=kill_at_3)
    assert load_checkpoint(tmp_path / "split" / "last.pt")["step"] == 2
    resumed = train(_settings(folders, tmp_path / "split", patch_weight=patch_weight))

    assert [h["total"] for h in resumed.history] == [h["total"] for h in whole.history]
    a = load_checkpoint(tmp_path / "whole" / "last.pt")
    b = load_checkpoint(tmp_path / "split" / "last.pt")
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    assert a["step"] == b["step"] == 4
    assert (tmp_path / "whole" / "previews" / "step_000004.png").is_file()
    # Losses move: the test would notice a loop that does nothing.
    assert whole.history[0]["total"] != whole.history[-1]["total"]
    assert ("patch" in whole.history[0]) == (patch_weight > 0)


def test_a_time_limited_run_stops_with_the_weights_of_its_step_count(folders, tmp_path,
                                                                     monkeypatch):
    # A fake clock: each reading is one "second" later, so the limit falls at a known step.
    import export.training_run as tr

    ticks = iter(range(10_000))
    monkeypatch.setattr(tr.time, "perf_counter", lambda: float(next(ticks)))
    limited = train(_settings(folders, tmp_path / "limited", steps=100, checkpoint_every=50,
                              max_minutes=2.5 / 60))  # 2.5 "s": past it after the 3rd step
    monkeypatch.undo()
    assert limited.steps == 3 < 100
    ckpt = load_checkpoint(tmp_path / "limited" / "last.pt")
    assert ckpt["step"] == 3  # written at the stop although 3 is no checkpoint step
    train(_settings(folders, tmp_path / "exact", steps=3))
    ref = load_checkpoint(tmp_path / "exact" / "last.pt")
    for k in ref["model"]:
        assert torch.equal(ckpt["model"][k], ref["model"][k]), k
    # The limit is a run-time budget, not a setting of the network: the run resumes under
    # another one and goes on to its step count.
    resumed = train(_settings(folders, tmp_path / "limited", steps=5, checkpoint_every=50))
    assert resumed.steps == 5


def test_resume_refuses_other_settings(folders, tmp_path):
    train(_settings(folders, tmp_path / "r", steps=1))
    with pytest.raises(ValueError, match="style_weight"):
        train(_settings(folders, tmp_path / "r", steps=2, style_weight=1.0))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, world: int, port: int, settings: dict) -> None:
    import os

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    train(TrainSettings(**settings))
    torch.distributed.destroy_process_group()


def test_two_process_ddp_step_equals_one_process_step(folders, tmp_path):
    single = _settings(folders, tmp_path / "single", steps=1, preview_every=0)
    train(single)
    ddp = dataclasses.replace(single, out=str(tmp_path / "ddp"))
    torch.multiprocessing.spawn(_ddp_worker, args=(2, _free_port(), dataclasses.asdict(ddp)),
                                nprocs=2, join=True)
    a = load_checkpoint(tmp_path / "single" / "last.pt")
    b = load_checkpoint(tmp_path / "ddp" / "last.pt")
    # The logged loss is the global batch's in both.
    for k, v in a["history"][0].items():
        assert b["history"][0][k] == pytest.approx(v, rel=1e-5), k
    # Adam's first moment after one step is 0.1 * the gradient the step used: compare those.
    grads_a = [s["exp_avg"] for s in a["optimizer"]["state"].values()]
    grads_b = [s["exp_avg"] for s in b["optimizer"]["state"].values()]
    assert len(grads_a) == len(grads_b) > 0
    # Summation order differs (one batch of 2 vs two batches of 1 + all-reduce), so equal to
    # float precision, not bit for bit: measured 6.6e-4 of the norm on an AMD EPYC (AVX2: oneDNN
    # picks other convolution kernels for a batch of 1 than of 2), under 1e-4 on an Intel
    # AVX-512 VM. A real DDP fault (a rank's gradient missing, or summed instead of averaged)
    # is 50-100 %. Conv biases feeding an instance norm have a gradient that
    # is mathematically 0 (the norm subtracts any bias): those are pure float noise, judged
    # against the largest gradient rather than against themselves.
    flat_a = torch.cat([g.flatten() for g in grads_a])
    flat_b = torch.cat([g.flatten() for g in grads_b])
    assert float((flat_b - flat_a).norm()) <= 3e-3 * float(flat_a.norm())
    largest = max(float(g.norm()) for g in grads_a)
    for ga, gb in zip(grads_a, grads_b, strict=True):
        assert float((gb - ga).norm()) <= 3e-3 * float(ga.norm()) + 3e-4 * largest
    # And the weights agree wherever the gradient is not at float noise level (Adam's first
    # step is lr * sign(g), so a gradient of ~1e-12 may flip either way).
    params_a, params_b = list(a["model"].values()), list(b["model"].values())
    for pa, pb in zip(params_a, params_b, strict=True):
        assert pa.shape == pb.shape
    top = float(flat_a.abs().max())
    for (name, pa), ga in zip(a["model"].items(), grads_a, strict=True):
        pb = b["model"][name]
        sure = ga.abs() > 1e-2 * top  # well above the float noise measured above
        torch.testing.assert_close(pb[sure], pa[sure], rtol=0, atol=1e-6)


def test_warm_start_copies_the_weights_that_fit(folders, tmp_path):
    """A light run can start from a Johnson run: everything but the full-resolution ends."""
    from export.train import model_from_checkpoint

    train(_settings(folders, tmp_path / "johnson", steps=1, layout="johnson", preview_every=0))
    warm = _settings(folders, tmp_path / "light", steps=1, layout="light", preview_every=0,
                     init_from=str(tmp_path / "johnson" / "last.pt"), lr=1e-12)
    train(warm)
    old = load_checkpoint(tmp_path / "johnson" / "last.pt")
    new = load_checkpoint(tmp_path / "light" / "last.pt")
    assert new["settings"]["init_from"].endswith("last.pt")
    shared = [k for k in new["model"] if k in old["model"]
              and new["model"][k].shape == old["model"][k].shape]
    assert any(k.startswith("residuals.") for k in shared)
    assert "encoder.0.1.weight" not in shared  # 3x3 vs 9x9
    for k in shared:  # one step at lr 1e-12 leaves the copied weights where they were
        assert torch.allclose(new["model"][k], old["model"][k], atol=1e-6), k
    assert model_from_checkpoint(new).config.layout == "light"
    assert model_from_checkpoint(old).config.layout == "johnson"


def test_checkpoints_from_before_layout_resume_as_johnson(folders, tmp_path):
    train(_settings(folders, tmp_path / "old", steps=1, layout="johnson", preview_every=0))
    path = tmp_path / "old" / "last.pt"
    ckpt = load_checkpoint(path)
    for key in ("layout", "init_from"):
        del ckpt["settings"][key]  # what a checkpoint written by the first release holds
    torch.save(ckpt, path)
    resumed = train(_settings(folders, tmp_path / "old", steps=2, layout="johnson",
                              preview_every=0))
    assert resumed.steps == 2
    with pytest.raises(ValueError, match="layout"):
        train(_settings(folders, tmp_path / "old", steps=3, layout="light", preview_every=0))


def test_a_shipped_onnx_network_is_trained_further_from_its_exact_weights():
    """`--init-from engine/models/ID.onnx`: the exported graph's phase convolutions are turned
    back into the training network's 3x3 kernels (export.transformer.undeploy_weights), so the
    warm-started torch network computes what the shipped file does."""
    from pathlib import Path

    import onnxruntime as ort

    from export.training_run import warm_start
    from export.transformer import TransformerConfig, TransformerNet, undeploy_weights

    torch.manual_seed(0)
    net = TransformerNet(TransformerConfig(width=4, depth=1, layout="light"))
    for m in net.modules():  # non-trivial norms, so a mix-up of names would show
        if isinstance(m, torch.nn.InstanceNorm2d) and m.affine:
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    back = undeploy_weights(dict(net.deploy().state_dict()))
    assert set(back) == set(net.state_dict())
    for k, v in net.state_dict().items():
        torch.testing.assert_close(back[k], v, rtol=0, atol=1e-6)

    shipped = Path(__file__).resolve().parents[1] / "engine" / "models" / "starry_night.onnx"
    fresh = TransformerNet(TransformerConfig(width=8, depth=3, layout="light"))
    assert len(warm_start(fresh, shipped)) == len({k.rsplit(".", 1)[0]
                                                   for k in fresh.state_dict()})
    x = torch.rand(1, 3, 48, 64)
    sess = ort.InferenceSession(str(shipped), providers=["CPUExecutionProvider"])
    want = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0]
    with torch.no_grad():
        got = fresh.eval()(x).numpy()
    assert np.abs(got - want).max() < 1e-5


def test_a_run_in_stages_exports_the_whole_training_record(folders, tmp_path):
    """Stage 2 starts from stage 1's checkpoint with another loss: the exported json keeps both
    stages (settings, steps, losses, a command line), newest first."""
    import json

    from export.onnx_export import export_checkpoint

    train(_settings(folders, tmp_path / "one", steps=2, preview_every=0))
    train(_settings(folders, tmp_path / "two", steps=1, preview_every=0, patch_weight=2.0,
                    init_from=str(tmp_path / "one" / "last.pt")))
    export_checkpoint(tmp_path / "two" / "last.pt", model_id="staged", name="Staged",
                      out_dir=tmp_path / "models",
                      thumbnail_photo=str(folders / "photos" / "p0.png"), command="stage two")
    record = json.loads((tmp_path / "models" / "staged.json").read_text())["training"]
    assert record["steps"] == 1 and record["settings"]["patch_weight"] == 2.0
    assert record["command"] == "stage two"
    earlier = record["earlier"]
    assert earlier["steps"] == 2 and earlier["settings"]["patch_weight"] == 0.0
    assert "--steps 2" in earlier["command"] and "--patch-weight" not in earlier["command"]
    assert "earlier" not in earlier  # stage one started from scratch


def test_strip_optimizer_keeps_everything_but_the_optimizer(tmp_path) -> None:
    """What the GPU scripts bring back: the checkpoint minus Adam's state, in place or to a copy."""
    import torch

    from export.training_run import strip_optimizer

    src = tmp_path / "last.pt"
    torch.save({"model": {"w": torch.arange(3.0)}, "optimizer": {"state": {0: torch.ones(3)}},
                "step": 7, "history": [{"total": 1.0}]}, src)
    kept = strip_optimizer(src, tmp_path / "weights.pt")
    assert "optimizer" in torch.load(src, weights_only=True)  # the source is left as it was
    again = torch.load(tmp_path / "weights.pt", weights_only=True)
    assert sorted(again) == sorted(kept) == ["history", "model", "step"]
    assert torch.equal(again["model"]["w"], torch.arange(3.0)) and again["step"] == 7
    strip_optimizer(src)
    assert "optimizer" not in torch.load(src, weights_only=True)
