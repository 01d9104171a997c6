"""The two ONNX graphs of an arbitrary-style model, loaded once per (file version, lane): the
encoder (painting -> code) and the transformer (photo + code -> image). Pixels cross this module
as float32 (H, W, 3) in 0..1 whatever the model's own range."""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from engine import onnx_files
from engine.arbitrary.model import ArbitraryModel, Graph


class Network:
    def __init__(self, model: ArbitraryModel, lane: str):
        self.model = model
        self._enc = self._open(model, model.meta.encoder, lane)
        self._tr = self._open(model, model.meta.transformer, lane)
        self.provider = self._tr.get_providers()[0]
        self.low, self.high = model.meta.range

    @staticmethod
    def _open(model: ArbitraryModel, graph: Graph, lane: str):
        return onnx_files.session(model.path(graph), lane, sha256=graph.sha256,
                                  model_id=model.id)

    def _to_model(self, rgb01: np.ndarray) -> np.ndarray:
        x = rgb01.transpose(2, 0, 1)[None]
        if (self.low, self.high) != (0.0, 1.0):
            x = x * np.float32(self.high - self.low) + np.float32(self.low)
        return np.ascontiguousarray(x, np.float32)

    def encode(self, rgb01: np.ndarray) -> np.ndarray:
        """The painting's style code, (code_size,) float32."""
        g = self.model.meta.encoder
        code = self._enc.run([g.output], {g.inputs[0]: self._to_model(rgb01)})[0]
        return np.asarray(code, np.float32).reshape(-1)

    def transform(self, rgb01: np.ndarray, code: np.ndarray) -> np.ndarray:
        """The photo (H, W, 3) repainted with `code`; H and W multiples of the stride."""
        g = self.model.meta.transformer
        y = self._tr.run([g.output], {g.inputs[0]: self._to_model(rgb01),
                                      g.inputs[1]: code.reshape(1, -1).astype(np.float32)})[0]
        hwc = y[0].transpose(1, 2, 0)
        if (self.low, self.high) != (0.0, 1.0):
            hwc = (hwc - np.float32(self.low)) / np.float32(self.high - self.low)
        out = np.empty(hwc.shape, np.float32)
        np.clip(hwc, 0.0, 1.0, out=out)
        return out


_cache: OrderedDict[tuple, Network] = OrderedDict()
_lock = threading.Lock()
CACHE_SIZE = 2


def network(model: ArbitraryModel, lane: str) -> Network:
    """The model's two sessions, opened once per file version and lane (each file checked
    against its sha256 when opened: engine.onnx_files)."""
    files = [model.path(g) for g in (model.meta.encoder, model.meta.transformer)]
    key = (lane, *((str(p), p.stat().st_mtime_ns) for p in files))
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    net = Network(model, lane)
    with _lock:
        _cache[key] = net
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return net
