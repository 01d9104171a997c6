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
from gi.repository import Gegl, Gimp, Gio, GLib, GObject  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nst_engine  # noqa: E402
import nst_host  # noqa: E402
import nst_png  # noqa: E402
import nst_preview  # noqa: E402
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


def _add_param_argument(procedure, arg, label=None):
    blurb = arg.help
    label = label or arg.label
    if arg.kind == "int":
        procedure.add_int_argument(arg.name, label, blurb, int(arg.min), int(arg.max),
                                   int(arg.default), RW)
    elif arg.kind == "float":
        procedure.add_double_argument(arg.name, label, blurb, float(arg.min),
                                      float(arg.max), float(arg.default), RW)
    elif arg.kind == "bool":
        procedure.add_boolean_argument(arg.name, label, blurb, bool(arg.default), RW)
    elif arg.kind == "choice":
        choice = Gimp.Choice.new()
        for i, nick in enumerate(arg.choices):
            choice.add(nick, i, arg.choice_labels[i], "")
        procedure.add_choice_argument(arg.name, label, blurb, choice, arg.default, RW)
    else:  # string, float_list (comma-separated)
        procedure.add_string_argument(arg.name, label, blurb, arg.gimp_default, RW)


def _add_painting_argument(procedure, spec, label):
    kind, name, _, blurb = spec
    if kind == "file":
        procedure.add_file_argument(name, label, blurb, Gimp.FileChooserAction.OPEN, True, None,
                                    RW)
    else:
        procedure.add_drawable_argument(name, label, blurb, True, RW)


def _param_values(config, args):
    return {a.field: config.get_property(a.name) for a in args}


class _Gimp3Host(object):
    """What nst_host.run_filter needs from GIMP 3: progress and putting the result in."""

    def __init__(self, image, source, reference=None, interactive=False, recipe=None,
                 replace=None):
        self.image = image
        self.source = source
        self.reference = reference  # an analogy's reference layer, if it came from a layer
        self.interactive = interactive
        self.recipe = recipe  # bytes of the parasite the result keeps (its settings)
        self.replace = replace  # restyle: the earlier result this one takes the place of

    def alive(self):
        """False once the user closed the image: the job is then cancelled and nothing more is
        asked of GIMP about it (every call would fail "invalid ID for argument 'image'")."""
        try:
            return bool(self.image.is_valid()) and bool(self.source.is_valid())
        except Exception:  # cannot tell: go on (a closed image fails the layer step cleanly)
            return True

    def progress(self, fraction, text):
        if not self.alive():
            return
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
            old = self.replace if self.replace is not None and self.replace.is_valid() else None
            if old is not None:  # restyle: where the earlier result was, which goes
                image.insert_layer(layer, old.get_parent(), image.get_item_position(old))
            else:
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
            if self.recipe is not None:
                flags = getattr(Gimp, "PARASITE_PERSISTENT", 1) | \
                    getattr(Gimp, "PARASITE_UNDOABLE", 2)
                layer.attach_parasite(Gimp.Parasite.new(nst_host.RECIPE_PARASITE, flags,
                                                        list(bytearray(self.recipe))))
            if old is not None:
                image.remove_layer(old)
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


def _read_scaled(drawable, rect, side):
    """(w, h, RGBA bytes) of `rect` (drawable-local) at most `side` px on its longer side. GIMP
    scales it (a drawable's sub-thumbnail); GEGL's own scaled read returns empty pixels in a
    plug-in (GIMP 3.0.4)."""
    w, h, scale = nst_preview.preview_size(rect.w, rect.h, side)
    if scale >= 1.0:
        return rect.w, rect.h, bytes(_read_rgba(drawable, rect))
    got = drawable.get_sub_thumbnail_data(rect.x, rect.y, rect.w, rect.h, w, h)
    data, w, h, bpp = got[0], got[1], got[2], got[3]
    data = data.get_data() if hasattr(data, "get_data") else data
    return w, h, bytes(nst_host.to_rgba(bytes(data), w, h, bpp))


def _image_label(image):
    gfile = image.get_file()
    if gfile is not None and gfile.get_path():
        return os.path.basename(gfile.get_path())
    return image.get_name()


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


def _layer_label(drawable):
    """The layer's name, or its image's file name when the layer's is one GIMP made up."""
    image = drawable.get_image()
    return nst_host.layer_style_label(drawable.get_name(),
                                      _image_label(image) if image is not None else None)


def _style_from_layer(drawable, side=None):
    w, h = drawable.get_width(), drawable.get_height()
    if side:
        w, h, data = _read_scaled(drawable, nst_host.Rect(0, 0, w, h), side)
    else:
        data = _read_rgba(drawable, nst_host.Rect(0, 0, w, h))
    return nst_png.png_encode(w, h, bytes(data), 4), _layer_label(drawable)


class PreviewSource(object):
    """What the dialog's preview needs from GIMP, read on the main loop: the region that will be
    styled at preview size, and the painting(s) as chosen in the dialog right now."""

    STYLE_SIDE = 512  # the any-painting network reads paintings at 256..512 px anyway

    def __init__(self, image, layer, method, schema):
        self.method = method
        self.schema = schema
        plan = _plan(image, layer)
        w, h, rgba = _read_scaled(layer, plan.region, nst_preview.PREVIEW_SIDE)
        self.size = (w, h)
        self.rgba = rgba
        self.content_png = nst_png.png_encode(w, h, rgba, 4)
        self.content_id = "%d:%r" % (id(layer), plan.region)
        self.region_long = max(plan.context.w, plan.context.h)  # what the engine is sent
        self.region_short = min(plan.context.w, plan.context.h)
        self.estimates = None  # the engine's Gatys time estimates (health), once it answers
        self._files = {}

    def _file(self, gfile):
        path = gfile.get_path()
        try:
            stamp = os.path.getmtime(path)
        except OSError:
            stamp = None
        key = (path, stamp)
        if key not in self._files:
            self._files[key] = _style_from_file(gfile)[0]
        return self._files[key]

    def styles(self, config):
        out = []
        if self.method == "analogy":
            names, layer_prop = ("reference",), "reference-layer"
            layer = config.get_property(layer_prop)
            if layer is not None:
                return [_style_from_layer(layer, self.STYLE_SIDE)[0]]
        else:
            names = STYLE_FILES if self.method == "gatys" else STYLE_FILES[:1]
        for name in names:
            gfile = config.get_property(name)
            if gfile is not None and gfile.get_path():
                out.append(self._file(gfile))
        if self.method != "analogy":
            layer = config.get_property("style-layer")
            if layer is not None:
                out.append(_style_from_layer(layer, self.STYLE_SIDE)[0])
        return out

    def size_hint(self, config):
        """Neural Style's size against this region ("" for the other methods)."""
        if self.method != "gatys":
            return ""
        return nst_host.size_hint(config.get_property("size"), self.region_long,
                                  config.get_property("upscale"), self.estimates,
                                  config.get_property("quality"), self.region_short)

    def missing_style(self, config):
        """Why OK cannot be pressed yet (None when it can)."""
        if self.method == "fast":
            return None
        if self.method == "analogy":
            has = config.get_property("reference-layer") is not None or _has_file(
                config, ("reference",))
            return None if has else "Choose a reference picture (a file or a layer) to run."
        has = config.get_property("style-layer") is not None or _has_file(config, STYLE_FILES)
        return None if has else "Choose a style painting (a file or a layer) to run."

    def request(self, config, model=None, real=False):
        """(nst_preview.Request, None), or (None, why no preview can be made now). `real`: the
        slow method itself at preview size (the dialog's button), not the approximation."""
        try:
            styles = self.styles(config)
            args = (nst_host.fast_procedure_args(self.schema) if self.method == "fast"
                    else nst_host.procedure_args(self.schema, self.method))
            values = _param_values(config, args)
            if self.method == "fast":
                if model:
                    values["model"] = model
                method, params = nst_host.fast_job(self.schema, values, bool(styles))
            else:
                method, params = self.method, nst_host.values_to_params(args, values)
        except (nst_host.HostError, EngineError) as exc:
            return None, getattr(exc, "message", str(exc))
        if real:
            if not styles:
                return None, nst_preview.preview_job(method, params, 0)[2]
            method, params, label = nst_preview.low_res_job(method, params, max(self.size))
        else:
            method, params, label = nst_preview.preview_job(method, params, len(styles))
        if method is None:
            return None, label
        return nst_preview.Request(method, params, self.content_png, styles, label,
                                   self.content_id), None


def _recipe_values(procedure, config):
    """The procedure's argument values, JSON-able, for the result's recipe parasite."""
    values = {}
    for spec in procedure.get_arguments():
        name = spec.name
        if name in ("run-mode", "image", "drawables"):
            continue
        value = config.get_property(name)
        if value is None:
            continue
        if hasattr(value, "get_path"):  # a Gio.File
            if value.get_path():
                values[name] = {"file": value.get_path()}
        elif hasattr(value, "get_tattoo"):  # a layer of an open image
            values[name] = {"layer_tattoo": value.get_tattoo()}
        elif isinstance(value, (bool, int, float, str)):
            values[name] = value
        else:
            values[name] = str(value)
    return values


def _recipe_of(layer, procedure_name):
    """The recipe of `procedure_name` stored on `layer` (a result of it), or None."""
    try:
        parasite = layer.get_parasite(nst_host.RECIPE_PARASITE)
    except Exception:
        return None
    if parasite is None:
        return None
    return nst_host.recipe_from_bytes(parasite.get_data(), procedure_name)


def _apply_recipe(config, recipe, image):
    """Put a result's settings back into the dialog's config (what cannot be, is skipped: a
    painting layer of an image that is closed now, a value out of today's range)."""
    for name, value in recipe["values"].items():
        try:
            if isinstance(value, dict) and "file" in value:
                value = Gio.File.new_for_path(value["file"])
            elif isinstance(value, dict) and "layer_tattoo" in value:
                value = image.get_layer_by_tattoo(value["layer_tattoo"])
                if value is None:
                    continue
            config.set_property(name, value)
        except Exception:
            continue


def _restyle_source(image, result, recipe):
    """The layer a result was made from: by its tattoo, else the layer right below it."""
    source = None
    try:
        source = image.get_layer_by_tattoo(int(recipe.get("source_tattoo")))
    except Exception:
        source = None
    if source is None or source == result:
        parent = result.get_parent()
        siblings = parent.get_children() if parent is not None else image.get_layers()
        pos = image.get_item_position(result)
        source = siblings[pos + 1] if pos + 1 < len(siblings) else None
    return source


def _has_file(config, names):
    for name in names:
        gfile = config.get_property(name)
        if gfile is not None and gfile.get_path():
            return True
    return False


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
        # Painting arguments: (kind, name, label, blurb); files before the engine's fields,
        # except Fast Neural Style's, which come last (scripts pass the fields by position).
        before, after = [], []
        if method == "gatys":
            procedure.set_menu_label("Neural Style…")
            procedure.set_documentation(
                "Repaint the layer (or the selection) in the style of a painting",
                "Gatys et al. optimisation on VGG19 by the local neural-style engine. The result "
                "is a new layer above the source, masked by the selection.", name)
            before = [("file", "style", "Style painting", "Picture whose style is used"),
                      ("file", "style-2", "Second style", "Optional second painting"),
                      ("file", "style-3", "Third style", "Optional third painting"),
                      ("layer", "style-layer", "Style layer",
                       "A layer of any open image used as a style (after the files)")]
        elif method == "analogy":
            procedure.set_menu_label("Image Analogy…")
            procedure.set_documentation(
                "Rebuild the layer (or the selection) from a reference picture's own pixels, "
                "part by part",
                "Deep Image Analogy (Liao et al. 2017) by the local neural-style engine: eye to "
                "eye, tree to tree. The result is a new layer above the source, masked by the "
                "selection; with 'Reverse output' the reference rebuilt with the photo's look "
                "is added too (above the reference layer, or as a new image).", name)
            before = [("file", "reference", "Reference picture",
                       "A painting, a sketch or another photo"),
                      ("layer", "reference-layer", "Reference layer",
                       "A layer of any open image (instead of the file)")]
        else:
            procedure.set_menu_label("Fast Neural Style…")
            procedure.set_documentation(
                "Repaint the layer (or the selection) with a fast style network or any painting",
                "A feed-forward style network (ONNX) run by the local neural-style engine: an "
                "installed per-painting network, or, when a painting file or layer is given, "
                "the any-painting network with that painting. The result is a new layer above "
                "the source, masked by the selection.", name)
            after = [("file", "style", "Any painting",
                      "A painting used instead of the network (any-painting network)"),
                     ("layer", "style-layer", "Painting layer",
                      "A layer of any open image used as the painting")]
        procedure.add_menu_path("<Image>/Filters/Artistic")  # after the label: GIMP needs it
        args = (nst_host.fast_procedure_args(_schema()) if method == "fast"
                else nst_host.procedure_args(_schema(), method))
        # Keyboard access in the dialog: every label gets its own mnemonic letter, none of the
        # buttons' (_OK, _Cancel, _Help, _Reset) nor the dialog's own: "Style _network", "Show
        # _before", "_Advanced options", "_Preview with the real method".
        # Letters go to the fields always shown first, then to the advanced ones (Neural
        # Style has more fields than the alphabet has letters).
        texts = [b[2] for b in before] + [a.label for a in args] + [b[2] for b in after]
        shown = [False] * len(before) + [a.advanced for a in args] + [False] * len(after)
        order = [i for i in range(len(texts)) if not shown[i]] + \
            [i for i in range(len(texts)) if shown[i]]
        picked = nst_host.mnemonic_labels([texts[i] for i in order], reserved="ochrnbap")
        labels = [None] * len(texts)
        for i, label in zip(order, picked):
            labels[i] = label
        labels_before = labels[:len(before)]
        labels_args = labels[len(before):len(before) + len(args)]
        labels_after = labels[len(before) + len(args):]
        for spec, label in zip(before, labels_before):
            _add_painting_argument(procedure, spec, label)
        for arg, label in zip(args, labels_args):
            _add_param_argument(procedure, arg, label)
        for spec, label in zip(after, labels_after):
            _add_painting_argument(procedure, spec, label)
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
            replace = None
            if run_mode == Gimp.RunMode.INTERACTIVE:
                import nst_dialog_gimp3

                # The active layer is an earlier result of this filter: offer to restyle it
                # (its settings loaded, its source repainted, the result replaced).
                recipe = _recipe_of(layer, name)
                origin = _restyle_source(image, layer, recipe) if recipe else None
                restyle = {"offered": origin is not None, "chosen": origin is not None,
                           "name": layer.get_name()}
                if origin is not None:
                    _apply_recipe(config, recipe, image)
                try:
                    source = PreviewSource(image, origin or layer, method, schema)
                except nst_host.HostError:
                    source = None  # e.g. the selection misses the layer: the run will say so
                cache = os.path.join(Gimp.directory(), "neural-style-models.json")
                if not nst_dialog_gimp3.run_dialog(procedure, config, title, method,
                                                   engine_config, source, cache, restyle):
                    return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, GLib.Error())
                if origin is not None and restyle["chosen"]:
                    layer, replace = origin, layer
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
            recipe_data = nst_host.recipe_bytes(name, _recipe_values(procedure, config),
                                                layer.get_tattoo())
            host = _Gimp3Host(image, layer, reference, run_mode == Gimp.RunMode.INTERACTIVE,
                              recipe_data, replace)
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
            # GIMP shows no message for CANCEL, and saves no settings (only SUCCESS does).
            status = Gimp.PDBStatusType.CANCEL
        elif isinstance(exc, nst_host.HostError) and code != "bad_result":
            status = Gimp.PDBStatusType.CALLING_ERROR  # the caller's input; fixable by them
        else:
            status = Gimp.PDBStatusType.EXECUTION_ERROR
        return procedure.new_return_values(
            status, GLib.Error.new_literal(Gimp.PlugIn.error_quark(), message, 0))


if __name__ == "__main__":
    Gimp.main(NeuralStyle.__gtype__, sys.argv)
