"""One small class around `onnxruntime.InferenceSession` (after rembg's `BaseSession`): a provider
chain that ends at CPU, the chosen provider visible, pixel range and layout handled in one place,
and any loading failure turned into a `BadModel` that names the file."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from engine import onnx_files
from engine.errors import BadModel

log = logging.getLogger(__name__)


class OnnxSession:
    """A loaded network. `run(rgb01_hwc)` takes and returns float32 (H, W, 3) in 0..1 whatever
    the model's own range (0..1 for ours, 0..255 for the ONNX Model Zoo's)."""

    def __init__(self, path: Path, lane: str, value_range: tuple[float, float] = (0.0, 1.0),
                 input_name: str | None = None, output_name: str | None = None, scale: int = 1,
                 *, sha256: str | None = None, model_id: str = ""):
        self.path = Path(path)
        self._sess = onnx_files.session(self.path, lane, sha256=sha256, model_id=model_id)
        inputs, outputs = self._sess.get_inputs(), self._sess.get_outputs()
        if len(inputs) != 1 or not outputs:
            raise BadModel(f"{self.path.name} is not an image-to-image network: it has "
                           f"{len(inputs)} inputs and {len(outputs)} outputs")
        self.input_name = input_name or inputs[0].name
        self.output_name = output_name or outputs[0].name
        if self.input_name not in {i.name for i in inputs}:
            raise BadModel(f"{self.path.name} has no input named '{self.input_name}'")
        if self.output_name not in {o.name for o in outputs}:
            raise BadModel(f"{self.path.name} has no output named '{self.output_name}'")
        shape = inputs[0].shape
        out_shape = next(o.shape for o in outputs if o.name == self.output_name)
        for what, s in (("input", shape), ("output", out_shape)):
            if len(s) != 4 or s[1] not in (3, "3"):
                raise BadModel(f"{self.path.name} is not an RGB image network: its {what} shape "
                               f"is {s} (expected N x 3 x H x W)")
        if inputs[0].type != "tensor(float)":
            raise BadModel(f"{self.path.name} takes {inputs[0].type}; only float32 input is "
                           "supported")
        h, w = shape[2], shape[3]
        self.fixed_size = (h, w) if isinstance(h, int) and isinstance(w, int) else None
        self.low, self.high = value_range
        self.provider = self._sess.get_providers()[0]
        self.scale = scale  # output side / input side (1 for style networks)
        self._lock = threading.Lock()

    def run(self, rgb01: np.ndarray, clip: bool = True) -> np.ndarray:
        """The network on (H, W, 3) RGB in 0..1; `clip=False` for a graph whose output is not a
        picture but a difference to add to one (a detail-only upscaler)."""
        scale = self.high - self.low
        x = np.ascontiguousarray(rgb01.transpose(2, 0, 1)[None], dtype=np.float32)
        if (self.low, self.high) != (0.0, 1.0):
            x *= np.float32(scale)
            x += np.float32(self.low)
        try:
            with self._lock:  # one run at a time per session; ORT parallelises inside
                y = self._sess.run([self.output_name], {self.input_name: x})[0]
        except Exception as exc:  # a graph that loads but cannot run this input
            raise BadModel(f"{self.path.name} failed on a {x.shape[3]}x{x.shape[2]} input "
                           f"({type(exc).__name__}: {str(exc).splitlines()[0][:200]})") from exc
        if y.ndim != 4 or y.shape[1] != 3:
            raise BadModel(f"{self.path.name} returned shape {y.shape}, not 1 x 3 x H x W")
        if y.shape[2:] != (rgb01.shape[0] * self.scale, rgb01.shape[1] * self.scale):
            raise BadModel(f"{self.path.name} returned {y.shape[3]}x{y.shape[2]} for a "
                           f"{rgb01.shape[1]}x{rgb01.shape[0]} input")
        hwc = y[0].transpose(1, 2, 0)
        if (self.low, self.high) != (0.0, 1.0):
            hwc = (hwc - np.float32(self.low)) / np.float32(scale)
        # One pass: back to contiguous (H, W, 3), clipped (our networks end in a sigmoid; other
        # people's may overshoot).
        out = np.empty(hwc.shape, np.float32)
        if clip:
            np.clip(hwc, 0.0, 1.0, out=out)
        else:
            out[...] = hwc
        return out


class SessionCache:
    """Sessions per (file, file version, lane, range); the oldest is dropped beyond `size`."""

    def __init__(self, size: int = 4):
        self.size = size
        self._items: OrderedDict[tuple, OnnxSession] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: Path, lane: str, value_range: tuple[float, float],
            input_name: str | None = None, output_name: str | None = None,
            scale: int = 1, *, sha256: str | None = None, model_id: str = "") -> OnnxSession:
        st = path.stat()
        key = (str(path), st.st_mtime_ns, st.st_size, lane, value_range, input_name,
               output_name, scale)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        sess = OnnxSession(path, lane, value_range, input_name, output_name, scale,
                           sha256=sha256, model_id=model_id)
        with self._lock:
            self._items[key] = sess
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return sess

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
