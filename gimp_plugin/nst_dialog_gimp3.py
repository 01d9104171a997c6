# -*- coding: utf-8 -*-
"""The GIMP 3 dialog of both procedures: GIMP's own procedure dialog over the arguments (which
come from the engine's schema), plus a model picker filled from the engine's model list.
Imported only for interactive runs, so batch and script runs never touch GTK."""

import gi

gi.require_version("GimpUi", "3.0")
gi.require_version("Gtk", "3.0")
from gi.repository import GimpUi, Gtk  # noqa: E402

import nst_engine  # noqa: E402
import nst_host  # noqa: E402
from nst_errors import EngineError  # noqa: E402


def _models(engine_config):
    """(list of (id, label), error text or None); the dialog stays usable without an engine."""
    try:
        client = nst_engine.ensure_engine(engine_config)
        listing = client.models()
    except EngineError as exc:
        return [], nst_host.user_message("Listing the fast models", exc).split("\n")[0]
    if isinstance(listing, dict):
        listing = listing.get("models") or []
    out = []
    for m in listing:
        model_id = m.get("id")
        if model_id:
            out.append((model_id, m.get("name") or m.get("display_name") or model_id))
    return out, None


def _model_picker(config, engine_config):
    box = Gtk.Box(orientation=Gtk.Orientation.HORIZONTAL, spacing=12)
    box.pack_start(Gtk.Label(label="Style network (or give any painting below)"), False, False,
                   0)
    combo = Gtk.ComboBoxText()
    models, error = _models(engine_config)
    current = config.get_property("model")
    if current and current not in [m[0] for m in models]:
        models.insert(0, (current, current + (" (not installed)" if not error else "")))
    for model_id, label in models:
        combo.append(model_id, label)
    combo.set_active_id(current or (models[0][0] if models else ""))
    box.pack_start(combo, True, True, 0)
    outer = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=4)
    outer.pack_start(box, False, False, 0)
    if error:
        note = Gtk.Label(label=error)
        note.set_line_wrap(True)
        outer.pack_start(note, False, False, 0)
    outer.show_all()
    return outer, combo


def run_dialog(procedure, config, title, method, engine_config):
    """Show the dialog; True when the user pressed OK (config then holds the choices)."""
    GimpUi.init("neural-style")
    dialog = GimpUi.ProcedureDialog.new(procedure, config, title)
    names = [a.name for a in procedure.get_arguments()]
    # The image/drawables/run-mode arguments are GIMP's own, never shown.
    names = [n for n in names if n not in ("run-mode", "image", "drawables")]
    combo = None
    if method == "fast":
        picker, combo = _model_picker(config, engine_config)
        dialog.get_content_area().pack_start(picker, False, False, 6)
        names = [n for n in names if n != "model"]
    # The contract marks rarely changed fields "advanced": they go in a collapsed expander.
    schema = nst_host.load_schema(nst_host.plugin_dir(__file__))
    args = (nst_host.fast_procedure_args(schema) if method == "fast"
            else nst_host.procedure_args(schema, method))
    advanced = set(a.name for a in args if a.advanced)
    basic = [n for n in names if n not in advanced]
    tucked = [n for n in names if n in advanced]
    if tucked:
        dialog.fill_box("advanced-box", tucked)
        dialog.get_label("advanced-label", "Advanced options", False, False)
        dialog.fill_expander("advanced-expander", "advanced-label", False, "advanced-box")
        basic.append("advanced-expander")
    dialog.fill(basic)
    ok = dialog.run()
    if ok and combo is not None and combo.get_active_id():
        config.set_property("model", combo.get_active_id())
    dialog.destroy()
    return ok
