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


def deconvolve(layers: nn.Module, target: Tensor, init: Tensor, *, iterations: int,
               dtype: torch.dtype | None,
               step: Callable[[int, float], None] | None = None) -> Tensor:
    """Features x (C, h, w), starting from `init`, minimising |layers(x) - target|^2.

    `step(evaluation, loss)` runs at every function evaluation (progress, cancel: raise there to
    stop)."""
    device = target.device
    # L-BFGS flattens gradients with view(), so the variable itself stays NCHW-contiguous.
    x = init[None].detach().clone().to(device).contiguous()
    x.requires_grad_(True)
    goal = target[None].to(device)
    opt = torch.optim.LBFGS([x], lr=1.0, max_iter=iterations, history_size=10,
                            tolerance_grad=1e-9, tolerance_change=1e-12,
                            line_search_fn="strong_wolfe")
    evaluations = 0

    def closure() -> Tensor:
        nonlocal evaluations
        opt.zero_grad(set_to_none=True)
        ctx = (torch.autocast(device.type, dtype=dtype) if dtype is not None
               else contextlib.nullcontext())
        with ctx:
            out = layers(x.contiguous(memory_format=torch.channels_last))
        # Mean rather than the authors' sum: the same minimiser, a scale L-BFGS's tolerances
        # are made for.
        loss = (out.float() - goal).pow(2).mean()
        loss.backward()
        evaluations += 1
        if step is not None:
            step(evaluations, float(loss.detach()))
        return loss

    with torch.enable_grad():  # callers may run under no_grad / inference_mode
        opt.step(closure)
    return x.detach()[0].contiguous()
