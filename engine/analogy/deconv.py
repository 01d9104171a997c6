"""'Deconvolution': bring a feature map down one VGG19 layer by optimisation.

Given target features at relu{L}_1, find features at relu{L-1}_1 whose forward pass through the
layers in between (convs, ReLUs, one pooling) reproduces the target in the least-squares sense.
The paper (and the authors' code) minimise this with L-BFGS; so do we, with fewer iterations by
default (the authors allow 100; see docs/analogy.md for the measured trade-off), starting, like
the authors, from the finer reference features warped through the upsampled field, which is
already close.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from engine import lbfgs
from engine.backbone import Backbone

HISTORY = 10  # L-BFGS correction pairs (the authors' setting)
# Their memory, 2 vectors of the feature map's size per pair, is capped: at 768 px the relu1_1
# map is 151 MB and 10 pairs were 3 GB of a 6.7 GB peak. 1.25 GB keeps all 10 pairs up to
# 448 px (the default size) and gives fewer, never under 4, above.
HISTORY_BYTES = 1.25 * 2**30
MIN_HISTORY = 4


def history_size(numel: int) -> int:
    return lbfgs.history(numel, HISTORY_BYTES, least=MIN_HISTORY, most=HISTORY)


def subnet(net: Backbone, lower: str, upper: str) -> nn.Sequential:
    """The layers that take relu{L-1}_1 to relu{L}_1 (exclusive of `lower`, inclusive of
    `upper`)."""
    index = net.net.index
    return net.net.layers[index[lower] + 1: index[upper] + 1]


def deconvolve(layers: nn.Module, target: Tensor, init: Tensor, *, iterations: int,
               dtype: torch.dtype | None,
               step: Callable[[int, float], None] | None = None) -> Tensor:
    """Features x (C, h, w), starting from `init`, minimising |layers(x) - target|^2.

    `step(evaluation, loss)` runs at every function evaluation (progress, cancel: raise there to
    stop)."""
    device = target.device
    goal = target[None].to(device)

    # The variable is stored (1, h, w, C): permuted to NCHW it is already channels_last, the
    # layout the CPU convolutions want, and L-BFGS can still flatten it and its gradient with
    # view(). Storing it NCHW cost a layout copy forward and back per evaluation (measured at
    # relu1_1, 448 px: 0.65 s of a 14 s deconvolution).
    def run(v: Tensor) -> Tensor:
        ctx = (torch.autocast(device.type, dtype=dtype) if dtype is not None
               else contextlib.nullcontext())
        with ctx:
            return layers(v.permute(0, 3, 1, 2)).float()

    # First evaluation by hand: it also sets the scale of the variable (see below) and is
    # handed to L-BFGS as its own first evaluation.
    x0 = init[None].detach().to(device).float().permute(0, 2, 3, 1).contiguous()
    x0.requires_grad_(True)
    with torch.enable_grad():
        out0 = run(x0)
        r0 = out0 - goal
        loss0 = r0.pow(2).mean()  # a mean rather than the authors' sum: the same minimiser
        (g0,) = torch.autograd.grad(loss0, x0)
    x0 = x0.detach()
    # torch's L-BFGS starts with a step of 1/|g|_1: for a million-variable feature map so short
    # that its line search spent most of a small budget growing it (measured: 5 of 13
    # evaluations without progress). Optimising u = x / s moves x by s * g / |g|_1 in the first
    # step; s = t* |g|_1 makes that the Gauss-Newton step t* g along the gradient, t* minimising
    # |r + t J(-g)|^2 (J(-g) by a finite difference; exact for the piecewise-linear network
    # while no ReLU flips). Later iterations are scale-free.
    with torch.no_grad():
        eps = 0.05 * float(x0.norm()) / max(float(g0.norm()), 1e-20)
        jd = (run(x0 - eps * g0) - out0.detach()) / eps
        t = -float((r0.detach() * jd).sum()) / max(float((jd * jd).sum()), 1e-30)
        l1 = float(g0.abs().sum())
    scale = t * l1 if t > 0.0 and l1 > 0.0 and math.isfinite(t * l1) else 1.0
    u = (x0 / scale).contiguous().requires_grad_(True)
    opt = torch.optim.LBFGS([u], lr=1.0, max_iter=iterations,
                            history_size=history_size(u.numel()),
                            tolerance_grad=1e-12, tolerance_change=1e-12,
                            line_search_fn="strong_wolfe")
    evaluations = 0

    def closure() -> Tensor:
        nonlocal evaluations
        evaluations += 1
        opt.zero_grad(set_to_none=True)
        if evaluations == 1:  # at u0 = x0 / s: the hand-made evaluation
            u.grad = (g0 * scale).contiguous()
            loss = loss0.detach()
        else:
            loss = (run(u * scale) - goal).pow(2).mean()
            loss.backward()
        if step is not None:
            step(evaluations, float(loss.detach()))
        return loss

    with torch.enable_grad():  # callers may run under no_grad
        opt.step(closure)
    return (u.detach() * scale)[0].permute(2, 0, 1).contiguous()
