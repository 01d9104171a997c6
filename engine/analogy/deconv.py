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
from collections.abc import Callable

import torch
from torch import Tensor, nn

from engine.backbone import Backbone


def subnet(net: Backbone, lower: str, upper: str) -> nn.Sequential:
    """The layers that take relu{L-1}_1 to relu{L}_1 (exclusive of `lower`, inclusive of
    `upper`)."""
    index = net.net.index
    return net.net.layers[index[lower] + 1: index[upper] + 1]


def _first_step_scale(layers: nn.Module, x: Tensor, goal: Tensor) -> float:
    """The scale s for optimising u = x / s such that L-BFGS's first step is the Gauss-Newton
    step along the gradient.

    torch's L-BFGS starts with a step of 1 / |g|_1, which for a million-variable feature map is
    so short that its line search spends most of a small evaluation budget growing it (measured:
    5 of 13 evaluations without progress). In u = x / s the first step moves x by
    s * g / |g|_1, so s = t* |g|_1 makes it t* g, where t* minimises |r + t J(-g)|^2 (exact for
    the piecewise-linear network while no ReLU flips). Later iterations are scale-free.
    In float32: a bf16 finite difference would be mostly rounding noise."""

    def run(v: Tensor) -> Tensor:
        return layers(v.contiguous(memory_format=torch.channels_last))

    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        out = run(x)
        r = out.float() - goal
        loss = r.pow(2).mean()
        (g,) = torch.autograd.grad(loss, x)
    with torch.no_grad():
        eps = 1e-2 * float(x.norm()) / max(float(g.norm()), 1e-20)
        jd = (run(x - eps * g).float() - out.float()) / eps  # J applied to the direction -g
        t = -float((r * jd).sum()) / max(float((jd * jd).sum()), 1e-30)
    l1 = float(g.abs().sum())
    if not (t > 0.0 and l1 > 0.0) or t != t:
        return 1.0
    return t * l1


def deconvolve(layers: nn.Module, target: Tensor, init: Tensor, *, iterations: int,
               dtype: torch.dtype | None,
               step: Callable[[int, float], None] | None = None) -> Tensor:
    """Features x (C, h, w), starting from `init`, minimising |layers(x) - target|^2.

    `step(evaluation, loss)` runs at every function evaluation (progress, cancel: raise there to
    stop)."""
    device = target.device
    goal = target[None].to(device)

    def run(v: Tensor) -> Tensor:
        ctx = (torch.autocast(device.type, dtype=dtype) if dtype is not None
               else contextlib.nullcontext())
        with ctx:
            return layers(v.contiguous(memory_format=torch.channels_last))

    x0 = init[None].detach().to(device).float()
    scale = _first_step_scale(layers, x0, goal)
    # L-BFGS flattens gradients with view(), so the variable itself stays NCHW-contiguous.
    u = (x0 / scale).contiguous().requires_grad_(True)
    opt = torch.optim.LBFGS([u], lr=1.0, max_iter=iterations, history_size=10,
                            tolerance_grad=1e-12, tolerance_change=1e-12,
                            line_search_fn="strong_wolfe")
    evaluations = 0

    def closure() -> Tensor:
        nonlocal evaluations
        opt.zero_grad(set_to_none=True)
        # Mean rather than the authors' sum: the same minimiser.
        loss = (run(u * scale).float() - goal).pow(2).mean()
        loss.backward()
        evaluations += 1
        if step is not None:
            step(evaluations, float(loss.detach()))
        return loss

    with torch.enable_grad():  # callers may run under no_grad
        opt.step(closure)
    return (u.detach() * scale)[0].contiguous()
