"""Where work runs and in what precision: the one place that decides the device (the "lane"),
reduced precision for torch, and the onnxruntime providers.

A job's lane is chosen once, where it enters the engine (the server's queue, or the CLI), from
the contract's `Device` choice and what this machine has; the method then receives the lane and
asks this module how to run on it. torch and onnxruntime are imported only when asked about,
so a fast-network command never pays for importing torch.
"""

from __future__ import annotations

import functools
import logging
import os

from engine.contract import Device
from engine.errors import DeviceUnavailable

log = logging.getLogger(__name__)

PRECISION_ENV = "NST_PRECISION"  # "fp32" forces full precision (debugging, comparisons)
CPU, CUDA = "cpu", "cuda"  # the lanes
CUDA_PROVIDER = "CUDAExecutionProvider"
CPU_PROVIDER = "CPUExecutionProvider"
TORCH, ONNX = "torch", "onnx"  # what a method computes with (engine.methods says which)


@functools.lru_cache(maxsize=1)
def torch_cuda() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except (ImportError, RuntimeError) as exc:  # a broken driver must not break the engine
        log.warning("CUDA probe failed: %s", exc)
        return False


@functools.lru_cache(maxsize=1)
def onnx_providers() -> tuple[str, ...]:
    import onnxruntime

    return tuple(onnxruntime.get_available_providers())


def cuda_available(backend: str = TORCH) -> bool:
    """Whether `backend` (TORCH or ONNX) can run on a CUDA device here."""
    return torch_cuda() if backend == TORCH else CUDA_PROVIDER in onnx_providers()


def lane(choice: Device, backend: str = TORCH) -> str:
    """The device a job runs on: CUDA when asked for or (auto) available, else the CPU."""
    if choice is Device.CPU:
        return CPU
    if cuda_available(backend):
        return CUDA
    if choice is Device.CUDA:
        hint = ("install onnxruntime-gpu, or " if backend == ONNX else "")
        raise DeviceUnavailable(f"CUDA was asked for but this engine has no CUDA device for "
                                f"{backend}; {hint}use device 'auto' or 'cpu'.")
    return CPU


def providers(lane_name: str) -> list[str]:
    """onnxruntime's provider chain for a lane; it always ends at the CPU."""
    return [CUDA_PROVIDER, CPU_PROVIDER] if lane_name == CUDA else [CPU_PROVIDER]


@functools.lru_cache(maxsize=1)
def cpu_has_bf16() -> bool:
    """True when oneDNN has native bf16 kernels (AVX512-BF16 / AMX); elsewhere bf16 is emulated
    and slower than fp32."""
    try:
        import torch

        return bool(torch.backends.mkldnn.is_available()
                    and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (ImportError, AttributeError, RuntimeError):
        return False


def autocast_dtype(device):
    """The reduced precision for convolutions on a torch device, or None for fp32."""
    import torch

    if os.environ.get(PRECISION_ENV, "").lower() == "fp32":
        return None
    if device.type == CUDA:
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_has_bf16() else None


def torch_device(lane_name: str):
    import torch

    return torch.device(CUDA if lane_name == CUDA else CPU)


def use_all_cores() -> None:
    import torch

    n = os.cpu_count() or 1
    if torch.get_num_threads() < n:
        torch.set_num_threads(n)
