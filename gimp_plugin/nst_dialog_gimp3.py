# -*- coding: utf-8 -*-
"""The GIMP 3 dialog of the procedures: a preview beside GIMP's own procedure widgets (which come
from the engine's schema), in a scrolled column that fits the screen, plus a model picker with
thumbnails for Fast Neural Style. Imported only for interactive runs, so batch and script runs
never touch GTK.

Nothing here waits on the engine in the main loop: the engine is reached (or started) in a
thread, the model list shown at once is the one cached from the last run, and the preview is
rendered in threads scheduled by nst_preview.Previewer; results come back with GLib.idle_add."""

import base64
import json
import os
import threading

import gi

gi.require_version("GimpUi", "3.0")
gi.require_version("Gtk", "3.0")
gi.require_version("Gdk", "3.0")
gi.require_version("GdkPixbuf", "2.0")
from gi.repository import Gdk, GdkPixbuf, Gio, GimpUi, GLib, GObject, Gtk  # noqa: E402

import nst_engine  # noqa: E402
import nst_host  # noqa: E402
import nst_preview  # noqa: E402
from nst_errors import EngineError  # noqa: E402

# Room the dialog needs besides its scrolled settings: the size hint, GIMP's two button rows,
# margins (about 225 px in GIMP 3.0.4's default theme) and a window manager's title bar.
CHROME_PX = 290
MIN_SETTINGS_PX = 240


trace = nst_host.trace


# ------------------------------------------------------------------------------ model list

def _pixbuf_from_png(data, side=None):
    loader = GdkPixbuf.PixbufLoader.new_with_type("png")
    loader.write(data)
    loader.close()
    pixbuf = loader.get_pixbuf()
    if side and pixbuf is not None:
        w, h = pixbuf.get_width(), pixbuf.get_height()
        scale = float(side) / max(w, h)
        pixbuf = pixbuf.scale_simple(max(1, int(w * scale)), max(1, int(h * scale)),
                                     GdkPixbuf.InterpType.BILINEAR)
    return pixbuf


class ModelPicker(object):
    """Style networks with their thumbnails; shows the cached list at once and the engine's own
    once it answers (set_models)."""

    THUMB = 40

    def __init__(self, config, cached):
        self.config = config
        self.store = Gtk.ListStore(str, str, GdkPixbuf.Pixbuf)
        self.combo = Gtk.ComboBox.new_with_model(self.store)
        self.combo.set_id_column(0)
        pix = Gtk.CellRendererPixbuf()
        self.combo.pack_start(pix, False)
        self.combo.add_attribute(pix, "pixbuf", 2)
        text = Gtk.CellRendererText()
        self.combo.pack_start(text, True)
        self.combo.add_attribute(text, "text", 1)
        label = Gtk.Label.new_with_mnemonic("Style _network")
        label.set_mnemonic_widget(self.combo)
        self.box = Gtk.Box(orientation=Gtk.Orientation.HORIZONTAL, spacing=12)
        self.box.pack_start(label, False, False, 0)
        self.box.pack_start(self.combo, True, True, 0)
        self.set_models(cached or [])

    def set_models(self, models, error=None):
        current = self.combo.get_active_id() or self.config.get_property("model")
        self.store.clear()
        ids = []
        for m in models:
            model_id = m.get("id")
            if not model_id or model_id in ids:
                continue
            ids.append(model_id)
            thumb = None
            if m.get("thumbnail_png"):
                try:
                    thumb = _pixbuf_from_png(base64.b64decode(m["thumbnail_png"]), self.THUMB)
                except Exception:
                    thumb = None
            self.store.append([model_id, m.get("name") or model_id, thumb])
        if current and current not in ids:
            note = " (not installed)" if models and not error else ""
            self.store.prepend([current, current + note, None])
        self.combo.set_active_id(current or (ids[0] if ids else ""))

    def active(self):
        return self.combo.get_active_id()


def _model_summaries(listing):
    """What the picker and the cache keep of GET /v1/models: id, name, thumbnail."""
    if isinstance(listing, dict):
        listing = listing.get("models") or []
    out = []
    for m in listing or []:
        if isinstance(m, dict) and m.get("id"):
            out.append({"id": m["id"], "name": m.get("name") or m.get("display_name") or m["id"],
                        "thumbnail_png": m.get("thumbnail_png")})
    return out


def load_cached_models(path):
    try:
        with open(path, "rb") as fh:
            return _model_summaries(json.loads(fh.read().decode("utf-8")))
    except (IOError, OSError, ValueError):
        return []


def save_cached_models(path, models):
    try:
        tmp = path + ".tmp"
        with open(tmp, "wb") as fh:
            fh.write(json.dumps({"models": models}).encode("utf-8"))
        os.rename(tmp, path)
    except (IOError, OSError):
        pass  # a cache: the next run asks the engine again


# --------------------------------------------------------------------------------- preview

class PreviewPanel(object):
    """The preview image, a before/after toggle and a one-line status under it."""

    def __init__(self, source):
        self.source = source
        side = nst_preview.PREVIEW_SIDE
        self.image = Gtk.Image()
        self.image.set_size_request(side, side)
        frame = Gtk.Frame()
        frame.add(self.image)
        self.before = Gtk.CheckButton.new_with_mnemonic("Show _before (the original)")
        self.before.connect("toggled", lambda *a: self._show())
        self.status = Gtk.Label(label="")
        self.status.set_line_wrap(True)
        self.status.set_max_width_chars(40)
        self.status.set_xalign(0.0)
        self.box = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=6)
        self.box.pack_start(frame, False, False, 0)
        self.box.pack_start(self.before, False, False, 0)
        self.box.pack_start(self.status, False, False, 0)
        # Neural Style / Image Analogy: the method itself at preview size, when asked for.
        self.real = Gtk.Button.new_with_mnemonic("_Preview with the real method (low "
                                                 "resolution)")
        self.box.pack_start(self.real, False, False, 0)
        self.original = None
        self.styled = None
        self.shown_key = None
        if source is not None:
            self.original = self._pixbuf(source.rgba, source.size)
            self._show()

    @staticmethod
    def _pixbuf(rgba, size):
        w, h = size
        return GdkPixbuf.Pixbuf.new_from_bytes(GLib.Bytes.new(bytes(rgba)),
                                               GdkPixbuf.Colorspace.RGB, True, 8, w, h, w * 4)

    def _show(self):
        pix = self.original if (self.before.get_active() or self.styled is None) else self.styled
        if pix is not None:
            self.image.set_from_pixbuf(pix)

    def set_result(self, req, png):
        self.styled = _pixbuf_from_png(png)
        self.shown_key = req.key
        self.status.set_text(req.label[:1].upper() + req.label[1:] if req.label != "preview"
                             else "Preview of the region at %dx%d" % self.source.size)
        self._show()
        trace("preview", key=req.key, label=req.label, method=req.method,
              model=req.params.get("model"), png_sha1=_sha1(png))

    def set_status(self, text):
        self.status.set_text(text)
        trace("preview_status", text=text)


def _sha1(data):
    import hashlib

    return hashlib.sha1(data).hexdigest()


# ---------------------------------------------------------------------------- style section

STYLE_SECTION = {
    "gatys": ("style", "style-2", "style-3", "style-layer", "style-weights"),
    "fast": ("style", "style-layer"),
    "analogy": ("reference", "reference-layer"),
}
SECTION_TITLES = {"gatys": "Style paintings", "fast": "Any painting (instead of a network)",
                  "analogy": "Reference picture"}
THUMB_PX = 96


class StyleSection(object):
    def __init__(self, dialog, config, method, names, source):
        self.dialog, self.config, self.method, self.names = dialog, config, method, names
        self.source = source
        box = dialog.fill_box("nst-style-box", list(names))
        self.thumb = Gtk.Image()
        self.thumb.set_size_request(THUMB_PX, THUMB_PX)
        row = Gtk.Box(orientation=Gtk.Orientation.HORIZONTAL, spacing=8)
        row.set_border_width(4)
        row.pack_start(box, True, True, 0)
        row.pack_start(self.thumb, False, False, 0)
        self.frame = Gtk.Frame(label=SECTION_TITLES.get(method, "Style"))
        self.frame.add(row)
        self._shown_key = None

    def _widget(self, name):
        try:
            return self.dialog.get_widget(name, GObject.TYPE_NONE)
        except Exception:
            return None

    def _file(self, name):
        if name not in self.names:
            return None
        gfile = self.config.get_property(name)
        return gfile.get_path() if gfile is not None and gfile.get_path() else None

    def update(self):
        files = [self._file(n) for n in ("style", "style-2", "style-3")]
        # A further file slot shows once the one before it is filled (or is filled itself).
        for i, name in ((1, "style-2"), (2, "style-3")):
            w = self._widget(name) if name in self.names else None
            if w is not None:
                w.set_visible(bool(files[i - 1] or files[i]))
        layer_prop = "reference-layer" if self.method == "analogy" else "style-layer"
        layer = self.config.get_property(layer_prop) if layer_prop in self.names else None
        n = len([f for f in files if f]) + (1 if layer is not None else 0)
        w = self._widget("style-weights") if "style-weights" in self.names else None
        if w is not None:
            w.set_visible(n > 1)
        first = self._file("reference") if self.method == "analogy" else files[0]
        key = (first, layer.get_tattoo() if layer is not None and first is None else None)
        if key == self._shown_key:
            return
        self._shown_key = key
        pix = None
        try:
            if first:
                pix = GdkPixbuf.Pixbuf.new_from_file_at_scale(first, THUMB_PX, THUMB_PX, True)
            elif layer is not None and self.source is not None:
                styles = self.source.styles(self.config)
                pix = _pixbuf_from_png(styles[-1], THUMB_PX) if styles else None
        except Exception:
            pix = None
        if pix is None:
            self.thumb.clear()
        else:
            self.thumb.set_from_pixbuf(pix)


# ------------------------------------------------------------------------------------ help

def _help_uri():
    """The installed docs (docs/gimp.md beside the plug-in, placed by install.py)."""
    here = nst_host.plugin_dir(__file__)
    for name in (os.path.join("docs", "gimp.html"), os.path.join("docs", "gimp.md")):
        path = os.path.join(here, name)
        if os.path.isfile(path):
            return GLib.filename_to_uri(path, None)
    return None


def _open_help(dialog):
    uri = _help_uri()
    trace("help", uri=uri)
    if uri:
        try:
            Gio.AppInfo.launch_default_for_uri(uri, None)
            return
        except GLib.Error:
            pass
    msg = Gtk.MessageDialog(transient_for=dialog, modal=True,
                            message_type=Gtk.MessageType.INFO, buttons=Gtk.ButtonsType.CLOSE,
                            text="Neural Style help")
    msg.set_title("Neural Style help")
    msg.format_secondary_text(
        "The plug-in's guide is %s.\nNo program to open it was found." % (
            uri or "docs/gimp.md in the neural-style project"))
    msg.run()
    msg.destroy()


# ------------------------------------------------------------------------------ the dialog

HELP_RESPONSE = 7001  # our Help button's own response, never one GIMP acts on


def _buttons(widget):
    """Every button inside `widget`."""
    out = []
    if isinstance(widget, Gtk.Button):
        out.append(widget)
    if isinstance(widget, Gtk.Container):
        for child in widget.get_children():
            out.extend(_buttons(child))
    return out


def _fit_height():
    """The tallest the settings column may be so the dialog fits the screen's work area."""
    display = Gdk.Display.get_default()
    monitor = display.get_primary_monitor() or display.get_monitor(0)
    height = monitor.get_workarea().height if monitor is not None else 768
    return max(MIN_SETTINGS_PX, height - CHROME_PX)


def run_dialog(procedure, config, title, method, engine_config, source=None,
               models_cache=None, restyle=None):
    """Show the dialog; True when the user pressed OK (config then holds the choices).

    `source` (neural_style_gimp3.PreviewSource) gives the region's pixels at preview size and
    builds a preview request from the config; None shows no preview. `models_cache`: the file
    the model list is kept in between runs. `restyle` ({"offered", "chosen", "name"}): the
    active layer is an earlier result whose settings are loaded; a check button (on) says the
    run replaces it, and its state goes back in "chosen"."""
    GimpUi.init("neural-style")
    dialog = GimpUi.ProcedureDialog.new(procedure, config, title)
    names = [a.name for a in procedure.get_arguments()]
    # The image/drawables/run-mode arguments are GIMP's own, never shown.
    names = [n for n in names if n not in ("run-mode", "image", "drawables")]
    picker = None
    if method == "fast":
        picker = ModelPicker(config, load_cached_models(models_cache) if models_cache else [])
        names = [n for n in names if n != "model"]
    # The contract marks rarely changed fields "advanced": they go in a collapsed expander.
    schema = nst_host.load_schema(nst_host.plugin_dir(__file__))
    args = (nst_host.fast_procedure_args(schema) if method == "fast"
            else nst_host.procedure_args(schema, method))
    advanced = set(a.name for a in args if a.advanced)
    # One style section: the painting files, an open layer and (with several) their blend
    # weights, with a thumbnail of the first painting; further file slots appear once the one
    # before is filled, instead of three "(None)" buttons in a row.
    section = [n for n in STYLE_SECTION.get(method, ()) if n in names]
    basic = [n for n in names if n not in advanced and n not in section]
    tucked = [n for n in names if n in advanced and n not in section]
    settings = dialog.fill_box("nst-settings", basic)
    style = None
    if section:
        style = StyleSection(dialog, config, method, section, source)
        settings.pack_start(style.frame, False, False, 0)
        if method != "fast":  # the painting comes first; for Fast, the network does
            settings.reorder_child(style.frame, 0)
    expander = None
    if tucked:
        # Our own expander (GIMP's fill_expander label takes no mnemonic): Alt+A opens it. Its
        # resize-toplevel would add the whole advanced box's height to the window, past the
        # screen; the window is refitted instead (below), so the column scrolls past its cap.
        expander = Gtk.Expander.new_with_mnemonic("_Advanced options")
        expander.add(dialog.fill_box("advanced-box", tucked))
        settings.pack_start(expander, False, False, 0)

    scrolled = Gtk.ScrolledWindow()
    scrolled.set_policy(Gtk.PolicyType.NEVER, Gtk.PolicyType.AUTOMATIC)
    scrolled.set_propagate_natural_height(True)
    scrolled.set_max_content_height(_fit_height() - (40 if picker else 0))
    scrolled.add(settings)
    column = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=8)
    replace = None
    if restyle and restyle.get("offered"):
        replace = Gtk.CheckButton(label="Restyle \u201c%s\u201d: its settings are loaded; OK "
                                  "replaces it (one undo step)" % restyle.get("name", ""))
        replace.set_active(bool(restyle.get("chosen")))
        replace.get_child().set_line_wrap(True)
        column.pack_start(replace, False, False, 0)
    if picker is not None:
        column.pack_start(picker.box, False, False, 0)
    column.pack_start(scrolled, True, True, 0)
    hint = Gtk.Label(label="")
    hint.set_line_wrap(True)
    hint.set_max_width_chars(50)
    hint.set_xalign(0.0)
    column.pack_start(hint, False, False, 0)
    reason = Gtk.Label(label="")
    reason.set_line_wrap(True)
    reason.set_max_width_chars(50)
    reason.set_xalign(0.0)
    column.pack_start(reason, False, False, 0)

    panel = PreviewPanel(source)
    row = Gtk.Box(orientation=Gtk.Orientation.HORIZONTAL, spacing=12)
    row.set_border_width(6)
    row.pack_start(panel.box, False, False, 0)
    row.pack_start(column, True, True, 0)
    dialog.get_content_area().pack_start(row, True, True, 0)
    row.show_all()
    if source is None:
        panel.box.hide()
    if method not in ("gatys", "analogy"):
        panel.real.hide()

    def refit(*_):
        # The window takes its natural height again: the scrolled column's is capped at what
        # the screen allows, so opening Advanced grows the window up to that, never past it.
        def fit():
            _, natural = dialog.get_preferred_height()
            dialog.resize(dialog.get_allocated_width(), natural)
            trace("dialog_refit", height=natural)
            return False
        GLib.idle_add(fit)

    if expander is not None:
        expander.connect("notify::expanded", refit)

    # Help: the plug-in's own guide. GIMP's Help button calls GIMP's help system directly (no
    # response), which has no page for a plug-in ("The GIMP user manual is not installed"), so
    # it is hidden and a Help button of ours takes its place.
    for button in _buttons(dialog):
        if (button.get_label() or "").replace("_", "") == "Help":
            button.hide()
            button.set_no_show_all(True)
    ours = dialog.add_button("_Help", HELP_RESPONSE)
    box = ours.get_parent()
    if isinstance(box, Gtk.ButtonBox):
        box.set_child_secondary(ours, True)

    def on_response(dlg, response):
        if response == HELP_RESPONSE:
            dlg.stop_emission_by_name("response")  # the dialog stays open
            _open_help(dlg)
    dialog.connect("response", on_response)

    previewer = None
    state = {"client": None, "engine_error": None}
    lock = threading.Lock()

    def connect():
        with lock:
            if state["client"] is None:
                state["client"] = nst_engine.ensure_engine(engine_config)
            return state["client"]

    def update_ok(*_):
        if style is not None:
            style.update()
        if source is not None:
            hint.set_text(source.size_hint(config))
        why = source.missing_style(config) if source is not None else None
        dialog.set_response_sensitive(Gtk.ResponseType.OK, why is None)
        reason.set_text(why or "")
        return why

    def refresh(*_):
        why = update_ok()
        if previewer is None:
            return
        req, note = source.request(config, picker.active() if picker else None)
        if req is None:
            previewer.invalidate(why or note)
        else:
            previewer.request(req)

    if source is not None:
        def spawn(fn):
            t = threading.Thread(target=fn)
            t.daemon = True  # never keeps the plug-in alive; its socket closing cancels a job
            t.start()

        previewer = nst_preview.Previewer(
            connect, GLib.timeout_add, GLib.source_remove,
            lambda fn, *a: GLib.idle_add(fn, *a), spawn,
            panel.set_result, panel.set_status, panel.set_status)

    def real_run(*_):
        if previewer is None:
            return
        req, note = source.request(config, None, real=True)
        if req is None:
            previewer.invalidate(note)
        else:
            trace("real_preview_requested", method=req.method)
            previewer.request(req)
    panel.real.connect("clicked", real_run)

    # Settings changes: GIMP's widgets write the config; the picker is ours.
    notify_id = config.connect("notify", refresh)
    if picker is not None:
        picker.combo.connect("changed", refresh)

    # The engine in a thread: the dialog is up at once even when the engine takes a minute
    # to start, and the model list follows when it answers.
    def engine_ready(models, error, estimates=None):
        if source is not None and estimates:
            source.estimates = estimates
            update_ok()
        if picker is not None:
            if error and not models:
                panel.set_status(error)
            else:
                picker.set_models(models, error)
                if models_cache and models:
                    save_cached_models(models_cache, models)
        return False

    def reach_engine():
        try:
            client = connect()
            models = _model_summaries(client.models()) if picker is not None else []
            estimates = None
            if source is not None and getattr(source, "method", None) == "gatys":
                estimates = (client.health().get("estimates") or {}).get("gatys")
            GLib.idle_add(engine_ready, models, None, estimates)
        except EngineError as exc:
            text = nst_host.user_message("The style engine", exc).split("\n")[0]
            state["engine_error"] = text
            GLib.idle_add(engine_ready, [], text)

    if picker is not None or previewer is not None:
        panel.set_status("starting the engine…")
        t = threading.Thread(target=reach_engine)
        t.daemon = True
        t.start()

    def on_map(*_):
        trace("dialog_shown", title=title, method=method)
        refresh()
    dialog.connect("map", on_map)
    update_ok()

    ok = dialog.run()
    config.disconnect(notify_id)
    if replace is not None:
        restyle["chosen"] = bool(replace.get_active())
    if previewer is not None:
        previewer.close()
    if ok and picker is not None and picker.active():
        config.set_property("model", picker.active())
    trace("dialog_closed", ok=bool(ok))
    dialog.destroy()
    return ok


__all__ = ["run_dialog"]
