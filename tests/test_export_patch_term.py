"""The patch (MRF) term of the per-painting networks' training loss (export.losses.PatchTerm):
checked against a brute-force nearest-patch search written independently here."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from export.losses import PATCH_SIZE, PatchTerm


def _brute_force(output: torch.Tensor, painting: torch.Tensor) -> float:
    """Mean over every 3x3 output patch of 1 - max cosine to any 3x3 painting patch."""
    k = PATCH_SIZE
    _, c, h, w = output.shape
    best = []
    for y in range(h - k + 1):
        for x in range(w - k + 1):
            p = output[0, :, y:y + k, x:x + k].reshape(-1)
            sims = [F.cosine_similarity(p, painting[0, :, v:v + k, u:u + k].reshape(-1), dim=0)
                    for v in range(painting.shape[2] - k + 1)
                    for u in range(painting.shape[3] - k + 1)]
            best.append(1 - max(float(s) for s in sims))
    return sum(best) / len(best)


def test_the_term_is_the_mean_distance_to_the_nearest_painting_patch():
    gen = torch.Generator().manual_seed(0)
    painting = torch.rand((1, 6, 9, 8), generator=gen)
    output = torch.rand((2, 6, 7, 7), generator=gen)
    term = PatchTerm({"relu4_1": painting}, layers=("relu4_1",))  # stride 1: every patch
    got = float(term({"relu4_1": output}))
    want = (_brute_force(output[:1], painting) + _brute_force(output[1:], painting)) / 2
    assert abs(got - want) < 1e-5
    # The painting itself is made of its own patches; something else is not.
    assert float(term({"relu4_1": painting})) < 1e-5
    assert got > 0.02


def test_the_strided_layer_still_pulls_every_position_towards_the_painting():
    gen = torch.Generator().manual_seed(1)
    painting = {"relu3_1": torch.rand((1, 4, 12, 12), generator=gen)}
    term = PatchTerm(painting, layers=("relu3_1",))
    x = torch.rand((1, 4, 10, 10), generator=gen).requires_grad_()
    before = _brute_force(x.detach(), painting["relu3_1"])
    opt = torch.optim.Adam([x], lr=0.05)
    for _ in range(60):
        opt.zero_grad()
        term({"relu3_1": x}).backward()
        opt.step()
    after = _brute_force(x.detach(), painting["relu3_1"])
    # Measured over all positions (the term sees a quarter of them per step, random phase).
    assert after < 0.5 * before, (before, after)
