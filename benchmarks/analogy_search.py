#!/usr/bin/env python3
"""Brute force vs PatchMatch per layer, on real VGG19 features: the measurement behind the
seconds-per-multiply-add constants that `engine/analogy/reconstruct.py` uses to pick the search.

Features of the portrait pair at --size (A' = A, B = B': the relu5_1 situation at every layer);
for each layer: exact search (both fields, one pass), then PatchMatch both ways from the identity
field with the paper's patch size, radius and 10 rounds on the PCA descriptors (one thread, as
in the pipeline). Prints seconds, the cost model's multiply-adds and the implied s/MAC.
Usage: python benchmarks/analogy_search.py [--size 224] [--max-exact-gmac 60]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = Path(os.environ.get("NST_SHARED", ROOT.parent / "shared"))


def main() -> int:
    from engine.analogy import latent
    from engine.analogy import patchmatch as pm
    from engine.analogy.reconstruct import LAYERS, PCA_DIMS, _one_thread, _to_tensor
    from engine.backbone import shared_backbone
    from engine.contract import Pooling

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--max-exact-gmac", type=float, default=60.0)
    a = ap.parse_args()
    net = shared_backbone(Pooling.MAX, "cpu")
    imgs = [np.asarray(Image.open(SHARED / p).convert("RGB"), np.float32) / 255 for p in
            ("images/content/astronaut_portrait.jpg",
             "images/style/self_portrait_straw_hat_vangogh.jpg")]
    feats = []
    for img in imgs:
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            out = net(_to_tensor(img, "x", a.size).contiguous(memory_format=torch.channels_last),
                      LAYERS)
        feats.append({k: latent.unit(v[0].float()) for k, v in out.items()})
    patches, radii = (3, 3, 3, 5, 5), (0, 6, 6, 4, 4)
    gen = torch.Generator().manual_seed(0)
    for i, name in enumerate(LAYERS):
        fa, fb = feats[0][name], feats[1][name]
        sa, sb = tuple(fa.shape[1:]), tuple(fb.shape[1:])
        k, c = patches[i], 2 * fa.shape[0]
        row = {"layer": name, "cells": [sa, sb], "channels": c, "patch": k}
        brute = pm.brute_force_cost(sa, sb, c, k)
        row["exact_gmac"] = round(brute / 1e9, 2)
        if brute / 1e9 <= a.max_exact_gmac:
            t = time.perf_counter()
            ab, _ = pm.exact_fields(torch.cat([fa, fa]), torch.cat([fb, fb]), k)
            row["exact_s"] = round(time.perf_counter() - t, 2)
            row["exact_s_per_gmac"] = round(row["exact_s"] / row["exact_gmac"], 4)
        t = time.perf_counter()
        da, db = pm.patch_descriptors([(fa, fb), (fa, fb)], k, PCA_DIMS, gen)
        row["descriptors_s"] = round(time.perf_counter() - t, 2)
        dims = da.shape[1]
        t = time.perf_counter()
        with _one_thread():
            f = pm.patchmatch(da, db, sa, sb, pm.identity_field(sa, sb), iterations=10,
                              radius=radii[i], gen=gen)
            pm.patchmatch(db, da, sb, sa, pm.identity_field(sb, sa), iterations=10,
                          radius=radii[i], gen=gen)
        row["patchmatch_s"] = round(time.perf_counter() - t, 2)
        cost = sum(pm.patchmatch_cost(s, dims, 10, radii[i], tt) for s, tt in
                   ((sa, sb), (sb, sa)))
        row["patchmatch_gmac"] = round(cost / 1e9, 3)
        row["patchmatch_s_per_gmac"] = round(row["patchmatch_s"] / row["patchmatch_gmac"], 3)
        if "exact_s" in row:
            row["patchmatch_equals_exact"] = round(float((f.index == ab.index).float().mean()), 3)
        row["load"] = round(os.getloadavg()[0], 1)
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
