"""A style-conditioned network, described as data: `arbitrary/ID.json` in a model folder names a
pair of ONNX graphs beside it,

- the style encoder ("encoder"): painting, NCHW float32 in `range`, any size -> code (1, N);
- the transformer ("transformer"): photo NCHW (any H and W that are multiples of `stride`) and a
  code (1, N) -> image NCHW in `range`.

Fields: format, version, id, name, kind ("style-conditioned"), code_size, range, layout, stride,
style_side (the side the painting is encoded at by default), encoder {file, sha256, input,
output}, transformer {file, sha256, inputs [photo, code], output}, license, provenance, training,
memory_mb_per_mp (measured onnxruntime working memory; sets the automatic tile size).
Written by `python -m export convert-magenta` and `python -m export onnx` for our own runs.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import BadModel, EngineError, UnknownModel
from engine.fast.metadata import ID_PATTERN, check_header, check_named, read_json

log = logging.getLogger(__name__)

FORMAT = "nst-arbitrary-model"
VERSION = 1
FOLDER = "arbitrary"  # below each fast-model folder: the per-painting registry never sees it
KIND = "style-conditioned"
DEFAULT_MEMORY_MB_PER_MP = 500.0


@dataclass(frozen=True)
class Graph:
    file: str
    sha256: str | None
    inputs: tuple[str, ...]
    output: str


@dataclass(frozen=True)
class ArbitraryMeta:
    id: str
    name: str
    code_size: int
    encoder: Graph
    transformer: Graph
    range: tuple[float, float] = (0.0, 1.0)
    stride: int = 4
    style_side: int = 256
    memory_mb_per_mp: float = DEFAULT_MEMORY_MB_PER_MP
    extra: dict[str, Any] = field(default_factory=dict)


def _graph(part: Any, where: str, n_inputs: int) -> Graph:
    if not isinstance(part, dict):
        raise BadModel(f"{where}: must be an object")
    file = part.get("file")
    if not isinstance(file, str) or "/" in file or "\\" in file or not file.endswith(".onnx"):
        raise BadModel(f"{where}.file must be a bare *.onnx name beside the json")
    sha = part.get("sha256")
    if sha is not None and (not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{64}", sha)):
        raise BadModel(f"{where}.sha256 must be 64 lowercase hex digits")
    inputs = part.get("inputs", [part.get("input")])
    if (not isinstance(inputs, list) or len(inputs) != n_inputs
            or not all(isinstance(i, str) and i for i in inputs)):
        raise BadModel(f"{where}: needs {n_inputs} input name(s)")
    out = part.get("output")
    if not isinstance(out, str) or not out:
        raise BadModel(f"{where}.output must name the graph's output")
    return Graph(file, sha, tuple(inputs), out)


def from_dict(data: Any, where: str) -> ArbitraryMeta:
    """Validate a parsed arbitrary/ID.json; every problem is a BadModel naming the field."""
    check_header(data, where, FORMAT, VERSION)
    if data.get("kind") != KIND:
        raise BadModel(f"{where}: 'kind' must be '{KIND}'")
    model_id = data.get("id")
    if not isinstance(model_id, str) or not ID_PATTERN.match(model_id):
        raise BadModel(f"{where}: 'id' may only use letters, digits, '_', '-', '.'")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise BadModel(f"{where}: 'name' is empty")
    code = data.get("code_size")
    if not isinstance(code, int) or isinstance(code, bool) or not 1 <= code <= 65536:
        raise BadModel(f"{where}: 'code_size' must be a whole number 1..65536")
    rng = data.get("range", [0.0, 1.0])
    if (not isinstance(rng, list) or len(rng) != 2 or not all(isinstance(v, (int, float))
                                                               for v in rng) or rng[0] >= rng[1]):
        raise BadModel(f"{where}: 'range' must be [low, high] with low < high")
    if data.get("layout", "NCHW") != "NCHW":
        raise BadModel(f"{where}: 'layout' must be NCHW")
    stride = data.get("stride", 4)
    side = data.get("style_side", 256)
    mem = data.get("memory_mb_per_mp", DEFAULT_MEMORY_MB_PER_MP)
    for key, value, lo, hi in (("stride", stride, 1, 256), ("style_side", side, 32, 4096),
                               ("memory_mb_per_mp", mem, 1, 100000)):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not lo <= value <= hi:
            raise BadModel(f"{where}: '{key}' must be a number {lo}..{hi}")
    known = {"format", "version", "id", "name", "kind", "code_size", "range", "layout", "stride",
             "style_side", "encoder", "transformer", "memory_mb_per_mp"}
    return ArbitraryMeta(
        id=model_id, name=name.strip(), code_size=code,
        encoder=_graph(data.get("encoder"), f"{where} encoder", 1),
        transformer=_graph(data.get("transformer"), f"{where} transformer", 2),
        range=(float(rng[0]), float(rng[1])), stride=int(stride), style_side=int(side),
        memory_mb_per_mp=float(mem), extra={k: v for k, v in data.items() if k not in known})


@dataclass(frozen=True)
class ArbitraryModel:
    meta: ArbitraryMeta
    folder: Path

    @property
    def id(self) -> str:
        return self.meta.id

    def path(self, graph: Graph) -> Path:
        return self.folder / graph.file

    def to_dict(self) -> dict[str, Any]:
        m = self.meta
        return {"id": m.id, "name": m.name, "kind": KIND, "code_size": m.code_size,
                "path": str(self.folder), "license": m.extra.get("license"),
                "provenance": m.extra.get("provenance"), "training": m.extra.get("training")}


def _load(js: Path) -> ArbitraryModel:
    meta = from_dict(read_json(js), js.name)
    check_named(meta.id, js)
    for g in (meta.encoder, meta.transformer):
        if not (js.parent / g.file).is_file():
            raise BadModel(f"{js.name} names {g.file}, which is not in {js.parent}")
    return ArbitraryModel(meta, js.parent)


def scan(dirs: list[Path] | None = None) -> tuple[dict[str, ArbitraryModel], dict[str, str]]:
    """(models by id, problems by id) over `FOLDER` below every model folder, first wins."""
    if dirs is None:
        from engine.config import models_dirs

        dirs = models_dirs()
    models: dict[str, ArbitraryModel] = {}
    problems: dict[str, str] = {}
    for base in dirs:
        folder = base / FOLDER
        if not folder.is_dir():
            continue
        for js in sorted(folder.glob("*.json")):
            if js.stem in models or js.stem in problems:
                continue
            try:
                models[js.stem] = _load(js)
            except EngineError as exc:
                problems[js.stem] = exc.message
                log.warning("arbitrary model %s: %s", js, exc.message)
    return models, problems


def get(model_id: str, dirs: list[Path] | None = None) -> ArbitraryModel:
    models, problems = scan(dirs)
    if model_id in models:
        return models[model_id]
    if model_id in problems:
        raise BadModel(f"Arbitrary-style model '{model_id}' is installed but unusable: "
                       f"{problems[model_id]}")
    known = ", ".join(sorted(models)) or "none"
    raise UnknownModel(f"No arbitrary-style model '{model_id}' (installed: {known}). Convert "
                       "the Magenta pair with `python -m export convert-magenta --out "
                       "engine/models/`.")
