"""Where and in what precision the optimisation runs, and the shared (cached) VGG19."""

from __future__ import annotations

import functools
import logging
import os

import torch

from engine.backbone import Backbone, load_backbone
from engine.contract import Device, Pooling
from engine.errors import DeviceUnavailable

log = logging.getLogger(__name__)
PRECISION_ENV = "NST_PRECISION"  # "fp32" forces full precision (debugging, comparisons)


def pick_device(choice: Device) -> torch.device:
    if choice is Device.CPU:
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda")
    if choice is Device.CUDA:
        raise DeviceUnavailable("CUDA was asked for but no CUDA device is available "
                                "(use --device cpu or auto).")
    return torch.device("cpu")


def cpu_has_bf16() -> bool:
    """True when oneDNN has native bf16 kernels (AVX512-BF16 / AMX); elsewhere bf16 is emulated
    and slower than fp32."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """The reduced precision for VGG19's convolutions on this device, or None for fp32."""
    if os.environ.get(PRECISION_ENV, "").lower() == "fp32":
        return None
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_has_bf16() else None


def use_all_cores() -> None:
    n = os.cpu_count() or 1
    if torch.get_num_threads() < n:
        torch.set_num_threads(n)


@functools.lru_cache(maxsize=4)
def backbone(pooling: Pooling, device: str) -> Backbone:
    """Loaded once per process: the server runs many jobs on the same weights."""
    net = load_backbone(pooling=pooling, device=device)
    if device == "cpu":
        # oneDNN's fastest convolution layout on CPU.
        net = net.to(memory_format=torch.channels_last)
    return net
