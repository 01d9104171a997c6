"""ONNX export: parity with torch at two sizes, dynamic size, metadata validated by the engine."""

from __future__ import annotations

import base64
import json
import time

import numpy as np
import pytest
import torch
from fast_fixtures import write_tiny_model

from engine.errors import BadModel
from engine.fast.metadata import from_dict
from export.onnx_export import INPUT, OUTPUT, parity, sha256_file, untrained


def test_tiny_model_fixture_is_valid_and_fast(tmp_path):
    t0 = time.perf_counter()
    path = write_tiny_model(tmp_path, "fixture")
    took = time.perf_counter() - t0
    assert path == tmp_path / "fixture.onnx" and path.is_file()
    data = json.loads((tmp_path / "fixture.json").read_text())
    meta = from_dict(data, "fixture.json")
    assert meta.sha256 == sha256_file(path)
    assert meta.thumbnail_png.startswith(b"\x89PNG")
    assert data["parity"]["max_abs_diff"] and max(data["parity"]["max_abs_diff"].values()) < 1e-3
    assert took < 10  # ~1 s alone; generous for a loaded CI machine


def test_parity_torch_vs_onnxruntime_at_two_sizes_and_dynamic_shape(tmp_path):
    import onnxruntime as ort

    write_tiny_model(tmp_path, "p")
    net = untrained(width=4, depth=1, seed=0)
    report = parity(net, tmp_path / "p.onnx", ((68, 92), (132, 100)))
    assert all(v < 1e-4 for v in report["max_abs_diff"].values())
    sess = ort.InferenceSession(str(tmp_path / "p.onnx"), providers=["CPUExecutionProvider"])
    shape = sess.get_inputs()[0].shape
    assert sess.get_inputs()[0].name == INPUT and sess.get_outputs()[0].name == OUTPUT
    assert not isinstance(shape[2], int) and not isinstance(shape[3], int)  # dynamic H, W
    y = sess.run([OUTPUT], {INPUT: np.random.rand(1, 3, 36, 20).astype(np.float32)})[0]
    assert y.shape == (1, 3, 36, 20)
    # The file holds the deploy form: upsampling by DepthToSpace, never a full-size Resize.
    import onnx

    ops = {n.op_type for n in onnx.load(str(tmp_path / "p.onnx")).graph.node}
    assert "DepthToSpace" in ops and "Resize" not in ops and "ConvTranspose" not in ops


def test_parity_check_fails_when_the_file_is_not_the_network(tmp_path):
    write_tiny_model(tmp_path, "p")
    other = untrained(width=4, depth=1, seed=1)  # different weights than the file
    with pytest.raises(RuntimeError, match="parity"):
        parity(other, tmp_path / "p.onnx", ((36, 36), (20, 28)))


def _meta(tmp_path):
    write_tiny_model(tmp_path, "m")
    return json.loads((tmp_path / "m.json").read_text())


@pytest.mark.parametrize("field,value,message", [
    ("format", "other", "format"),
    ("version", 2, "version"),
    ("id", "../evil", "id"),
    ("name", "  ", "name"),
    ("file", "../m.onnx", "file"),
    ("sha256", "xyz", "sha256"),
    ("stride", 0, "stride"),
    ("stride", "4", "stride"),
    ("fixed_size", [224], "fixed_size"),
    ("thumbnail_png_base64", base64.b64encode(b"GIF89a").decode(), "PNG"),
    ("training", [], "training"),
])
def test_metadata_validation_names_the_field(tmp_path, field, value, message):
    data = _meta(tmp_path)
    data[field] = value
    with pytest.raises(BadModel, match=message):
        from_dict(data, "m.json")


def test_metadata_validation_of_pixel_contract(tmp_path):
    data = _meta(tmp_path)
    data["input"]["range"] = [1, 0]
    with pytest.raises(BadModel, match="range"):
        from_dict(data, "m.json")
    data = _meta(tmp_path)
    data["output"]["layout"] = "NHWC"
    with pytest.raises(BadModel, match="layout"):
        from_dict(data, "m.json")
    data = _meta(tmp_path)
    del data["input"]
    with pytest.raises(BadModel, match="input"):
        from_dict(data, "m.json")
    ok = from_dict(_meta(tmp_path), "m.json")
    assert ok.range == (0.0, 1.0) and ok.stride == 4 and ok.fixed_size is None
    assert from_dict(ok.to_dict(), "again.json") == ok  # round trip


def test_exported_model_output_matches_torch_through_the_engine(tmp_path, monkeypatch):
    from engine import fast
    from engine.contract import FastParams
    from engine.fast.registry import Registry

    write_tiny_model(tmp_path, "e")
    monkeypatch.setattr(fast, "_registry", Registry([tmp_path]))
    img = np.random.default_rng(0).random((64, 48, 3), dtype=np.float32)
    got = fast.stylize(img, FastParams(model="e")).rgb
    # The engine runs the network on the picture with a reflected margin on every side (the
    # picture's borders: engine/fast/tiling), removes the stride lattice (engine/fast/lattice),
    # and crops the margin off.
    m = fast.BORDER_MARGIN
    padded = np.pad(img, ((m, m), (m, m), (0, 0)), mode="reflect")
    with torch.no_grad():
        ref = untrained(width=4, depth=1, seed=0)(torch.from_numpy(padded).permute(2, 0, 1)[None])
    from engine.fast.lattice import remove_lattice

    want = remove_lattice(np.ascontiguousarray(ref[0].permute(1, 2, 0).numpy()), 4)[m:-m, m:-m]
    np.testing.assert_allclose(got, want, atol=1e-4)
