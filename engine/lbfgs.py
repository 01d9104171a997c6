"""L-BFGS's memory: each correction pair keeps two float32 vectors the size of the variable, so
the history is sized to a byte budget, between a least and a most (Gatys' image optimisation and
Deep Image Analogy's deconvolution both use it)."""

from __future__ import annotations


def history(numel: int, budget_bytes: float, least: int, most: int) -> int:
    """Correction pairs for a float32 variable of `numel` numbers within `budget_bytes`."""
    return int(max(least, min(most, budget_bytes // (2 * 4 * numel))))
