"""The GIMP 3 plug-in against the gi.repository.Gimp double and a fake engine: registration,
arguments equal to the contract (types, ranges, defaults), the same geometry cases as the
GIMP 2.10 plug-in, undo, failures and refusals. The real-GIMP run is tests/test_gimp_e2e.py."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import plugin_cases as pc
import pytest

from engine.contract import FastParams, schema

ROOT = Path(__file__).resolve().parents[1]
GATYS, FAST = "python-fu-neural-style", "python-fu-fast-neural-style"
ANALOGY = "python-fu-image-analogy"


@pytest.fixture()
def gimp3(tmp_path, monkeypatch):
    """The installed plug-in folder, imported with the gi double first on sys.path."""
    monkeypatch.syspath_prepend(str(ROOT / "tests" / "gimp_doubles" / "gimp3"))
    for name in [m for m in sys.modules if m == "gi" or m.startswith("gi.")]:
        monkeypatch.delitem(sys.modules, name)
    target = tmp_path / "neural-style"
    target.mkdir()
    shutil.copy(ROOT / "gimp_plugin" / "neural_style_gimp3.py", target / "neural-style.py")
    for name in [*pc.install.SHARED, *pc.install.PLUGIN_EXTRA["3"]]:
        shutil.copy(ROOT / "gimp_plugin" / name, target / name)
    (target / "nst_config.json").write_text(json.dumps({
        "version": 1, "engine_url": "http://127.0.0.1:9", "token_file": str(tmp_path / "t"),
        "engine_command": None, "log_file": None}))
    spec = importlib.util.spec_from_file_location("neural_style_gimp3_under_test",
                                                  target / "neural-style.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from fake_engine import FakeEngine
    from gi.repository import Gimp, Gio

    engine = FakeEngine()
    monkeypatch.setattr(module, "nst_engine", engine)
    Gimp.reset()
    module.engine, module.Gimp, module.Gio = engine, Gimp, Gio
    module.plugin = module.NeuralStyle()
    return module


def run(m, name, image, drawables, files=None, run_mode=None, **props):
    proc = m.plugin.do_create_procedure(name)
    cfg = proc.create_config()
    cfg.set_property("run-mode", run_mode or m.Gimp.RunMode.NONINTERACTIVE)
    cfg.set_property("image", image)
    cfg.set_core_object_array("drawables", drawables)
    for key, path in (files or {}).items():
        cfg.set_property(key, m.Gio.File.new_for_path(str(path)))
    for key, value in props.items():
        cfg.set_property(key.replace("_", "-"), value)
    result = proc.run(cfg)
    status = result.index(0).value_nick
    return status, (result.index(1) if result.length() > 1 else None)


def build(m, case):
    Gimp = m.Gimp

    def make_layer(img, name, rgba, kind, offsets):
        layer = Gimp.Layer.new(img, name, rgba.shape[1], rgba.shape[0], kind, 100.0,
                               Gimp.LayerMode.NORMAL)
        layer.pixels[...] = pc.gm.layer_from_rgba(img, name, rgba, kind, offsets).pixels
        layer.offsets = offsets
        return layer
    return pc.build(case, Gimp.Image, make_layer)


# ----------------------------------------------------------------------------- registration

def test_procedures_menu_and_types(gimp3):
    assert gimp3.plugin.do_query_procedures() == [GATYS, FAST, ANALOGY]
    for name, label in ((GATYS, "Neural Style…"), (FAST, "Fast Neural Style…"),
                        (ANALOGY, "Image Analogy…")):
        proc = gimp3.plugin.do_create_procedure(name)
        assert proc.menu_label == label and proc.menu_paths == ["<Image>/Filters/Artistic"]
        assert proc.image_types == "RGB*, GRAY*"


@pytest.mark.parametrize("proc_name, method", [(GATYS, "gatys"), (FAST, "fast"),
                                               (ANALOGY, "analogy")])
def test_arguments_equal_the_contract(gimp3, proc_name, method):
    proc = gimp3.plugin.do_create_procedure(proc_name)
    specs = {s.name: s for s in proc.get_arguments()}
    kinds = {"int": "int", "float": "double", "bool": "boolean", "choice": "choice",
             "string": "string", "float_list": "string"}
    for f in schema()["methods"][method]:
        s = specs[f["name"].replace("_", "-")]
        assert s.kind == kinds[f["type"]], f["name"]
        if f["type"] == "float_list":
            assert [float(v) for v in s.default.split(",") if v] == f["default"], f["name"]
        else:
            assert s.default == f["default"], f["name"]
        if f["type"] in ("int", "float"):
            assert (s.min, s.max) == (f["min"], f["max"]), f["name"]
        if f["type"] == "choice":
            assert s.choices == f["choices"]
            assert s.choice_labels == f["choice_labels"], f["name"]
    if method == "gatys":
        assert [specs[n].kind for n in ("style", "style-2", "style-3", "style-layer")] == \
            ["file", "file", "file", "drawable"]
    if method == "analogy":
        assert [specs[n].kind for n in ("reference", "reference-layer")] == ["file", "drawable"]


# --------------------------------------------------------------------------------- geometry

@pytest.mark.parametrize("case", pc.CASES, ids=lambda c: c.name)
def test_fast_neural_style_geometry(gimp3, case):
    img, source = build(gimp3, case)
    before = pc.snapshot(img, source)
    status, message = run(gimp3, FAST, img, [source], model="tiny")
    assert status == "success", message
    pc.assert_result(case, img, source, before, gimp3.engine, "tiny")
    pc.assert_progress(gimp3.Gimp.progress)
    plan = pc.expected_plan(case)
    c = plan.context
    assert source.reads == [(c.x, c.y, c.w, c.h)], "read exactly bbox + margin"


@pytest.mark.parametrize("case", pc.CASES[:2], ids=lambda c: c.name)
def test_neural_style_with_files_and_a_layer(gimp3, case, tmp_path):
    style = tmp_path / "wheat_field.jpg"
    style.write_bytes(b"jpeg bytes travel untouched")
    img, source = build(gimp3, case)
    other = gimp3.Gimp.Layer.new(img, "Strokes", 12, 8, gimp3.Gimp.ImageType.RGB_IMAGE
                                 if case.base == pc.gm.RGB else gimp3.Gimp.ImageType.GRAY_IMAGE,
                                 100.0, gimp3.Gimp.LayerMode.NORMAL)
    before = pc.snapshot(img, source)
    status, message = run(gimp3, GATYS, img, [source], files={"style": style},
                          style_layer=other, size=96, quality="draft", style_weights="2,1")
    assert status == "success", message
    pc.assert_result(case, img, source, before, gimp3.engine, "wheat field + Strokes")
    req = gimp3.engine.requests[-1]
    assert req["styles"][0] == style.read_bytes() and len(req["styles"]) == 2
    assert req["request"]["params"]["style_weights"] == [2.0, 1.0]
    assert req["request"]["params"]["size"] == 96


@pytest.mark.parametrize("case", pc.CASES[:2], ids=lambda c: c.name)
def test_fast_neural_style_with_any_painting(gimp3, case, tmp_path):
    """A painting file (or layer) turns Fast Neural Style into the any-painting network: method
    'arbitrary', the painting as the one style, its own options, no per-painting model."""
    painting = tmp_path / "wheat_field.jpg"
    painting.write_bytes(b"jpeg bytes travel untouched")
    img, source = build(gimp3, case)
    before = pc.snapshot(img, source)
    status, message = run(gimp3, FAST, img, [source], files={"style": painting},
                          stroke_size=2.0, strength=0.5)
    assert status == "success", message
    pc.assert_result(case, img, source, before, gimp3.engine, "wheat field")
    req = gimp3.engine.requests[-1]
    assert req["request"]["method"] == "arbitrary" and req["styles"] == [painting.read_bytes()]
    params = req["request"]["params"]
    assert params["stroke_size"] == 2.0 and params["strength"] == 0.5 and "model" not in params
    other = gimp3.Gimp.Layer.new(img, "Strokes", 12, 8, gimp3.Gimp.ImageType.RGB_IMAGE
                                 if case.base == pc.gm.RGB else gimp3.Gimp.ImageType.GRAY_IMAGE,
                                 100.0, gimp3.Gimp.LayerMode.NORMAL)
    assert run(gimp3, FAST, img, [source], style_layer=other)[0] == "success"
    req = gimp3.engine.requests[-1]
    assert req["request"]["method"] == "arbitrary" and len(req["styles"]) == 1
    assert run(gimp3, FAST, img, [source], model="tiny")[0] == "success"
    assert gimp3.engine.requests[-1]["request"]["method"] == "fast"


def test_defaults_only_fast_uses_the_contracts_default_model(gimp3):
    img, source = build(gimp3, pc.CASES[0])
    assert run(gimp3, FAST, img, [source])[0] == "success"
    assert gimp3.engine.requests[-1]["request"]["params"]["model"] == FastParams().model


def test_non_interactive_runs_never_build_a_dialog(gimp3):
    img, source = build(gimp3, pc.CASES[0])
    run(gimp3, FAST, img, [source], model="tiny")
    assert "nst_dialog_gimp3" not in sys.modules and "gi.repository.GimpUi" not in sys.modules


# ------------------------------------------------------------------- failures and refusals

@pytest.mark.parametrize("setup, status, words", [
    (lambda e: setattr(e, "fail_job", ("unknown_model", "No fast model 'nope'.")),
     "execution-error", "nope"),
    (lambda e: setattr(e, "fail_start", ("engine_start_failed", "See the log file /e.log.")),
     "execution-error", "/e.log"),
    (lambda e: setattr(e, "cancel_at", 0.25), "cancel", "cancelled"),
])
def test_failure_leaves_the_image_unchanged(gimp3, setup, status, words):
    img, source = build(gimp3, pc.CASES[0])
    before = pc.snapshot(img, source)
    setup(gimp3.engine)
    got, message = run(gimp3, FAST, img, [source], model="tiny")
    assert got == status
    if message is not None:
        assert words in message and "unchanged" in message
    pc.assert_unchanged(img, source, before)


def test_failure_while_adding_the_layer_removes_it(gimp3, monkeypatch):
    img, source = build(gimp3, pc.CASES[0])
    before = pc.snapshot(img, source)

    def broken(self, mask):
        raise RuntimeError("no memory for the mask")
    monkeypatch.setattr(gimp3.Gimp.Layer, "add_mask", broken)
    status, message = run(gimp3, FAST, img, [source], model="tiny")
    assert status == "execution-error" and "no memory" in message
    pc.assert_unchanged(img, source, before)


def test_refusals_are_calling_errors_that_name_the_problem(gimp3, tmp_path):
    Gimp = gimp3.Gimp
    img, source = build(gimp3, pc.CASES[0])
    group = Gimp.GroupLayer(img, "Group")
    img.insert_layer(group, None, 0)
    status, message = run(gimp3, FAST, img, [group])
    assert status == "calling-error" and "layer group" in message
    status, message = run(gimp3, FAST, img, [source, group])
    assert status == "calling-error" and "exactly one layer" in message
    idx = Gimp.Image(10, 10, pc.gm.INDEXED)
    layer = Gimp.Layer.new(idx, "i", 10, 10, Gimp.ImageType.INDEXED_IMAGE, 100.0,
                           Gimp.LayerMode.NORMAL)
    idx.insert_layer(layer, None, 0)
    status, message = run(gimp3, FAST, idx, [layer])
    assert status == "calling-error" and "Image ▸ Mode ▸ RGB" in message
    status, message = run(gimp3, GATYS, img, [source])
    assert status == "calling-error" and "style painting" in message
    assert gimp3.engine.requests == []
    assert np.array_equal(source.pixels, pc.snapshot(img, source).source)


def test_docs_list_every_procedure_argument(gimp3):
    text = (ROOT / "docs" / "gimp.md").read_text()
    for name in (GATYS, FAST, ANALOGY):
        assert f"`{name}`" in text
        for spec in gimp3.plugin.do_create_procedure(name).get_arguments():
            if spec.name not in ("run-mode", "image", "drawables"):
                assert f"`{spec.name}`" in text, spec.name


def test_missing_style_is_refused_before_the_engine_is_started(gimp3):
    img, source = build(gimp3, pc.CASES[0])
    status, message = run(gimp3, GATYS, img, [source])
    assert status == "calling-error" and "style painting" in message
    assert gimp3.engine.statuses == [], "the engine was started for nothing"


# -------------------------------------------------------------------------- image analogy

def _reference_layer(gimp3, img, name="Portrait painting"):
    G = gimp3.Gimp
    kind = G.ImageType.RGB_IMAGE if img.base_type == pc.gm.RGB else G.ImageType.GRAY_IMAGE
    ref = G.Layer.new(img, name, 10, 6, kind, 100.0, G.LayerMode.NORMAL)
    img.insert_layer(ref, None, 0)
    ref.set_offsets(3, 2)
    return ref


def test_image_analogy_from_a_layer_adds_a_prime_and_b_in_one_undo_step(gimp3):
    case = next(c for c in pc.CASES if c.ellipse)
    img, source = build(gimp3, case)
    ref = _reference_layer(gimp3, img)
    steps = len(img.undo_steps)
    status, message = run(gimp3, ANALOGY, img, [source], reference_layer=ref,
                          reverse_output=True, size=96)
    assert status == "success", message
    req = gimp3.engine.requests[-1]
    assert req["request"]["method"] == "analogy" and len(req["styles"]) == 1
    assert req["request"]["params"]["reverse_output"] is True
    assert gimp3.engine.parts == ["reverse"]
    layers = img.get_layers()
    a_prime = layers[img.get_item_position(source) - 1]
    assert a_prime.get_name() == "Image Analogy: Portrait painting"
    assert a_prime.get_mask() is not None and a_prime.edit_mask is False
    b = layers[img.get_item_position(ref) - 1]
    assert b.get_name().startswith("Image Analogy (reverse)")
    assert (b.get_width(), b.get_height(), b.offsets) == (10, 6, (3, 2))
    assert len(img.undo_steps) == steps + 1, "A' and B arrive in one undo step"
    assert img.active_layer is a_prime
    assert gimp3.Gimp.Image.created == []


def test_image_analogy_from_a_file_puts_b_in_a_new_image(gimp3, tmp_path):
    img, source = build(gimp3, pc.CASES[0])
    ref = tmp_path / "painted_portrait.png"
    ref.write_bytes(b"png bytes travel untouched")
    status, message = run(gimp3, ANALOGY, img, [source], files={"reference": ref},
                          reverse_output=True)
    assert status == "success", message
    assert gimp3.engine.requests[-1]["styles"] == [ref.read_bytes()]
    (new,) = gimp3.Gimp.Image.created
    assert (new.get_width(), new.get_height()) == (10, 6) and len(new.get_layers()) == 1
    assert gimp3.Gimp.Display.opened == [], "no window in a non-interactive run"


def test_image_analogy_without_a_reference_is_refused_before_the_engine_starts(gimp3):
    img, source = build(gimp3, pc.CASES[0])
    status, message = run(gimp3, ANALOGY, img, [source])
    assert status == "calling-error" and "reference" in message
    assert gimp3.engine.statuses == []


def test_a_masked_result_leaves_the_layer_active_for_repeat(gimp3):
    case = next(c for c in pc.CASES if c.ellipse)
    img, source = build(gimp3, case)
    assert run(gimp3, FAST, img, [source], model="tiny")[0] == "success"
    result = img.active_layer
    assert result.get_mask() is not None and result.edit_mask is False
    # Repeat (Ctrl+F) runs on the active drawable: the result layer, which works.
    assert run(gimp3, FAST, img, [result], model="tiny")[0] == "success"


# --------------------------------------------------------------- closing, names, preview

def test_closing_the_image_mid_job_cancels_quietly(gimp3, monkeypatch):
    """The user closes the image while the engine works: the job is cancelled at the next
    status line and nothing more is asked of GIMP about the image (each call would fail with
    "invalid ID for argument 'image'")."""
    img, source = build(gimp3, next(c for c in pc.CASES if c.ellipse))
    calls, closed_at = [], []

    def close():
        img.closed = True
        closed_at.append(len(calls))
    gimp3.engine.during_wait = close
    monkeypatch.setattr(gimp3.Gimp, "progress_set_text",
                        lambda text: calls.append(text) or True)
    status, _ = run(gimp3, FAST, img, [source], model="tiny")
    assert status == "cancel"
    assert gimp3.engine.cancelled == ["job-1"]
    assert calls[closed_at[0]:] == [], "GIMP was asked about a closed image"
    assert len(img.get_layers()) == 1


def test_a_style_layer_named_background_is_named_after_its_image(gimp3, tmp_path):
    img, source = build(gimp3, pc.CASES[0])
    G = gimp3.Gimp
    painting = G.Image(20, 20, pc.gm.RGB)
    painting.file_path = str(tmp_path / "the_starry_night.jpg")
    bg = G.Layer.new(painting, "Background", 20, 20, G.ImageType.RGB_IMAGE, 100.0,
                     G.LayerMode.NORMAL)
    painting.insert_layer(bg, None, 0)
    status, message = run(gimp3, GATYS, img, [source], style_layer=bg)
    assert status == "success", message
    assert img.active_layer.get_name() == "Neural Style: the starry night"


def test_every_dialog_field_has_its_own_mnemonic(gimp3):
    for name in (GATYS, FAST, ANALOGY):
        specs = [s for s in gimp3.plugin.do_create_procedure(name).get_arguments()
                 if s.name not in ("run-mode", "image", "drawables")]
        method = {GATYS: "gatys", FAST: "fast", ANALOGY: "analogy"}[name]
        advanced = {f["name"].replace("_", "-") for f in schema()["methods"][method]
                    if f.get("advanced")}
        assert all("_" in s.nick for s in specs if s.name not in advanced), \
            [s.nick for s in specs]
        letters = [s.nick[s.nick.index("_") + 1].lower() for s in specs if "_" in s.nick]
        assert len(set(letters)) == len(letters), name
        # OK, Cancel, Help, Reset; Style network, Show before, Advanced options, Preview
        assert not set(letters) & set("ochrnbap"), name


def _config(gimp3, name, image, layer, files=None, **props):
    proc = gimp3.plugin.do_create_procedure(name)
    cfg = proc.create_config()
    for key, path in (files or {}).items():
        cfg.set_property(key, gimp3.Gio.File.new_for_path(str(path)))
    for key, value in props.items():
        cfg.set_property(key.replace("_", "-"), value)
    return cfg


def test_preview_source_reads_the_region_scaled_once(gimp3):
    G = gimp3.Gimp
    img = G.Image(1200, 900, pc.gm.RGB)
    layer = G.Layer.new(img, "Photo", 1200, 900, G.ImageType.RGB_IMAGE, 100.0,
                        G.LayerMode.NORMAL)
    img.insert_layer(layer, None, 0)
    src = gimp3.PreviewSource(img, layer, "fast", gimp3._schema())
    assert src.size == (320, 240) and len(src.rgba) == 320 * 240 * 4
    assert layer.scaled_reads == [(0, 0, 1200, 900, 320, 240)]
    assert layer.reads == [], "a 1 MP layer is never read at full size for the preview"
    req, why = src.request(_config(gimp3, FAST, img, layer, model="udnie"), "starry_night")
    assert why is None and req.method == "fast" and req.params["model"] == "starry_night"
    assert req.params["tile"] == 0 and req.content_png == src.content_png


def test_preview_source_for_a_painting_and_for_neural_style(gimp3, tmp_path):
    img, source = build(gimp3, pc.CASES[0])
    painting = tmp_path / "wave.jpg"
    painting.write_bytes(b"jpeg")
    src = gimp3.PreviewSource(img, source, "fast", gimp3._schema())
    req, _ = src.request(_config(gimp3, FAST, img, source, files={"style": painting},
                                 stroke_size=2.0), "tiny")
    assert req.method == "arbitrary" and req.styles == [b"jpeg"] and req.label == "preview"
    gatys = gimp3.PreviewSource(img, source, "gatys", gimp3._schema())
    cfg = _config(gimp3, GATYS, img, source)
    assert gatys.request(cfg)[0] is None and "style painting" in gatys.request(cfg)[1]
    assert "style painting" in gatys.missing_style(cfg)
    cfg = _config(gimp3, GATYS, img, source, files={"style": painting}, strength=0.6)
    req, _ = gatys.request(cfg)
    assert gatys.missing_style(cfg) is None
    assert req.method == "arbitrary" and req.label == "approximation (fast network)"
    assert req.params["strength"] == 0.6
    analogy = gimp3.PreviewSource(img, source, "analogy", gimp3._schema())
    cfg = _config(gimp3, ANALOGY, img, source)
    assert "reference" in analogy.missing_style(cfg)
    ref = _reference_layer(gimp3, img)
    cfg = _config(gimp3, ANALOGY, img, source, reference_layer=ref)
    req, _ = analogy.request(cfg)
    assert analogy.missing_style(cfg) is None and req.method == "arbitrary"
    assert len(req.styles) == 1 and ref.scaled_reads == [] and len(ref.reads) == 1


def test_neural_style_size_hint_follows_the_region(gimp3):
    G = gimp3.Gimp
    img = G.Image(4243, 3000, pc.gm.RGB)
    layer = G.Layer.new(img, "Photo", 4243, 3000, G.ImageType.RGB_IMAGE, 100.0,
                        G.LayerMode.NORMAL)
    img.insert_layer(layer, None, 0)
    src = gimp3.PreviewSource(img, layer, "gatys", gimp3._schema())
    cfg = _config(gimp3, GATYS, img, layer, size=512)
    assert src.size_hint(cfg).startswith("512 px for a 4243 px region: 8.3x upscale (sharp)")
    assert gimp3.PreviewSource(img, layer, "fast", gimp3._schema()).size_hint(cfg) == ""


# ------------------------------------------------------------------ the recipe and restyle

def test_a_result_keeps_its_recipe_in_a_parasite(gimp3, tmp_path):
    painting = tmp_path / "wave.jpg"
    painting.write_bytes(b"jpeg")
    img, source = build(gimp3, next(c for c in pc.CASES if c.ellipse))
    steps = len(img.undo_steps)
    status, message = run(gimp3, GATYS, img, [source], files={"style": painting}, size=96,
                          quality="draft", strength=0.5)
    assert status == "success", message
    result = img.active_layer
    assert len(img.undo_steps) == steps + 1, "the parasite is part of the one undo step"
    recipe = gimp3._recipe_of(result, GATYS)
    assert recipe["source_tattoo"] == source.get_tattoo()
    v = recipe["values"]
    assert v["style"] == {"file": str(painting)} and v["size"] == 96
    assert v["quality"] == "draft" and v["strength"] == 0.5
    assert gimp3._recipe_of(result, FAST) is None  # another filter's result: no restyle
    assert gimp3._recipe_of(source, GATYS) is None


class _FakeDialogModule:
    """Stands in for nst_dialog_gimp3 in an interactive run: the user presses OK at once."""

    def __init__(self, change=None, restyle=True):
        self.calls, self.change, self.restyle = [], change, restyle

    def run_dialog(self, procedure, config, title, method, engine_config, source=None,
                   models_cache=None, restyle=None):
        self.calls.append(dict(restyle=dict(restyle or {}), source=source, config=config))
        if self.change:
            self.change(config)
        if restyle and restyle.get("offered"):
            restyle["chosen"] = self.restyle
        return True


def test_restyle_replaces_the_result_in_one_undo_step(gimp3, tmp_path, monkeypatch):
    painting = tmp_path / "wave.jpg"
    painting.write_bytes(b"jpeg")
    img, source = build(gimp3, next(c for c in pc.CASES if c.ellipse))
    assert run(gimp3, GATYS, img, [source], files={"style": painting}, size=96,
               strength=0.5)[0] == "success"
    first = img.active_layer
    n_layers, steps = len(img.get_layers()), len(img.undo_steps)
    fake = _FakeDialogModule(change=lambda cfg: cfg.set_property("strength", 0.9))
    monkeypatch.setitem(sys.modules, "nst_dialog_gimp3", fake)
    proc = gimp3.plugin.do_create_procedure(GATYS)
    cfg = proc.create_config()  # a fresh dialog: nothing chosen, until the recipe loads
    cfg.set_property("run-mode", gimp3.Gimp.RunMode.INTERACTIVE)
    cfg.set_property("image", img)
    cfg.set_core_object_array("drawables", [first])
    assert proc.run(cfg).index(0).value_nick == "success"
    call = fake.calls[0]
    assert call["restyle"]["offered"] and call["restyle"]["name"] == first.get_name()
    req = gimp3.engine.requests[-1]
    assert req["styles"] == [b"jpeg"] and req["request"]["params"]["size"] == 96
    assert req["request"]["params"]["strength"] == 0.9  # the user's change on top
    layers = img.get_layers()
    assert len(layers) == n_layers and first not in layers, "replaced, not added"
    new = img.active_layer
    assert layers.index(new) == img.get_item_position(source) - 1
    assert len(img.undo_steps) == steps + 1
    assert gimp3._recipe_of(new, GATYS)["values"]["strength"] == 0.9
    # The source was styled (not the earlier result): its pixels went to the engine.
    w, h = gimp3.engine.requests[-1]["content"][:2]
    assert source.reads[-1][2:] == (w, h) and first.reads == []


def test_restyle_declined_styles_the_result_layer_itself(gimp3, tmp_path, monkeypatch):
    painting = tmp_path / "wave.jpg"
    painting.write_bytes(b"jpeg")
    img, source = build(gimp3, pc.CASES[0])
    assert run(gimp3, GATYS, img, [source], files={"style": painting})[0] == "success"
    first = img.active_layer
    monkeypatch.setitem(sys.modules, "nst_dialog_gimp3", _FakeDialogModule(restyle=False))
    proc = gimp3.plugin.do_create_procedure(GATYS)
    cfg = proc.create_config()
    cfg.set_property("run-mode", gimp3.Gimp.RunMode.INTERACTIVE)  # 0: run() would drop it
    cfg.set_property("image", img)
    cfg.set_core_object_array("drawables", [first])
    assert proc.run(cfg).index(0).value_nick == "success"
    assert first in img.get_layers() and img.active_layer is not first


def test_the_real_method_at_preview_size_on_request(gimp3, tmp_path):
    painting = tmp_path / "wave.jpg"
    painting.write_bytes(b"jpeg")
    img, source = build(gimp3, pc.CASES[0])
    src = gimp3.PreviewSource(img, source, "gatys", gimp3._schema())
    cfg = _config(gimp3, GATYS, img, source, files={"style": painting}, size=1024)
    req, _ = src.request(cfg, real=True)
    assert req.method == "gatys" and req.params["size"] == max(src.size)
    assert req.params["quality"] == "draft" and req.styles == [b"jpeg"]
    assert src.request(_config(gimp3, GATYS, img, source), real=True)[0] is None
