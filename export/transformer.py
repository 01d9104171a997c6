"""The image transformation network of Johnson et al. (2016), in the variant most tools converged
on: instance norm (Ulyanov et al.) instead of batch norm, and nearest-neighbour upsampling followed
by a convolution (Odena et al., "Deconvolution and checkerboard artifacts") instead of transposed
convolutions. Reflection padding everywhere keeps borders free of dark frames.

Johnson uses 32/64/128 channels and 5 residual blocks; `width` and `depth` shrink that so a model
trains on a CPU and runs at well under a second per megapixel. Pixel contract: RGB float32 in
[0, 1], NCHW, in and out. Height and width must be multiples of `STRIDE` (the engine pads).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

STRIDE = 4  # two stride-2 downsamplings


@dataclass(frozen=True)
class TransformerConfig:
    width: int = 16  # channels of the first layer; the next two double it
    depth: int = 3  # residual blocks at 1/4 resolution

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


class ConvLayer(nn.Sequential):
    """Reflection pad + conv (+ affine instance norm + ReLU)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, norm: bool = True,
                 relu: bool = True):
        layers: list[nn.Module] = [nn.ReflectionPad2d(kernel // 2),
                                   nn.Conv2d(c_in, c_out, kernel, stride)]
        if norm:
            layers.append(nn.InstanceNorm2d(c_out, affine=True))
        if relu:
            layers.append(nn.ReLU())
        super().__init__(*layers)


class ResidualBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(ConvLayer(channels, channels, 3),
                                  ConvLayer(channels, channels, 3, relu=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class UpsampleConv(nn.Module):
    """Nearest 2x resize then conv: every output pixel sees the same number of kernel taps, so no
    checkerboard (a transposed conv with stride 2 and kernel 3 overlaps unevenly)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv = ConvLayer(c_in, c_out, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class TransformerNet(nn.Module):
    def __init__(self, config: TransformerConfig | None = None):
        super().__init__()
        self.config = config or TransformerConfig()
        w, d = self.config.width, self.config.depth
        self.encoder = nn.Sequential(ConvLayer(3, w, 9), ConvLayer(w, 2 * w, 3, stride=2),
                                     ConvLayer(2 * w, 4 * w, 3, stride=2))
        self.residuals = nn.Sequential(*[ResidualBlock(4 * w) for _ in range(d)])
        self.decoder = nn.Sequential(UpsampleConv(4 * w, 2 * w), UpsampleConv(2 * w, w),
                                     ConvLayer(w, 3, 9, norm=False, relu=False))

    def forward(self, rgb01: torch.Tensor) -> torch.Tensor:
        # Johnson works in 0..255 with a scaled tanh; a sigmoid keeps the documented 0..1 range
        # with the same saturation behaviour and no extra constants.
        return torch.sigmoid(self.decoder(self.residuals(self.encoder(rgb01))))
