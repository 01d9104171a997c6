"""Issue #10 items 4 and 6 in the fast path: thin images stay within the memory bound (the
one-piece-or-tiles decision and the tone reference count the padded size the network runs at),
and every tile size the contract admits works."""

from __future__ import annotations

import numpy as np
import pytest
from fast_fixtures import write_tiny_model

from engine import fast
from engine.contract import FastParams
from engine.fast import session as fast_session
from engine.fast.tiling import run_tiled


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    write_tiny_model(folder, "tiny")
    return folder


@pytest.fixture
def runs(models_dir, monkeypatch, tmp_path):
    """The (h, w) of every input the network is given."""
    monkeypatch.setenv("NST_MODEL_PATH", str(models_dir))
    monkeypatch.setenv("NST_CONFIG_DIR", str(tmp_path / "config"))
    seen: list[tuple[int, int]] = []
    real = fast_session.OnnxSession.run

    def run(self, rgb01):
        seen.append(rgb01.shape[:2])
        return real(self, rgb01)

    monkeypatch.setattr(fast_session.OnnxSession, "run", run)
    return seen


@pytest.mark.parametrize("h,w", [(1, 500_000), (300_000, 2), (3, 200_000)])
def test_thin_images_never_run_past_the_one_piece_budget(runs, h, w):
    model = fast.get_model("tiny")
    budget = fast.one_piece_pixels(fast.memory_per_megapixel(model.meta))
    assert 32 * max(h, w) > budget, "the case must be one that padding pushes over the budget"
    img = np.random.default_rng(0).random((h, w, 3), dtype=np.float32)
    out = fast.stylize(img, FastParams(model="tiny")).rgb
    assert out.shape == img.shape and np.isfinite(out).all()
    biggest = max(a * b for a, b in runs)
    assert biggest <= budget, f"{biggest} pixels in one run; the bound is {budget}"


def test_auto_tile_decides_on_the_padded_size():
    mb = 148.0  # MB per megapixel of a width-4 Johnson network
    budget = fast.one_piece_pixels(mb)
    for h, w in [(1, 500_000), (1, 4_000_000), (7, 1_000_000), (2_000_000, 1)]:
        seen = []

        def identity(x, seen=seen):
            seen.append(x.shape[0] * x.shape[1])
            return x

        img = np.zeros((h, w, 3), np.float32)
        run_tiled(img, identity, tile=fast.auto_tile(h, w, mb), overlap=fast.OVERLAP, stride=4)
        assert max(seen) <= budget, (h, w, max(seen), budget)


@pytest.mark.parametrize("tile", [1, 4, 16, 17, 31])
def test_every_tile_the_contract_admits_works(runs, tile):
    img = np.random.default_rng(1).random((70, 90, 3), dtype=np.float32)
    result = fast.stylize(img, FastParams(model="tiny", tile=tile))
    assert result.rgb.shape == img.shape and np.isfinite(result.rgb).all()
    assert min(min(shape) for shape in runs) >= 32  # never below the network's smallest input
