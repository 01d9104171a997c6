# -*- coding: utf-8 -*-
# ruff: noqa: UP004, UP009, UP010, UP031  (Python 2.7 code: new-style classes need `object`)
"""Run the GIMP 2.10 plug-in under a real Python 2.7 (driven by tests/test_plugin_py27.py).

GIMP 2.10's Python-Fu is Python 2.7, where str is bytes: this runs the installed plug-in file
with a minimal Python 2 gimpfu stand-in (byte-string pixel regions in the drawable's own format,
five-value selection bounds, shadow merge, undo group calls) and a fake engine client that
inverts the colours of what it is sent, using the real nst_png PNG codec. It prints one JSON
document with what happened; the Python 3 test checks it against nst_host's own geometry.
Usage: python2.7 py27_run.py PLUGIN_FOLDER
"""
from __future__ import print_function

import imp
import json
import sys
import types

folder = sys.argv[1]
sys.path.insert(0, folder)
import nst_engine  # noqa: E402  (the real ones, under Python 2.7)
import nst_png  # noqa: E402

RGB, GRAY, INDEXED = 0, 1, 2
RGB_IMAGE, RGBA_IMAGE, GRAY_IMAGE, GRAYA_IMAGE = 0, 1, 2, 3
BPP = {RGB_IMAGE: 3, RGBA_IMAGE: 4, GRAY_IMAGE: 1, GRAYA_IMAGE: 2}
log = []


class Image(object):
    def __init__(self, w, h, base, selection):
        self.width, self.height, self.base_type = w, h, base
        self.layers = []
        self.selection = selection  # bytearray w*h, or None
        self.active_layer = None


class PixelRgn(object):
    def __init__(self, d, x, y, w, h, dirty, shadow):
        assert 0 <= x and 0 <= y and x + w <= d.width and y + h <= d.height
        self.d, self.shadow = d, shadow

    def __getitem__(self, key):
        xs, ys = key
        d, out = self.d, []
        for y in range(ys.start, ys.stop):
            row = (y * d.width + xs.start) * d.bpp
            out.append(bytes(d.pixels[row:row + (xs.stop - xs.start) * d.bpp]))
        data = "".join(out)
        assert isinstance(data, str)  # Python 2 pixel regions are byte strings
        return data

    def __setitem__(self, key, data):
        assert isinstance(data, str), type(data)
        xs, ys = key
        d = self.d
        target = d.shadow if self.shadow else d.pixels
        w = (xs.stop - xs.start) * d.bpp
        for i, y in enumerate(range(ys.start, ys.stop)):
            row = (y * d.width + xs.start) * d.bpp
            target[row:row + w] = bytearray(data[i * w:(i + 1) * w])


class Layer(object):
    def __init__(self, image, name, w, h, kind, opacity=100, mode=0):
        self.name, self.width, self.height, self.bpp = name, w, h, BPP[kind]
        self.pixels = bytearray(w * h * self.bpp)
        self.shadow = bytearray(w * h * self.bpp)
        self.offsets = (0, 0)
        self.parent, self.image, self.mask = None, None, None
        self.created_for = image

    def get_pixel_rgn(self, x, y, w, h, dirty=True, shadow=False):
        return PixelRgn(self, x, y, w, h, dirty, shadow)

    def set_offsets(self, x, y):
        self.offsets = (x, y)
        log.append("offsets")

    def flush(self):
        pass

    def merge_shadow(self, undo):
        self.pixels[:] = self.shadow
        log.append("pixels")

    def update(self, x, y, w, h):
        pass

    def create_mask(self, kind):
        assert kind == 4
        img, (ox, oy) = self.created_for, self.offsets
        mask = bytearray(self.width * self.height)
        for y in range(self.height):
            for x in range(self.width):
                ix, iy = x + ox, y + oy
                if 0 <= ix < img.width and 0 <= iy < img.height:
                    mask[y * self.width + x] = img.selection[iy * img.width + ix]
        return mask

    def add_mask(self, mask):
        self.mask = mask
        log.append("mask")


class Pdb(object):
    def gimp_image_undo_group_start(self, image):
        log.append("undo_start")

    def gimp_image_undo_group_end(self, image):
        log.append("undo_end")

    def gimp_image_insert_layer(self, image, layer, parent, position):
        image.layers.insert(position, layer)
        layer.image, layer.parent = image, parent
        log.append("insert")

    def gimp_image_remove_layer(self, image, layer):
        image.layers.remove(layer)
        log.append("remove")

    def gimp_image_get_item_position(self, image, item):
        return image.layers.index(item)

    def gimp_layer_set_edit_mask(self, layer, edit):
        layer.edit_mask = bool(edit)
        log.append("edit_mask %s" % bool(edit))

    def gimp_selection_bounds(self, image):
        sel = image.selection
        if sel is None or not any(sel):
            return (0, 0, 0, image.width, image.height)
        xs = [i % image.width for i, v in enumerate(sel) if v]
        ys = [i // image.width for i, v in enumerate(sel) if v]
        return (1, min(xs), min(ys), max(xs) + 1, max(ys) + 1)

    def gimp_item_is_layer(self, item):
        return isinstance(item, Layer)

    def gimp_item_is_group(self, item):
        return False

    def gimp_item_is_valid(self, item):
        return True

    def gimp_image_is_valid(self, image):
        return True

    def gimp_item_get_image(self, item):
        return item.image

    def gimp_progress_set_text(self, text):
        log.append("text:" + text)


class Gimp(object):
    Layer = Layer

    def progress_init(self, text):
        log.append("init")

    def progress_update(self, f):
        assert 0.0 <= f <= 1.0
        log.append("fraction:%.3f" % f)

    def displays_flush(self):
        pass


registered = {}
gimpfu = types.ModuleType("gimpfu")
for i, n in enumerate(["PF_BOOL", "PF_DRAWABLE", "PF_FILE", "PF_FLOAT", "PF_IMAGE", "PF_INT",
                       "PF_RADIO", "PF_STRING"]):
    setattr(gimpfu, n, 1000 + i)
gimpfu.RGB, gimpfu.GRAY, gimpfu.INDEXED = RGB, GRAY, INDEXED
gimpfu.RGBA_IMAGE, gimpfu.GRAYA_IMAGE, gimpfu.NORMAL_MODE, gimpfu.ADD_SELECTION_MASK = 1, 3, 0, 4
gimpfu.gimp, gimpfu.pdb = Gimp(), Pdb()
gimpfu.register = lambda name, *a, **k: registered.__setitem__(name, (a[7], a[9]))
gimpfu.main = lambda: None
sys.modules["gimpfu"] = gimpfu

plugin = imp.load_source("neural_style_gimp2_py27", folder + "/neural-style.py")


class FakeClient(object):
    def __init__(self):
        self.sent = None

    def submit(self, request, content_png, mask_png=None, styles=()):
        json.dumps(request)
        self.request = request
        self.sent = nst_png.png_decode(content_png)
        return "job-1"

    def wait(self, job_id, on_progress=None, poll=0.25):
        for f in (0.0, 0.5, 1.0):
            on_progress({"state": "running", "progress": f, "stage": "step"})
        return {"state": "done"}

    def result(self, job_id):
        w, h, ch, data = self.sent
        inverted = bytearray(data)
        for i in range(len(inverted)):
            if i % 4 != 3:
                inverted[i] = 255 - inverted[i]
        return nst_png.png_encode(w, h, bytes(inverted), 4)


client = FakeClient()
fake = types.ModuleType("nst_engine_fake")
fake.load_config = nst_engine.load_config
fake.ensure_engine = lambda config, on_status=None: (on_status("starting engine…"), client)[1]
plugin.nst_engine = fake

spec = json.loads(sys.stdin.read())
w, h = spec["layer"]
img = Image(spec["canvas"][0], spec["canvas"][1], GRAY if spec["gray"] else RGB,
            bytearray(spec["selection"]) if spec["selection"] else None)
src = Layer(img, "Photo", w, h, GRAY_IMAGE if spec["gray"] else RGB_IMAGE)
src.pixels[:] = bytearray(spec["pixels"])
src.offsets = tuple(spec["offsets"])
img.layers.append(src)
before = bytes(src.pixels)
args = [spec["fast_args"][f] for f in spec["fast_order"]]
error = None
try:
    plugin.fast_neural_style(img, src, *args)
except Exception as exc:  # gimpfu's view: an execution error with this message
    error = str(exc)
new = img.layers[0] if len(img.layers) > 1 else None
print(json.dumps({
    "python": list(sys.version_info[:2]),
    "registered": dict((k, [[p[0], p[1], p[3]] for p in v[0]]) for k, v in registered.items()),
    "error": error,
    "source_unchanged": bytes(src.pixels) == before,
    "sent": [client.sent[0], client.sent[1], list(bytearray(client.sent[3]))] if client.sent
    else None,
    "request": getattr(client, "request", None),
    "new": None if new is None else {
        "name": new.name, "offsets": list(new.offsets), "size": [new.width, new.height],
        "bpp": new.bpp, "pixels": list(new.pixels),
        "mask": list(new.mask) if new.mask is not None else None},
    "log": log,
}))
