"""The `ID.json` that describes a fast model: what the file is, how its pixels are laid out, and how
it was made. Written by `export/onnx_export.py`, validated here before the engine trusts it.

Our own models: input and output RGB float32 NCHW in [0, 1], any height and width that are
multiples of `stride`. Foreign models (ONNX Model Zoo fast-neural-style: fixed 1x3x224x224, 0..255)
are described by the same fields with `range` [0, 255] and `fixed_size` [224, 224]; the registry
infers them when a dropped-in .onnx has no .json (see docs/fast.md).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import BadModel

FORMAT = "nst-fast-model"
VERSION = 1
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
LAYOUTS = ("NCHW",)


@dataclass(frozen=True)
class ModelMeta:
    id: str
    name: str
    file: str
    sha256: str | None  # None for an inferred (json-less) foreign model
    input_name: str
    output_name: str
    layout: str = "NCHW"
    range: tuple[float, float] = (0.0, 1.0)
    stride: int = 4
    fixed_size: tuple[int, int] | None = None  # (height, width) when the graph is not dynamic
    thumbnail_png: bytes | None = None
    training: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # everything else in the json, kept

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = dict(self.extra)
        d.update(format=FORMAT, version=VERSION, id=self.id, name=self.name, file=self.file,
                 sha256=self.sha256,
                 input={"name": self.input_name, "layout": self.layout, "color": "RGB",
                        "dtype": "float32", "range": list(self.range)},
                 output={"name": self.output_name, "layout": self.layout, "color": "RGB",
                         "dtype": "float32", "range": list(self.range)},
                 stride=self.stride,
                 fixed_size=list(self.fixed_size) if self.fixed_size else None,
                 training=self.training)
        if self.thumbnail_png is not None:
            d["thumbnail_png_base64"] = base64.b64encode(self.thumbnail_png).decode("ascii")
        return d

    def summary(self) -> dict[str, Any]:
        """JSON-able without the thumbnail: what `engine models --json` and /v1/models show."""
        d = self.to_dict()
        d.pop("thumbnail_png_base64", None)
        return d


def _need(data: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in data:
        raise BadModel(f"{where}: missing field '{key}'")
    value = data[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise BadModel(f"{where}: field '{key}' has the wrong type ({type(value).__name__})")
    return value


def _range(value: Any, where: str) -> tuple[float, float]:
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
            or not value[0] < value[1]):
        raise BadModel(f"{where}: 'range' must be [low, high] with low < high")
    return float(value[0]), float(value[1])


def check_header(data: Any, where: str, fmt: str = FORMAT, version: int = VERSION) -> None:
    """A model json's envelope: an object of this format and version (every model kind)."""
    if not isinstance(data, dict):
        raise BadModel(f"{where}: not a JSON object")
    if data.get("format") != fmt:
        raise BadModel(f"{where}: 'format' must be '{fmt}'")
    if data.get("version") != version:
        raise BadModel(f"{where}: unsupported version {data.get('version')!r} (expected {version})")


def read_json(js: Path) -> Any:
    """A model json file, parsed; BadModel when it cannot be read."""
    try:
        return json.loads(js.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadModel(f"{js.name} is not readable JSON ({exc})") from exc


def check_named(model_id: str, js: Path) -> None:
    """A model's json file is named after its id: the id is how users and jobs name it."""
    if model_id != js.stem:
        raise BadModel(f"{js.name} says its id is '{model_id}'; the file must be named "
                       f"{model_id}.json")


def from_dict(data: Any, where: str) -> ModelMeta:
    """Validate a parsed ID.json; every problem is a BadModel naming the file and the field."""
    check_header(data, where)
    model_id = _need(data, "id", str, where)
    if not ID_PATTERN.match(model_id):
        raise BadModel(f"{where}: id '{model_id}' may only use letters, digits, '_', '-', '.'")
    name = _need(data, "name", str, where).strip()
    if not name:
        raise BadModel(f"{where}: 'name' is empty")
    file = _need(data, "file", str, where)
    if "/" in file or "\\" in file or not file.endswith(".onnx"):
        raise BadModel(f"{where}: 'file' must be a bare *.onnx name beside the json")
    sha = data.get("sha256")
    if sha is not None and (not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{64}", sha)):
        raise BadModel(f"{where}: 'sha256' must be 64 lowercase hex digits")
    inp = _need(data, "input", dict, where)
    out = _need(data, "output", dict, where)
    for part, label in ((inp, "input"), (out, "output")):
        if part.get("layout") not in LAYOUTS:
            raise BadModel(f"{where}: {label}.layout must be one of {', '.join(LAYOUTS)}")
        if part.get("color", "RGB") != "RGB":
            raise BadModel(f"{where}: {label}.color must be RGB")
        _need(part, "name", str, f"{where} {label}")
    rng = _range(inp.get("range"), f"{where} input")
    if _range(out.get("range"), f"{where} output") != rng:
        raise BadModel(f"{where}: input and output ranges differ (not supported)")
    stride = _need(data, "stride", int, where)
    if stride < 1 or stride > 256:
        raise BadModel(f"{where}: 'stride' must be 1..256")
    fixed = data.get("fixed_size")
    if fixed is not None:
        if (not isinstance(fixed, list) or len(fixed) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                           for v in fixed)):
            raise BadModel(f"{where}: 'fixed_size' must be [height, width] or null")
        fixed = (fixed[0], fixed[1])
    thumb = None
    if data.get("thumbnail_png_base64") is not None:
        try:
            thumb = base64.b64decode(_need(data, "thumbnail_png_base64", str, where),
                                     validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadModel(f"{where}: thumbnail is not valid base64") from exc
        if not thumb.startswith(b"\x89PNG\r\n\x1a\n"):
            raise BadModel(f"{where}: thumbnail is not a PNG")
    training = data.get("training")
    training = {} if training is None else training
    if not isinstance(training, dict):
        raise BadModel(f"{where}: 'training' must be an object")
    known = {"format", "version", "id", "name", "file", "sha256", "input", "output", "stride",
             "fixed_size", "thumbnail_png_base64", "training"}
    return ModelMeta(id=model_id, name=name, file=file, sha256=sha, input_name=inp["name"],
                     output_name=out["name"], layout=inp["layout"], range=rng, stride=stride,
                     fixed_size=fixed, thumbnail_png=thumb, training=training,
                     extra={k: v for k, v in data.items() if k not in known})
