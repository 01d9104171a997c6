"""The image transformation network of Johnson et al. (2016), in the variant most tools converged
on: instance norm (Ulyanov et al.) instead of batch norm, and nearest-neighbour upsampling followed
by a convolution (Odena et al., "Deconvolution and checkerboard artifacts") instead of transposed
convolutions. Reflection padding everywhere keeps borders free of dark frames.

Johnson uses 32/64/128 channels, 9x9 convolutions at both full-resolution ends, and 5 residual
blocks. `width` and `depth` shrink the channels and blocks so a model trains on a CPU. The light
layout (the default) also departs from the paper at full resolution, where a small network spends
most of its time: 3x3 instead of 9x9 at the input, and the last upsampling convolution writes RGB
directly instead of feeding a full-resolution feature layer and a 9x9 output convolution. That is
3x fewer operations per output pixel; the receptive field still spans ~50 px through the residual
blocks at 1/4 resolution. `johnson` keeps the paper's ends (the first shipped models used it).

For export, `deploy()` rewrites every "nearest 2x upsample, pad, 3x3 conv" as the identical
computation at the low resolution: four 3x3 kernels, one per output phase, then DepthToSpace.
Nothing changes numerically, but onnxruntime no longer materialises and pads the upsampled tensor.

Pixel contract: RGB float32 in [0, 1], NCHW, in and out. Height and width must be multiples of
`STRIDE` (the engine pads).
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

STRIDE = 4  # two stride-2 downsamplings

LAYOUTS = ("light", "johnson")


@dataclass(frozen=True)
class TransformerConfig:
    width: int = 16  # channels of the first layer; the next two double it
    depth: int = 3  # residual blocks at 1/4 resolution
    layout: str = "light"  # "light" | "johnson" (see the module docstring)

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, not {self.layout!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TransformerConfig:
        # Checkpoints written before `layout` existed are all the Johnson layout.
        return cls(width=int(d["width"]), depth=int(d["depth"]),
                   layout=str(d.get("layout", "johnson")))


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

    def __init__(self, c_in: int, c_out: int, norm: bool = True, relu: bool = True):
        super().__init__()
        self.conv = ConvLayer(c_in, c_out, 3, norm=norm, relu=relu)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


# Row (or column) offset, in low-resolution pixels, of each tap of a 3x3 kernel applied after a
# nearest 2x upsample, for an output pixel of phase 0 (even) or 1 (odd): the taps at full-res
# offsets -1, 0, +1 of pixel 2i fall on low-res pixels i-1, i, i; those of 2i+1 on i, i, i+1.
_PHASE_OFFSETS = ((-1, 0, 0), (0, 0, 1))


class PhaseUpsampleConv(nn.Module):
    """`UpsampleConv` computed at the low resolution (inference only): edge pad 1, a 3x3 conv
    with 4x the output channels (one kernel per output phase, summing the original taps that land
    on the same low-res pixel), DepthToSpace, then the same norm/ReLU. Edge padding at low
    resolution equals reflection padding after a nearest upsample: both repeat the border pixel.
    """

    def __init__(self, up: UpsampleConv):
        super().__init__()
        _, conv, *rest = up.conv
        k = conv.weight.detach()
        c_out, c_in = k.shape[:2]
        w = torch.zeros(c_out, 2, 2, c_in, 3, 3, dtype=k.dtype)
        for py, rows in enumerate(_PHASE_OFFSETS):
            for px, cols in enumerate(_PHASE_OFFSETS):
                for ky, oy in enumerate(rows):
                    for kx, ox in enumerate(cols):
                        w[:, py, px, :, oy + 1, ox + 1] += k[:, :, ky, kx]
        # pixel_shuffle reads channel c*4 + py*2 + px as phase (py, px) of output channel c.
        self.conv = nn.Conv2d(c_in, 4 * c_out, 3)
        self.conv.weight.data = w.reshape(4 * c_out, c_in, 3, 3)
        self.conv.bias.data = conv.bias.detach().repeat_interleave(4)
        self.after = nn.Sequential(*copy.deepcopy(rest))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(F.pad(x, (1, 1, 1, 1), mode="replicate"))
        return self.after(F.pixel_shuffle(y, 2))


def _phase_map() -> torch.Tensor:
    """(36, 9): how PhaseUpsampleConv spreads a 3x3 kernel's taps over its four phase kernels."""
    a = torch.zeros(2, 2, 3, 3, 9)
    for py, rows in enumerate(_PHASE_OFFSETS):
        for px, cols in enumerate(_PHASE_OFFSETS):
            for ky, oy in enumerate(rows):
                for kx, ox in enumerate(cols):
                    a[py, px, oy + 1, ox + 1, ky * 3 + kx] += 1.0
    return a.reshape(36, 9)


def undeploy_weights(named: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Weights of a deployed (exported) network under the training network's names: each phase
    convolution back to the one 3x3 kernel it was made from (exactly: the map is injective) and
    its norm back under `conv.2`. What lets a shipped .onnx, whose checkpoint was never kept, be
    trained further (`python -m export train --init-from MODEL.onnx`)."""
    out = dict(named)
    inverse = torch.linalg.pinv(_phase_map().double())
    for name in [n for n in named if n.startswith("decoder.") and n.endswith(".conv.weight")]:
        prefix = name[: -len("conv.weight")]  # "decoder.N."
        w = named[name]
        if w.ndim != 4 or w.shape[0] % 4:
            continue
        c_out, c_in = w.shape[0] // 4, w.shape[1]
        phases = w.reshape(c_out, 2, 2, c_in, 3, 3).permute(0, 3, 1, 2, 4, 5).reshape(
            c_out, c_in, 36)
        k = (phases.double() @ inverse.T).reshape(c_out, c_in, 3, 3).to(w.dtype)
        del out[name]
        out[prefix + "conv.1.weight"] = k
        bias = out.pop(prefix + "conv.bias", None)
        if bias is not None:
            out[prefix + "conv.1.bias"] = bias.reshape(c_out, 4)[:, 0].clone()
        for part in ("weight", "bias"):
            norm = out.pop(prefix + "after.0." + part, None)
            if norm is not None:
                out[prefix + "conv.2." + part] = norm
    return out


class TransformerNet(nn.Module):
    def __init__(self, config: TransformerConfig | None = None):
        super().__init__()
        self.config = config or TransformerConfig()
        w, d = self.config.width, self.config.depth
        edge = 9 if self.config.layout == "johnson" else 3
        self.encoder = nn.Sequential(ConvLayer(3, w, edge), ConvLayer(w, 2 * w, 3, stride=2),
                                     ConvLayer(2 * w, 4 * w, 3, stride=2))
        self.residuals = nn.Sequential(*[ResidualBlock(4 * w) for _ in range(d)])
        if self.config.layout == "johnson":
            self.decoder = nn.Sequential(UpsampleConv(4 * w, 2 * w), UpsampleConv(2 * w, w),
                                         ConvLayer(w, 3, 9, norm=False, relu=False))
        else:
            self.decoder = nn.Sequential(UpsampleConv(4 * w, 2 * w),
                                         UpsampleConv(2 * w, 3, norm=False, relu=False))

    def forward(self, rgb01: torch.Tensor) -> torch.Tensor:
        # Johnson works in 0..255 with a scaled tanh; a sigmoid keeps the documented 0..1 range
        # with the same saturation behaviour and no extra constants.
        return torch.sigmoid(self.decoder(self.residuals(self.encoder(rgb01))))

    def deploy(self) -> TransformerNet:
        """A copy for export and inference: the same function, upsampling done at low res."""
        net = copy.deepcopy(self).eval()
        net.decoder = nn.Sequential(*[PhaseUpsampleConv(m) if isinstance(m, UpsampleConv) else m
                                      for m in net.decoder])
        return net
