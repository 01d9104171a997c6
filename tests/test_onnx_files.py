"""engine.onnx_files: the sha256 check and the per-machine cache of optimised graphs."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from fast_fixtures import write_tiny_model

from engine import onnx_files, runtime
from engine.errors import BadModel


@pytest.fixture
def model(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    onnx = write_tiny_model(tmp_path / "models", "tiny")
    sha = json.loads(onnx.with_suffix(".json").read_text())["sha256"]
    return onnx, sha


def _run(sess) -> np.ndarray:
    x = np.random.default_rng(0).random((1, 3, 24, 32), dtype=np.float32)
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


def _cached():
    folder = onnx_files.cache_folder()
    return sorted(folder.glob("*.onnx")) if folder.is_dir() else []


def test_the_optimised_graph_is_kept_and_gives_the_same_numbers(model, monkeypatch):
    onnx, sha = model
    first = _run(onnx_files.session(onnx, runtime.CPU, sha256=sha, model_id="tiny"))
    assert [p.name.split("-")[0] for p in _cached()] == ["tiny"]
    assert not list(onnx_files.cache_folder().glob(".*"))  # no temporary file left behind

    # A hit reads the cached graph and does not hash the source again.
    def no_hashing(path):
        raise AssertionError("a cache hit must not re-hash the model")

    monkeypatch.setattr(onnx_files, "sha256_file", no_hashing)
    onnx_files._verified.clear()
    again = _run(onnx_files.session(onnx, runtime.CPU, sha256=sha, model_id="tiny"))
    np.testing.assert_array_equal(first, again)


def test_a_replaced_model_misses_the_cache_and_is_refused(model):
    onnx, sha = model
    onnx_files.session(onnx, runtime.CPU, sha256=sha, model_id="tiny")
    data = bytearray(onnx.read_bytes())
    data[-20] ^= 0xFF  # a flipped byte in the weights: same size, new mtime
    onnx.write_bytes(bytes(data))
    st = onnx.stat()
    os.utime(onnx, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    onnx_files._verified.clear()
    with pytest.raises(BadModel, match="sha256"):
        onnx_files.session(onnx, runtime.CPU, sha256=sha, model_id="tiny")


def test_a_broken_cached_graph_is_made_again(model):
    onnx, sha = model
    expected = _run(onnx_files.session(onnx, runtime.CPU, sha256=sha, model_id="tiny"))
    (cached,) = _cached()
    cached.write_bytes(b"not a graph")
    got = _run(onnx_files.session(onnx, runtime.CPU, sha256=sha, model_id="tiny"))
    np.testing.assert_array_equal(expected, got)
    assert cached.stat().st_size > 100  # rewritten


def test_without_a_writable_cache_or_with_it_off_the_model_still_runs(model, monkeypatch,
                                                                      tmp_path):
    onnx, sha = model
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder would go")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # mkdir below a file fails, even for root
    assert _run(onnx_files.session(onnx, runtime.CPU, sha256=sha, model_id="tiny")).shape
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache2"))
    monkeypatch.setenv(onnx_files.CACHE_ENV, "0")
    assert _run(onnx_files.session(onnx, runtime.CPU, sha256=sha, model_id="tiny")).shape
    assert _cached() == []


def test_a_new_version_of_a_model_replaces_its_old_cached_graph(model, tmp_path):
    onnx, sha = model
    onnx_files.session(onnx, runtime.CPU, sha256=sha, model_id="tiny")
    (old,) = _cached()
    onnx2 = write_tiny_model(tmp_path / "models", "tiny", seed=1)  # same name, new weights
    sha2 = json.loads(onnx2.with_suffix(".json").read_text())["sha256"]
    assert sha2 != sha
    onnx_files.session(onnx2, runtime.CPU, sha256=sha2, model_id="tiny")
    (new,) = _cached()
    assert new != old


def test_a_model_without_a_sha256_is_not_cached(model):
    onnx, _ = model
    onnx_files.session(onnx, runtime.CPU)
    assert _cached() == []
