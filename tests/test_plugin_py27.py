"""The GIMP 2.10 plug-in under a real Python 2.7 (GIMP 2.10's Python-Fu): registration and one
whole run through tests/gimp_doubles/py27_run.py, checked against nst_host's geometry (Python 3).
Skipped only when no Python 2.7 exists (set NST_PYTHON2 to point at one)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import plugin_cases as pc
import pytest
import python27

from engine.contract import schema

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def py2():
    return python27.require()


def run_py27(exe, tmp_path, case, gray=False):
    target = tmp_path / "neural-style"
    target.mkdir()
    shutil.copy(ROOT / "gimp_plugin" / "neural_style_gimp2.py", target / "neural-style.py")
    for name in pc.install.SHARED:
        shutil.copy(ROOT / "gimp_plugin" / name, target / name)
    (target / "nst_config.json").write_text(json.dumps(
        {"version": 1, "engine_url": "http://127.0.0.1:9", "token_file": "/nonexistent",
         "engine_command": None, "log_file": None}))
    rgba = pc.photo(*case.layer)
    layer = pc.gm.layer_from_rgba(None, "Photo", rgba, pc.gm.GRAY_IMAGE if gray
                                  else pc.gm.RGB_IMAGE)
    img = pc.gm.Image(*case.canvas)
    if case.ellipse:
        img.select_ellipse(*case.ellipse, feather=case.feather)
    fields = [f["name"] for f in schema()["methods"]["fast"]]
    args = {f["name"]: f["default"] for f in schema()["methods"]["fast"]}
    args["model"] = "tiny"
    spec = {"canvas": list(case.canvas), "layer": list(case.layer), "offsets": list(case.offsets),
            "gray": gray, "pixels": layer.pixels.reshape(-1).tolist(),
            "selection": img.selection.reshape(-1).tolist() if case.ellipse else None,
            "fast_args": args, "fast_order": fields}
    r = subprocess.run([exe, str(ROOT / "tests" / "gimp_doubles" / "py27_run.py"), str(target)],
                       input=json.dumps(spec), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout), layer, img


@pytest.mark.parametrize("case, gray", [(pc.CASES[1], False), (pc.CASES[2], False),
                                        (pc.CASES[2], True)], ids=["no_sel", "sel", "gray"])
def test_run_under_python27(py2, tmp_path, case, gray):
    out, layer, img = run_py27(py2, tmp_path, case, gray)
    assert out["python"] == [2, 7]
    assert out["error"] is None, out["error"]
    assert out["source_unchanged"]
    sel = img.selection_bounds()[1:] if case.ellipse else None
    plan = pc.nst_host.plan_region(case.offsets, case.layer, sel)
    c, i = plan.context, plan.inner
    src = layer.rgba()
    sw, sh, sent = out["sent"]
    sent = np.array(sent, np.uint8).reshape(sh, sw, 4)
    assert np.array_equal(sent, src[c.y:c.y2, c.x:c.x2])
    new = out["new"]
    assert new["name"] == "Neural Style: tiny"
    assert new["offsets"] == list(plan.offsets) and new["size"] == [plan.region.w, plan.region.h]
    want = 255 - sent[i.y:i.y2, i.x:i.x2].astype(int)
    got = np.array(new["pixels"], np.uint8).reshape(plan.region.h, plan.region.w, new["bpp"])
    if gray:
        luma = (299 * want[..., 0] + 587 * want[..., 1] + 114 * want[..., 2] + 500) // 1000
        assert new["bpp"] == 2 and np.array_equal(got[..., 0], luma)
    else:
        assert new["bpp"] == 4 and np.array_equal(got[..., :3], want[..., :3])
    assert (got[..., -1] == 255).all()
    if case.ellipse:
        mask = np.array(new["mask"], np.uint8).reshape(plan.region.h, plan.region.w)
        x, y = plan.offsets
        assert np.array_equal(mask, img.selection[y:y + plan.region.h, x:x + plan.region.w])
    else:
        assert new["mask"] is None
    # Every change between one undo_start and undo_end.
    changes = [e for e in out["log"] if e in ("undo_start", "undo_end", "insert", "offsets",
                                             "pixels", "mask", "remove")]
    assert changes[0] == "undo_start" and changes[-1] == "undo_end"
    assert changes.count("undo_start") == 1 and "remove" not in changes
    assert any(e.startswith("text:") and "starting engine" in e for e in out["log"])


def test_registration_under_python27(py2, tmp_path):
    out, _, _ = run_py27(py2, tmp_path, pc.CASES[1])
    reg = out["registered"]
    assert set(reg) == {"python-fu-neural-style", "python-fu-fast-neural-style",
                        "python-fu-image-analogy"}
    for proc, method in (("python-fu-neural-style", "gatys"),
                         ("python-fu-fast-neural-style", "fast"),
                         ("python-fu-image-analogy", "analogy")):
        params = {p[1]: p[2] for p in reg[proc]}
        for f in schema()["methods"][method]:
            got = params[f["name"].replace("_", "-")]
            if f["type"] == "float_list":
                got = [float(v) for v in got.split(",") if v]
            assert got == f["default"], f["name"]
