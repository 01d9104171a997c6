"""The transformer network: shapes at odd sizes, output range, no transposed convolutions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.fast.tiling import run_tiled
from export.transformer import STRIDE, TransformerConfig, TransformerNet


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return TransformerNet(TransformerConfig(width=4, depth=2)).eval()


@pytest.mark.parametrize("h,w", [(4 * 9, 4 * 13), (68, 92), (32, 32), (4 * 17, 4 * 5)])
def test_output_matches_input_at_stride_multiples(net, h, w):
    with torch.no_grad():
        y = net(torch.rand(2, 3, h, w))
    assert y.shape == (2, 3, h, w)
    assert 0.0 <= float(y.min()) and float(y.max()) <= 1.0


@pytest.mark.parametrize("h,w", [(33, 47), (61, 35), (9, 101)])
def test_odd_sizes_work_through_the_engine_padding(net, h, w):
    def run(x: np.ndarray) -> np.ndarray:
        assert x.shape[0] % STRIDE == 0 and x.shape[1] % STRIDE == 0
        with torch.no_grad():
            t = net(torch.from_numpy(x).permute(2, 0, 1)[None])
        return t[0].permute(1, 2, 0).numpy()

    img = np.random.default_rng(0).random((h, w, 3), dtype=np.float32)
    assert run_tiled(img, run, tile=512, overlap=32, stride=STRIDE).shape == (h, w, 3)


def test_width_and_depth_scale_the_network():
    small = TransformerNet(TransformerConfig(width=4, depth=1))
    big = TransformerNet(TransformerConfig(width=16, depth=3))
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(big) > 10 * count(small)
    assert len(big.residuals) == 3 and len(small.residuals) == 1
    # Resize-convolution only: a transposed conv is what makes checkerboards.
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in big.modules())
    assert sum(isinstance(m, torch.nn.InstanceNorm2d) for m in big.modules()) > 0


@pytest.mark.parametrize("layout", ["light", "johnson"])
@pytest.mark.parametrize("h,w", [(4 * 9, 4 * 13), (12, 8), (68, 92)])
def test_deploy_form_computes_the_same_function(layout, h, w):
    """The export graph upsamples at low resolution (phase kernels + DepthToSpace): the same
    numbers as nearest-upsample + reflection pad + conv, at any size, borders included."""
    torch.manual_seed(1)
    trained = TransformerNet(TransformerConfig(width=4, depth=1, layout=layout)).eval()
    for p in trained.parameters():  # far from init, so every tap and bias matters
        p.data.normal_(0.0, 0.3)
    deployed = trained.deploy()
    assert not any(isinstance(m, torch.nn.Upsample) for m in deployed.modules())
    x = torch.rand(2, 3, h, w)
    with torch.no_grad():
        assert torch.allclose(deployed(x), trained(x), atol=2e-6)
    # deploy() copies: the training network is untouched.
    assert any(type(m).__name__ == "UpsampleConv" for m in trained.modules())


def test_light_layout_is_cheaper_at_full_resolution_than_johnson():
    light = TransformerNet(TransformerConfig(width=8, depth=3, layout="light"))
    johnson = TransformerNet(TransformerConfig(width=8, depth=3, layout="johnson"))
    assert light.encoder[0][1].kernel_size == (3, 3)
    assert johnson.encoder[0][1].kernel_size == (9, 9)
    assert len(light.decoder) == 2 and len(johnson.decoder) == 3
    with pytest.raises(ValueError, match="layout"):
        TransformerConfig(layout="huge")


def test_configs_written_before_layout_existed_are_johnson():
    assert TransformerConfig.from_dict({"width": 8, "depth": 3}).layout == "johnson"
    assert TransformerConfig.from_dict({"width": 8, "depth": 3, "layout": "light"}).layout == \
        "light"
