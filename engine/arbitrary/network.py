"""The two ONNX graphs of an arbitrary-style model, loaded once per (file version, lane): the
encoder (painting -> code) and the transformer (photo + code -> image). Pixels cross this module
as float32 (H, W, 3) in 0..1 whatever the model's own range."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from engine import runtime
from engine.arbitrary.model import ArbitraryModel, Graph
from engine.errors import BadModel
from engine.fast.metadata import sha256_file


class Network:
    def __init__(self, model: ArbitraryModel, lane: str):
        import onnxruntime as ort

        self.model = model
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.enable_mem_pattern = False  # steady peak per tile shape (see engine.fast.session)
        opts.log_severity_level = 3
        self._enc = self._open(ort, model.path(model.meta.encoder), opts, lane)
        self._tr = self._open(ort, model.path(model.meta.transformer), opts, lane)
        self.provider = self._tr.get_providers()[0]
        self.low, self.high = model.meta.range

    @staticmethod
    def _open(ort, path: Path, opts, lane: str):
        try:
            return ort.InferenceSession(str(path), sess_options=opts,
                                        providers=runtime.providers(lane))
        except Exception as exc:  # onnxruntime raises several unrelated types for bad files
            raise BadModel(f"{path.name} could not be loaded by onnxruntime "
                           f"({type(exc).__name__}: {str(exc).splitlines()[0][:200]})") from exc

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


_verified: dict[tuple[str, int, int], str] = {}
_cache: OrderedDict[tuple, Network] = OrderedDict()
_lock = threading.Lock()
CACHE_SIZE = 2


def _verify(path: Path, graph: Graph, model_id: str) -> None:
    """A file whose sha256 differs from its json is corrupt or replaced: refuse it."""
    if graph.sha256 is None:
        return
    st = path.stat()
    key = (str(path), st.st_mtime_ns, st.st_size)
    with _lock:
        if _verified.get(key) == graph.sha256:
            return
    if sha256_file(path) != graph.sha256:
        raise BadModel(f"{path.name} does not match the sha256 in {model_id}.json (corrupt or "
                       "replaced file); convert or install the model again")
    with _lock:
        _verified[key] = graph.sha256


def network(model: ArbitraryModel, lane: str) -> Network:
    files = [model.path(g) for g in (model.meta.encoder, model.meta.transformer)]
    for path, g in zip(files, (model.meta.encoder, model.meta.transformer), strict=True):
        _verify(path, g, model.id)
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
