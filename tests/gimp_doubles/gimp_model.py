"""The image model both GIMP doubles share: pixels, offsets, the soft selection, layer masks,
layer groups and the undo stack, modelled closely enough that geometry is really checked.

Pixels are numpy arrays in the drawable's own format (RGB 3, RGBA 4, GRAY 1, GRAYA 2 bytes per
pixel), like GIMP 2.10's pixel regions. Every change to an image is logged on its undo stack;
changes made between undo_group_start/end form ONE undo step, anything else is a step of its
own, exactly how a user would see them in Edit ▸ Undo.
"""

from __future__ import annotations

import numpy as np

RGB, GRAY, INDEXED = 0, 1, 2
RGB_IMAGE, RGBA_IMAGE, GRAY_IMAGE, GRAYA_IMAGE, INDEXED_IMAGE, INDEXEDA_IMAGE = range(6)
BPP = {RGB_IMAGE: 3, RGBA_IMAGE: 4, GRAY_IMAGE: 1, GRAYA_IMAGE: 2, INDEXED_IMAGE: 1,
       INDEXEDA_IMAGE: 2}
BASE_OF = {RGB_IMAGE: RGB, RGBA_IMAGE: RGB, GRAY_IMAGE: GRAY, GRAYA_IMAGE: GRAY,
           INDEXED_IMAGE: INDEXED, INDEXEDA_IMAGE: INDEXED}


class GimpError(RuntimeError):
    """What GIMP's PDB answers to an invalid call (wrong type, item not in the image, ...)."""


class Image:
    def __init__(self, width, height, base_type=RGB):
        self.width, self.height, self.base_type = width, height, base_type
        self.layers: list[Layer] = []  # top-level, index 0 is the top of the stack
        self.selection = np.zeros((height, width), np.uint8)
        self.undo_steps: list[list[str]] = []  # each entry: the operations of one undo step
        self._group: list[str] | None = None
        self.group_depth = 0
        self.groups_opened = 0
        self.active_layer = None

    # ----------------------------------------------------------------------------- undo
    def record(self, op):
        if self._group is not None:
            self._group.append(op)
        else:
            self.undo_steps.append([op])

    def undo_group_start(self):
        self.group_depth += 1
        self.groups_opened += 1
        if self.group_depth == 1:
            self._group = []

    def undo_group_end(self):
        if self.group_depth == 0:
            raise GimpError("undo_group_end without undo_group_start")
        self.group_depth -= 1
        if self.group_depth == 0:
            if self._group:
                self.undo_steps.append(self._group)
            self._group = None

    # --------------------------------------------------------------------------- layers
    def siblings(self, item):
        return item.parent.children if item.parent is not None else self.layers

    def all_layers(self):
        out = []

        def walk(items):
            for it in items:
                out.append(it)
                if isinstance(it, GroupLayer):
                    walk(it.children)
        walk(self.layers)
        return out

    def insert_layer(self, layer, parent, position):
        if layer.image is not None:
            raise GimpError("layer already in an image")
        if parent is not None and (parent.image is not self or not isinstance(parent,
                                                                               GroupLayer)):
            raise GimpError("parent is not a layer group of this image")
        if layer.base_type != self.base_type:
            raise GimpError("layer type does not match the image's base type")
        stack = parent.children if parent is not None else self.layers
        if not 0 <= position <= len(stack):
            position = 0
        stack.insert(position, layer)
        layer.image, layer.parent = self, parent
        self.record("insert " + layer.name)

    def remove_layer(self, layer):
        if layer.image is not self:
            raise GimpError("layer not in this image")
        self.siblings(layer).remove(layer)
        layer.image = None
        self.record("remove " + layer.name)

    def item_position(self, item):
        if item.image is not self:
            raise GimpError("item not in this image")
        return self.siblings(item).index(item)

    def select_ellipse(self, x, y, w, h, feather=0.0):
        """Anti-aliased ellipse with a linear soft edge `feather` px wide (GIMP feathers with a
        Gaussian; what matters to the plug-ins is that values between 0 and 255 exist)."""
        yy, xx = np.mgrid[0:self.height, 0:self.width].astype(np.float64) + 0.5
        cx, cy, rx, ry = x + w / 2, y + h / 2, w / 2, h / 2
        d = np.sqrt(((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2)  # 1 on the outline
        edge = max(feather, 1.0) / max(min(rx, ry), 1.0)
        a = np.clip((1 + edge / 2 - d) / edge, 0, 1)
        self.selection = np.round(a * 255).astype(np.uint8)

    def selection_bounds(self):
        ys, xs = np.nonzero(self.selection)
        if len(xs) == 0:
            return False, 0, 0, self.width, self.height
        return True, int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1

    def composite(self):
        """Flattened RGBA of the canvas (normal mode, layer masks, alpha), like Image ▸ Flatten
        over a transparent background."""
        out = np.zeros((self.height, self.width, 4), np.float64)

        def paint(items):
            for it in reversed(items):  # bottom first
                if isinstance(it, GroupLayer):
                    paint(it.children)
                    continue
                rgba = it.rgba().astype(np.float64) / 255
                if it.mask is not None:
                    rgba[..., 3] *= it.mask.pixels.astype(np.float64) / 255
                x, y = it.offsets
                x1, y1 = max(x, 0), max(y, 0)
                x2, y2 = min(x + it.width, self.width), min(y + it.height, self.height)
                if x1 >= x2 or y1 >= y2:
                    continue
                src = rgba[y1 - y:y2 - y, x1 - x:x2 - x]
                dst = out[y1:y2, x1:x2]
                a = src[..., 3:4]
                dst[..., :3] = src[..., :3] * a + dst[..., :3] * (1 - a)
                dst[..., 3:4] = a + dst[..., 3:4] * (1 - a)
        paint(self.layers)
        return np.round(out * 255).astype(np.uint8)


class Drawable:
    def __init__(self, width, height, bpp):
        self.width, self.height, self.bpp = width, height, bpp
        self.pixels = np.zeros((height, width, bpp), np.uint8)
        self.image = None
        self.parent = None
        self.name = ""


class Channel(Drawable):
    def __init__(self, width, height, name="channel"):
        super().__init__(width, height, 1)
        self.pixels = np.zeros((height, width), np.uint8)
        self.name = name


class Layer(Drawable):
    def __init__(self, image, name, width, height, layer_type, opacity=100.0, mode=0):
        super().__init__(width, height, BPP[layer_type])
        self.type = layer_type
        self.base_type = BASE_OF[layer_type]
        self.name = name
        self.opacity, self.mode = opacity, mode
        self.offsets = (0, 0)
        self.mask: Channel | None = None
        self.edit_mask = False  # True: the mask, not the layer, is what edits (and Repeat) hit
        self.created_for = image

    @property
    def has_alpha(self):
        return self.bpp in (2, 4)

    def set_offsets(self, x, y):
        self.offsets = (int(x), int(y))
        if self.image is not None:
            self.image.record("offsets " + self.name)

    def rgba(self):
        p = self.pixels
        if self.bpp == 4:
            return p.copy()
        out = np.full((self.height, self.width, 4), 255, np.uint8)
        if self.bpp == 3:
            out[..., :3] = p
        else:
            out[..., :3] = p[..., :1]
            if self.bpp == 2:
                out[..., 3] = p[..., 1]
        return out

    def selection_mask(self):
        """GIMP's 'create mask from selection': the selection under the layer, 0 off-canvas."""
        img = self.created_for if self.image is None else self.image
        mask = Channel(self.width, self.height, self.name + " mask")
        x, y = self.offsets
        x1, y1 = max(x, 0), max(y, 0)
        x2, y2 = min(x + self.width, img.width), min(y + self.height, img.height)
        if x1 < x2 and y1 < y2:
            mask.pixels[y1 - y:y2 - y, x1 - x:x2 - x] = img.selection[y1:y2, x1:x2]
        return mask

    def add_mask(self, mask):
        if self.mask is not None:
            raise GimpError("layer already has a mask")
        if (mask.width, mask.height) != (self.width, self.height):
            raise GimpError("mask size differs from the layer's")
        self.mask = mask
        self.edit_mask = True  # as in GIMP: a new mask becomes the active drawable
        mask.image = self.image
        if self.image is not None:
            self.image.record("mask " + self.name)


class GroupLayer(Layer):
    def __init__(self, image, name="group"):
        super().__init__(image, name, 1, 1, RGBA_IMAGE if image.base_type == RGB
                         else GRAYA_IMAGE)
        self.children: list[Layer] = []


def layer_from_rgba(image, name, rgba, layer_type=None, offsets=(0, 0)):
    """A layer holding `rgba` (H, W, 4) converted to `layer_type` (default: RGB/RGBA by alpha)."""
    h, w = rgba.shape[:2]
    if layer_type is None:
        layer_type = RGBA_IMAGE if (rgba[..., 3] < 255).any() else RGB_IMAGE
    layer = Layer(image, name, w, h, layer_type)
    if layer.bpp >= 3:
        layer.pixels = rgba[..., :layer.bpp].copy()
    else:
        luma = np.round(rgba[..., 0] * 0.299 + rgba[..., 1] * 0.587 + rgba[..., 2] * 0.114)
        layer.pixels[..., 0] = luma.astype(np.uint8)
        if layer.bpp == 2:
            layer.pixels[..., 1] = rgba[..., 3]
    layer.offsets = offsets
    return layer
