"""The one typed contract between plug-in, CLI, server and engine.

Every parameter is declared once here, with its default, range and help text. The CLI flags
(`engine.cli.flags`), the server's request validation and the schema served at `GET /v1/params`
(which the plug-ins build their dialogs and GIMP arguments from) are all derived from these
dataclasses. Plain dataclasses rather than pydantic: the schema is our own small JSON shape that a
Python 2.7 plug-in reads, the values arrive as GIMP/CLI text that needs our coercion anyway, and
the fast CLI path stays free of the import. Field names follow neural-style's vocabulary in
snake_case.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 1


class Method(enum.Enum):
    GATYS = "gatys"
    FAST = "fast"
    ANALOGY = "analogy"
    ARBITRARY = "arbitrary"


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


class FineScales(enum.Enum):
    LIGHT = "light"  # scales above 512 px refine strokes with the shallow layers (schedule.py)
    FULL = "full"  # every scale uses every layer


class Pooling(enum.Enum):
    MAX = "max"
    AVG = "avg"


class Upscale(enum.Enum):
    SHARP = "sharp"  # the super-resolution network (engine/upscale.py)
    SMOOTH = "smooth"  # Lanczos


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
    choice_labels: dict[str, str] | None = None,
) -> Any:
    """A contract field: its default, inclusive range and help text travel as metadata.

    `choice_labels` names an enum's values for people (a dialog's menu); the value itself stays
    the wire name.
    """
    meta = {"help": help, "min": min, "max": max, "label": label, "advanced": advanced,
            "choice_labels": choice_labels or {}}
    if isinstance(default, (list, tuple)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


# Shared fields, declared once: the same meaning, default and range wherever a method has them.
def _strength(help: str = "Blend of the styled result over the original (1 = fully styled).",
              ) -> Any:
    return param(1.0, help, min=0.0, max=1.0, label="Strength")


def _keep_colors() -> Any:
    return param(False, "Keep the photo's original colours (transfer luminance only).",
                 label="Keep original colours")


def _style_weights() -> Any:
    return param((), "Blend weights of several style images, in the order given; empty means "
                     "equal weights.", min=0.0, max=100.0, label="Style blend weights",
                 advanced=True)


def _tile() -> Any:
    return param(0, "Tile size in pixels for large images; 0 picks one automatically.",
                 min=0, max=8192, label="Tile size", advanced=True)


def _device() -> Any:
    return param(Device.AUTO, "Where to run: auto picks CUDA when present.", label="Device",
                 advanced=True)


# Iterations at the finest scale per quality preset; each coarser scale gets twice as many
# (engine/gatys/schedule.py). The help text below is written from this table.
def _stroke_size() -> Any:
    # engine/working_size.py: both feed-forward methods repaint at a working size
    return param(1.0, "Brush-stroke size: the photo is repainted at 1/stroke_size of its "
                      "resolution and brought back to full size with its own fine detail "
                      "(1 = full resolution, finest strokes).",
                 min=1.0, max=8.0, label="Stroke size")


def _working_size() -> Any:
    return param(0, "Longest side, in pixels, the network repaints at; 0 follows the stroke "
                    "size. The result is always the photo's size.",
                 min=0, max=16384, label="Working size (px)", advanced=True)


QUALITY_ITERATIONS = {Quality.DRAFT: 12, Quality.NORMAL: 25, Quality.HIGH: 60}


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
                             "coarser scale gets twice as many): "
                             + ", ".join(f"{q.value} {n}" for q, n in QUALITY_ITERATIONS.items())
                             + ".", label="Quality")
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
    style_weights: tuple[float, ...] = _style_weights()
    init: Init = param(Init.CONTENT, "Starting image: the content photo, noise, or the style.",
                       label="Start from", advanced=True)
    keep_colors: bool = _keep_colors()
    strength: float = _strength()
    seed: int = param(0, "Random seed, for reproducible noise init and results.",
                      min=0, max=2**31 - 1, label="Seed", advanced=True)
    optimizer: Optimizer = param(Optimizer.LBFGS, "Optimiser: L-BFGS (best quality) or Adam.",
                                 label="Optimiser", advanced=True)
    multiscale: bool = param(True, "Optimise coarse to fine (faster and better large-scale "
                                   "structure).", label="Multi-scale", advanced=True)
    fine_scales: FineScales = param(
        FineScales.LIGHT, "Above 512 px: light settles the arrangement at 512 px, then only "
        "redraws brush strokes at the full size with VGG19's shallow layers, from the upscaler "
        "network's enlargement; full optimises every layer at every scale (4x slower).",
        label="Large sizes",
        advanced=True,
        choice_labels={"light": "Light: refine strokes above 512 px (fast)",
                       "full": "Full: every layer at every scale (slow)"})
    pooling: Pooling = param(Pooling.MAX, "Pooling in the VGG19 feature extractor.",
                             label="Pooling", advanced=True)
    style_loss: StyleLoss = param(StyleLoss.GRAM,
                                  "gram: the painting's global statistics (colours and textures "
                                  "spread evenly); patch: every small patch repainted with the "
                                  "painting's most similar stroke (keeps its brushwork).",
                                  label="Style loss",
                                  choice_labels={"gram": "Global (Gram): colours and textures "
                                                         "spread evenly",
                                                 "patch": "Local patches: the painting's own "
                                                          "strokes, part by part"})
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
    upscale: Upscale = param(Upscale.SHARP, "How a result rendered smaller than the region is "
                                            "brought to its size: sharp (the super-resolution "
                                            "network) or smooth (Lanczos).", label="Upscale",
                             choice_labels={"sharp": "Sharp (super-resolution network)",
                                            "smooth": "Smooth (Lanczos)"})
    device: Device = _device()


@dataclass(frozen=True)
class FastParams:
    model: str = param("starry_night", "Id of an installed fast style network.", label="Style")
    strength: float = _strength()
    keep_colors: bool = _keep_colors()
    tile: int = _tile()
    device: Device = _device()
    # Last: GIMP 2.10 scripts pass the procedure's arguments by position.
    stroke_size: float = _stroke_size()
    working_size: int = _working_size()


@dataclass(frozen=True)
class ArbitraryParams:
    """Any painting through one feed-forward network (engine/arbitrary): the painting is encoded
    into a style code, the photo repainted with it in one pass."""

    strength: float = _strength("How much of the painting's style: interpolates the style code "
                                "from the photo's own (0 = the photo) to the painting's (1).")
    stroke_size: float = _stroke_size()
    style_weights: tuple[float, ...] = _style_weights()
    keep_colors: bool = _keep_colors()
    working_size: int = _working_size()
    style_size: int = param(0, "Side, in pixels, the painting is read at (its shorter side); "
                               "larger reads finer texture. 0 follows the picture: 0.6 of the "
                               "working size's shorter side, 256 to 512.",
                            min=0, max=2048, label="Painting size (px)", advanced=True)
    model: str = param("magenta", "Id of an installed arbitrary-style network.",
                       label="Network", advanced=True)
    tile: int = _tile()
    device: Device = _device()


@dataclass(frozen=True)
class AnalogyParams:
    """Deep Image Analogy (Liao et al. 2017). Defaults are the paper's (and the authors' code
    where the paper is silent), except deconv_iterations: see docs/analogy.md, "Departures"."""

    size: int = param(448, "Longest side, in pixels, at which both images are matched; the result "
                           "is scaled back to the photo's size.",
                      min=64, max=2048, label="Size (px)")
    reverse_output: bool = param(False, "Also build B: the reference's layout with the photo's "
                                        "look (the paper's second output).",
                                 label="Reverse output (B)")
    bidirectional: bool = param(True, "Match in both directions at every layer, as the paper "
                                      "does (needed for B; off is about twice as fast and "
                                      "gives A' only).",
                                label="Two-way matching", advanced=True)
    blend_weights: tuple[float, ...] = param(
        (0.8, 0.7, 0.6, 0.1),
        "How much of the photo's own features is kept at relu4_1, relu3_1, relu2_1, relu1_1 "
        "(the paper's alpha; higher keeps more of the photo's structure).",
        min=0.0, max=1.0, label="Structure kept per layer", advanced=True)
    patch_sizes: tuple[float, ...] = param(
        (3.0, 3.0, 3.0, 5.0, 5.0),
        "Patch width at relu5_1 ... relu1_1 (odd whole numbers).",
        min=1.0, max=9.0, label="Patch sizes", advanced=True)
    search_radii: tuple[float, ...] = param(
        (0.0, 6.0, 6.0, 4.0, 4.0),
        "PatchMatch random-search radius at relu5_1 ... relu1_1, in feature-map cells "
        "(0 = the whole map).",
        min=0.0, max=512.0, label="Search radii", advanced=True)
    patchmatch_iterations: int = param(10, "PatchMatch iterations per layer.",
                                       min=1, max=50, label="PatchMatch iterations",
                                       advanced=True)
    deconv_iterations: int = param(10, "L-BFGS iterations that bring the matched features down "
                                       "one layer (the authors' code allows up to 100).",
                                   min=1, max=200, label="Deconvolution iterations",
                                   advanced=True)
    refine_iterations: int = param(
        32, "After the paper's pixel voting, L-BFGS iterations that pull the result's brush "
            "strokes towards the reference's own (patch style's objective, started from the "
            "voted picture; the first 3/8 at half size; B, when asked for, gets a third as "
            "many; 0 = the paper's result as voted).",
        min=0, max=200, label="Stroke refinement iterations")
    refine_weight: float = param(
        2.0, "How strongly the refinement pulls towards the reference's strokes rather than "
             "the photo's structure (1 = patch style's default weight).",
        min=0.0, max=10.0, label="Stroke refinement weight", advanced=True)
    strength: float = _strength()
    seed: int = param(0, "Random seed of PatchMatch's random search, for reproducible results.",
                      min=0, max=2**31 - 1, label="Seed", advanced=True)
    device: Device = _device()


@dataclass(frozen=True)
class MethodSpec:
    """What the boundary needs to know of a method before anything runs: its parameters and how
    many style images it takes. (How it runs is engine.methods' business.)"""

    params: type
    min_styles: int = 0
    max_styles: int = 0


MAX_STYLES = 16
METHODS: dict[Method, MethodSpec] = {
    Method.GATYS: MethodSpec(GatysParams, min_styles=1, max_styles=MAX_STYLES),
    Method.FAST: MethodSpec(FastParams),
    # The reference picture travels as the one style image.
    Method.ANALOGY: MethodSpec(AnalogyParams, min_styles=1, max_styles=1),
    Method.ARBITRARY: MethodSpec(ArbitraryParams, min_styles=1, max_styles=MAX_STYLES),
}


def check_styles(method: Method, params: Any, count: int) -> None:
    """The one check of a job's style images against its method and blend weights."""
    spec = METHODS[method]
    if count < spec.min_styles:
        raise ParamError("style", f"{method.value} needs at least {spec.min_styles} style "
                         "image(s).")
    if count > spec.max_styles:
        what = f"at most {spec.max_styles} style images" if spec.max_styles else "no style images"
        raise ParamError("style", f"{method.value} takes {what}; {count} were given.")
    weights = getattr(params, "style_weights", ())
    if weights and len(weights) != count:
        raise ParamError("style_weights", f"{len(weights)} weights given for {count} style "
                         "images; give one weight per style image (or none).")
    if weights and sum(weights) <= 0:
        raise ParamError("style_weights", "at least one weight must be above 0.")


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
            labels = f.metadata["choice_labels"]
            entry["choice_labels"] = [labels.get(m.value, m.value.replace("_", " ").capitalize())
                                      for m in tp]
        out.append(entry)
    return out


def schema() -> dict[str, Any]:
    return {
        "version": SCHEMA_VERSION,
        "methods": {m.value: field_schema(spec.params) for m, spec in METHODS.items()},
        "styles": {m.value: [spec.min_styles, spec.max_styles] for m, spec in METHODS.items()},
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
    """The one gate every untrusted value passes (JSON, CLI flags, settings from the dialog):
    every number, in lists too, must be a finite number inside the field's range."""
    lo, hi = meta["min"], meta["max"]

    def shown(v: Any) -> str:
        text = repr(v)
        return text if len(text) <= 40 else text[:37] + "..."

    def check_range(v: float) -> None:
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise ParamError(name, f"{shown(v)} is outside the allowed range {lo}..{hi}")

    def number(x: Any, what: str) -> float:
        """A finite float from x, or ParamError (NaN, inf, 400-digit integers, text...)."""
        if isinstance(x, bool):
            raise ParamError(name, f"{shown(x)} is not {what}")
        try:
            value = float(x.strip() if isinstance(x, str) else x)
        except OverflowError:  # an integer with hundreds of digits
            raise ParamError(name, f"{shown(x)} is outside the allowed range {lo}..{hi}") from None
        except (TypeError, ValueError):
            raise ParamError(name, f"{shown(x)} is not {what}") from None
        if not math.isfinite(value):
            raise ParamError(name, f"{shown(x)} is not a finite number")
        return value

    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        if isinstance(raw, tp):
            return raw
        try:
            return tp(str(raw).lower())
        except ValueError:
            choices = ", ".join(m.value for m in tp)
            raise ParamError(name, f"{shown(raw)} is not one of: {choices}") from None
    if tp is bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, (int, float)) and raw in (0, 1):
            return bool(raw)
        if isinstance(raw, str) and raw.lower() in ("true", "yes", "on", "1", "false", "no",
                                                    "off", "0"):
            return raw.lower() in ("true", "yes", "on", "1")
        raise ParamError(name, f"{shown(raw)} is not true or false")
    if typing.get_origin(tp) is tuple:
        items = raw.split(",") if isinstance(raw, str) else raw
        if items in ("", None):
            items = []
        if not isinstance(items, (list, tuple)):
            raise ParamError(name, f"{shown(raw)} is not a comma-separated list of numbers")
        values = tuple(number(x, "a number (in a comma-separated list of numbers)")
                       for x in items if str(x).strip() != "")
        for v in values:
            check_range(v)
        return values
    if tp is int:
        if isinstance(raw, int) and not isinstance(raw, bool):
            check_range(raw)  # exact, however many digits
            return raw
        value = number(raw, "a whole number")
        if not value.is_integer():
            raise ParamError(name, f"{shown(raw)} is not a whole number")
        check_range(value)
        return int(value)
    if tp is float:
        value = number(raw, "a number")
        check_range(value)
        return value
    if tp is str:
        if not isinstance(raw, str):
            raise ParamError(name, f"{shown(raw)} is not text")
        return raw
    raise TypeError(f"unsupported contract type {tp!r}")


def coerce(f: dataclasses.Field, tp: Any, raw: Any, *, exact_bool: bool = False) -> Any:
    """The one coercer: untrusted text or JSON into a field's type, within its range. Used for
    the contract's params and for every other settings dataclass that carries the same metadata
    (`min`, `max`: engine.config.ServerSettings, export.train.TrainSettings). `exact_bool`: only
    a real true/false counts (a settings file's "yes" must not switch on allow_remote)."""
    if exact_bool and tp is bool and not isinstance(raw, bool):
        raise ParamError(f.name, f"{raw!r} is not true or false")
    meta = {"min": f.metadata.get("min"), "max": f.metadata.get("max")}
    if typing.get_origin(tp) in (typing.Union, types.UnionType):  # `X | None`
        if raw is None or (isinstance(raw, str) and raw.strip().lower() in ("", "none")):
            return None
        tp = next(t for t in typing.get_args(tp) if t is not type(None))
    return _coerce(f.name, tp, raw, meta)


P = typing.TypeVar("P")


def params_from_dict(cls: type[P], data: dict[str, Any] | None) -> P:
    """Validate untrusted input (JSON, CLI) into a params dataclass; unknown keys are errors."""
    data = dict(data or {})
    hints = _field_types(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ParamError(unknown[0], f"unknown parameter (known: {', '.join(fields)})")
    values = {k: coerce(fields[k], hints[k], v) for k, v in data.items()}
    return cls(**values)


def params_to_dict(params: Any) -> dict[str, Any]:
    return to_jsonable(params)


# ---------------------------------------------------------------------------- job messages

@dataclass(frozen=True)
class JobRequest:
    """What a client asks for; images travel beside it (PNG parts), never inside it."""

    method: Method
    params: Any  # the method's params dataclass (METHODS[method].params)
    keep_alive: bool = False  # keep running even if the submitting client stops polling

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobRequest:
        if not isinstance(data, dict):
            raise ParamError("request", "must be a JSON object")
        try:
            method = Method(str(data.get("method", "")).lower())
        except ValueError:
            names = ", ".join(repr(m.value) for m in Method)
            raise ParamError("method", f"{data.get('method')!r} is not one of {names}") from None
        raw_params = data.get("params")
        if raw_params is None:
            raw_params = {}
        if not isinstance(raw_params, dict):  # "", 0 and [] included: not silently "defaults"
            raise ParamError("params", "must be a JSON object of parameter names to values, "
                                       f"not {type(raw_params).__name__}")
        raw_params = dict(raw_params)
        spec = METHODS[method]
        names = {f.name for f in dataclasses.fields(spec.params)}
        # Before 0.2 the model id and the blend weights also travelled beside `params`; accepted
        # here, at the boundary, for one release. Their one slot is `params`.
        for legacy in _LEGACY_TOP_LEVEL:
            if data.get(legacy) in (None, [], ()) or legacy not in names:
                continue
            if raw_params.get(legacy, data[legacy]) != data[legacy]:
                raise ParamError(legacy, "given twice with different values (in the request and "
                                 "in its params); give it in params only")
            raw_params[legacy] = data[legacy]
        params = params_from_dict(spec.params, raw_params)
        keep_alive = _coerce("keep_alive", bool, data.get("keep_alive", False),
                             {"min": None, "max": None})
        return cls(method=method, params=params, keep_alive=keep_alive)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method.value,
            "params": params_to_dict(self.params),
            "keep_alive": self.keep_alive,
        }


_LEGACY_TOP_LEVEL = ("model", "style_weights")


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
