"""Geometry cases and assertions shared by the GIMP 2.10 (gimpfu double) and GIMP 3 (gi double)
plug-in tests, so both plug-ins are held to exactly the same behaviour."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "gimp_doubles"))
sys.path.insert(0, str(ROOT / "gimp_plugin"))
import gimp_model as gm  # noqa: E402
import nst_host  # noqa: E402
from fake_engine import stylize_rgba  # noqa: E402


def _install_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("install_layout", ROOT / "install.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The plug-in files as install.py lays them out (one list, in install.py).
install = _install_module()


def photo(w, h, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    rgb = np.stack([(xx * 3) % 256, (yy * 5) % 256, (xx + yy) % 256], -1)
    rgb = (rgb + rng.integers(0, 20, rgb.shape)) % 256
    rgba = np.concatenate([rgb, np.full((h, w, 1), 255)], -1)
    return rgba.astype(np.uint8)


@dataclass
class Case:
    name: str
    canvas: tuple
    layer: tuple  # (w, h)
    offsets: tuple = (0, 0)
    ellipse: tuple | None = None  # (x, y, w, h) image coordinates
    feather: float = 0.0
    alpha_hole: tuple | None = None  # layer-local (x, y, w, h) made transparent
    base: int = gm.RGB


CASES = [
    Case("feathered_ellipse", (80, 60), (80, 60), ellipse=(20, 12, 40, 30), feather=6),
    # Context margin smaller than the layer: only bbox + margin travels.
    Case("small_selection_big_layer", (200, 160), (200, 160), ellipse=(120, 90, 40, 30),
         feather=4),
    Case("no_selection_layer_offset", (100, 80), (60, 40), offsets=(17, 11)),
    Case("selection_partly_off_layer", (100, 80), (60, 40), offsets=(30, 20),
         ellipse=(10, 5, 50, 40), feather=3),
    Case("layer_larger_than_canvas", (64, 48), (80, 60), offsets=(-10, -5)),
    Case("alpha", (48, 40), (48, 40), alpha_hole=(0, 0, 20, 12), ellipse=(4, 2, 36, 30)),
    Case("grayscale", (64, 48), (64, 48), ellipse=(8, 8, 40, 30), feather=4, base=gm.GRAY),
]


def build(case: Case, Image, make_layer):
    """Image and source layer for `case`; `make_layer(image, name, rgba, type, offsets)`."""
    img = Image(case.canvas[0], case.canvas[1], case.base)
    rgba = photo(*case.layer)
    kind = gm.RGB_IMAGE
    if case.alpha_hole:
        x, y, w, h = case.alpha_hole
        rgba[y:y + h, x:x + w, 3] = 0
        kind = gm.RGBA_IMAGE
    if case.base == gm.GRAY:
        kind = gm.GRAY_IMAGE
    layer = make_layer(img, "Photo", rgba, kind, case.offsets)
    img.insert_layer(layer, None, 0)
    img.undo_steps.clear()
    if case.ellipse:
        img.select_ellipse(*case.ellipse, feather=case.feather)
    return img, layer


@dataclass
class Before:
    layers: list
    source: np.ndarray
    composite: np.ndarray
    steps: int


def snapshot(img, source) -> Before:
    return Before(list(img.layers), source.pixels.copy(), img.composite(), len(img.undo_steps))


def expected_plan(case: Case):
    sel = None
    if case.ellipse:
        img = gm.Image(*case.canvas)
        img.select_ellipse(*case.ellipse, feather=case.feather)
        ok, x1, y1, x2, y2 = img.selection_bounds()
        sel = (x1, y1, x2, y2)
    return nst_host.plan_region(case.offsets, case.layer, sel)


def assert_result(case: Case, img, source, before: Before, engine, style_label: str):
    plan = expected_plan(case)
    # One new layer, directly above the source, named after the style.
    assert len(img.layers) == len(before.layers) + 1
    new = img.layers[img.item_position(source) - 1]
    assert new not in before.layers and new.parent is source.parent
    assert new.name == "Neural Style: " + style_label
    assert new.offsets == plan.offsets
    assert (new.width, new.height) == (plan.region.w, plan.region.h)
    # Region covers exactly the selection's bounds on the layer (or the whole layer).
    if case.ellipse:
        ok, x1, y1, x2, y2 = img.selection_bounds()
        lx, ly = case.offsets
        box = nst_host.Rect.from_corners(x1, y1, x2, y2).intersect(
            nst_host.Rect(lx, ly, case.layer[0], case.layer[1]))
        assert (new.offsets[0], new.offsets[1], new.width, new.height) == box.as_tuple()
    else:
        assert (new.offsets, new.width, new.height) == (case.offsets, *case.layer)
    # The source is untouched.
    assert np.array_equal(source.pixels, before.source)
    # Only the bbox + margin was sent, and it is the source's pixels there.
    sent_w, sent_h, channels, sent = engine.requests[-1]["content"]
    assert (sent_w, sent_h) == (plan.context.w, plan.context.h)
    c = plan.context
    src_rgba = source.rgba()[c.y:c.y2, c.x:c.x2]
    assert np.array_equal(np.frombuffer(bytes(sent), np.uint8).reshape(sent_h, sent_w, 4),
                          src_rgba)
    # The layer holds the engine's result cut to the region, with the source's alpha.
    styled = np.frombuffer(stylize_rgba(sent_w, sent_h, bytes(sent)), np.uint8).reshape(
        sent_h, sent_w, 4)
    i = plan.inner
    want = styled[i.y:i.y2, i.x:i.x2].copy()
    want[..., 3] = src_rgba[i.y:i.y2, i.x:i.x2, 3]
    got = new.rgba()
    if case.base == gm.GRAY:
        w_ = want.astype(int)
        luma = (299 * w_[..., 0] + 587 * w_[..., 1] + 114 * w_[..., 2] + 500) // 1000
        assert np.abs(got[..., 0].astype(int) - luma).max() <= 1
        assert np.array_equal(got[..., 3], want[..., 3])
    else:
        assert np.array_equal(got, want)
    # Mask from the (soft) selection, none without a selection.
    if case.ellipse:
        assert new.mask is not None
        x, y = new.offsets
        assert np.array_equal(new.mask.pixels, img.selection[y:y + new.height, x:x + new.width])
        if case.feather:
            assert ((new.mask.pixels > 0) & (new.mask.pixels < 255)).any()
    else:
        assert new.mask is None
    # One undo step holds every change.
    assert img.group_depth == 0
    assert len(img.undo_steps) == before.steps + 1
    step = img.undo_steps[-1]
    assert any(op.startswith("insert") for op in step)
    if case.ellipse:
        assert any(op.startswith("mask") for op in step)
    # After flattening: outside the selection untouched, inside changed.
    after = img.composite()
    if case.ellipse:
        outside, inside = img.selection == 0, img.selection == 255
        assert np.array_equal(after[outside], before.composite[outside])
        changed = np.abs(after[inside][:, :3].astype(int) - before.composite[inside][:, :3])
        visible = before.composite[inside][:, 3] > 0
        assert changed[visible].mean() > 10


def assert_unchanged(img, source, before: Before):
    assert img.layers == before.layers
    assert np.array_equal(source.pixels, before.source)
    assert np.array_equal(img.composite(), before.composite)
    assert img.group_depth == 0
    # Any undo step left must be a no-op pair (insert + remove of the same layer) at most.
    for step in img.undo_steps[before.steps:]:
        inserted = {op.split(" ", 1)[1] for op in step if op.startswith("insert")}
        removed = {op.split(" ", 1)[1] for op in step if op.startswith("remove")}
        assert inserted == removed


def assert_progress(records):
    """records: list of (fraction or None, text or None) in call order."""
    fractions = [f for f, _ in records if f is not None]
    texts = [t for _, t in records if t]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any("starting engine" in t for t in texts)
    assert any("step 2/4" in t for t in texts)
