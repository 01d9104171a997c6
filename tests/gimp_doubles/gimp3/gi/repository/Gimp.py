"""Test double of `gi.repository.Gimp` (GIMP 3.0), over tests/gimp_doubles/gimp_model.py.

Modelled as GIMP 3.0.4 behaves (checked in the real one, see docs GIMP_API.md): add_menu_path
needs the menu label first; argument specs validate min <= default <= max and choice defaults;
Selection.bounds returns SIX values; buffers convert between the drawable's format and the
requested babl format, clamp outside reads, and written pixels only arrive at flush(); a layer
mask "from selection" copies the soft selection under the layer.
"""

import enum

import gimp_model as model
import numpy as np

# --------------------------------------------------------------------------------- enums


class _Enum(enum.IntEnum):
    @property
    def value_nick(self):
        return self.name.lower().replace("_", "-")


class PDBProcType(_Enum):
    INTERNAL = 0
    PLUGIN = 1


class ProcedureSensitivityMask(_Enum):
    DRAWABLE = 1
    DRAWABLES = 2
    NO_DRAWABLES = 4


class FileChooserAction(_Enum):
    OPEN = 0


class RunMode(_Enum):
    INTERACTIVE = 0
    NONINTERACTIVE = 1
    WITH_LAST_VALS = 2


class PDBStatusType(_Enum):
    EXECUTION_ERROR = 0
    CALLING_ERROR = 1
    PASS_THROUGH = 2
    SUCCESS = 3
    CANCEL = 4


class ImageBaseType(_Enum):
    RGB = model.RGB
    GRAY = model.GRAY
    INDEXED = model.INDEXED


class ImageType(_Enum):
    RGB_IMAGE = model.RGB_IMAGE
    RGBA_IMAGE = model.RGBA_IMAGE
    GRAY_IMAGE = model.GRAY_IMAGE
    GRAYA_IMAGE = model.GRAYA_IMAGE
    INDEXED_IMAGE = model.INDEXED_IMAGE
    INDEXEDA_IMAGE = model.INDEXEDA_IMAGE


class LayerMode(_Enum):
    NORMAL = 28


class AddMaskType(_Enum):
    WHITE = 0
    BLACK = 1
    ALPHA = 2
    ALPHA_TRANSFER = 3
    SELECTION = 4


# ------------------------------------------------------------------------------ progress

progress = []  # (fraction or None, text or None), in call order
flushes = []


def reset():
    progress.clear()
    flushes.clear()
    Image.created.clear()
    Display.opened.clear()


def progress_init(text):
    progress.append((0.0, text))
    return True


def progress_update(fraction):
    if not 0.0 <= fraction <= 1.0:
        raise ValueError("progress outside 0..1")
    progress.append((fraction, None))
    return True


def progress_set_text(text):
    progress.append((None, text))
    return True


def progress_end():
    return True


directory_path = "/nonexistent-gimp-profile"


def directory():
    return directory_path


def displays_flush():
    flushes.append(True)


def main(gtype, argv):
    raise RuntimeError("Gimp.main() is GIMP's entry point; tests call the plug-in directly")


# ----------------------------------------------------------------------------- pixels

_FORMAT_BPP = {"R'G'B'A u8": 4, "Y u8": 1}


def _to_format(pixels, bpp, fmt):
    """Drawable pixels (H, W, bpp) -> bytes in `fmt`, as babl converts (8-bit, non-linear)."""
    h, w = pixels.shape[:2]
    p = pixels.reshape(h, w, -1)
    if fmt == "Y u8":
        if p.shape[2] != 1:
            raise NotImplementedError("only masks/channels are read as Y u8 here")
        return p[..., 0].tobytes()
    rgba = np.full((h, w, 4), 255, np.uint8)
    if bpp >= 3:
        rgba[..., :bpp] = p
    else:
        rgba[..., :3] = p[..., :1]
        if bpp == 2:
            rgba[..., 3] = p[..., 1]
    return rgba.tobytes()


def _from_rgba(rgba, bpp):
    if bpp == 4:
        return rgba
    if bpp == 3:
        return rgba[..., :3]
    r, g, b = (rgba[..., i].astype(np.int64) for i in range(3))
    luma = ((299 * r + 587 * g + 114 * b + 500) // 1000).astype(np.uint8)
    return np.stack([luma, rgba[..., 3]], -1)[..., :bpp]


class Buffer:
    def __init__(self, drawable):
        self.drawable = drawable
        self.pending = []

    def get(self, rect, scale, fmt, abyss):
        d = self.drawable
        if scale != 1.0:  # GEGL: the rectangle is in scaled coordinates; nearest sample here
            ys = np.floor((np.arange(rect.y, rect.y + rect.height) + 0.5) / scale).astype(int)
            xs = np.floor((np.arange(rect.x, rect.x + rect.width) + 0.5) / scale).astype(int)
            ys, xs = np.clip(ys, 0, d.height - 1), np.clip(xs, 0, d.width - 1)
            d.scaled_reads.append((rect.x, rect.y, rect.width, rect.height, scale))
            return _to_format(d.pixels[np.ix_(ys, xs)], d.bpp, fmt)
        ys = np.clip(np.arange(rect.y, rect.y + rect.height), 0, d.height - 1)
        xs = np.clip(np.arange(rect.x, rect.x + rect.width), 0, d.width - 1)
        d.reads.append((rect.x, rect.y, rect.width, rect.height))
        return _to_format(d.pixels[np.ix_(ys, xs)], d.bpp, fmt)

    def set(self, rect, fmt, data):
        if fmt != "R'G'B'A u8":
            raise NotImplementedError(fmt)
        if len(data) != rect.width * rect.height * 4:
            raise ValueError("wrong byte count for the rectangle")
        self.pending.append((rect, bytes(data)))

    def flush(self):
        d = self.drawable
        for rect, data in self.pending:
            rgba = np.frombuffer(data, np.uint8).reshape(rect.height, rect.width, 4)
            x1, y1 = max(rect.x, 0), max(rect.y, 0)
            x2 = min(rect.x + rect.width, d.width)
            y2 = min(rect.y + rect.height, d.height)
            d.pixels[y1:y2, x1:x2] = _from_rgba(rgba, d.bpp)[y1 - rect.y:y2 - rect.y,
                                                             x1 - rect.x:x2 - rect.x]
            if d.image is not None:
                d.image.record("pixels " + d.name)
        self.pending.clear()


class _ItemMixin:
    def get_name(self):
        return self.name

    def get_width(self):
        return self.width

    def get_height(self):
        return self.height

    def get_image(self):
        return self.image

    def get_parent(self):
        return self.parent

    def get_buffer(self):
        return Buffer(self)

    def is_layer(self):
        return isinstance(self, model.Layer)

    def is_group(self):
        return isinstance(self, model.GroupLayer)

    def is_layer_mask(self):
        return False

    def is_valid(self):
        return not getattr(self, "deleted", False) and (
            getattr(self, "image", None) is None or self in _all_items(self.image))

    def get_tattoo(self):
        if getattr(self, "_tattoo", None) is None:
            _Tattoos.last += 1
            self._tattoo = _Tattoos.last
        return self._tattoo

    def attach_parasite(self, parasite):
        if not hasattr(self, "parasites"):
            self.parasites = {}
        self.parasites[parasite.get_name()] = parasite
        if getattr(self, "image", None) is not None:
            self.image.record("parasite " + self.name)
        return True

    def get_parasite(self, name):
        return getattr(self, "parasites", {}).get(name)

    def get_sub_thumbnail_data(self, x, y, w, h, dest_w, dest_h):
        """GIMP's scaled copy of a part of the drawable (nearest sample here), in the
        drawable's own format: (bytes, width, height, bpp)."""
        ys = np.clip((y + (np.arange(dest_h) + 0.5) * h / dest_h).astype(int), 0, self.height - 1)
        xs = np.clip((x + (np.arange(dest_w) + 0.5) * w / dest_w).astype(int), 0, self.width - 1)
        self.scaled_reads.append((x, y, w, h, dest_w, dest_h))
        px = self.pixels[np.ix_(ys, xs)].reshape(dest_h, dest_w, -1)
        return np.ascontiguousarray(px, dtype=np.uint8).tobytes(), dest_w, dest_h, px.shape[2]

    def update(self, x, y, w, h):
        if x < 0 or y < 0 or x + w > self.width or y + h > self.height:
            raise ValueError("update outside the drawable")
        return True


class _Tattoos:
    last = 0


def _all_items(image):
    out = []

    def walk(items):
        for it in items:
            out.append(it)
            walk(getattr(it, "children", []) or [])
    walk(image.layers)
    return out


class Parasite:
    """GIMP's parasite: a name, flags, and the data as a list of bytes (as GI hands it)."""

    def __init__(self, name, flags, data):
        self.name, self.flags, self.data = name, flags, list(data)

    @classmethod
    def new(cls, name, flags, data):
        if any(not 0 <= int(b) <= 255 for b in data):
            raise ValueError("parasite data must be bytes")
        return cls(name, flags, data)

    def get_name(self):
        return self.name

    def get_data(self):
        return list(self.data)


PARASITE_PERSISTENT = 1
PARASITE_UNDOABLE = 2


class Channel(_ItemMixin, model.Channel):
    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.reads = []
        self.scaled_reads = []
        self.bpp = 1


class Layer(_ItemMixin, model.Layer):
    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.reads = []
        self.scaled_reads = []

    @classmethod
    def new(cls, image, name, width, height, layer_type, opacity, mode):
        return cls(image, name, width, height, int(layer_type), opacity, mode)

    def get_offsets(self):
        return True, self.offsets[0], self.offsets[1]

    def has_alpha(self):
        return self.bpp in (2, 4)

    def get_mask(self):
        return self.mask

    def set_edit_mask(self, edit):
        self.edit_mask = bool(edit)

    def get_image(self):
        return self.image

    def create_mask(self, kind):
        if kind != AddMaskType.SELECTION:
            raise NotImplementedError("only selection masks are modelled")
        mask = self.selection_mask()
        out = Channel(mask.width, mask.height, mask.name)
        out.pixels = mask.pixels
        return out


class GroupLayer(_ItemMixin, model.GroupLayer):
    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.reads = []
        self.scaled_reads = []


class Image(model.Image):
    created: list = []  # images made by plug-ins (Gimp.Image.new), newest last

    @classmethod
    def new(cls, width, height, base_type):
        image = cls(width, height, int(base_type))
        cls.created.append(image)
        return image

    def get_base_type(self):
        return ImageBaseType(self.base_type)

    def get_file(self):
        path = getattr(self, "file_path", None)
        if path is None:
            return None
        from gi.repository import Gio

        return Gio.File.new_for_path(path)

    def get_name(self):
        path = getattr(self, "file_path", None)
        return path.rsplit("/", 1)[-1] if path else "[Untitled]"

    def is_valid(self):
        return not getattr(self, "closed", False)

    def get_layer_by_tattoo(self, tattoo):
        for item in _all_items(self):
            if item.get_tattoo() == tattoo:
                return item
        return None

    def remove_layer(self, layer):
        super().remove_layer(layer)
        return True

    def get_width(self):
        return self.width

    def get_height(self):
        return self.height

    def get_layers(self):
        return list(self.layers)

    def get_item_position(self, item):
        return self.item_position(item)

    def set_selected_layers(self, layers):
        self.active_layer = layers[0] if layers else None
        return True

    def insert_layer(self, layer, parent, position):
        super().insert_layer(layer, parent, position)
        return True


class Display:
    opened: list = []

    @classmethod
    def new(cls, image):
        cls.opened.append(image)
        return cls()


class Selection:
    @staticmethod
    def bounds(image):
        non_empty, x1, y1, x2, y2 = image.selection_bounds()
        return True, non_empty, x1, y1, x2, y2


# ------------------------------------------------------------------------- procedures

class Choice:
    def __init__(self):
        self.nicks = []
        self.labels = []

    @classmethod
    def new(cls):
        return cls()

    def add(self, nick, id, label, help):
        self.nicks.append(nick)
        self.labels.append(label)


class _Spec:
    def __init__(self, name, kind, default, lo=None, hi=None, choices=None, none_ok=True):
        self.name, self.kind, self.default = name, kind, default
        self.min, self.max, self.choices, self.none_ok = lo, hi, choices, none_ok

    def check(self, value):
        if self.kind in ("int", "double"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{self.name}: {value!r} is not a number")
            if self.kind == "int" and not isinstance(value, int):
                raise TypeError(f"{self.name}: {value!r} is not an int")
            if not self.min <= value <= self.max:
                raise ValueError(f"{self.name}: {value} outside {self.min}..{self.max}")
        elif self.kind == "boolean" and not isinstance(value, bool):
            raise TypeError(f"{self.name}: {value!r} is not a bool")
        elif self.kind == "string" and not isinstance(value, str):
            raise TypeError(f"{self.name}: {value!r} is not a string")
        elif self.kind == "choice" and value not in self.choices:
            raise ValueError(f"{self.name}: {value!r} is not one of {self.choices}")
        elif self.kind == "drawable" and value is None and not self.none_ok:
            raise ValueError(f"{self.name}: may not be None")
        return value


class Config:
    def __init__(self, procedure):
        self._specs = {s.name: s for s in procedure.specs}
        self._values = {s.name: s.default for s in procedure.specs}

    def get_property(self, name):
        return self._values[name]

    def set_property(self, name, value):
        self._values[name] = self._specs[name].check(value)

    def set_core_object_array(self, name, values):
        self._values[name] = list(values)


class ValueArray:
    def __init__(self, values):
        self.values = values

    def index(self, i):
        return self.values[i]

    def length(self):
        return len(self.values)


class ImageProcedure:
    def __init__(self, plugin, name, proc_type, run_func, data):
        self.plugin, self.name, self.run_func = plugin, name, run_func
        self.menu_label = None
        self.menu_paths = []
        self.image_types = None
        self.sensitivity = None
        self.documentation = None
        self.attribution = None
        self.specs = [_Spec("run-mode", "enum", RunMode.INTERACTIVE),
                      _Spec("image", "image", None), _Spec("drawables", "drawables", [])]

    @classmethod
    def new(cls, plugin, name, proc_type, run_func, data):
        return cls(plugin, name, proc_type, run_func, data)

    def get_name(self):
        return self.name

    def set_image_types(self, types):
        self.image_types = types

    def set_sensitivity_mask(self, mask):
        self.sensitivity = mask

    def set_menu_label(self, label):
        self.menu_label = label

    def add_menu_path(self, path):
        # GIMP: "gimp_procedure_add_menu_path: assertion 'priv->menu_label != NULL' failed"
        if self.menu_label is None:
            raise AssertionError("add_menu_path before set_menu_label")
        self.menu_paths.append(path)

    def set_documentation(self, blurb, help, help_id):
        self.documentation = (blurb, help, help_id)

    def set_attribution(self, authors, copyright, date):
        self.attribution = (authors, copyright, date)

    def _add(self, spec, nick=None):
        spec.nick = nick if nick is not None else spec.name
        if any(s.name == spec.name for s in self.specs):
            raise ValueError(f"argument {spec.name} added twice")
        if spec.default is not None and spec.kind not in ("file", "drawable"):
            spec.check(spec.default)
        self.specs.append(spec)

    def add_int_argument(self, name, nick, blurb, lo, hi, default, flags):
        self._add(_Spec(name, "int", default, lo, hi), nick)

    def add_double_argument(self, name, nick, blurb, lo, hi, default, flags):
        self._add(_Spec(name, "double", float(default), float(lo), float(hi)), nick)

    def add_boolean_argument(self, name, nick, blurb, default, flags):
        self._add(_Spec(name, "boolean", default), nick)

    def add_string_argument(self, name, nick, blurb, default, flags):
        self._add(_Spec(name, "string", default), nick)

    def add_choice_argument(self, name, nick, blurb, choice, default, flags):
        spec = _Spec(name, "choice", default, choices=list(choice.nicks))
        spec.choice_labels = list(choice.labels)
        self._add(spec, nick)

    def add_file_argument(self, name, nick, blurb, action, none_ok, default, flags):
        self._add(_Spec(name, "file", default, none_ok=none_ok), nick)

    def add_drawable_argument(self, name, nick, blurb, none_ok, flags):
        self._add(_Spec(name, "drawable", None, none_ok=none_ok), nick)

    def get_arguments(self):
        return list(self.specs)

    def create_config(self):
        return Config(self)

    def new_return_values(self, status, error):
        values = [status]
        if status in (PDBStatusType.CALLING_ERROR, PDBStatusType.EXECUTION_ERROR):
            values.append(getattr(error, "message", None) or "")
        return ValueArray(values)

    def run(self, config):
        """What GIMP does for a PDB call: hand the config's values to the run function."""
        return self.run_func(self, config.get_property("run-mode"), config.get_property("image"),
                             config.get_property("drawables"), config, None)


class PlugIn:
    __gtype__ = object()

    @staticmethod
    def error_quark():
        return "gimp-plug-in-error-quark"
