#!/usr/bin/env python2
# -*- coding: utf-8 -*-
"""GIMP 2.10 plug-in (Python-Fu, Python 2.7): Filters ▸ Artistic ▸ Neural Style… and Fast
Neural Style…, with the same procedure names and arguments as the GIMP 3 plug-in.

Installed by install.py as plug-ins/neural-style/neural-style.py beside nst_host.py,
the client modules (nst_client, nst_engine, nst_png, nst_errors), nst_schema.json and
nst_config.json. gimpfu builds the dialog from the argument
list (which comes from the engine's schema) and remembers the last values. Many GIMP 2.10 builds
ship without Python-Fu: there this file cannot load ("No module named gimpfu").
"""

from __future__ import absolute_import, division

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gimpfu import (  # noqa: E402
    ADD_SELECTION_MASK,
    GRAY,
    GRAYA_IMAGE,
    INDEXED,
    NORMAL_MODE,
    PF_BOOL,
    PF_DRAWABLE,
    PF_FILE,
    PF_FLOAT,
    PF_IMAGE,
    PF_INT,
    PF_RADIO,
    PF_STRING,
    RGB,
    RGBA_IMAGE,
    gimp,
    main,
    pdb,
    register,
)

import nst_engine  # noqa: E402
import nst_host  # noqa: E402
import nst_png  # noqa: E402
from nst_errors import EngineError  # noqa: E402

HERE = nst_host.plugin_dir(__file__)
STYLE_FILES = ("style", "style-2", "style-3")
TITLES = nst_host.TITLES


# ------------------------------------------------------------------------------- arguments

def _pf_param(arg):
    """One gimpfu parameter tuple from a contract field (same name and default as GIMP 3)."""
    if arg.kind == "int":
        return (PF_INT, arg.name, arg.label, int(arg.default))
    if arg.kind == "float":
        return (PF_FLOAT, arg.name, arg.label, float(arg.default))
    if arg.kind == "bool":
        return (PF_BOOL, arg.name, arg.label, bool(arg.default))
    if arg.kind == "choice":
        # PF_RADIO values are strings in the PDB, so scripts pass "draft", "lbfgs"... as in GIMP 3.
        options = tuple((label, str(c)) for label, c in zip(arg.choice_labels, arg.choices))
        return (PF_RADIO, arg.name, arg.label, str(arg.default), options)
    return (PF_STRING, arg.name, arg.label, str(arg.gimp_default))


def procedure_params(method, schema):
    params = [(PF_IMAGE, "image", "Input image", None),
              (PF_DRAWABLE, "drawable", "Input drawable", None)]
    if method == "gatys":
        params += [(PF_FILE, "style", "Style painting", ""),
                   (PF_FILE, "style-2", "Second style (optional)", ""),
                   (PF_FILE, "style-3", "Third style (optional)", ""),
                   # gimpfu's layer chooser always picks some layer, so using one is explicit.
                   (PF_BOOL, "use-style-layer", "Also use a layer as a style", False),
                   (PF_DRAWABLE, "style-layer", "Style layer", None)]
    elif method == "analogy":
        params += [(PF_FILE, "reference", "Reference picture", ""),
                   (PF_BOOL, "use-reference-layer", "Use a layer as the reference instead",
                    False),
                   (PF_DRAWABLE, "reference-layer", "Reference layer", None)]
    if method == "fast":
        # The any-painting options and the painting come after the network's arguments, so
        # scripts written for the per-painting networks keep working.
        params += [_pf_param(a) for a in nst_host.fast_procedure_args(schema)]
        params += [(PF_FILE, "style", "Any painting (instead of a network)", ""),
                   (PF_BOOL, "use-style-layer", "Use a layer as the painting", False),
                   (PF_DRAWABLE, "style-layer", "Painting layer", None)]
        return params
    params += [_pf_param(a) for a in nst_host.procedure_args(schema, method)]
    return params


# --------------------------------------------------------------------------------- pixels

def _read_rgba(drawable, rect):
    rgn = drawable.get_pixel_rgn(rect.x, rect.y, rect.w, rect.h, False, False)
    data = rgn[rect.x:rect.x2, rect.y:rect.y2]
    return nst_host.to_rgba(data, rect.w, rect.h, drawable.bpp)


class _Gimp2Host(object):
    def __init__(self, image, source, reference=None):
        self.image = image
        self.source = source
        self.reference = reference  # an analogy's reference layer, if it came from a layer

    def alive(self):
        """False once the user closed the image mid-job: the job is cancelled and GIMP is asked
        nothing more about the image."""
        try:
            return bool(pdb.gimp_image_is_valid(self.image)) and \
                bool(pdb.gimp_item_is_valid(self.source))
        except Exception:  # cannot tell: go on (a closed image fails the layer step cleanly)
            return True

    def progress(self, fraction, text):
        if not self.alive():
            return
        pdb.gimp_progress_set_text(text)
        gimp.progress_update(fraction)

    def add_result_layer(self, name, plan, rgba, extras=()):
        image, source = self.image, self.source
        gray = image.base_type == GRAY
        w, h = plan.region.w, plan.region.h
        pdb.gimp_image_undo_group_start(image)
        layer = None
        try:
            layer = gimp.Layer(image, name, w, h, GRAYA_IMAGE if gray else RGBA_IMAGE, 100,
                               NORMAL_MODE)
            pdb.gimp_image_insert_layer(image, layer, source.parent,
                                        pdb.gimp_image_get_item_position(image, source))
            layer.set_offsets(plan.offsets[0], plan.offsets[1])
            rgn = layer.get_pixel_rgn(0, 0, w, h, True, True)
            rgn[0:w, 0:h] = bytes(nst_host.rgba_to_gray(rgba, True) if gray else rgba)
            layer.flush()
            layer.merge_shadow(True)
            layer.update(0, 0, w, h)
            if plan.masked:
                layer.add_mask(layer.create_mask(ADD_SELECTION_MASK))
                # The new mask would be the active drawable; Repeat needs the layer.
                pdb.gimp_layer_set_edit_mask(layer, False)
            for extra in extras:
                self._add_extra(extra)
            image.active_layer = layer
        except Exception:
            if layer is not None and pdb.gimp_item_is_valid(layer) and \
                    pdb.gimp_item_get_image(layer) is not None:
                pdb.gimp_image_remove_layer(image, layer)
            raise
        finally:
            pdb.gimp_image_undo_group_end(image)
        gimp.displays_flush()
        return layer

    def _add_extra(self, extra):
        """An analogy's B: above the reference layer when that is in this image, else in a new
        image of its own (shown in a new window)."""
        ref = self.reference
        same = ref is not None and pdb.gimp_item_get_image(ref) == self.image
        target = self.image if same else gimp.Image(extra.w, extra.h, RGB)
        gray = target.base_type == GRAY
        layer = gimp.Layer(target, extra.label, extra.w, extra.h,
                           GRAYA_IMAGE if gray else RGBA_IMAGE, 100, NORMAL_MODE)
        if same:
            pdb.gimp_image_insert_layer(target, layer, ref.parent,
                                        pdb.gimp_image_get_item_position(target, ref))
            layer.set_offsets(*ref.offsets)
        else:
            pdb.gimp_image_insert_layer(target, layer, None, 0)
        rgn = layer.get_pixel_rgn(0, 0, extra.w, extra.h, True, True)
        rgn[0:extra.w, 0:extra.h] = bytes(nst_host.rgba_to_gray(extra.rgba, True) if gray
                                          else extra.rgba)
        layer.flush()
        layer.merge_shadow(True)
        layer.update(0, 0, extra.w, extra.h)
        if not same:
            gimp.Display(target)


def _check_target(image, drawable):
    if drawable is None or not pdb.gimp_item_is_layer(drawable):
        raise nst_host.HostError("Neural Style works on a layer, not on a channel or layer mask;"
                                 " click the layer's thumbnail rather than its mask.")
    if pdb.gimp_item_is_group(drawable):
        raise nst_host.HostError("'%s' is a layer group: pick one of its layers, or merge the "
                                 "group (Layer ▸ Merge Layer Group) first." % drawable.name)
    if image.base_type == INDEXED:
        raise nst_host.HostError("Neural Style needs an RGB or grayscale image; convert this "
                                 "indexed image with Image ▸ Mode ▸ RGB first.")


def _plan(image, layer):
    non_empty, x1, y1, x2, y2 = pdb.gimp_selection_bounds(image)  # five values in 2.10
    return nst_host.plan_region(layer.offsets, (layer.width, layer.height),
                                (x1, y1, x2, y2) if non_empty else None)


def _styles(files, style_layer):
    styles, names = [], []
    for path in files:
        if path:
            try:
                with open(path, "rb") as fh:
                    styles.append(fh.read())
            except (IOError, OSError) as exc:
                raise nst_host.HostError("Cannot read the style painting %s: %s" % (path, exc))
            names.append(nst_host.style_label(path))
    if style_layer is not None:
        rect = nst_host.Rect(0, 0, style_layer.width, style_layer.height)
        data = _read_rgba(style_layer, rect)
        styles.append(nst_png.png_encode(rect.w, rect.h, bytes(data), 4))
        names.append(_layer_label(style_layer))
    return styles, names


def _layer_label(layer):
    """The layer's name, or its image's file name when the layer's is one GIMP made up."""
    image = getattr(layer, "image", None)
    image_name = None
    if image is not None:
        image_name = getattr(image, "filename", None) or getattr(image, "name", None)
        image_name = os.path.basename(image_name) if image_name else None
    return nst_host.layer_style_label(layer.name, image_name)


# gimpfu saves a dialog's values (gimpshelf key "python-fu-save--<procedure>") before it calls
# the plug-in's function, so a run that is then cancelled (GIMP ends the plug-in) or fails would
# keep the settings just chosen. The function puts the last successful run's values back at
# once and writes the new ones only when the run succeeded.
SAVE_PREFIX = "python-fu-save--"
GOOD_PREFIX = "nst-last-good--"


def _hold_settings(proc_name, method):
    """Returns commit(), to call once the run succeeded."""
    try:
        import gimpshelf

        shelf = gimpshelf.shelf
        key, good = SAVE_PREFIX + proc_name, GOOD_PREFIX + proc_name
        if not shelf.has_key(key):  # noqa: W601 (gimpshelf's own API)
            return lambda: None
        chosen = shelf[key]
        if shelf.has_key(good):  # noqa: W601
            shelf[key] = shelf[good]
        else:  # never a successful run: the registered defaults (gimpshelf cannot delete)
            shelf[key] = [p[3] for p in procedure_params(method, nst_host.load_schema(HERE))]
    except Exception:  # no gimpshelf (a script host), or a damaged shelf: nothing to guard
        return lambda: None

    def commit():
        try:
            shelf[key] = chosen
            shelf[good] = chosen
        except Exception:
            pass
    return commit


# ---------------------------------------------------------------------------------- running

def _run(proc_name, image, drawable, method, values, styles, names, reference=None):
    title = TITLES[proc_name]
    commit = _hold_settings(proc_name, method)
    try:
        config = nst_engine.load_config(os.path.join(HERE, nst_host.CONFIG_FILE))
        _check_target(image, drawable)
        schema = nst_host.load_schema(HERE)
        if method == "fast":
            method, params = nst_host.fast_job(schema, values, bool(styles))
            if method == "fast":
                names = [params["model"]]
        else:
            params = nst_host.values_to_params(nst_host.procedure_args(schema, method), values)
        plan = _plan(image, drawable)
        content = _read_rgba(drawable, plan.context)
        job = nst_host.Job(title, method, params, plan, content, styles, names,
                           nst_host.wanted_extras(method, params))
        gimp.progress_init("%s…" % title)
        nst_host.run_filter(job, _Gimp2Host(image, drawable, reference), nst_engine, config)
        commit()
    except (nst_host.HostError, EngineError) as exc:
        if getattr(exc, "code", None) == "cancelled" and not pdb.gimp_image_is_valid(image):
            return  # the user closed the image: nothing to say about it
        # gimpfu turns the exception into an error dialog (interactive) or an execution error
        # carrying this message (scripts).
        raise RuntimeError(nst_host.user_message(title, exc))


def _field_values(method, schema, given):
    args = nst_host.procedure_args(schema, method)
    return dict(zip([a.field for a in args], given))


def neural_style(image, drawable, style, style_2, style_3, use_style_layer, style_layer,
                 *param_values):
    schema = nst_host.load_schema(HERE)
    title = TITLES[nst_host.GATYS_PROC]
    try:
        styles, names = _styles([style, style_2, style_3],
                                style_layer if use_style_layer else None)
    except nst_host.HostError as exc:
        raise RuntimeError(nst_host.user_message(title, exc))
    _run(nst_host.GATYS_PROC, image, drawable, "gatys",
         _field_values("gatys", schema, param_values), styles, names)


def image_analogy(image, drawable, reference, use_reference_layer, reference_layer,
                  *param_values):
    schema = nst_host.load_schema(HERE)
    title = TITLES[nst_host.ANALOGY_PROC]
    layer = reference_layer if use_reference_layer else None
    try:
        styles, names = _styles([] if layer is not None else [reference], layer)
    except nst_host.HostError as exc:
        raise RuntimeError(nst_host.user_message(title, exc))
    _run(nst_host.ANALOGY_PROC, image, drawable, "analogy",
         _field_values("analogy", schema, param_values), styles, names, layer)


def fast_neural_style(image, drawable, *param_values):
    schema = nst_host.load_schema(HERE)
    args = nst_host.fast_procedure_args(schema)
    # Missing trailing values (a script written before the any-painting options) take defaults.
    given = list(param_values[:len(args)])
    values = dict(zip([a.field for a in args], given + [a.gimp_default
                                                          for a in args[len(given):]]))
    extra = list(param_values[len(args):])
    style, use_layer, layer = (extra + ["", False, None][len(extra):])[:3]
    title = TITLES[nst_host.FAST_PROC]
    try:
        styles, names = _styles([style], layer if use_layer else None)
    except nst_host.HostError as exc:
        raise RuntimeError(nst_host.user_message(title, exc))
    _run(nst_host.FAST_PROC, image, drawable, "fast", values, styles, names)


def register_all():
    schema = nst_host.load_schema(HERE)
    register(nst_host.GATYS_PROC,
             "Repaint the layer (or the selection) in the style of a painting",
             "Gatys et al. optimisation on VGG19 by the local neural-style engine. The result is "
             "a new layer above the source, masked by the selection.",
             nst_host.AUTHOR, nst_host.COPYRIGHT, nst_host.DATE, "Neural Style…", "RGB*, GRAY*",
             procedure_params("gatys", schema), [], neural_style, menu=nst_host.MENU_PATH)
    register(nst_host.FAST_PROC,
             "Repaint the layer (or the selection) with a fast style network or any painting",
             "A feed-forward style network (ONNX) run by the local neural-style engine: an "
             "installed per-painting network, or, when a painting file or layer is given, the "
             "any-painting network with that painting. The result is a new layer above the "
             "source, masked by the selection.",
             nst_host.AUTHOR, nst_host.COPYRIGHT, nst_host.DATE, "Fast Neural Style…",
             "RGB*, GRAY*", procedure_params("fast", schema), [], fast_neural_style,
             menu=nst_host.MENU_PATH)
    register(nst_host.ANALOGY_PROC,
             "Rebuild the layer (or the selection) from a reference picture's own pixels",
             "Deep Image Analogy (Liao et al. 2017) by the local neural-style engine: eye to eye, "
             "tree to tree. The result is a new layer above the source, masked by the selection; "
             "with 'Reverse output' the reference rebuilt with the photo's look is added too.",
             nst_host.AUTHOR, nst_host.COPYRIGHT, nst_host.DATE, "Image Analogy…", "RGB*, GRAY*",
             procedure_params("analogy", schema), [], image_analogy, menu=nst_host.MENU_PATH)


register_all()

if __name__ == "__main__":
    main()
