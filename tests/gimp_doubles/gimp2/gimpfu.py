"""Test double of GIMP 2.10's `gimpfu` (Python-Fu), over tests/gimp_doubles/gimp_model.py.

Only what a gimpfu plug-in can see is modelled, with GIMP 2.10's behaviour: register() checks
parameter tuples as gimpfu does and the query step maps every PF_ type to a PDB type; pixel
regions speak bytes in the drawable's own format and refuse out-of-bounds slices; writes through
a shadow region reach the drawable only at merge_shadow(); gimp_selection_bounds returns FIVE
values; calling a procedure non-interactively passes the arguments positionally after checking
their PDB types, and an exception becomes an execution error carrying its message.
"""

import string

import gimp_model as model
import numpy as np
from gimp_model import GimpError

RGB, GRAY, INDEXED = model.RGB, model.GRAY, model.INDEXED
RGB_IMAGE, RGBA_IMAGE, GRAY_IMAGE, GRAYA_IMAGE = (model.RGB_IMAGE, model.RGBA_IMAGE,
                                                  model.GRAY_IMAGE, model.GRAYA_IMAGE)
INDEXED_IMAGE, INDEXEDA_IMAGE = model.INDEXED_IMAGE, model.INDEXEDA_IMAGE
NORMAL_MODE = 0
ADD_WHITE_MASK, ADD_BLACK_MASK, ADD_ALPHA_MASK, ADD_ALPHA_TRANSFER_MASK, ADD_SELECTION_MASK = \
    range(5)
RUN_INTERACTIVE, RUN_NONINTERACTIVE, RUN_WITH_LAST_VALS = 0, 1, 2

PDB_INT32, PDB_FLOAT, PDB_STRING, PDB_IMAGE, PDB_DRAWABLE, PDB_LAYER = 3, 7, 8, 13, 16, 14
PF_INT = PF_INT32 = PDB_INT32
PF_FLOAT = PDB_FLOAT
PF_STRING = PDB_STRING
PF_IMAGE, PF_DRAWABLE, PF_LAYER = PDB_IMAGE, PDB_DRAWABLE, PDB_LAYER
PF_TOGGLE = PF_BOOL = 1000
PF_SLIDER, PF_SPINNER, PF_FILE, PF_RADIO, PF_OPTION = 1001, 1002, 1004, 1008, 1013
_TYPE_MAPPING = {PF_INT: PDB_INT32, PF_FLOAT: PDB_FLOAT, PF_STRING: PDB_STRING,
                 PF_IMAGE: PDB_IMAGE, PF_DRAWABLE: PDB_DRAWABLE, PF_LAYER: PDB_LAYER,
                 PF_TOGGLE: PDB_INT32, PF_SLIDER: PDB_FLOAT, PF_SPINNER: PDB_INT32,
                 PF_FILE: PDB_STRING, PF_RADIO: PDB_STRING, PF_OPTION: PDB_INT32}


class error(RuntimeError):
    pass


# ----------------------------------------------------------------------------- pixel regions

class PixelRgn:
    def __init__(self, drawable, x, y, w, h, dirty, shadow):
        self.drawable, self.x, self.y, self.w, self.h = drawable, x, y, w, h
        self.dirty, self.shadow = dirty, shadow
        if x < 0 or y < 0 or x + w > drawable.width or y + h > drawable.height:
            raise GimpError("pixel region outside the drawable")

    def _box(self, key):
        xs, ys = key
        x1, x2, y1, y2 = xs.start, xs.stop, ys.start, ys.stop
        if not (self.x <= x1 < x2 <= self.x + self.w and self.y <= y1 < y2 <= self.y + self.h):
            raise IndexError("slice outside the pixel region")
        return x1, x2, y1, y2

    def __getitem__(self, key):
        x1, x2, y1, y2 = self._box(key)
        return self.drawable.pixels[y1:y2, x1:x2].tobytes()

    def __setitem__(self, key, data):
        if not self.dirty:
            raise GimpError("region is not writable (dirty=False)")
        x1, x2, y1, y2 = self._box(key)
        d = self.drawable
        arr = np.frombuffer(data, np.uint8)
        if arr.size != (x2 - x1) * (y2 - y1) * d.bpp:
            raise ValueError("wrong number of bytes for the region")
        target = d.shadow if self.shadow else d.pixels
        target[y1:y2, x1:x2] = arr.reshape((y2 - y1, x2 - x1, d.bpp))


class Layer(model.Layer):
    """gimp.Layer(image, name, width, height, type, opacity, mode)"""

    def __init__(self, image, name, width, height, layer_type, opacity=100.0, mode=0):
        super().__init__(image, name, width, height, layer_type, opacity, mode)
        self.shadow = np.zeros_like(self.pixels)
        self.ID = id(self)

    def get_pixel_rgn(self, x, y, w, h, dirty=True, shadow=False):
        return PixelRgn(self, x, y, w, h, dirty, shadow)

    def flush(self):
        pass

    def merge_shadow(self, undo=True):
        self.pixels[...] = self.shadow
        if self.image is not None and undo:
            self.image.record("pixels " + self.name)

    def update(self, x, y, w, h):
        if x < 0 or y < 0 or x + w > self.width or y + h > self.height:
            raise GimpError("update outside the drawable")

    def create_mask(self, kind):
        if kind != ADD_SELECTION_MASK:
            raise NotImplementedError("only selection masks are modelled")
        return self.selection_mask()


class GroupLayer(model.GroupLayer):
    pass


class Image(model.Image):
    pass


class _Gimp:
    """The `gimp` module: layers, images, progress, messages, displays."""

    Layer = Layer

    def __init__(self):
        self.reset()

    def reset(self):
        self.progress = []
        self.messages = []
        self.flushes = 0
        self.images = []  # made by the plug-in (gimp.Image)
        self.displays = []

    def Image(self, width, height, base_type):  # noqa: N802  (gimpfu's name)
        image = Image(width, height, base_type)
        self.images.append(image)
        return image

    def Display(self, image):  # noqa: N802
        self.displays.append(image)

    def progress_init(self, text=None):
        self.progress.append((0.0, text))

    def progress_update(self, fraction):
        if not 0.0 <= fraction <= 1.0:
            raise GimpError("progress outside 0..1")
        self.progress.append((fraction, None))

    def displays_flush(self):
        self.flushes += 1

    def message(self, text):
        self.messages.append(text)


gimp = _Gimp()


class _Pdb:
    def gimp_image_undo_group_start(self, image):
        image.undo_group_start()

    def gimp_image_undo_group_end(self, image):
        image.undo_group_end()

    def gimp_image_insert_layer(self, image, layer, parent, position):
        image.insert_layer(layer, parent, position)

    def gimp_image_remove_layer(self, image, layer):
        image.remove_layer(layer)

    def gimp_image_get_item_position(self, image, item):
        return image.item_position(item)

    def gimp_selection_bounds(self, image):
        return image.selection_bounds()  # (non_empty, x1, y1, x2, y2)

    def gimp_item_is_layer(self, item):
        return isinstance(item, model.Layer)

    def gimp_item_is_group(self, item):
        return isinstance(item, model.GroupLayer)

    def gimp_item_is_valid(self, item):
        return item is not None and not getattr(item, "deleted", False)

    def gimp_image_is_valid(self, image):
        return image is not None and not getattr(image, "closed", False)

    def gimp_layer_set_edit_mask(self, layer, edit):
        layer.edit_mask = bool(edit)

    def gimp_item_get_image(self, item):
        return item.image

    def gimp_progress_set_text(self, text):
        gimp.progress.append((None, text))

    def gimp_message(self, text):
        gimp.message(text)


pdb = _Pdb()
_registered = {}


def register(proc_name, blurb, help, author, copyright, date, label, imagetypes, params,
             results, function, menu=None, domain=None, on_query=None, on_run=None):
    allowed = string.ascii_letters + string.digits + "_-"
    if any(ch not in allowed for ch in proc_name):
        raise error("procedure name contains illegal characters")
    for ent in params:
        if len(ent) < 4:
            raise error(f"parameter definition must contain at least 4 elements: {ent!r}")
        if not isinstance(ent[0], int):
            raise error("parameter types must be integers")
        if any(ch not in allowed for ch in ent[1]):
            raise error(f"parameter name contains illegal characters: {ent[1]!r}")
        if ent[0] in (PF_SLIDER, PF_SPINNER, PF_RADIO, PF_OPTION) and len(ent) < 5:
            raise error(f"{ent[1]} needs a fifth element")
        if ent[0] == PF_RADIO and ent[3] not in [v for _, v in ent[4]]:
            raise error(f"radio default {ent[3]!r} is not one of its values")
    if not proc_name.startswith(("python-", "python_", "plug-in-", "plug_in_")):
        proc_name = "python-fu-" + proc_name
    _registered[proc_name] = dict(blurb=blurb, label=label, imagetypes=imagetypes,
                                  params=params, results=results, function=function, menu=menu)


def query():
    """What GIMP's PDB learns at query time: (name, [(pdb_type, name, desc)...], menu, label)."""
    out = {}
    for name, proc in _registered.items():
        pdb_params = [(PDB_INT32, "run-mode", "The run mode")]
        pdb_params += [(_TYPE_MAPPING[p[0]], p[1], p[2]) for p in proc["params"]]
        out[name] = dict(params=pdb_params, menu=proc["menu"], label=proc["label"],
                         imagetypes=proc["imagetypes"])
    return out


_PY_TYPES = {PDB_INT32: (int, bool), PDB_FLOAT: (float, int), PDB_STRING: (str,),
             PDB_IMAGE: (model.Image,), PDB_DRAWABLE: (model.Drawable, type(None)),
             PDB_LAYER: (model.Layer, type(None))}


def run(proc_name, *args):
    """A non-interactive PDB call: returns ('success', None) or ('execution-error', message)."""
    proc = _registered[proc_name]
    params = proc["params"]
    if len(args) != len(params):
        return "calling-error", f"expected {len(params)} arguments, got {len(args)}"
    for p, value in zip(params, args, strict=True):
        if not isinstance(value, _PY_TYPES[_TYPE_MAPPING[p[0]]]):
            return "calling-error", f"argument {p[1]}: {value!r} is not a {p[0]}"
    try:
        proc["function"](*args)
    except Exception as exc:  # pygimp reports any exception as an execution error
        return "execution-error", str(exc)
    return "success", None


def defaults(proc_name):
    return [p[3] for p in _registered[proc_name]["params"]]


def main():
    pass
