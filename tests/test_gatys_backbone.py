"""The project's VGG19 reproduces reference activations on a fixed input.

Two independent checks: (1) a from-scratch forward pass with `torch.nn.functional.conv2d` on the
raw dequantised Caffe weights read straight from the file; (2) stored numbers computed once with
the shared yardstick's own VGG19 (`nst_score.py`), so a wrong layer order, pooling, channel order
or mean would be caught even if both of this project's code paths agreed with each other.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from engine import runtime
from engine.backbone import VGG19_BLOCKS, find_default_weights, shared_backbone
from engine.contract import Pooling
from engine.gatys.features import ALL_LAYERS

# (mean, root-mean-square) of each layer for `_pattern()`, from nst_score.py's VGG19.
REFERENCE = {
    "relu1_1": (29.16997718811035, 59.413421630859375),
    "relu2_1": (150.68287658691406, 284.4464111328125),
    "relu3_1": (237.9438934326172, 471.1376037597656),
    "relu4_1": (1131.2972412109375, 1973.623291015625),
    "relu4_2": (764.443359375, 1640.7047119140625),
    "relu5_1": (143.28167724609375, 322.1671142578125),
}


def _pattern() -> torch.Tensor:
    h, w = 24, 32
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    return torch.stack([xx, yy, (xx * yy) ** 0.5])[None]


def _independent(rgb: torch.Tensor) -> dict[str, torch.Tensor]:
    q = torch.load(find_default_weights(), map_location="cpu", weights_only=True)
    mean_bgr = torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)
    x = (rgb * 255.0)[:, [2, 1, 0]] - mean_bgr
    out = {}
    c_in = 3
    for b, (ch, n) in enumerate(VGG19_BLOCKS, 1):
        for i in range(1, n + 1):
            key = f"block{b}_conv{i}"
            w = q[key + "_W_table"][q[key + "_W_q"].long()].reshape(ch, c_in, 3, 3)
            x = F.relu(F.conv2d(x, w, q[key + "_b"].reshape(ch), padding=1))
            out[f"relu{b}_{i}"] = x
            c_in = ch
        if b < 5:
            x = F.max_pool2d(x, 2)
    return out


@pytest.fixture(scope="module")
def net():
    return shared_backbone(Pooling.MAX, "cpu")


def test_matches_independent_conv2d(net) -> None:
    rgb = _pattern()
    with torch.no_grad():
        ours = net(rgb, ALL_LAYERS)
        ref = _independent(rgb)
    for name in ALL_LAYERS:
        scale = ref[name].abs().max().item()
        assert torch.allclose(ours[name], ref[name], atol=1e-4 * scale, rtol=1e-4), name


def test_matches_stored_reference_numbers(net) -> None:
    with torch.no_grad():
        ours = net(_pattern(), ALL_LAYERS)
    for name, (mean, rms) in REFERENCE.items():
        assert ours[name].mean().item() == pytest.approx(mean, rel=1e-4), name
        assert ours[name].pow(2).mean().sqrt().item() == pytest.approx(rms, rel=1e-4), name


def test_reduced_precision_stays_close(net) -> None:
    dtype = runtime.autocast_dtype(torch.device("cpu"))
    if dtype is None:
        pytest.skip("this CPU has no native bf16 kernels; the engine runs in fp32 here")
    rgb = _pattern()
    with torch.no_grad():
        ref = net(rgb, ALL_LAYERS)
        with torch.autocast("cpu", dtype=dtype):
            low = net(rgb, ALL_LAYERS)
    for name in ALL_LAYERS:
        err = (low[name].float() - ref[name]).norm() / ref[name].norm()
        assert err < 0.05, (name, err.item())


def test_lean_max_pool_has_torchs_gradient_and_keeps_no_indices() -> None:
    """The pooling the backbone uses under autograd: the same gradient as torch's max pooling,
    ties included (a map of equal values), with no int64 index map kept for backward."""
    from engine.backbone import LeanMaxPool2d

    saved: list[torch.dtype] = []

    def pack(t: torch.Tensor) -> torch.Tensor:
        saved.append(t.dtype)
        return t

    gen = torch.Generator().manual_seed(0)
    for x in (torch.randn(1, 4, 10, 14, generator=gen), torch.ones(1, 2, 6, 6),
              torch.randn(1, 8, 9, 7, generator=gen).to(memory_format=torch.channels_last)):
        grad = torch.randn(1, x.shape[1], x.shape[2] // 2, x.shape[3] // 2, generator=gen)
        ours, theirs = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
        saved.clear()
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            out = LeanMaxPool2d()(ours)
        assert saved and torch.int64 not in saved
        out.backward(grad)
        F.max_pool2d(theirs, 2, 2).backward(grad)
        assert torch.equal(out.detach(), F.max_pool2d(x, 2, 2))
        assert torch.equal(ours.grad, theirs.grad)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        saved.clear()
        torch.nn.MaxPool2d(2, 2)(torch.randn(1, 2, 4, 4, requires_grad=True))
    assert torch.int64 in saved  # what the test guards against: torch's own keeps indices
