"""The one typed contract between plug-in, CLI, server and engine.

Every parameter is declared once here, with its default, range and help text. The CLI flags
(`engine.cli_args`), the server's request validation and the schema served at `GET /v1/params`
(which the plug-ins build their dialogs and GIMP arguments from) are all derived from these
dataclasses. Field names follow neural-style's vocabulary in snake_case.
"""

from __future__ import annotations

import dataclasses
import enum
import typing
from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 1


class Method(enum.Enum):
    GATYS = "gatys"
    FAST = "fast"


class Quality(enum.Enum):
    DRAFT = "draft"
    NORMAL = "normal"
    HIGH = "high"


class Init(enum.Enum):
    CONTENT = "content"
    NOISE = "noise"
    STYLE = "style"


class Optimizer(enum.Enum):
    LBFGS = "lbfgs"
    ADAM = "adam"


class Device(enum.Enum):
    AUTO = "auto"
    CPU = "cpu"
    CUDA = "cuda"


class Pooling(enum.Enum):
    MAX = "max"
    AVG = "avg"


class StyleLoss(enum.Enum):
    GRAM = "gram"
    PATCH = "patch"


class PatchLayers(enum.Enum):
    RELU3_RELU4 = "relu3_1+relu4_1"
    RELU3 = "relu3_1"
    RELU4 = "relu4_1"
    RELU2_RELU3_RELU4 = "relu2_1+relu3_1+relu4_1"


class JobState(enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobState.DONE, JobState.FAILED, JobState.CANCELLED)


class ErrorCode(enum.Enum):
    """Stable machine-readable error codes; the message beside them is for people."""

    BAD_IMAGE = "bad_image"
    IMAGE_TOO_LARGE = "image_too_large"
    BAD_PARAMETER = "bad_parameter"
    BAD_REQUEST = "bad_request"
    UNKNOWN_MODEL = "unknown_model"
    BAD_MODEL = "bad_model"
    WEIGHTS_MISSING = "weights_missing"
    DEVICE_UNAVAILABLE = "device_unavailable"
    OUT_OF_MEMORY = "out_of_memory"
    CANCELLED = "cancelled"
    UNAUTHORIZED = "unauthorized"
    NOT_FOUND = "not_found"
    NOT_READY = "not_ready"
    QUEUE_FULL = "queue_full"
    INTERNAL = "internal"


def param(
    default: Any,
    help: str,
    *,
    min: float | None = None,
    max: float | None = None,
    label: str | None = None,
    advanced: bool = False,
) -> Any:
    """A contract field: its default, inclusive range and help text travel as metadata."""
    meta = {"help": help, "min": min, "max": max, "label": label, "advanced": advanced}
    if isinstance(default, (list, tuple)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


class ParamError(ValueError):
    """A parameter value outside the contract; the message names the field and the allowed range."""

    def __init__(self, name: str, message: str):
        super().__init__(f"{name}: {message}")
        self.name = name


@dataclass(frozen=True)
class GatysParams:
    size: int = param(512, "Longest side, in pixels, at which the image is optimised.",
                      min=64, max=4096, label="Size (px)")
    quality: Quality = param(Quality.NORMAL,
                             "Preset for the number of iterations at the finest scale (each "
                             "coarser scale gets twice as many): draft 12, normal 25, high 60.",
                             label="Quality")
    iterations: int = param(0, "Iterations at the finest scale; 0 takes them from the quality "
                               "preset.", min=0, max=5000, label="Iterations", advanced=True)
    content_weight: float = param(1.0, "How strongly the photo's structure is kept.",
                                  min=0.0, max=1000.0, label="Content weight", advanced=True)
    style_weight: float = param(1.0, "How strongly the painting's style is imposed "
                                     "(relative; 1 is the tuned default).",
                                min=0.0, max=100.0, label="Style weight")
    tv_weight: float = param(1.0, "Total-variation smoothing (relative; 0 turns it off).",
                             min=0.0, max=100.0, label="Smoothness", advanced=True)
    style_scale: float = param(1.0, "Size of the painting's brush strokes relative to the output.",
                               min=0.1, max=4.0, label="Style scale")
    style_weights: tuple[float, ...] = param((), "Blend weights of several style images, in the "
                                                 "order given; empty means equal weights.",
                                             min=0.0, max=100.0, label="Style blend weights",
                                             advanced=True)
    init: Init = param(Init.CONTENT, "Starting image: the content photo, noise, or the style.",
                       label="Start from", advanced=True)
    keep_colors: bool = param(False, "Keep the photo's original colours (transfer luminance only).",
                              label="Keep original colours")
    strength: float = param(1.0, "Blend of the styled result over the original (1 = fully styled).",
                            min=0.0, max=1.0, label="Strength")
    seed: int = param(0, "Random seed, for reproducible noise init and results.",
                      min=0, max=2**31 - 1, label="Seed", advanced=True)
    optimizer: Optimizer = param(Optimizer.LBFGS, "Optimiser: L-BFGS (best quality) or Adam.",
                                 label="Optimiser", advanced=True)
    multiscale: bool = param(True, "Optimise coarse to fine (faster and better large-scale "
                                   "structure).", label="Multi-scale", advanced=True)
    pooling: Pooling = param(Pooling.MAX, "Pooling in the VGG19 feature extractor.",
                             label="Pooling", advanced=True)
    style_loss: StyleLoss = param(StyleLoss.GRAM,
                                  "gram: the painting's global statistics (colours and textures "
                                  "spread evenly); patch: every small patch repainted with the "
                                  "painting's most similar stroke (keeps its brushwork).",
                                  label="Style loss")
    patch_size: int = param(3, "Patch style: side of a patch, in VGG19 feature cells.",
                            min=1, max=7, label="Patch size", advanced=True)
    patch_layers: PatchLayers = param(PatchLayers.RELU3_RELU4,
                                      "Patch style: the VGG19 layers whose patches are matched.",
                                      label="Patch layers", advanced=True)
    patch_rematch: int = param(10, "Patch style: iterations between re-matching each patch to "
                                   "its nearest painting patch.", min=1, max=1000,
                               label="Re-match every", advanced=True)
    patch_stride: int = param(2, "Patch style: the painting's patches are taken every N cells "
                                 "(1 = all; 2 is 4x faster).", min=1, max=4,
                              label="Painting patch stride", advanced=True)
    patch_augment: bool = param(False, "Patch style: also match slightly rotated and rescaled "
                                       "copies of the painting (slower).",
                                label="Augment painting", advanced=True)
    device: Device = param(Device.AUTO, "Where to run: auto picks CUDA when present.",
                           label="Device", advanced=True)


@dataclass(frozen=True)
class FastParams:
    model: str = param("starry_night", "Id of an installed fast style network.", label="Style")
    strength: float = param(1.0, "Blend of the styled result over the original (1 = fully styled).",
                            min=0.0, max=1.0, label="Strength")
    keep_colors: bool = param(False, "Keep the photo's original colours (transfer luminance only).",
                              label="Keep original colours")
    tile: int = param(0, "Tile size in pixels for large images; 0 picks one automatically.",
                      min=0, max=8192, label="Tile size", advanced=True)
    device: Device = param(Device.AUTO, "Where to run: auto picks CUDA when present.",
                           label="Device", advanced=True)


PARAMS_BY_METHOD: dict[Method, type] = {Method.GATYS: GatysParams, Method.FAST: FastParams}


# ---------------------------------------------------------------- schema, validation, (de)serialise

def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _type_name(tp: Any) -> str:
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return "choice"
    if typing.get_origin(tp) is tuple:
        return "float_list"
    return {int: "int", float: "float", bool: "bool", str: "string"}[tp]


def field_schema(cls: type) -> list[dict[str, Any]]:
    """JSON-able description of every field: what `GET /v1/params` serves and dialogs use."""
    hints = _field_types(cls)
    out = []
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        entry: dict[str, Any] = {
            "name": f.name,
            "type": _type_name(tp),
            "default": to_jsonable(default),
            "min": f.metadata["min"],
            "max": f.metadata["max"],
            "label": f.metadata["label"] or f.name.replace("_", " ").capitalize(),
            "help": f.metadata["help"],
            "advanced": f.metadata["advanced"],
        }
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            entry["choices"] = [m.value for m in tp]
        out.append(entry)
    return out


def schema() -> dict[str, Any]:
    return {
        "version": SCHEMA_VERSION,
        "methods": {m.value: field_schema(cls) for m, cls in PARAMS_BY_METHOD.items()},
    }


def to_jsonable(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple):
        return [to_jsonable(v) for v in value]
    if dataclasses.is_dataclass(value):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


def _coerce(name: str, tp: Any, raw: Any, meta: dict[str, Any]) -> Any:
    lo, hi = meta["min"], meta["max"]

    def check_range(v: float) -> None:
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise ParamError(name, f"{v!r} is outside the allowed range {lo}..{hi}")

    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        if isinstance(raw, tp):
            return raw
        try:
            return tp(str(raw).lower())
        except ValueError:
            choices = ", ".join(m.value for m in tp)
            raise ParamError(name, f"{raw!r} is not one of: {choices}") from None
    if tp is bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, (int, float)) and raw in (0, 1):
            return bool(raw)
        if isinstance(raw, str) and raw.lower() in ("true", "yes", "on", "1", "false", "no",
                                                    "off", "0"):
            return raw.lower() in ("true", "yes", "on", "1")
        raise ParamError(name, f"{raw!r} is not true or false")
    if typing.get_origin(tp) is tuple:
        items = raw.split(",") if isinstance(raw, str) else raw
        if items in ("", None):
            items = []
        try:
            values = tuple(float(x) for x in items if str(x).strip() != "")
        except (TypeError, ValueError):
            raise ParamError(name, f"{raw!r} is not a comma-separated list of numbers") from None
        for v in values:
            check_range(v)
        return values
    if tp is int:
        if isinstance(raw, bool):
            raise ParamError(name, f"{raw!r} is not a whole number")
        try:
            value = int(raw) if not isinstance(raw, float) or raw.is_integer() else None
        except (TypeError, ValueError):
            value = None
        if value is None:
            raise ParamError(name, f"{raw!r} is not a whole number")
        check_range(value)
        return value
    if tp is float:
        if isinstance(raw, bool):
            raise ParamError(name, f"{raw!r} is not a number")
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise ParamError(name, f"{raw!r} is not a number") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise ParamError(name, f"{raw!r} is not a finite number")
        check_range(value)
        return value
    if tp is str:
        if not isinstance(raw, str):
            raise ParamError(name, f"{raw!r} is not text")
        return raw
    raise TypeError(f"unsupported contract type {tp!r}")


P = typing.TypeVar("P")


def params_from_dict(cls: type[P], data: dict[str, Any] | None) -> P:
    """Validate untrusted input (JSON, CLI) into a params dataclass; unknown keys are errors."""
    data = dict(data or {})
    hints = _field_types(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ParamError(unknown[0], f"unknown parameter (known: {', '.join(fields)})")
    values = {k: _coerce(k, hints[k], v, fields[k].metadata) for k, v in data.items()}
    return cls(**values)


def params_to_dict(params: Any) -> dict[str, Any]:
    return to_jsonable(params)


# ---------------------------------------------------------------------------- job messages

@dataclass(frozen=True)
class JobRequest:
    """What a client asks for; images travel beside it (PNG parts), never inside it."""

    method: Method
    params: GatysParams | FastParams
    style_weights: tuple[float, ...] = ()
    keep_alive: bool = False  # keep running even if the submitting client stops polling

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobRequest:
        if not isinstance(data, dict):
            raise ParamError("request", "must be a JSON object")
        try:
            method = Method(str(data.get("method", "")).lower())
        except ValueError:
            raise ParamError("method", f"{data.get('method')!r} is not 'gatys' or 'fast'") from None
        raw_params = dict(data.get("params") or {})
        if method is Method.FAST and data.get("model") is not None:
            raw_params.setdefault("model", data["model"])
        params = params_from_dict(PARAMS_BY_METHOD[method], raw_params)
        weights = _coerce("style_weights", tuple[float, ...], data.get("style_weights") or (),
                          {"min": 0.0, "max": 100.0})
        keep_alive = _coerce("keep_alive", bool, data.get("keep_alive", False),
                             {"min": None, "max": None})
        return cls(method=method, params=params, style_weights=weights, keep_alive=keep_alive)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method.value,
            "params": params_to_dict(self.params),
            "style_weights": list(self.style_weights),
            "keep_alive": self.keep_alive,
        }


@dataclass(frozen=True)
class Progress:
    """One immutable progress event from the engine (the server turns these into job status)."""

    fraction: float  # 0..1 over the whole job
    stage: str  # short human text, e.g. "scale 2/3" or "tile 4/9"
    iteration: int = 0
    total_iterations: int = 0
    loss: float | None = None
    eta_s: float | None = None


@dataclass(frozen=True)
class JobError:
    code: ErrorCode
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code.value, "message": self.message}


@dataclass(frozen=True)
class JobStatus:
    id: str
    state: JobState
    progress: float = 0.0
    stage: str = ""
    eta_s: float | None = None
    error: JobError | None = None
    info: dict[str, Any] = field(default_factory=dict)  # device, seconds, losses once done

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": self.state.value,
            "progress": self.progress,
            "stage": self.stage,
            "eta_s": self.eta_s,
            "error": self.error.to_dict() if self.error else None,
            "info": self.info,
        }
