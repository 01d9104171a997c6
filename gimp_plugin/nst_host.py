# -*- coding: utf-8 -*-
"""Host-agnostic logic of the GIMP plug-ins (runs under GIMP 2.10's Python 2.7 and GIMP 3's 3.x).

Both plug-ins are thin adapters: they read pixels and the selection from GIMP, hand them to
`run_filter` below, and give it a small `host` object that knows how to put a layer back. Every
decision that can be made without GIMP lives here so that it is written (and tested) once:
which rectangle is sent, the context margin around it, where the result layer goes, its name,
alpha handling, progress mapping, the procedure arguments derived from the engine's schema and
the messages a user sees. Standard library only: GIMP's bundled Python has no numpy or Pillow.
"""

from __future__ import absolute_import, division

import json
import os

import nst_png

GATYS_PROC = "python-fu-neural-style"
FAST_PROC = "python-fu-fast-neural-style"
ANALOGY_PROC = "python-fu-image-analogy"
# The engine's method per procedure, and the title users see.
METHODS = {GATYS_PROC: "gatys", FAST_PROC: "fast", ANALOGY_PROC: "analogy"}
TITLES = {GATYS_PROC: "Neural Style", FAST_PROC: "Fast Neural Style",
          ANALOGY_PROC: "Image Analogy"}
MENU_PATH = "<Image>/Filters/Artistic"
SCHEMA_FILE = "nst_schema.json"
CONFIG_FILE = "nst_config.json"
AUTHOR = "gimp-neural-style contributors"
COPYRIGHT = "MIT licence"
DATE = "2026"

# Context around the selection's bounding box. Both methods look at a neighbourhood (VGG's
# receptive field, the fast network's padding), so a box cut tightly at the selection would get
# visibly different strokes at its border than the same pixels styled as part of the whole photo.
MARGIN_FRACTION = 0.125
MARGIN_MIN = 16
MARGIN_MAX = 256

# The overall progress bar: starting the engine and uploading take the first slice, the engine's
# own 0..1 the middle, fetching and placing the result the end.
PHASE_START = (0.0, 0.05)
PHASE_ENGINE = (0.05, 0.95)
PHASE_FINISH = (0.95, 1.0)
WATCH_POLL_S = 0.1


class HostError(Exception):
    """A problem the user can fix (wrong layer type, nothing selected on the layer...)."""

    def __init__(self, message, code="bad_input"):
        Exception.__init__(self, message)
        self.message = message
        self.code = code


class Rect(object):
    """Integer rectangle; x2/y2 exclusive, like GIMP's selection bounds."""

    __slots__ = ("x", "y", "w", "h")

    def __init__(self, x, y, w, h):
        self.x, self.y, self.w, self.h = int(x), int(y), max(0, int(w)), max(0, int(h))

    @classmethod
    def from_corners(cls, x1, y1, x2, y2):
        return cls(x1, y1, x2 - x1, y2 - y1)

    @property
    def x2(self):
        return self.x + self.w

    @property
    def y2(self):
        return self.y + self.h

    @property
    def empty(self):
        return self.w <= 0 or self.h <= 0

    def intersect(self, other):
        x1, y1 = max(self.x, other.x), max(self.y, other.y)
        x2, y2 = min(self.x2, other.x2), min(self.y2, other.y2)
        return Rect(x1, y1, max(0, x2 - x1), max(0, y2 - y1))

    def grow(self, margin):
        return Rect(self.x - margin, self.y - margin, self.w + 2 * margin, self.h + 2 * margin)

    def moved(self, dx, dy):
        return Rect(self.x + dx, self.y + dy, self.w, self.h)

    def as_tuple(self):
        return (self.x, self.y, self.w, self.h)

    def __eq__(self, other):
        return isinstance(other, Rect) and self.as_tuple() == other.as_tuple()

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash(self.as_tuple())

    def __repr__(self):
        return "Rect(%d, %d, %d, %d)" % self.as_tuple()


class Plan(object):
    """Where to read, what to send and where the result goes, for one layer.

    region:  layer-local rectangle the result layer covers (selection bbox on the layer, or all).
    context: layer-local rectangle sent to the engine (region plus margin, clipped to the layer).
    inner:   the region inside the context's pixels (what is cut out of the engine's result).
    offsets: image coordinates of the result layer's top-left corner.
    masked:  whether a selection exists (then the result gets a layer mask from it).
    """

    def __init__(self, region, context, offsets, masked):
        self.region = region
        self.context = context
        self.inner = region.moved(-context.x, -context.y)
        self.offsets = offsets
        self.masked = masked

    def __repr__(self):
        return "Plan(region=%r, context=%r, offsets=%r, masked=%r)" % (
            self.region, self.context, self.offsets, self.masked)


def context_margin(w, h):
    margin = int(round(MARGIN_FRACTION * max(w, h)))
    return max(MARGIN_MIN, min(MARGIN_MAX, margin))


def plan_region(layer_offsets, layer_size, selection=None, margin=None):
    """`selection` is None or image-coordinate corners (x1, y1, x2, y2) of a non-empty selection."""
    lx, ly = layer_offsets
    layer = Rect(0, 0, layer_size[0], layer_size[1])
    if layer.empty:
        raise HostError("The layer is empty (0 pixels).")
    if selection is None:
        return Plan(layer, layer, (lx, ly), False)
    x1, y1, x2, y2 = selection
    region = Rect.from_corners(x1 - lx, y1 - ly, x2 - lx, y2 - ly).intersect(layer)
    if region.empty:
        raise HostError("The selection does not touch the active layer; select part of the "
                        "layer, or Select ▸ None to style the whole layer.", "no_overlap")
    if margin is None:
        margin = context_margin(region.w, region.h)
    context = region.grow(margin).intersect(layer)
    return Plan(region, context, (lx + region.x, ly + region.y), True)


# ------------------------------------------------------------------------------- pixel helpers

def to_rgba(data, w, h, channels):
    """8-bit gray / gray+alpha / RGB / RGBA bytes -> RGBA bytearray (opaque where no alpha)."""
    n = w * h
    if len(data) != n * channels:
        raise ValueError("pixel data is %d bytes, expected %d" % (len(data), n * channels))
    src = bytearray(data)
    if channels == 4:
        return src
    out = bytearray(b"\xff" * (n * 4))
    if channels == 3:
        out[0::4], out[1::4], out[2::4] = src[0::3], src[1::3], src[2::3]
    elif channels in (1, 2):
        grey = src[0::channels]
        out[0::4], out[1::4], out[2::4] = grey, grey, grey
        if channels == 2:
            out[3::4] = src[1::2]
    else:
        raise ValueError("unsupported channel count %d" % channels)
    return out


def rgba_to_gray(rgba, with_alpha):
    """RGBA -> 8-bit gray (Rec. 601 luma, what GIMP's own RGB->gray uses) [+ alpha]."""
    src = bytearray(rgba)
    r, g, b = src[0::4], src[1::4], src[2::4]
    luma = bytearray((299 * r[i] + 587 * g[i] + 114 * b[i] + 500) // 1000 for i in range(len(r)))
    if not with_alpha:
        return luma
    out = bytearray(len(luma) * 2)
    out[0::2], out[1::2] = luma, src[3::4]
    return out


def crop(data, w, h, channels, rect):
    """Cut `rect` out of a w x h image with `channels` bytes per pixel."""
    if rect.x < 0 or rect.y < 0 or rect.x2 > w or rect.y2 > h:
        raise ValueError("crop %r outside %dx%d" % (rect, w, h))
    rows = []
    stride = w * channels
    for y in range(rect.y, rect.y2):
        start = y * stride + rect.x * channels
        rows.append(bytes(data[start:start + rect.w * channels]))
    return b"".join(rows)


def with_source_alpha(result_rgba, source_rgba):
    """The styled colour with the source's own alpha (transparent stays transparent)."""
    out = bytearray(result_rgba)
    out[3::4] = bytearray(source_rgba)[3::4]
    return out


def result_pixels(plan, png_size, png_channels, png_data, source_rgba):
    """Engine result (covering plan.context) -> RGBA bytes covering plan.region with source alpha.
    `source_rgba` are the pixels that were sent (plan.context)."""
    w, h = png_size
    if (w, h) != (plan.context.w, plan.context.h):
        raise HostError("The engine returned a %dx%d picture for a %dx%d request." % (
            w, h, plan.context.w, plan.context.h), "bad_result")
    rgba = to_rgba(png_data, w, h, png_channels)
    styled = crop(rgba, w, h, 4, plan.inner)
    source = crop(source_rgba, w, h, 4, plan.inner)
    return with_source_alpha(styled, source)


# --------------------------------------------------------------------------- names and messages

def style_label(path_or_name):
    """'~/art/the_starry-night.jpg' -> 'the starry-night'."""
    base = os.path.basename(str(path_or_name).rstrip("/\\")) or str(path_or_name)
    stem = os.path.splitext(base)[0] if "." in base else base
    return stem.replace("_", " ").strip() or "style"


# Layer names GIMP (or a paste, a copy, a new-layer dialog) gives by itself: they say nothing
# about the painting, so a result named after them ("Neural Style: Background") is useless.
_GENERIC_LAYER_NAMES = ("background", "layer", "pasted layer", "clipboard", "new layer",
                        "floating selection", "untitled", "[untitled]")


def is_generic_layer_name(name):
    n = (name or "").strip().lower()
    for suffix in (" copy",):
        while n.endswith(suffix):
            n = n[:-len(suffix)].strip()
    n = n.rstrip("0123456789#").strip()
    return not n or n in _GENERIC_LAYER_NAMES or n.startswith("pasted layer")


def layer_style_label(layer_name, image_name=None):
    """The name a painting taken from a layer goes by: the layer's own name, unless that is a
    name GIMP made up ("Background", "Layer #2", "Pasted Layer"), then the image's file name
    ("starry_night.jpg" -> "starry night")."""
    if not is_generic_layer_name(layer_name) or not image_name:
        return style_label(layer_name)
    base = str(image_name).strip()
    if base.lower() in ("[untitled]", "untitled", ""):
        return style_label(layer_name)
    # GIMP's image names can carry a "-<number>" display suffix ("photo.png-3").
    head, dot, tail = base.rpartition(".")
    if dot and "-" in tail and tail.rsplit("-", 1)[1].isdigit():
        base = head + "." + tail.rsplit("-", 1)[0]
    return style_label(base)


def mnemonic_labels(labels, reserved="ochr"):
    """Each label with a mnemonic ("_Size") on a letter no other label (nor the dialog's own
    _OK, _Cancel, _Help, _Reset buttons: `reserved`) uses. Letters are matched, not handed out
    first come first served, so "Style loss" still gets one after "Style painting", "Style
    scale" and "Style weight" took the obvious ones; word-initial letters are preferred. A label
    left without a free letter stays as it is; labels that already have one keep it."""
    taken = set(reserved.lower())
    fixed = {}
    for n, label in enumerate(labels):
        i = label.find("_")
        if 0 <= i < len(label) - 1:
            taken.add(label[i + 1].lower())
            fixed[n] = True
    candidates = []
    for n, label in enumerate(labels):
        if n in fixed:
            candidates.append([])
            continue
        initial = [i for i, ch in enumerate(label) if ch.isalnum() and (i == 0 or
                                                                         label[i - 1] == " ")]
        rest = [i for i, ch in enumerate(label) if ch.isalnum() and i not in initial]
        seen, order = set(), []
        for i in initial + rest:
            ch = label[i].lower()
            if ch not in seen and ch not in taken:
                seen.add(ch)
                order.append((ch, i))
        candidates.append(order)
    owner = {}  # letter -> label index

    def place(n, visited):
        for ch, _ in candidates[n]:
            if ch in visited:
                continue
            visited.add(ch)
            if ch not in owner or place(owner[ch], visited):
                owner[ch] = n
                return True
        return False

    for n in range(len(labels)):
        if candidates[n]:
            place(n, set())
    letter_of = dict((n, ch) for ch, n in owner.items())
    out = []
    for n, label in enumerate(labels):
        ch = letter_of.get(n)
        if ch is None:
            out.append(label)
            continue
        i = dict(candidates[n])[ch]
        out.append(label[:i] + "_" + label[i:])
    return out


def estimate_seconds(estimates, quality, size, region_long, region_short):
    """Seconds the engine predicts for a Neural Style run, from its health answer's
    `estimates.gatys` (seconds at a few sizes for a 4:3 picture, from the speed it measured on
    this machine and its own plan); None when it has not measured yet. Between the tabulated
    sizes the work grows with the pixel count; a region of another shape scales with its area."""
    try:
        table = dict((int(k), float(v)) for k, v in estimates["seconds"][quality].items())
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    if not table or size <= 0 or region_long <= 0:
        return None
    above = [k for k in sorted(table) if k >= size]
    key = above[0] if above else max(table)
    shape = (float(region_short) / region_long) / 0.75 if region_short else 1.0
    return table[key] * (float(size) / key) ** 2 * shape


def _about(seconds):
    if seconds < 90:
        return "about %d s" % max(1, int(round(seconds)))
    return "about %d min" % int(round(seconds / 60.0))


def size_hint(size, region_long, upscale="sharp", estimates=None, quality="normal",
              region_short=None):
    """What Neural Style's size means for this region, for the dialog: "512 px for a 4243 px
    region: 8.3x upscale (sharp)", and what a larger size would cost: in seconds when the engine
    has measured its speed on this machine (`estimates`, from GET /v1/health), else as a ratio
    (the work grows with the pixel count)."""
    size, region_long = int(size), int(region_long)
    if region_long <= 0:
        return ""
    now = estimate_seconds(estimates, quality, size, region_long, region_short)
    if size >= region_long:
        text = "%d px: the region (%d px) is styled at its own size." % (size, region_long)
        if now is not None:
            text += " This takes %s here." % _about(now)
        return text
    factor = float(region_long) / size
    text = "%d px for a %d px region: %.1fx upscale (%s)." % (size, region_long, factor, upscale)
    bigger = min(region_long, size * 2)
    later = estimate_seconds(estimates, quality, bigger, region_long, region_short)
    if now is not None and later is not None:
        text += " This takes %s here; %d px would take %s." % (_about(now), bigger,
                                                                _about(later))
    else:
        ratio = (float(bigger) / size) ** 2
        text += (" %d px would take about %.0fx as long (seconds once the engine has timed a "
                 "run on this machine)." % (bigger, ratio))
    return text


# A result layer keeps the settings that made it (a parasite), so the dialog, opened with that
# layer active, can offer to restyle it: same settings, the source repainted, the old result
# replaced in one undo step.
RECIPE_PARASITE = "neural-style-recipe"


def recipe_bytes(procedure, values, source_tattoo):
    """The parasite's data: JSON of the procedure's argument values by GIMP argument name (a
    file as {"file": path}, a layer as {"layer_tattoo": n}) and the source layer's tattoo."""
    return json.dumps({"version": 1, "procedure": procedure, "values": values,
                       "source_tattoo": source_tattoo}, sort_keys=True).encode("utf-8")


def recipe_from_bytes(data, procedure):
    """The recipe dict of `procedure` from a parasite's data; None when it is not one (another
    procedure's result, an older or damaged parasite)."""
    try:
        recipe = json.loads(bytes(bytearray(data)).decode("utf-8"))
    except (ValueError, TypeError, UnicodeDecodeError):
        return None
    if not isinstance(recipe, dict) or recipe.get("version") != 1 or \
            recipe.get("procedure") != procedure or not isinstance(recipe.get("values"), dict):
        return None
    return recipe


def layer_name(style_names, title="Neural Style"):
    names = [n for n in style_names if n]
    return title + ": " + (" + ".join(names) if names else "style")


def wanted_extras(method, params):
    """The further images a job should fetch: an analogy's B when its option is on."""
    return ["reverse"] if method == "analogy" and params.get("reverse_output") else []


class Extra(object):
    """A further image of the job (an analogy's B), decoded to RGBA at its own size."""

    def __init__(self, name, label, w, h, rgba):
        self.name, self.label, self.w, self.h, self.rgba = name, label, w, h, rgba


def engine_fraction(fraction):
    lo, hi = PHASE_ENGINE
    try:
        f = float(fraction)
    except (TypeError, ValueError):
        f = 0.0
    return lo + (hi - lo) * min(1.0, max(0.0, f))


def progress_text(title, status):
    """GIMP progress text from an engine job status dict."""
    state = status.get("state") or "queued"
    if state == "queued":
        return "%s: waiting for the engine (queued)…" % title
    stage = status.get("stage") or state
    eta = status.get("eta_s")
    if isinstance(eta, (int, float)) and eta >= 1:
        return "%s: %s (about %d s left)" % (title, stage, int(round(eta)))
    return "%s: %s" % (title, stage)


_HINTS = {
    "engine_start_failed": "Check the engine log, or re-run `python3 install.py --check`.",
    "unauthorized": "The token does not match the engine's; re-run `python3 install.py`.",
    "unknown_model": "Pick an installed model (Fast Neural Style lists them), or install it "
                     "into the engine's models folder.",
    "weights_missing": "The VGG19 weights are missing; re-run `python3 install.py`.",
    "image_too_large": "Select a smaller area or scale the image down.",
    "out_of_memory": "Use a smaller size or quality, or select a smaller area.",
    "device_unavailable": "Set device to auto or cpu.",
    "engine_unreachable": "Is the engine running? Its URL is in nst_config.json beside the plug-in.",
    "queue_full": "The engine is busy; try again when the running jobs are done.",
}


def user_message(title, error):
    """One message a user can act on, from an EngineError-like or HostError object."""
    code = getattr(error, "code", None) or "error"
    message = getattr(error, "message", None) or str(error)
    if code == "cancelled":
        return "%s was cancelled; the image is unchanged." % title
    hint = _HINTS.get(code)
    text = "%s failed: %s" % (title, message)
    if hint and hint not in message:
        text += "\n" + hint
    return text + "\nThe image is unchanged."


# ------------------------------------------------------------------------ schema and arguments

def plugin_dir(module_file):
    return os.path.dirname(os.path.abspath(module_file))


def load_json(path):
    with open(path, "rb") as fh:
        return json.loads(fh.read().decode("utf-8"))


def load_schema(folder):
    return load_json(os.path.join(folder, SCHEMA_FILE))


class Arg(object):
    """One procedure argument derived from a contract field (GIMP names use hyphens)."""

    def __init__(self, field, kind, default, lo=None, hi=None, choices=None, label=None,
                 help=None, advanced=False, choice_labels=None):
        self.field = field
        self.name = field.replace("_", "-")
        self.kind = kind  # int | float | bool | choice | string | float_list
        self.default = default
        self.min = lo
        self.max = hi
        self.choices = list(choices or [])
        # What a menu shows for each choice (the schema's words; the wire value otherwise).
        labels = list(choice_labels or [])
        self.choice_labels = [labels[i] if i < len(labels) else c.replace("_", " ").capitalize()
                              for i, c in enumerate(self.choices)]
        self.label = label or field
        self.help = help or self.label
        self.advanced = bool(advanced)

    @property
    def gimp_default(self):
        """float_list fields travel as comma-separated text in GIMP."""
        if self.kind == "float_list":
            return ",".join(_fmt_float(v) for v in self.default)
        return self.default

    def __repr__(self):
        return "Arg(%s, %s, default=%r)" % (self.name, self.kind, self.default)


def _fmt_float(v):
    return ("%g" % v) if float(v) != int(v) else str(int(v))


def procedure_args(schema, method):
    """The engine-parameter arguments of one procedure, in the contract's order."""
    fields = schema["methods"][method]
    return [Arg(f["name"], f["type"], f["default"], f.get("min"), f.get("max"),
                f.get("choices"), f.get("label"), f.get("help"), f.get("advanced"),
                f.get("choice_labels"))
            for f in fields]


def values_to_params(args, values):
    """GIMP argument values (by contract field name) -> the request's `params` (JSON-ready)."""
    params = {}
    for a in args:
        if a.field not in values:
            continue
        v = values[a.field]
        if v is None and a.kind in ("float_list", "string"):
            v = ""  # GIMP 3 hands an empty string argument back as None (NULL)
        if a.kind == "float_list":
            text = v if isinstance(v, str) or not hasattr(v, "__iter__") else ",".join(
                str(x) for x in v)
            try:
                v = [float(x) for x in str(text).replace(";", ",").split(",") if x.strip()]
            except ValueError:
                raise HostError("%s must be numbers separated by commas, not %r" % (a.name, text),
                                "bad_parameter")
        elif a.kind == "bool":
            v = bool(v)
        elif a.kind == "int":
            v = int(v)
        elif a.kind == "float":
            v = float(v)
        elif a.kind == "choice":
            v = str(v)
            if a.choices and v not in a.choices:
                raise HostError("%s must be one of %s, not %r" % (
                    a.name, ", ".join(a.choices), v), "bad_parameter")
        params[a.field] = v
    return params


# Fast Neural Style runs an installed per-painting network, or, when the user gives a painting
# (a file or an open layer), the any-painting network ("arbitrary") with that painting.
ANY_PAINTING = "arbitrary"


def fast_procedure_args(schema):
    """Fast Neural Style's engine arguments: the per-painting network's fields, then the
    any-painting network's own (stroke size, ...), which apply when a painting is given. Its
    `model` (which any-painting network) and blend weights stay at the engine's defaults."""
    fast = procedure_args(schema, "fast")
    if ANY_PAINTING not in schema.get("methods", {}):
        return fast
    have = set(a.field for a in fast) | set(["model", "style_weights"])
    return fast + [a for a in procedure_args(schema, ANY_PAINTING) if a.field not in have]


def fast_job(schema, values, has_painting):
    """(method, params) of a Fast Neural Style run from its argument values by field name."""
    if not has_painting or ANY_PAINTING not in schema.get("methods", {}):
        return "fast", values_to_params(procedure_args(schema, "fast"), values)
    own = [a for a in procedure_args(schema, ANY_PAINTING) if a.field != "model"]
    return ANY_PAINTING, values_to_params(own, values)


def build_request(method, params):
    """The job's JSON: every parameter (the fast model id and the style blend weights included)
    has its one slot in `params`."""
    return {"method": method, "params": dict(params)}


# ---------------------------------------------------------------------------------- one job

def trace(event, **fields):
    """One JSON line per event to the file named by $NST_TRACE (the real-GIMP tests read it:
    dialog shown, preview shown, job submitted); nothing when it is not set."""
    path = os.environ.get("NST_TRACE")
    if not path:
        return
    import time

    fields.update(event=event, t=time.time(), pid=os.getpid())
    try:
        with open(path, "a") as fh:
            fh.write(json.dumps(fields) + "\n")
    except (IOError, OSError):
        pass


class Job(object):
    """Everything the host collected for one run, before anything in the image changes."""

    def __init__(self, title, method, params, plan, content_rgba, styles=(), style_names=(),
                 extras=()):
        self.title = title
        self.method = method
        self.params = params
        self.plan = plan
        self.content_rgba = content_rgba
        self.styles = list(styles)  # encoded image files (PNG/JPEG bytes)
        self.style_names = list(style_names)
        self.extras = list(extras)  # names of further images to fetch, e.g. ["reverse"]


def run_filter(job, host, engine_module, config):
    """Run one job on the engine and add the result through `host`; returns the new layer.

    `engine_module` provides ensure_engine(config, on_status) -> client (nst_engine, or a test
    double). `host` provides: progress(fraction, text) and add_result_layer(name, plan, rgba,
    extras) (`extras`: the job's further images as `Extra`s, added in the same undo group) (which opens and closes the undo group itself and removes its layer on failure).
    Nothing in the image changes before the result is in hand, so any failure up to then leaves
    the image untouched by construction.
    """
    title = job.title
    if job.method in ("gatys", ANY_PAINTING) and not job.styles:
        raise HostError("Neural Style needs a style painting: give a style file or layer.",
                        "bad_parameter")
    if job.method == "analogy" and not job.styles:
        raise HostError("Image Analogy needs a reference picture: give a reference file or "
                        "layer.", "bad_parameter")
    host.progress(PHASE_START[0], "%s: starting engine…" % title)

    def on_status(text):
        host.progress(PHASE_START[0], "%s: %s" % (title, text))

    client = engine_module.ensure_engine(config, on_status=on_status)
    plan = job.plan
    content_png = nst_png.png_encode(plan.context.w, plan.context.h, bytes(job.content_rgba), 4)
    request = build_request(job.method, job.params)

    alive = getattr(host, "alive", lambda: True)

    def on_progress(status):
        # GIMP cancels a plug-in by ending its process; the engine then cancels the job because
        # its client's connection closed. What the host can say is that the image is gone
        # (closed mid-job): then the job is cancelled here and nothing more touches GIMP.
        if not alive():
            return False
        host.progress(engine_fraction(status.get("progress")), progress_text(title, status))

    def attempt(client):
        host.progress(PHASE_START[1], "%s: sending %dx%d pixels…" % (title, plan.context.w,
                                                                       plan.context.h))
        job_id = client.submit(request, content_png, None, job.styles)
        trace("job_submitted", job=job_id, method=job.method, url=getattr(client, "url", None))
        # Status every 0.1 s: GIMP's Cancel ends this process, and the engine notices the watch
        # connection closed at its next status line, so this bounds how late it stops.
        client.wait(job_id, on_progress=on_progress, poll=WATCH_POLL_S)
        host.progress(PHASE_FINISH[0], "%s: fetching the result…" % title)
        return client.result(job_id), [(n, client.result(job_id, n)) for n in job.extras]

    try:
        png, extra_pngs = attempt(client)
    except Exception as exc:
        if getattr(exc, "code", None) != "engine_lost":
            raise
        # The engine died (or was restarted) under the job: start it again and send the job once
        # more; the user's work is recomputed, not lost. A second loss is reported plainly.
        host.progress(PHASE_START[0], "%s: the engine stopped; restarting it and sending the "
                                      "job again…" % title)
        client = engine_module.ensure_engine(config, on_status=on_status)
        try:
            png, extra_pngs = attempt(client)
        except Exception as again:
            if getattr(again, "code", None) != "engine_lost":
                raise
            log = config.get("log_file")
            raise HostError("The style engine stopped twice while working on this job, so it "
                            "was not tried again. It may be running out of memory at this size: "
                            "try a smaller size or selection.%s"
                            % ((" The engine's log: %s." % log) if log else ""), "engine_lost")
    if not alive():
        raise HostError("The image was closed while the engine worked on it.", "cancelled")
    w, h, channels, data = nst_png.png_decode(png)
    rgba = result_pixels(plan, (w, h), channels, data, job.content_rgba)
    extras = []
    for name, data in extra_pngs:
        ew, eh, ech, edata = nst_png.png_decode(data)
        extras.append(Extra(name, "%s (%s): %s" % (title, name, " + ".join(job.style_names)),
                            ew, eh, to_rgba(edata, ew, eh, ech)))
    prefix = TITLES[ANALOGY_PROC] if job.method == "analogy" else TITLES[GATYS_PROC]
    layer = host.add_result_layer(layer_name(job.style_names, prefix), plan, rgba, extras)
    host.progress(PHASE_FINISH[1], "%s: done" % title)
    return layer
