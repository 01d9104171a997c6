#!/usr/bin/env python3
"""How A' is rebuilt from the correspondence, against patch style transfer at the same size
(issue #12: A' should be made of the reference's patches: nst_score's `patch` below patch
style's).

One Deep Image Analogy match (one direction, the contract's defaults) at --size; then A' is
voted from B' through the relu1_1 field with k x k patches (k = 1, 3 = the default, 5, 7) and
through the coarser fields (relu2_1 ... relu4_1, upsampled to pixels: larger coherent pieces);
each picture and patch style transfer (`python -m engine stylize --style-loss patch`, same size)
scored by ../shared/tools/nst_score.py at --size. One JSON line per picture.

Usage: python benchmarks/analogy_votes.py [PHOTO REFERENCE] [--size 448] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import yardstick  # noqa: E402  (benchmarks/, the script's own folder)
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NST_SHARED", ROOT.parent / "shared"))
sys.path.insert(0, str(ROOT))
PHOTO = SHARED / "images/content/astronaut_portrait.jpg"
REFERENCE = SHARED / "images/style/self_portrait_straw_hat_vangogh.jpg"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("photo", nargs="?", type=Path, default=PHOTO)
    ap.add_argument("reference", nargs="?", type=Path, default=REFERENCE)
    ap.add_argument("--size", type=int, default=448)
    ap.add_argument("--keep", type=Path, help="keep the pictures here")
    a = ap.parse_args()

    from engine.analogy import latent, reconstruct
    from engine.analogy import patchmatch as pm
    from engine.contract import AnalogyParams
    from engine.images import load_picture

    fields: dict[str, pm.Field] = {}
    search = reconstruct._Analogy._search

    def keep_field(self, i, *args, **kwargs):  # the per-layer A -> B' fields, as they are made
        out = search(self, i, *args, **kwargs)
        fields[reconstruct.LAYERS[i]] = out[0]
        return out

    reconstruct._Analogy._search = keep_field
    score = yardstick.score
    photo, reference = str(a.photo), str(a.reference)
    m = reconstruct.match(load_picture(photo).rgb, load_picture(reference).rgb,
                          AnalogyParams(size=a.size, bidirectional=False))
    h, w = m.a.shape[1:]
    shape_b = tuple(m.bprime.shape[1:])
    with tempfile.TemporaryDirectory() as tmp:
        folder = a.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)

        def report(name: str, path: Path) -> None:
            r = score(photo, reference, str(path), a.size)
            print(json.dumps({"picture": name, **{k: round(r[k], 3)
                                                  for k in ("content", "style", "patch")}}),
                  flush=True)

        for layer in ("relu1_1", "relu2_1", "relu3_1", "relu4_1"):
            field = pm.upsample_field(fields[layer], (h, w), shape_b)
            for k in ((1, 3, 5, 7) if layer == "relu1_1" else (3, 7)):
                x = latent.vote(field, m.bprime, k)
                path = folder / f"a_prime_{layer}_{k}.png"
                rgb = (x.clamp(0, 1).permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
                Image.fromarray(rgb).save(path)
                report(f"A' {layer} field, {k}x{k} vote"
                       + (" (default)" if (layer, k) == ("relu1_1", 3) else ""), path)
        out = folder / "patch_style.png"
        subprocess.run([sys.executable, "-m", "engine", "stylize", photo, "-s", reference,
                        "-o", str(out), "--size", str(a.size), "--style-loss", "patch", "-q"],
                       cwd=ROOT, check=True)
        report("patch style transfer", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
