"""Test helper: a small, untrained but fully valid fast model (ID.onnx + ID.json), for any test
that needs something installed in a models folder (point NST_MODEL_PATH at `folder`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _gradient_photo(size: int = 64) -> np.ndarray:
    """A synthetic picture to render the thumbnail from (no image file needed)."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / (size - 1)
    return np.stack([x, y, 0.5 * (1 - x) + 0.25 * y], axis=2).astype(np.float32)


def write_tiny_model(folder: str | Path, model_id: str = "tiny", *, name: str | None = None,
                     seed: int = 0) -> Path:
    """Write `folder/model_id.onnx` + `.json`; returns the .onnx path. Takes well under 2 s."""
    from export.onnx_export import export_network, untrained

    net = untrained(width=4, depth=1, seed=seed)
    export_network(net, folder, model_id=model_id, name=name or f"Tiny test model ({model_id})",
                   thumbnail_rgb=_gradient_photo(),
                   training={"steps": 0, "note": "untrained test fixture"},
                   parity_sizes=((20, 28), (36, 24)))
    return Path(folder) / f"{model_id}.onnx"
