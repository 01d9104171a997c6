"""The super-resolution network for the last step to photo size: a residual upscaler that learns
only what a bicubic upscale misses.

Every convolution runs at the input (low) resolution, as in ESPCN (Shi et al. 2016) and FSRCNN
(Dong et al. 2016): the work per output pixel is 1/scale^2 of a full-resolution network, which is
what lets a 24 MP output take seconds on a CPU. The last convolution writes scale^2 x 3 channels
that a sub-pixel shuffle (PixelShuffle in torch, DepthToSpace in ONNX) turns into the output's
detail; a bicubic upscale of the input carries everything else, so an untrained (zero) tail is
exactly bicubic. Departures from ESPCN: residual blocks instead of a plain stack (trains faster
on a CPU budget), replicate padding (no dark border, so tiles join cleanly), the bicubic skip, and
a detail branch that sees only the input's high-pass (the input minus its 3x3 local mean) through
bias-free convolutions and ReLUs: a flat area has zero high-pass, so it stays exactly flat (no
texture invented on a clear sky, no colour shift), and the added detail scales with the local
contrast (Mohan et al. 2020 show bias-free networks generalise across noise and contrast levels).

Pixel contract: RGB float32 NCHW in [0, 1]; the output is not clipped (the engine clips).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from export.graph_edit import set_nodes


@dataclass(frozen=True)
class UpscalerConfig:
    scale: int = 4
    width: int = 32  # channels of every hidden layer
    depth: int = 3  # residual blocks

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> UpscalerConfig:
        return cls(scale=int(d["scale"]), width=int(d["width"]), depth=int(d["depth"]))

    @property
    def context(self) -> int:
        """Input pixels each output pixel depends on, on each side (3x3 convolutions), plus the
        bicubic kernel's reach: the overlap tiles need so they join without a seam."""
        return 1 + 1 + 2 * self.depth + 1 + 2


def _conv(c_in: int, c_out: int) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, padding=1, padding_mode="replicate", bias=False)


class _Block(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.a, self.b = _conv(width, width), _conv(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.b(F.relu(self.a(x)))


class UpscalerNet(nn.Module):
    def __init__(self, cfg: UpscalerConfig = UpscalerConfig()):
        super().__init__()
        self.cfg = cfg
        self.head = _conv(3, cfg.width)
        self.body = nn.Sequential(*[_Block(cfg.width) for _ in range(cfg.depth)])
        self.tail = _conv(cfg.width, 3 * cfg.scale * cfg.scale)
        self.shuffle = nn.PixelShuffle(cfg.scale)
        # Start as bicubic: the detail branch begins at zero and learns only the difference.
        nn.init.zeros_(self.tail.weight)

    def detail(self, x: torch.Tensor) -> torch.Tensor:
        """What the network adds to the bicubic enlargement (the exported graph: the engine adds
        the enlargement itself, engine/upscale.py `bicubic_up`, much faster than onnxruntime's
        cubic Resize)."""
        local_mean = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
        return self.shuffle(self.tail(F.relu(self.body(F.relu(self.head(x - local_mean))))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        base = F.interpolate(x, scale_factor=self.cfg.scale, mode="bicubic", align_corners=False)
        return base + self.detail(x)


class DetailGraph(nn.Module):
    """The exported form of an UpscalerNet: its detail branch alone."""

    def __init__(self, net: UpscalerNet):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.detail(x)


def split_skip(onnx_in: str, onnx_out: str) -> None:
    """An upscaler graph exported with the bicubic skip inside (output = Resize(x) + detail)
    rewritten to output the detail alone, for a network whose training checkpoint is gone (the
    shipped upscaler_x4 was converted this way; tests/test_upscale.py checks the result plus
    `engine.upscale.bicubic_up` against the original graph)."""
    import onnx

    model = onnx.load(onnx_in)
    g = model.graph
    resize = [n for n in g.node if n.op_type == "Resize"]
    if len(resize) != 1:
        raise ValueError(f"{onnx_in}: expected one Resize (the bicubic skip), found {len(resize)}")
    skip = resize[0].output[0]
    (final,) = [n for n in g.node if n.op_type == "Add" and skip in n.input]
    if final.output[0] != g.output[0].name:
        raise ValueError(f"{onnx_in}: the skip's Add is not the graph's output")
    (detail,) = [i for i in final.input if i != skip]
    for n in g.node:  # the detail's producer now writes the graph's output
        for k, name in enumerate(n.output):
            if name == detail:
                n.output[k] = g.output[0].name
    # Without the skip's Add and Resize, and whatever only fed them (the scale constants).
    set_nodes(g, [n for n in g.node if n is not final and n is not resize[0]])
    onnx.checker.check_model(model)
    onnx.save(model, onnx_out)


def degrade(hr: torch.Tensor, scale: int) -> torch.Tensor:
    """The low-resolution input a high-resolution crop is learned from: an antialiased bicubic
    downscale (the standard "BI" degradation), quantised to 8 bits as a real image would be."""
    h, w = hr.shape[-2:]
    lr = F.interpolate(hr, size=(h // scale, w // scale), mode="bicubic", antialias=True,
                       align_corners=False)
    return (lr.clamp(0, 1) * 255).round() / 255
