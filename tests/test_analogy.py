"""Deep Image Analogy (engine/analogy): the searches agree with brute force, the whole pipeline
recovers known correspondences (identity, translation, a stylised shifted copy), and it reports
progress and honours cancel. CPU, tiny images."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from engine.analogy import patchmatch as pm
from engine.analogy import reconstruct
from engine.analogy.reconstruct import analogize, match
from engine.cancel import CancelToken
from engine.contract import AnalogyParams
from engine.errors import BadImage, BadParameter, Cancelled

ROOT = Path(__file__).resolve().parents[1]
FAST = dict(size=64, deconv_iterations=4, patchmatch_iterations=6, device="cpu")


def _params(**kw) -> AnalogyParams:
    from engine.contract import params_from_dict

    return params_from_dict(AnalogyParams, {**FAST, **kw})


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A 160 x 120 piece of the cat photo (fur and edges: something to match)."""
    im = Image.open(ROOT / "demo" / "chelsea.jpg").convert("RGB")
    im = im.resize((im.width * 200 // im.height, 200), Image.BICUBIC)
    arr = np.asarray(im, np.float32) / 255.0
    return arr[20:180, 40:260]


def _psnr(x: np.ndarray, y: np.ndarray) -> float:
    mse = float(np.mean((x.astype(np.float64) - y.astype(np.float64)) ** 2))
    return 10 * math.log10(1.0 / max(mse, 1e-12))


# ------------------------------------------------------------------------------ searches

def _pieces_of(b: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """A made of four pieces of B, each moved by its own offset, plus noise: a field with
    coherent regions, like real images have (pure noise has no structure to propagate)."""
    c, h, w = b.shape
    a = torch.empty_like(b)
    moves = ((5, 3), (-4, -10), (-12, 7), (2, -2))
    for n, (oy, ox) in enumerate(moves):
        ys = slice(0, h // 2) if n < 2 else slice(h // 2, h)
        xs = slice(0, w // 2) if n % 2 == 0 else slice(w // 2, w)
        yy = (torch.arange(h)[ys] + oy).clamp(0, h - 1)
        xx = (torch.arange(w)[xs] + ox).clamp(0, w - 1)
        a[:, ys, xs] = b[:, yy][:, :, xx]
    return a + 0.1 * torch.randn(a.shape, generator=gen)


def test_exact_search_is_the_patch_distance_minimum():
    gen = torch.Generator().manual_seed(1)
    a = torch.randn(4, 7, 9, generator=gen)
    b = torch.randn(4, 6, 8, generator=gen)
    ab, ba = pm.exact_fields(a, b, 3)
    da, db = pm.patch_descriptors([(a, b)], 3, None, gen)  # unfolded patches, zero padded
    d = torch.cdist(da.double(), db.double()) ** 2
    assert torch.equal(ab.index.reshape(-1), d.argmin(1))
    assert torch.equal(ba.index.reshape(-1), d.argmin(0))
    assert torch.allclose(ab.dist.reshape(-1).double(), d.min(1).values, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("patch", [3, 5])
def test_patchmatch_agrees_with_brute_force(patch):
    gen = torch.Generator().manual_seed(0)
    b = torch.randn(8, 40, 48, generator=gen)
    a = _pieces_of(b, gen)
    exact_ab, exact_ba = pm.exact_fields(a, b, patch)
    da, db = pm.patch_descriptors([(a, b)], patch, None, gen)
    shape = (40, 48)
    ab = pm.patchmatch(da, db, shape, shape, pm.identity_field(shape, shape), iterations=10,
                       radius=0, gen=gen)
    ba = pm.patchmatch(db, da, shape, shape, pm.identity_field(shape, shape), iterations=10,
                       radius=0, gen=gen)
    agree_ab = (ab.index == exact_ab.index).float().mean().item()
    # B -> A: B's cells outside every moved piece have no true partner in A (their nearest
    # neighbour is whichever noise patch happens to be closest, which no search short of brute
    # force finds); the agreement that matters is over the cells that do have one.
    partnered = exact_ba.dist < 20.0  # a true copy costs ~1-2 here, a random patch ~100+
    agree_ba = (ba.index == exact_ba.index)[partnered].float().mean().item()
    print(f"patch {patch}: PatchMatch = brute force at {agree_ab:.1%} of A's cells, "
          f"{agree_ba:.1%} of B's {partnered.float().mean():.0%} cells with a partner")
    assert agree_ab >= 0.95
    assert agree_ba >= 0.95
    assert torch.all(ab.dist >= exact_ab.dist - 1e-3)  # never better than the true minimum


def test_reduced_descriptors_depend_only_on_the_seed():
    # The principal subspace comes from a randomised SVD, whose test matrix torch draws from its
    # global generator: it must come from ours, or the same seed gives another picture.
    g = torch.Generator().manual_seed(3)
    a, b = torch.randn(32, 20, 24, generator=g), torch.randn(32, 18, 22, generator=g)
    out = []
    for noise in (1, 2):
        torch.manual_seed(noise)
        out.append(pm.patch_descriptors([(a, b)], 3, 16, torch.Generator().manual_seed(0)))
    assert out[0][0].shape == (20 * 24, 16)
    assert torch.equal(out[0][0], out[1][0]) and torch.equal(out[0][1], out[1][1])


def test_upsampled_field_keeps_the_displacement():
    shape, target = (6, 8), (6, 8)
    gy, gx = torch.meshgrid(torch.arange(6), torch.arange(8), indexing="ij")
    f = pm.Field(gy * 8 + (gx + 1).clamp(max=7), torch.zeros(shape), target)  # one cell right
    up = pm.upsample_field(f, (12, 16), (12, 16))
    off = up.offsets()
    assert torch.all(off[0] == 0)
    assert torch.all(off[1][:, :-2] == 2)


# ------------------------------------------------------------------------------ pipeline

def _np(t: torch.Tensor) -> np.ndarray:
    return t.permute(1, 2, 0).numpy()


def test_same_image_gives_itself_back(photo):
    # Compared at working size: the resize back to the photo's size is not the algorithm.
    m = match(photo, photo, _params(size=64, reverse_output=True))
    assert m.b is not None
    score_a, score_b = _psnr(_np(m.a_prime), _np(m.a)), _psnr(_np(m.b), _np(m.bprime))
    print(f"B' = A: A' vs A {score_a:.1f} dB, B vs B' {score_b:.1f} dB")
    assert score_a >= 30.0
    assert score_b >= 30.0


@pytest.fixture(params=["exact", "patchmatch"])
def search(request, monkeypatch):
    """Small pictures are searched exactly (it is cheaper); make brute force look expensive to
    run the same pipeline on PatchMatch."""
    if request.param == "patchmatch":
        monkeypatch.setattr(reconstruct, "BRUTE_S_PER_MAC", 1.0)
    return request.param


def test_translation_is_recovered(photo, search):
    ty, tx = 6, 10  # B' is A moved up-left by (6, 10) pixels
    a = photo[:96, :128]
    bprime = photo[ty:ty + 96, tx:tx + 128]
    m = match(a, bprime, _params(size=128))
    assert search in " ".join(m.info["stages"].values())
    off = m.field_ab.offsets().numpy()
    interior = (slice(8, 96 - 8 - ty), slice(8, 128 - 8 - tx))
    ok = (off[0][interior] == -ty) & (off[1][interior] == -tx)
    print(f"{search}: translation recovered at {ok.mean():.1%} of interior positions")
    assert ok.mean() >= 0.90


def _stylise(rgb: np.ndarray) -> np.ndarray:
    """A 'painted' version: warm colour matrix, posterised to 6 levels, then a light blur."""
    m = np.array([[0.9, 0.3, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.4]], np.float32)
    out = np.clip(rgb @ m.T, 0, 1)
    out = np.round(out * 5) / 5
    t = torch.from_numpy(out).permute(2, 0, 1)[None]
    t = torch.nn.functional.avg_pool2d(t, 3, stride=1, padding=1, count_include_pad=False)
    return t[0].permute(1, 2, 0).numpy()


def test_same_seed_same_picture(photo, monkeypatch):
    # The whole run, on PatchMatch (the reduced descriptors are used there), twice with the
    # global generator in different states: the `seed` parameter alone decides the result.
    monkeypatch.setattr(reconstruct, "BRUTE_S_PER_MAC", 1.0)
    runs = []
    for noise in (1, 2):
        torch.manual_seed(noise)
        runs.append(match(photo, photo[::-1, ::-1].copy(), _params(refine_iterations=0)))
    assert torch.equal(runs[0].field_ab.index, runs[1].field_ab.index)
    assert torch.equal(runs[0].a_prime, runs[1].a_prime)


def test_stylised_shifted_copy_is_aligned(photo):
    ty, tx = 5, 8
    styled = _stylise(photo)
    a = photo[:96, :128]
    bprime = styled[ty:ty + 96, tx:tx + 128]
    target = styled[:96, :128]  # the stylised copy aligned with A
    a_prime, _, _ = analogize(a, bprime, _params(size=128))
    inside = (slice(0, 96 - ty), slice(0, 128 - tx))  # where B' holds A's content
    score = _psnr(a_prime[inside], target[inside])
    print(f"A' vs aligned stylised copy: {score:.1f} dB (overlap), "
          f"{_psnr(a_prime, target):.1f} dB (whole)")
    assert score >= 22.0


def test_progress_is_monotonic_and_ends_at_one(photo):
    events = []
    reference = photo[::-1, :150].copy()
    a_prime, b, _ = analogize(photo, reference, _params(reverse_output=True),
                              progress=events.append)
    assert a_prime.shape == photo.shape and a_prime.dtype == np.float32
    assert b is not None and b.shape == reference.shape
    fractions = [e.fraction for e in events]
    assert all(b >= a for a, b in zip(fractions, fractions[1:], strict=False))
    assert fractions[-1] == 1.0
    stages = " ".join(e.stage for e in events)
    assert "deconvolution" in stages and "relu1_1" in stages
    assert "refining strokes A'" in stages and "refining strokes B" in stages
    assert any(e.eta_s is not None for e in events)


@pytest.mark.parametrize("after", ["exact search", "patchmatch", "deconvolution",
                                   "refining strokes"])
def test_cancel_stops_the_run(photo, after, monkeypatch):
    if after == "patchmatch":
        monkeypatch.setattr(reconstruct, "BRUTE_S_PER_MAC", 1.0)
    token = CancelToken()
    seen = []

    def progress(e):
        seen.append(e.stage)
        if after in e.stage:
            token.cancel()

    with pytest.raises(Cancelled):
        analogize(photo, photo[:, ::-1].copy(), _params(size=80), progress=progress,
                  cancel=token)
    assert any(after in s for s in seen)


def test_bad_inputs_are_domain_errors(photo):
    with pytest.raises(BadParameter, match="patch_sizes"):
        analogize(photo, photo, _params(patch_sizes=(3, 3, 4, 5, 5)))
    with pytest.raises(BadParameter, match="blend_weights"):
        analogize(photo, photo, _params(blend_weights=(0.5,)))
    with pytest.raises(BadImage):
        analogize(photo[:, :, :2], photo, _params())
    with pytest.raises(BadImage, match="short side"):
        analogize(photo[:4], photo, _params())


# ------------------------------------------------------------------------------------ CLI

def test_cli_writes_both_outputs(tmp_path, capsys, photo):
    import json

    from engine.__main__ import main

    src_a, src_b = tmp_path / "a.png", tmp_path / "b.png"
    Image.fromarray((photo * 255).astype(np.uint8)).save(src_a)
    Image.fromarray((photo[::-1, :120] * 255).astype(np.uint8)).save(src_b)
    out_a, out_b = tmp_path / "a_prime.png", tmp_path / "b_out.png"
    code = main(["analogy", str(src_a), str(src_b), "-o", str(out_a), "--reverse-output",
                 str(out_b), "--size", "64", "--deconv-iterations", "2",
                 "--patchmatch-iterations", "2", "--json", "-q"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["params"]["size"] == 64 and result["params"]["reverse_output"] is True
    assert Image.open(out_a).size == (220, 160)
    assert Image.open(out_b).size == (120, 160)


@pytest.mark.parametrize("extra, needle", [
    (["--patch-sizes", "3,3,4,5,5"], "odd"),
    (["--size", "10"], "--size"),
    (["--blend-weights", "a,b"], "--blend-weights"),
])
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, capsys, photo, extra, needle):
    from engine.__main__ import main

    src = tmp_path / "a.png"
    Image.fromarray((photo * 255).astype(np.uint8)).save(src)
    out = tmp_path / "out.png"
    code = main(["analogy", str(src), str(src), "-o", str(out), "-q", *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert needle in err and err.count("\n") == 1
    assert not out.exists()


def test_cli_missing_photo(tmp_path, capsys):
    from engine.__main__ import main

    code = main(["analogy", str(tmp_path / "nope.png"), str(tmp_path / "nope.png"), "-o",
                 str(tmp_path / "o.png"), "-q"])
    assert code == 2
    assert capsys.readouterr().err.count("\n") == 1


# ------------------------------------------------------------------------------ refinement

def _patch_distance(picture: torch.Tensor, reference: torch.Tensor, layer: str = "relu3_1"
                    ) -> float:
    """Mean cosine distance of every 3 x 3 `layer` patch of `picture` to its nearest patch of
    `reference` (all positions, brute force): what nst_score's `patch` measures."""
    from engine.backbone import shared_backbone
    from engine.contract import Pooling

    net = shared_backbone(Pooling.MAX, "cpu")
    with torch.no_grad():
        fp, fr = (net(t[None], (layer,))[layer] for t in (picture, reference))
    p = torch.nn.functional.unfold(fp, 3)[0].t()
    r = torch.nn.functional.unfold(fr, 3)[0].t()
    p = p / p.norm(dim=1, keepdim=True).clamp_min(1e-8)
    r = r / r.norm(dim=1, keepdim=True).clamp_min(1e-8)
    return float((1 - (p @ r.t()).max(dim=1).values).mean())


def test_refinement_brings_the_references_patches_closer(photo):
    reference = _stylise(photo[:, ::-1].copy())  # other colours and texture, mirrored layout
    m0 = match(photo, reference, _params(size=96, refine_iterations=0))
    m = match(photo, reference, _params(size=96, refine_iterations=20))
    assert m0.voted is m0.a_prime  # 0 iterations: the paper's voted A', untouched
    assert torch.equal(m.voted, m0.a_prime)  # same seed, same match
    before = _patch_distance(m0.a_prime, m.bprime)
    after = _patch_distance(m.a_prime, m.bprime)
    content = [float((x - m.a).abs().mean()) for x in (m0.a_prime, m.a_prime)]
    print(f"patch distance to B' {before:.4f} -> {after:.4f}; "
          f"mean |A' - A| {content[0]:.4f} -> {content[1]:.4f}")
    assert after < 0.8 * before
    assert content[1] < 0.15  # still the photo's layout, not a copy of the reference
    assert "refine" in m.info["stages"] and "refine" not in m0.info["stages"]


def test_guided_candidate_keeps_patches_the_bank_skipped():
    from engine.analogy.refine import guide_corners
    from engine.gatys import patches

    gen = torch.Generator().manual_seed(0)
    fmap = torch.rand((1, 8, 12, 10), generator=gen)
    field = pm.identity_field((48, 40), (48, 40))  # pixels; the map is 1/4 of them
    guide = guide_corners(field, (12, 10), (12, 10), 3)
    gy, gx = torch.meshgrid(torch.arange(10), torch.arange(8), indexing="ij")
    assert torch.equal(guide, (gy * 10 + gx).reshape(-1))  # each patch's own corner
    bank = patches.build_bank([fmap], [1.0], 3, 2, None)  # every other patch only
    plain = patches.PatchLoss(bank, fmap, rematch=1)
    guided = patches.PatchLoss(bank, fmap, rematch=1, guide=guide, guide_row=10)
    assert float(plain(fmap)) > 0.05
    assert float(guided(fmap)) < 1e-9


def test_refinement_stages():
    from engine.analogy.refine import MIN_COARSE_SIDE, stages

    assert stages(32, (336, 448), (448, 300)) == (12, 20)  # the default at 448 px
    assert sum(stages(7, (96, 96), (96, 96))) == 7
    assert stages(1, (96, 96), (96, 96)) == (0, 1)
    # Half of either picture below a relu4_1 patch's worth of cells: all at full size.
    small = 2 * MIN_COARSE_SIDE - 2
    assert stages(32, (small, 448), (448, 448)) == (0, 32)
    assert stages(32, (448, 448), (448, small)) == (0, 32)
