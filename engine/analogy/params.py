"""Parameters of Deep Image Analogy, in the contract's style (the lead moves them into
`engine/contract.py` at integration; keep this module free of other imports).

Defaults are the paper's (Liao et al. 2017, and the authors' code where the paper is silent),
except `deconv_iterations`: see docs/analogy.md, "Departures".
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.contract import Device, param


@dataclass(frozen=True)
class AnalogyParams:
    size: int = param(448, "Longest side, in pixels, at which both images are matched; the result "
                           "is scaled back to the photo's size.",
                      min=64, max=2048, label="Size (px)")
    reverse_output: bool = param(False, "Also build B: the reference's layout with the photo's "
                                        "look (the paper's second output).",
                                 label="Reverse output (B)")
    bidirectional: bool = param(True, "Match in both directions at every layer, as the paper "
                                      "does (needed for B; off is about twice as fast and "
                                      "gives A' only).",
                                label="Two-way matching", advanced=True)
    blend_weights: tuple[float, ...] = param(
        (0.8, 0.7, 0.6, 0.1),
        "How much of the photo's own features is kept at relu4_1, relu3_1, relu2_1, relu1_1 "
        "(the paper's alpha; higher keeps more of the photo's structure).",
        min=0.0, max=1.0, label="Structure kept per layer", advanced=True)
    patch_sizes: tuple[float, ...] = param(
        (3.0, 3.0, 3.0, 5.0, 5.0),
        "Patch width at relu5_1 ... relu1_1 (odd whole numbers).",
        min=1.0, max=9.0, label="Patch sizes", advanced=True)
    search_radii: tuple[float, ...] = param(
        (0.0, 6.0, 6.0, 4.0, 4.0),
        "PatchMatch random-search radius at relu5_1 ... relu1_1, in feature-map cells "
        "(0 = the whole map).",
        min=0.0, max=512.0, label="Search radii", advanced=True)
    patchmatch_iterations: int = param(10, "PatchMatch iterations per layer.",
                                       min=1, max=50, label="PatchMatch iterations",
                                       advanced=True)
    deconv_iterations: int = param(10, "L-BFGS iterations that bring the matched features down "
                                       "one layer (the authors' code allows up to 100).",
                                   min=1, max=200, label="Deconvolution iterations",
                                   advanced=True)
    strength: float = param(1.0, "Blend of the result over the original photo (1 = fully "
                                 "repainted).", min=0.0, max=1.0, label="Strength")
    seed: int = param(0, "Random seed of PatchMatch's random search, for reproducible results.",
                      min=0, max=2**31 - 1, label="Seed", advanced=True)
    device: Device = param(Device.AUTO, "Where to run: auto picks CUDA when present.",
                           label="Device", advanced=True)
