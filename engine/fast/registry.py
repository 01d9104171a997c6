"""Installed fast models, described as data: every `ID.json` (+ its `ID.onnx`) in the model
folders, plus any `.onnx` dropped in without a json (a foreign model, described from its own
input shape — see docs/fast.md). Folders are searched in `engine.config.models_dirs()` order; the
first folder that has an id wins.

Listing never raises for one bad file: the problem is kept under the model's id, so asking for
that id gives a `BadModel` with the reason and every other model still works.
"""

from __future__ import annotations

import base64
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine import runtime
from engine.errors import BadModel, EngineError, UnknownModel
from engine.fast.metadata import FORMAT, VERSION, ModelMeta, check_named, from_dict, read_json

log = logging.getLogger(__name__)

ZOO_RANGE = (0.0, 255.0)  # ONNX Model Zoo fast-neural-style: 0..255 RGB, 1x3x224x224


@dataclass(frozen=True)
class ModelInfo:
    id: str
    name: str
    path: Path  # the .onnx file
    meta: ModelMeta
    inferred: bool = False  # True: no json, described from the graph's input shape

    @property
    def kind(self) -> str:
        """"style" (a per-painting network; what the fast picker lists) or another kind of
        network the engine runs, e.g. "upscaler" (engine/upscale.py)."""
        kind = self.meta.extra.get("kind", "style")
        return kind if isinstance(kind, str) else "style"

    @property
    def thumbnail(self) -> bytes | None:
        return self.meta.thumbnail_png

    @property
    def metadata(self) -> dict[str, Any]:
        return self.meta.summary()

    def to_dict(self, thumbnail: bool = False) -> dict[str, Any]:
        """The one JSON shape of an installed model: `engine models --json`, `engine doctor` and
        `GET /v1/models` (which adds the thumbnail PNG as base64 for the dialogs)."""
        d = {"id": self.id, "name": self.name, "path": str(self.path),
             "inferred": self.inferred, "has_thumbnail": self.thumbnail is not None,
             "metadata": self.metadata}
        if thumbnail:
            d["thumbnail_png"] = (base64.b64encode(self.thumbnail).decode("ascii")
                                  if self.thumbnail else None)
        return d


def default_dirs() -> list[Path]:
    from engine.config import models_dirs

    return models_dirs()


def _infer_meta(onnx_path: Path) -> ModelMeta:
    """Describe a json-less .onnx from its graph: fixed H x W means the Model Zoo convention
    (0..255); a dynamic size is assumed to follow ours (0..1)."""
    from engine.fast.session import OnnxSession

    sess = OnnxSession(onnx_path, runtime.CPU)
    fixed = sess.fixed_size
    data = {
        "format": FORMAT, "version": VERSION, "id": onnx_path.stem,
        "name": onnx_path.stem.replace("_", " ").replace("-", " ").title(),
        "file": onnx_path.name, "sha256": None,
        "input": {"name": sess.input_name, "layout": "NCHW",
                  "range": list(ZOO_RANGE) if fixed else [0.0, 1.0]},
        "output": {"name": sess.output_name, "layout": "NCHW",
                   "range": list(ZOO_RANGE) if fixed else [0.0, 1.0]},
        "stride": 1 if fixed else 4,
        "fixed_size": list(fixed) if fixed else None,
        "training": {"note": "foreign model without metadata; described from its input shape"},
    }
    return from_dict(data, onnx_path.name)


class Registry:
    """Scans the folders on every `scan()` (cheap: json reads and stats); the slow part, reading a
    foreign model's graph, is cached per file version."""

    def __init__(self, dirs: list[Path] | None = None):
        self._dirs = dirs
        self._inferred: dict[tuple[str, int, int], ModelMeta | str] = {}
        self._lock = threading.Lock()

    def dirs(self) -> list[Path]:
        return list(self._dirs) if self._dirs is not None else default_dirs()

    def scan(self) -> tuple[dict[str, ModelInfo], dict[str, str]]:
        """(models by id, problems by id) over every folder."""
        models: dict[str, ModelInfo] = {}
        problems: dict[str, str] = {}
        for folder in self.dirs():
            if not folder.is_dir():
                continue
            described: set[str] = set()
            for js in sorted(folder.glob("*.json")):
                described.add(js.stem)
                if js.stem in models or js.stem in problems:
                    continue
                try:
                    info = self._from_json(js)
                except EngineError as exc:
                    problems[js.stem] = exc.message
                    log.warning("fast model %s: %s", js, exc.message)
                    continue
                models[info.id] = info
            for onnx_path in sorted(folder.glob("*.onnx")):
                stem = onnx_path.stem
                if stem in described or stem in models or stem in problems:
                    continue
                if stem.endswith(".fp16") and stem[: -len(".fp16")] in described:
                    continue  # a described model's fp16 variant, not a model of its own
                meta = self._infer(onnx_path)
                if isinstance(meta, str):
                    problems[stem] = meta
                    continue
                models[stem] = ModelInfo(stem, meta.name, onnx_path, meta, inferred=True)
        return models, problems

    def _from_json(self, js: Path) -> ModelInfo:
        meta = from_dict(read_json(js), js.name)
        check_named(meta.id, js)
        onnx_path = js.parent / meta.file
        if not onnx_path.is_file():
            raise BadModel(f"{js.name} names {meta.file}, which is not in {js.parent}")
        return ModelInfo(meta.id, meta.name, onnx_path, meta)

    def _infer(self, onnx_path: Path) -> ModelMeta | str:
        st = onnx_path.stat()
        key = (str(onnx_path), st.st_mtime_ns, st.st_size)
        with self._lock:
            if key in self._inferred:
                return self._inferred[key]
        try:
            result: ModelMeta | str = _infer_meta(onnx_path)
        except EngineError as exc:
            result = exc.message
            log.warning("fast model %s: %s", onnx_path, exc.message)
        with self._lock:
            self._inferred[key] = result
        return result

    def list(self, kind: str = "style") -> list[ModelInfo]:
        return sorted((m for m in self.scan()[0].values() if m.kind == kind),
                      key=lambda m: m.name.lower())

    def get(self, model_id: str, kind: str = "style") -> ModelInfo:
        models, problems = self.scan()
        if model_id in models and models[model_id].kind != kind:
            raise UnknownModel(f"'{model_id}' is a network of kind '{models[model_id].kind}', "
                               f"not a {kind} network.")
        if model_id in models:
            return models[model_id]
        if model_id in problems:
            raise BadModel(f"Model '{model_id}' is installed but unusable: {problems[model_id]}")
        known = ", ".join(sorted(models)) or "none"
        raise UnknownModel(f"No fast model '{model_id}' (installed: {known}). Put ID.onnx + "
                           f"ID.json in one of: {', '.join(str(d) for d in self.dirs())}")
