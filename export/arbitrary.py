"""Our any-painting network (Ghiasi et al. 2017's recipe, smaller, on the project's VGG19): a style
predictor turns a painting into a code, a transformer with conditional instance norm repaints the
photo with that code. Same interface as the Magenta pair the engine ships (engine/arbitrary/): an
encoder graph (painting -> code) and a transformer graph (photo + code -> image).

Where we depart from Ghiasi et al.:
- **Style predictor**: theirs is an Inception-v3 trunk (ImageNet-pretrained) plus a bottleneck;
  we have no pretrained Inception, but we do have the Caffe VGG19 the engine already loads
  (engine/backbone.py). The painting's description is the per-channel mean and standard deviation
  of relu1_1 .. relu4_1 (the statistics AdaIN transfers, Huang & Belongie 2017; 1920 numbers,
  log1p-compressed because their scales differ by two orders of magnitude between layers), and a
  small MLP maps them to the code. VGG stays frozen: only the MLP learns, so a CPU can train it.
- **Transformer**: the fast networks' light layout (export/transformer.py: 3x3 ends, upsample +
  conv, no transposed convolution, sigmoid output) with every instance norm conditional: its
  scale and shift are linear functions of the code (Ghiasi's conditional instance norm, with the
  code -> (gamma, beta) maps learned per layer). Magenta uses 32/64/128 channels, 9x9 ends and 5
  residual blocks; `width` and `depth` choose ours.
- Pixel contract as everywhere in the project: RGB float32 NCHW in [0, 1]; height and width of
  the photo multiples of STRIDE (the engine pads); the painting any size.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from engine.backbone import VGG19_BLOCKS, Backbone
from export.transformer import STRIDE, ConvLayer, PhaseUpsampleConv, UpsampleConv

STATS_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
STATS_SIZE = 2 * sum(ch for ch, _ in VGG19_BLOCKS[: len(STATS_LAYERS)])  # mean + std: 1920
STD_EPS = 1e-5

__all__ = ["STRIDE", "ArbitraryConfig", "ArbitraryNet", "EncoderGraph", "TransformerGraph"]


@dataclass(frozen=True)
class ArbitraryConfig:
    width: int = 32  # channels of the transformer's first layer; the next two double it
    depth: int = 5  # residual blocks at 1/4 resolution
    code_size: int = 100  # Ghiasi's bottleneck (and Magenta's code) is 100
    hidden: int = 512  # the style predictor's hidden layer

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ArbitraryConfig:
        return cls(width=int(d["width"]), depth=int(d["depth"]), code_size=int(d["code_size"]),
                   hidden=int(d["hidden"]))


def style_stats(feats: dict[str, torch.Tensor]) -> torch.Tensor:
    """(B, STATS_SIZE): per-channel mean and std of each STATS_LAYERS feature map, log1p'd.
    Always float32 (the sums over H*W lose too much in bf16)."""
    parts = []
    for name in STATS_LAYERS:
        f = feats[name].float()
        mean = f.mean(dim=(2, 3))
        std = ((f - mean[..., None, None]).pow(2).mean(dim=(2, 3)) + STD_EPS).sqrt()
        parts += [mean, std]
    return torch.log1p(torch.cat(parts, 1))


class StylePredictor(nn.Module):
    """Painting statistics -> code. No activation on the code: Ghiasi's bottleneck is linear,
    which is what makes blending and interpolating codes meaningful."""

    def __init__(self, cfg: ArbitraryConfig):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(STATS_SIZE, cfg.hidden), nn.ReLU(),
                                 nn.Linear(cfg.hidden, cfg.code_size))

    def forward(self, stats: torch.Tensor) -> torch.Tensor:
        return self.mlp(stats)


class CondNorm(nn.Module):
    """Conditional instance norm: normalise, then scale by 1 + A code and shift by B code. The
    maps start small, so an untrained network is a plain instance-normalised one."""

    def __init__(self, channels: int, code_size: int):
        super().__init__()
        self.norm = nn.InstanceNorm2d(channels, affine=False)
        self.gamma = nn.Linear(code_size, channels)
        self.beta = nn.Linear(code_size, channels)
        for lin in (self.gamma, self.beta):
            lin.weight.data.mul_(0.1)
            nn.init.zeros_(lin.bias)

    def forward(self, x: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        g = 1.0 + self.gamma(code)
        b = self.beta(code)
        return self.norm(x) * g[..., None, None] + b[..., None, None]


class CondConv(nn.Module):
    """Reflection pad + conv (or upsample + conv) + conditional instance norm (+ ReLU)."""

    def __init__(self, conv: nn.Module, channels: int, code_size: int, relu: bool = True):
        super().__init__()
        self.conv = conv
        self.norm = CondNorm(channels, code_size)
        self.relu = relu

    def forward(self, x: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        y = self.norm(self.conv(x), code)
        return F.relu(y) if self.relu else y


class CondResidual(nn.Module):
    def __init__(self, channels: int, code_size: int):
        super().__init__()
        self.a = CondConv(ConvLayer(channels, channels, 3, norm=False, relu=False), channels,
                          code_size)
        self.b = CondConv(ConvLayer(channels, channels, 3, norm=False, relu=False), channels,
                          code_size, relu=False)

    def forward(self, x: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        return x + self.b(self.a(x, code), code)


def _plain(c_in: int, c_out: int, kernel: int, stride: int = 1) -> ConvLayer:
    return ConvLayer(c_in, c_out, kernel, stride, norm=False, relu=False)


class CondTransformer(nn.Module):
    """The light layout of export/transformer.py with conditional norms (module docstring)."""

    def __init__(self, cfg: ArbitraryConfig):
        super().__init__()
        w, c = cfg.width, cfg.code_size
        self.down = nn.ModuleList([CondConv(_plain(3, w, 3), w, c),
                                   CondConv(_plain(w, 2 * w, 3, 2), 2 * w, c),
                                   CondConv(_plain(2 * w, 4 * w, 3, 2), 4 * w, c)])
        self.residuals = nn.ModuleList([CondResidual(4 * w, c) for _ in range(cfg.depth)])
        self.up = CondConv(UpsampleConv(4 * w, 2 * w, norm=False, relu=False), 2 * w, c)
        self.out = UpsampleConv(2 * w, 3, norm=False, relu=False)

    def forward(self, rgb01: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        x = rgb01
        for layer in (*self.down, *self.residuals, self.up):
            x = layer(x, code)
        return torch.sigmoid(self.out(x))

    def deploy(self) -> CondTransformer:
        """The same function with every upsampling computed at the low resolution (four phase
        kernels and DepthToSpace: export/transformer.py's PhaseUpsampleConv), for export."""
        net = copy.deepcopy(self).eval()
        net.up.conv = PhaseUpsampleConv(net.up.conv)
        net.out = PhaseUpsampleConv(net.out)
        return net


class ArbitraryNet(nn.Module):
    """What training updates: the style predictor and the transformer (VGG19 stays outside,
    frozen, and out of the checkpoints)."""

    def __init__(self, cfg: ArbitraryConfig | None = None):
        super().__init__()
        self.config = cfg or ArbitraryConfig()
        self.predictor = StylePredictor(self.config)
        self.transformer = CondTransformer(self.config)

    def forward(self, photo: torch.Tensor, stats: torch.Tensor) -> tuple[torch.Tensor,
                                                                          torch.Tensor]:
        code = self.predictor(stats)
        return self.transformer(photo, code), code


class EncoderGraph(nn.Module):
    """The exported style encoder: painting RGB [0, 1] -> code (1, code_size), VGG19 inside."""

    def __init__(self, backbone: Backbone, predictor: StylePredictor):
        super().__init__()
        self.backbone = backbone
        self.predictor = predictor

    def forward(self, rgb01: torch.Tensor) -> torch.Tensor:
        return self.predictor(style_stats(self.backbone(rgb01, STATS_LAYERS)))


class TransformerGraph(nn.Module):
    """The exported transformer: photo RGB [0, 1] + code (1, code_size) -> image."""

    def __init__(self, transformer: CondTransformer):
        super().__init__()
        self.transformer = transformer

    def forward(self, photo: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        return self.transformer(photo, code)
