#!/usr/bin/env python3
# -*- coding: utf-8 -*-
"""GIMP 3 plug-in: Filters ▸ Artistic ▸ Neural Style… and Fast Neural Style….

Installed by install.py as plug-ins/neural-style/neural-style.py, beside nst_host.py,
the client modules (nst_client, nst_engine, nst_png, nst_errors), nst_schema.json (the engine's parameter schema, so arguments can be registered
before any engine runs) and nst_config.json (engine URL, token file, engine command). This file
only talks to GIMP; the decisions live in nst_host, the HTTP in nst_client, engine start-up in
nst_engine.
"""

import os
import sys

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp, GLib, GObject  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nst_engine  # noqa: E402
import nst_host  # noqa: E402
import nst_png  # noqa: E402
from nst_errors import EngineError  # noqa: E402

HERE = nst_host.plugin_dir(__file__)
RGBA = "R'G'B'A u8"
RW = GObject.ParamFlags.READWRITE
# Extra style slots beyond the first file: "several styles with weights" without a list type
# in GIMP 3.0's procedure arguments.
STYLE_FILES = ("style", "style-2", "style-3")
TITLES = nst_host.TITLES
METHODS = nst_host.METHODS


def _schema():
    return nst_host.load_schema(HERE)


def _add_param_argument(procedure, arg):
    blurb = arg.help
    if arg.kind == "int":
        procedure.add_int_argument(arg.name, arg.label, blurb, int(arg.min), int(arg.max),
                                   int(arg.default), RW)
    elif arg.kind == "float":
        procedure.add_double_argument(arg.name, arg.label, blurb, float(arg.min),
                                      float(arg.max), float(arg.default), RW)
    elif arg.kind == "bool":
        procedure.add_boolean_argument(arg.name, arg.label, blurb, bool(arg.default), RW)
    elif arg.kind == "choice":
        choice = Gimp.Choice.new()
        for i, nick in enumerate(arg.choices):
            choice.add(nick, i, arg.choice_labels[i], "")
        procedure.add_choice_argument(arg.name, arg.label, blurb, choice, arg.default, RW)
    else:  # string, float_list (comma-separated)
        procedure.add_string_argument(arg.name, arg.label, blurb, arg.gimp_default, RW)


def _param_values(config, args):
    return {a.field: config.get_property(a.name) for a in args}


class _Gimp3Host(object):
    """What nst_host.run_filter needs from GIMP 3: progress and putting the result in."""

    def __init__(self, image, source, reference=None, interactive=False):
        self.image = image
        self.source = source
        self.reference = reference  # an analogy's reference layer, if it came from a layer
        self.interactive = interactive

    def progress(self, fraction, text):
        Gimp.progress_set_text(text)
        Gimp.progress_update(fraction)

    def add_result_layer(self, name, plan, rgba, extras=()):
        image, source = self.image, self.source
        gray = image.get_base_type() == Gimp.ImageBaseType.GRAY
        kind = Gimp.ImageType.GRAYA_IMAGE if gray else Gimp.ImageType.RGBA_IMAGE
        w, h = plan.region.w, plan.region.h
        image.undo_group_start()
        layer = None
        try:
            layer = Gimp.Layer.new(image, name, w, h, kind, 100.0, Gimp.LayerMode.NORMAL)
            image.insert_layer(layer, source.get_parent(), image.get_item_position(source))
            layer.set_offsets(plan.offsets[0], plan.offsets[1])
            buf = layer.get_buffer()
            buf.set(Gegl.Rectangle.new(0, 0, w, h), RGBA, bytes(rgba))
            buf.flush()
            layer.update(0, 0, w, h)
            if plan.masked:
                # From the selection as it is now, so feathered edges stay soft.
                layer.add_mask(layer.create_mask(Gimp.AddMaskType.SELECTION))
                # Adding a mask makes it the active drawable; Repeat and the next run need the
                # layer itself.
                layer.set_edit_mask(False)
            for extra in extras:
                self._add_extra(extra)
            image.set_selected_layers([layer])
        except Exception:
            if layer is not None and layer.get_image() is not None:
                image.remove_layer(layer)
            raise
        finally:
            image.undo_group_end()
        Gimp.displays_flush()
        return layer

    def _add_extra(self, extra):
        """An analogy's B: above the reference layer when that is in this image (inside this
        undo group), else in a new image of its own."""
        ref = self.reference
        if ref is not None and ref.get_image() == self.image:
            target, parent, position = self.image, ref.get_parent(), \
                self.image.get_item_position(ref)
        else:
            target = Gimp.Image.new(extra.w, extra.h, Gimp.ImageBaseType.RGB)
            parent, position = None, 0
        kind = Gimp.ImageType.GRAYA_IMAGE if target.get_base_type() == \
            Gimp.ImageBaseType.GRAY else Gimp.ImageType.RGBA_IMAGE
        layer = Gimp.Layer.new(target, extra.label, extra.w, extra.h, kind, 100.0,
                               Gimp.LayerMode.NORMAL)
        target.insert_layer(layer, parent, position)
        if ref is not None and target == self.image:
            layer.set_offsets(*ref.get_offsets()[1:])
        buf = layer.get_buffer()
        buf.set(Gegl.Rectangle.new(0, 0, extra.w, extra.h), RGBA, bytes(extra.rgba))
        buf.flush()
        layer.update(0, 0, extra.w, extra.h)
        if target != self.image and self.interactive:
            Gimp.Display.new(target)


def _read_rgba(drawable, rect):
    buf = drawable.get_buffer()
    return buf.get(Gegl.Rectangle.new(rect.x, rect.y, rect.w, rect.h), 1.0, RGBA,
                   Gegl.AbyssPolicy.CLAMP)


def _check_target(image, drawables):
    if len(drawables) != 1:
        raise nst_host.HostError("Select exactly one layer (%d are selected)." % len(drawables))
    d = drawables[0]
    if not d.is_layer():
        raise nst_host.HostError("Neural Style works on a layer, not on a channel or layer mask;"
                                 " click the layer's thumbnail rather than its mask.")
    if d.is_group():
        raise nst_host.HostError("'%s' is a layer group: pick one of its layers, or merge the "
                                 "group (Layer ▸ Merge Layer Group) first." % d.get_name())
    if image.get_base_type() == Gimp.ImageBaseType.INDEXED:
        raise nst_host.HostError("Neural Style needs an RGB or grayscale image; convert this "
                                 "indexed image with Image ▸ Mode ▸ RGB first.")
    return d


def _plan(image, layer):
    result = Gimp.Selection.bounds(image)  # (ok, non_empty, x1, y1, x2, y2) in GIMP 3
    non_empty, corners = result[1], tuple(result[2:6])
    ok, lx, ly = layer.get_offsets()
    return nst_host.plan_region((lx, ly), (layer.get_width(), layer.get_height()),
                                corners if non_empty else None)


def _style_from_file(gfile):
    path = gfile.get_path()
    try:
        with open(path, "rb") as fh:
            return fh.read(), nst_host.style_label(path)
    except (IOError, OSError) as exc:
        raise nst_host.HostError("Cannot read the style painting %s: %s" % (path, exc))


def _style_from_layer(drawable):
    w, h = drawable.get_width(), drawable.get_height()
    data = _read_rgba(drawable, nst_host.Rect(0, 0, w, h))
    return nst_png.png_encode(w, h, bytes(data), 4), nst_host.style_label(drawable.get_name())


def _collect_styles(config, files=STYLE_FILES):
    styles, names = [], []
    for name in files:
        gfile = config.get_property(name)
        if gfile is not None and gfile.get_path():
            data, label = _style_from_file(gfile)
            styles.append(data)
            names.append(label)
    layer = config.get_property("style-layer")
    if layer is not None:
        data, label = _style_from_layer(layer)
        styles.append(data)
        names.append(label)
    return styles, names


def _collect_reference(config, layer):
    """An analogy's one reference: the layer when one is given, else the file."""
    if layer is not None:
        data, label = _style_from_layer(layer)
        return [data], [label]
    gfile = config.get_property("reference")
    if gfile is not None and gfile.get_path():
        data, label = _style_from_file(gfile)
        return [data], [label]
    return [], []


class NeuralStyle(Gimp.PlugIn):
    def do_query_procedures(self):
        return [nst_host.GATYS_PROC, nst_host.FAST_PROC, nst_host.ANALOGY_PROC]

    def do_set_i18n(self, name):
        return False

    def do_create_procedure(self, name):
        procedure = Gimp.ImageProcedure.new(self, name, Gimp.PDBProcType.PLUGIN, self.run, None)
        procedure.set_image_types("RGB*, GRAY*")
        procedure.set_sensitivity_mask(Gimp.ProcedureSensitivityMask.DRAWABLE)
        procedure.set_attribution(nst_host.AUTHOR, nst_host.COPYRIGHT, nst_host.DATE)
        method = METHODS[name]
        if method == "gatys":
            procedure.set_menu_label("Neural Style…")
            procedure.set_documentation(
                "Repaint the layer (or the selection) in the style of a painting",
                "Gatys et al. optimisation on VGG19 by the local neural-style engine. The result "
                "is a new layer above the source, masked by the selection.", name)
            procedure.add_file_argument("style", "Style painting", "Picture whose style is used",
                                        Gimp.FileChooserAction.OPEN, True, None, RW)
            procedure.add_file_argument("style-2", "Second style", "Optional second painting",
                                        Gimp.FileChooserAction.OPEN, True, None, RW)
            procedure.add_file_argument("style-3", "Third style", "Optional third painting",
                                        Gimp.FileChooserAction.OPEN, True, None, RW)
            procedure.add_drawable_argument("style-layer", "Style layer",
                                            "A layer of any open image used as a style "
                                            "(after the files)", True, RW)
        elif method == "analogy":
            procedure.set_menu_label("Image Analogy…")
            procedure.set_documentation(
                "Rebuild the layer (or the selection) from a reference picture's own pixels, "
                "part by part",
                "Deep Image Analogy (Liao et al. 2017) by the local neural-style engine: eye to "
                "eye, tree to tree. The result is a new layer above the source, masked by the "
                "selection; with 'Reverse output' the reference rebuilt with the photo's look "
                "is added too (above the reference layer, or as a new image).", name)
            procedure.add_file_argument("reference", "Reference picture",
                                        "A painting, a sketch or another photo",
                                        Gimp.FileChooserAction.OPEN, True, None, RW)
            procedure.add_drawable_argument("reference-layer", "Reference layer",
                                            "A layer of any open image (instead of the file)",
                                            True, RW)
        else:
            procedure.set_menu_label("Fast Neural Style…")
            procedure.set_documentation(
                "Repaint the layer (or the selection) with a fast style network or any painting",
                "A feed-forward style network (ONNX) run by the local neural-style engine: an "
                "installed per-painting network, or, when a painting file or layer is given, "
                "the any-painting network with that painting. The result is a new layer above "
                "the source, masked by the selection.", name)
        procedure.add_menu_path("<Image>/Filters/Artistic")  # after the label: GIMP needs it
        args = (nst_host.fast_procedure_args(_schema()) if method == "fast"
                else nst_host.procedure_args(_schema(), method))
        for arg in args:
            _add_param_argument(procedure, arg)
        if method == "fast":
            procedure.add_file_argument("style", "Any painting",
                                        "A painting used instead of the network (any-painting "
                                        "network)", Gimp.FileChooserAction.OPEN, True, None, RW)
            procedure.add_drawable_argument("style-layer", "Painting layer",
                                            "A layer of any open image used as the painting",
                                            True, RW)
        return procedure

    def run(self, procedure, run_mode, image, drawables, config, data):
        name = procedure.get_name()
        title, method = TITLES[name], METHODS[name]
        schema = _schema()
        args = (nst_host.fast_procedure_args(schema) if method == "fast"
                else nst_host.procedure_args(schema, method))
        try:
            engine_config = nst_engine.load_config(os.path.join(HERE, nst_host.CONFIG_FILE))
            layer = _check_target(image, drawables)
            if run_mode == Gimp.RunMode.INTERACTIVE:
                import nst_dialog_gimp3

                if not nst_dialog_gimp3.run_dialog(procedure, config, title, method,
                                                   engine_config):
                    return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, GLib.Error())
            values = _param_values(config, args)
            reference = None
            if method == "analogy":
                reference = config.get_property("reference-layer")
                styles, names = _collect_reference(config, reference)
                params = nst_host.values_to_params(args, values)
            else:
                styles, names = _collect_styles(config, STYLE_FILES if method == "gatys"
                                                else STYLE_FILES[:1])
                if method == "fast":
                    method, params = nst_host.fast_job(schema, values, bool(styles))
                    if method == "fast":
                        names = [params["model"]]
                else:
                    params = nst_host.values_to_params(args, values)
            plan = _plan(image, layer)
            content = _read_rgba(layer, plan.context)
            job = nst_host.Job(title, method, params, plan, content, styles, names,
                               nst_host.wanted_extras(method, params))
            Gimp.progress_init("%s…" % title)
            host = _Gimp3Host(image, layer, reference, run_mode == Gimp.RunMode.INTERACTIVE)
            nst_host.run_filter(job, host, nst_engine, engine_config)
        except (nst_host.HostError, EngineError) as exc:
            return self._fail(procedure, run_mode, nst_host.user_message(title, exc), exc)
        except Exception as exc:  # the plug-in's edge: report, never leave GIMP hanging
            import traceback

            traceback.print_exc()
            return self._fail(procedure, run_mode, "%s failed unexpectedly: %s" % (title, exc),
                              exc)
        finally:
            Gimp.progress_end()
        return procedure.new_return_values(Gimp.PDBStatusType.SUCCESS, GLib.Error())

    def _fail(self, procedure, run_mode, message, exc):
        code = getattr(exc, "code", "")
        if code == "cancelled":
            status = Gimp.PDBStatusType.CANCEL
        elif isinstance(exc, nst_host.HostError) and code != "bad_result":
            status = Gimp.PDBStatusType.CALLING_ERROR  # the caller's input; fixable by them
        else:
            status = Gimp.PDBStatusType.EXECUTION_ERROR
        return procedure.new_return_values(
            status, GLib.Error.new_literal(Gimp.PlugIn.error_quark(), message, 0))


if __name__ == "__main__":
    Gimp.main(NeuralStyle.__gtype__, sys.argv)
