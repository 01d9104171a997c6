"""The GIMP 2.10 plug-in (gimpfu, Python 2.7) against the gimpfu double and a fake engine:
registration, arguments equal to the contract, geometry, undo, failures, and vermin."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import plugin_cases as pc
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "gimp_doubles" / "gimp2"))
import gimpfu  # noqa: E402  (the double)
from fake_engine import FakeEngine  # noqa: E402

from engine.contract import FastParams, schema  # noqa: E402

GATYS, FAST = "python-fu-neural-style", "python-fu-fast-neural-style"
ANALOGY = "python-fu-image-analogy"


def install_copy(folder: Path) -> Path:
    """The plug-in as install.py lays it out (its own folder, config beside it)."""
    target = folder / "neural-style"
    target.mkdir()
    shutil.copy(ROOT / "gimp_plugin" / "neural_style_gimp2.py", target / "neural-style.py")
    for name in pc.install.SHARED:
        shutil.copy(ROOT / "gimp_plugin" / name, target / name)
    (target / "nst_config.json").write_text(json.dumps({
        "version": 1, "engine_url": "http://127.0.0.1:9", "token_file": str(folder / "token"),
        "engine_command": None, "log_file": str(folder / "engine.log")}))
    return target / "neural-style.py"


@pytest.fixture()
def plugin(tmp_path, monkeypatch):
    path = install_copy(tmp_path)
    gimpfu._registered.clear()
    gimpfu.gimp.reset()
    spec = importlib.util.spec_from_file_location("neural_style_gimp2_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    engine = FakeEngine()
    monkeypatch.setattr(module, "nst_engine", engine)
    module.engine = engine
    return module


def make_layer(img, name, rgba, kind, offsets):
    return gm_layer(img, name, rgba, kind, offsets)


def gm_layer(img, name, rgba, kind, offsets):
    layer = gimpfu.Layer(img, name, rgba.shape[1], rgba.shape[0], kind)
    src = pc.gm.layer_from_rgba(img, name, rgba, kind, offsets)
    layer.pixels[...] = src.pixels
    layer.offsets = offsets
    return layer


def fast_fields():
    """The Fast procedure's engine fields: the network's, then the any-painting network's own."""
    fast = schema()["methods"]["fast"]
    have = {f["name"] for f in fast} | {"model", "style_weights"}
    return fast + [f for f in schema()["methods"]["arbitrary"] if f["name"] not in have]


def fast_args(style="", use_layer=False, layer=None, **over):
    values = {f["name"]: f["default"] for f in fast_fields()}
    values.update(over)
    return [values[f["name"]] for f in fast_fields()] + [style, use_layer, layer]


def gatys_args(style="", use_layer=False, layer=None, **over):
    values = {f["name"]: f["default"] for f in schema()["methods"]["gatys"]}
    values["style_weights"] = ""
    values.update(over)
    return [style, "", "", use_layer, layer] + [values[f["name"]]
                                               for f in schema()["methods"]["gatys"]]


# --------------------------------------------------------------------------- registration

def test_both_procedures_register_under_filters_artistic(plugin):
    q = gimpfu.query()
    assert set(q) == {GATYS, FAST, ANALOGY}
    for name in (GATYS, FAST, ANALOGY):
        assert q[name]["menu"] == "<Image>/Filters/Artistic"
        assert q[name]["imagetypes"] == "RGB*, GRAY*"
        assert [p[1] for p in q[name]["params"][:3]] == ["run-mode", "image", "drawable"]


@pytest.mark.parametrize("proc, method", [(GATYS, "gatys"), (FAST, "fast"),
                                          (ANALOGY, "analogy")])
def test_arguments_equal_the_contract(plugin, proc, method):
    params = {p[1]: p for p in gimpfu._registered[proc]["params"]}
    for f in schema()["methods"][method]:
        p = params[f["name"].replace("_", "-")]
        if f["type"] == "float_list":
            assert p[0] == gimpfu.PF_STRING
            assert [float(v) for v in p[3].split(",") if v] == f["default"], f["name"]
        elif f["type"] == "choice":
            assert p[0] == gimpfu.PF_RADIO and p[3] == f["default"]
            assert [v for _, v in p[4]] == f["choices"]
            assert [label for label, _ in p[4]] == f["choice_labels"], f["name"]
        else:
            kind = {"int": gimpfu.PF_INT, "float": gimpfu.PF_FLOAT, "bool": gimpfu.PF_BOOL,
                    "string": gimpfu.PF_STRING}[f["type"]]
            assert (p[0], p[3]) == (kind, f["default"]), f["name"]


def test_installed_schema_copy_equals_the_engine_schema():
    copy = json.loads((ROOT / "gimp_plugin" / "nst_schema.json").read_text())
    assert copy == json.loads(json.dumps(schema()))


def test_plugin_and_client_run_on_python_27_and_3():
    # The venv's own vermin, beside this interpreter, whatever PATH holds: .venv/bin need not be
    # on PATH, and a vermin elsewhere on it may be another version.
    vermin = shutil.which("vermin", path=str(Path(sys.executable).parent))
    assert vermin, f"vermin is a test dependency; it is not installed beside {sys.executable}"
    r = subprocess.run([vermin, "-q", "--no-tips", "--violations", "-t=2.7-", "-t=3.8-",
                        str(ROOT / "gimp_plugin")], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


# ------------------------------------------------------------------------------- geometry

@pytest.mark.parametrize("case", pc.CASES, ids=lambda c: c.name)
def test_fast_neural_style_geometry(plugin, case):
    img, source = pc.build(case, gimpfu_image, make_layer)
    before = pc.snapshot(img, source)
    status, message = gimpfu.run(FAST, img, source, *fast_args(model="tiny"))
    assert status == "success", message
    pc.assert_result(case, img, source, before, plugin.engine, "tiny")
    pc.assert_progress(gimpfu.gimp.progress)
    req = plugin.engine.requests[-1]
    assert req["request"]["method"] == "fast" and req["request"]["params"]["model"] == "tiny"
    assert req["mask"] is None  # the selection acts through the layer mask only


def gimpfu_image(w, h, base):
    return pc.gm.Image(w, h, base)


@pytest.mark.parametrize("case", pc.CASES[:2], ids=lambda c: c.name)
def test_neural_style_geometry_and_request(plugin, case, tmp_path):
    style = tmp_path / "the_starry-night.png"
    style.write_bytes(b"\x89PNG fake bytes are passed through untouched")
    img, source = pc.build(case, gimpfu_image, make_layer)
    before = pc.snapshot(img, source)
    status, message = gimpfu.run(GATYS, img, source,
                                 *gatys_args(str(style), size=128, quality="draft",
                                             style_weights="0.7"))
    assert status == "success", message
    pc.assert_result(case, img, source, before, plugin.engine, "the starry-night")
    req = plugin.engine.requests[-1]
    assert req["styles"] == [style.read_bytes()]
    assert req["request"]["params"]["size"] == 128
    assert req["request"]["params"]["quality"] == "draft"
    assert req["request"]["params"]["style_weights"] == [0.7]


def test_style_layer_is_sent_only_when_asked(plugin, tmp_path):
    case = pc.CASES[0]
    img, source = pc.build(case, gimpfu_image, make_layer)
    other = make_layer(img, "Brush strokes", pc.photo(20, 10, seed=3), pc.gm.RGB_IMAGE, (0, 0))
    style = tmp_path / "a.png"
    style.write_bytes(b"x")
    assert gimpfu.run(GATYS, img, source, *gatys_args(str(style), False, other))[0] == "success"
    assert len(plugin.engine.requests[-1]["styles"]) == 1
    assert gimpfu.run(GATYS, img, source, *gatys_args(str(style), True, other))[0] == "success"
    styles = plugin.engine.requests[-1]["styles"]
    w, h, ch, data = plugin.nst_png.png_decode(styles[1])
    assert (w, h) == (20, 10) and bytes(data) == other.rgba().tobytes()
    assert img.layers[img.item_position(source) - 1].name == "Neural Style: a + Brush strokes"


def test_fast_neural_style_with_any_painting(plugin, tmp_path):
    painting = tmp_path / "wheat_field.png"
    painting.write_bytes(b"png bytes travel untouched")
    img, source = pc.build(pc.CASES[1], gimpfu_image, make_layer)
    status, message = gimpfu.run(FAST, img, source, *fast_args(str(painting), stroke_size=3.0))
    assert status == "success", message
    req = plugin.engine.requests[-1]
    assert req["request"]["method"] == "arbitrary" and req["styles"] == [painting.read_bytes()]
    assert req["request"]["params"]["stroke_size"] == 3.0 and "model" not in \
        req["request"]["params"]
    assert img.layers[img.item_position(source) - 1].name == "Neural Style: wheat field"
    other = gm_layer(img, "Brush strokes", pc.photo(20, 10), pc.gm.RGB_IMAGE, (0, 0))
    assert gimpfu.run(FAST, img, source, *fast_args("", True, other))[0] == "success"
    assert plugin.engine.requests[-1]["request"]["method"] == "arbitrary"
    assert gimpfu.run(FAST, img, source, *fast_args("", False, other, model="tiny"))[0] == \
        "success"
    assert plugin.engine.requests[-1]["request"]["method"] == "fast"


def test_defaults_only_fast_uses_the_contracts_default_model(plugin):
    img, source = pc.build(pc.CASES[0], gimpfu_image, make_layer)
    assert gimpfu.run(FAST, img, source, *gimpfu.defaults(FAST)[2:]) == ("success", None)
    assert plugin.engine.requests[-1]["request"]["params"]["model"] == FastParams().model


# ------------------------------------------------------------------- failures and refusals

@pytest.mark.parametrize("setup, words", [
    (lambda e: setattr(e, "fail_job", ("unknown_model", "No fast model 'nope'.")), "nope"),
    (lambda e: setattr(e, "fail_start", ("engine_start_failed",
                                         "The style engine exited. See the log file /x.log.")),
     "/x.log"),
    (lambda e: setattr(e, "cancel_at", 0.5), "cancelled"),
    (lambda e: setattr(e, "result_size", (5, 5)), "5x5"),
])
def test_failure_leaves_the_image_unchanged(plugin, setup, words):
    img, source = pc.build(pc.CASES[0], gimpfu_image, make_layer)
    before = pc.snapshot(img, source)
    setup(plugin.engine)
    status, message = gimpfu.run(FAST, img, source, *fast_args(model="tiny"))
    assert status == "execution-error" and words in message and "unchanged" in message
    pc.assert_unchanged(img, source, before)


def test_failure_while_adding_the_layer_removes_it(plugin, monkeypatch):
    img, source = pc.build(pc.CASES[0], gimpfu_image, make_layer)
    before = pc.snapshot(img, source)

    def broken(self, mask):
        raise pc.gm.GimpError("no memory for the mask")
    monkeypatch.setattr(gimpfu.Layer, "add_mask", broken)
    status, message = gimpfu.run(FAST, img, source, *fast_args(model="tiny"))
    assert status == "execution-error" and "no memory" in message
    pc.assert_unchanged(img, source, before)


def test_refusals_name_the_problem(plugin):
    img, source = pc.build(pc.CASES[0], gimpfu_image, make_layer)
    group = pc.gm.GroupLayer(img, "Group")
    img.insert_layer(group, None, 0)
    status, message = gimpfu.run(FAST, img, group, *fast_args())
    assert status == "execution-error" and "layer group" in message
    img2 = pc.gm.Image(20, 20, pc.gm.INDEXED)
    layer = gimpfu.Layer(img2, "idx", 20, 20, pc.gm.INDEXED_IMAGE)
    img2.insert_layer(layer, None, 0)
    status, message = gimpfu.run(FAST, img2, layer, *fast_args())
    assert status == "execution-error" and "Image ▸ Mode ▸ RGB" in message
    img3, src3 = pc.build(pc.Case("off", (100, 80), (30, 20), offsets=(60, 50),
                                  ellipse=(2, 2, 20, 20)), gimpfu_image, make_layer)
    status, message = gimpfu.run(FAST, img3, src3, *fast_args())
    assert status == "execution-error" and "does not touch" in message
    assert plugin.engine.requests == []


def test_bad_style_weights_are_refused_before_anything_happens(plugin, tmp_path):
    img, source = pc.build(pc.CASES[0], gimpfu_image, make_layer)
    style = tmp_path / "s.png"
    style.write_bytes(b"x")
    status, message = gimpfu.run(GATYS, img, source,
                                 *gatys_args(str(style), style_weights="1,lots"))
    assert status == "execution-error" and "style-weights" in message
    assert plugin.engine.requests == []
    assert np.array_equal(source.pixels, pc.snapshot(img, source).source)


# ------------------------------------------------ settings, names, closing (what gimpfu allows)

def test_a_failed_or_cancelled_run_keeps_the_last_good_settings(plugin):
    """gimpfu shelves a dialog's values before calling the plug-in; the plug-in puts the last
    successful run's back at once (GIMP may end it on Cancel) and keeps the new ones only when
    the run succeeded."""
    import gimpshelf

    key = "python-fu-save--" + FAST
    gimpshelf.store.clear()
    img, source = pc.build(pc.CASES[0], gimpfu_image, make_layer)
    gimpshelf.shelf[key] = ["img", "layer", "tiny"]  # what gimpfu saved from the dialog
    assert gimpfu.run(FAST, img, source, *fast_args(model="tiny"))[0] == "success"
    assert gimpshelf.shelf[key] == ["img", "layer", "tiny"]
    gimpshelf.shelf[key] = ["img", "layer", "udnie"]  # the next dialog's choice ...
    plugin.engine.cancel_at = 0.25  # ... and the user cancels while the engine works
    assert gimpfu.run(FAST, img, source, *fast_args(model="udnie"))[0] == "execution-error"
    assert gimpshelf.shelf[key] == ["img", "layer", "tiny"]
    gimpshelf.store.clear()
    gimpshelf.shelf[key] = ["img", "layer", "udnie"]  # no successful run yet: the defaults
    plugin.engine.cancel_at = None
    plugin.engine.during_wait = lambda: (_ for _ in ()).throw(SystemExit("GIMP ends it"))
    with pytest.raises(SystemExit):
        gimpfu.run(FAST, img, source, *fast_args(model="udnie"))
    assert gimpshelf.shelf[key] == gimpfu.defaults(FAST)


def test_a_style_layer_named_background_is_named_after_its_image(plugin, tmp_path):
    img, source = pc.build(pc.CASES[0], gimpfu_image, make_layer)
    painting = gimpfu.Image(12, 8, pc.gm.RGB)
    painting.filename = str(tmp_path / "the_great_wave.jpg")
    bg = gimpfu.Layer(painting, "Background", 12, 8, gimpfu.RGB_IMAGE)
    painting.insert_layer(bg, None, 0)
    status, message = gimpfu.run(GATYS, img, source, *gatys_args(use_layer=True, layer=bg))
    assert status == "success", message
    assert img.layers[0].name == "Neural Style: the great wave"


def test_closing_the_image_mid_job_cancels_quietly(plugin):
    img, source = pc.build(next(c for c in pc.CASES if c.ellipse), gimpfu_image, make_layer)
    n = len(img.layers)
    plugin.engine.during_wait = lambda: setattr(img, "closed", True)
    status, message = gimpfu.run(FAST, img, source, *fast_args(model="tiny"))
    assert status == "success" and message is None  # no error dialog for a closed image
    assert plugin.engine.cancelled == ["job-1"] and len(img.layers) == n
