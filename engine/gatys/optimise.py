"""The objective (content + style + TV over VGG19 features) and the per-scale optimisation loop.

Progress and cancellation are checked inside the closure, i.e. once per evaluation of the
network, so a cancel takes effect within one iteration even inside L-BFGS.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field

import torch

from engine import lbfgs
from engine.backbone import Backbone
from engine.cancel import CancelToken
from engine.contract import Optimizer
from engine.gatys.features import CONTENT_LAYER
from engine.gatys.losses import ContentLoss, StyleLoss, TVLoss

ADAM_LR = 0.02  # in 0..1 pixel units; Adam's step is about lr per pixel regardless of scale
LBFGS_MEMORY_BYTES = 256 * 2**20  # cap on L-BFGS history (2 vectors of the image's size per step)


@dataclass
class Weights:
    content: float
    style: float
    tv: float


@dataclass
class Objective:
    backbone: Backbone
    content: ContentLoss
    styles: dict[str, StyleLoss]
    weights: Weights
    dtype: torch.dtype | None
    tv: TVLoss = field(default_factory=TVLoss)
    content_layer: str = CONTENT_LAYER
    last: dict[str, float] = field(default_factory=dict)

    def autocast(self, device: torch.device):
        if self.dtype is None:
            return nullcontext()
        return torch.autocast(device.type, dtype=self.dtype)

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        with self.autocast(image.device):
            x = image
            if image.device.type == "cpu":
                x = x.contiguous(memory_format=torch.channels_last)
            feats = self.backbone(x, (*self.styles, self.content_layer))
        content = self.content(feats[self.content_layer])
        style = sum(loss(feats[name]) for name, loss in self.styles.items()) / len(self.styles)
        tv = self.tv(image)
        w = self.weights
        total = w.content * content + w.style * style + w.tv * tv
        self.last = {k: float(v.detach()) for k, v in
                     (("content", content), ("style", style), ("tv", tv), ("total", total))}
        return total


def lbfgs_history(numel: int) -> int:
    return lbfgs.history(numel, LBFGS_MEMORY_BYTES, least=5, most=50)


def optimise(
    image: torch.Tensor,
    objective: Objective,
    iterations: int,
    optimizer: Optimizer,
    on_iteration: Callable[[int, dict[str, float]], None],
    cancel: CancelToken,
) -> torch.Tensor:
    """Optimise `image` (1, 3, H, W, 0..1) in place for `iterations` network evaluations."""
    image.requires_grad_(True)
    if optimizer is Optimizer.LBFGS:
        # One evaluation per step (no line search), as neural-style does: the curvature model
        # makes lr=1 a good step, and a fixed cost per iteration keeps the ETA honest.
        opt: torch.optim.Optimizer = torch.optim.LBFGS(
            [image], lr=1.0, max_iter=1, history_size=lbfgs_history(image.numel()),
            tolerance_grad=0.0, tolerance_change=0.0)
    else:
        opt = torch.optim.Adam([image], lr=ADAM_LR)
    count = 0

    def closure() -> torch.Tensor:
        nonlocal count
        cancel.raise_if_cancelled()
        opt.zero_grad(set_to_none=True)
        loss = objective(image)
        loss.backward()
        # The channels_last copy in the objective hands back a channels_last gradient; the
        # optimisers flatten it with view(-1), which needs the image's own layout.
        image.grad = image.grad.contiguous()
        count += 1
        on_iteration(count, objective.last)
        return loss

    for _ in range(iterations):
        opt.step(closure)
        if optimizer is Optimizer.ADAM:
            with torch.no_grad():
                image.clamp_(0.0, 1.0)
    image.requires_grad_(False)
    with torch.no_grad():
        return image.clamp_(0.0, 1.0)
