"""The method interface: what every way to stylise takes and gives back.

A method is an object with a `run` method (see `StyleMethod`); `engine.methods` maps each
`contract.Method` to one. The pipeline (engine/pipeline.py) calls it with the job's validated
params and decoded images, on the lane the caller chose (engine/runtime.py), and does the steps
every method shares afterwards: back to the requested size, strength, the mask composite, alpha.
Methods import this module, never the pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from PIL import Image

from engine.cancel import CancelToken, ProgressFn
from engine.images import Picture


@dataclass(frozen=True)
class MethodInput:
    """A job's pixels, decoded: float32 RGB (H, W, 3) in 0..1; mask float32 (H, W) in 0..1, the
    content's size, where the style applies (None: everywhere).

    `photo` is the content as an array or as the decoded `Picture`; `content` gives it as float
    (made on first use), `content_u8` / `content_pil` as 8 bits where it was decoded from 8 bits
    (else None), for a method that can work without a full-size float copy."""

    photo: np.ndarray | Picture
    paintings: Sequence[np.ndarray | Picture] = ()
    mask: np.ndarray | None = None

    @property
    def styles(self) -> list[np.ndarray]:
        """The paintings as float RGB (made on first use; a Picture keeps it)."""
        return [p.rgb if isinstance(p, Picture) else p for p in self.paintings]

    def painting(self, i: int) -> np.ndarray | Image.Image:
        """Painting `i` as its 8-bit Pillow image where it is 8-bit (no float copy), else as
        float RGB: for a method that only needs it small."""
        p = self.paintings[i]
        if isinstance(p, Picture):
            return p.pil if p.eight_bit else p.rgb
        return p

    @property
    def content(self) -> np.ndarray:
        return self.photo.rgb if isinstance(self.photo, Picture) else self.photo

    @property
    def content_u8(self) -> np.ndarray | None:
        return self.photo.u8 if isinstance(self.photo, Picture) else None

    @property
    def content_pil(self) -> Image.Image | None:
        return self.photo.pil if isinstance(self.photo, Picture) else None

    @property
    def content_shape(self) -> tuple[int, int]:
        """(height, width) without making the float copy."""
        w, h = (self.photo.size if isinstance(self.photo, Picture)
                else (self.photo.shape[1], self.photo.shape[0]))
        return h, w


@dataclass
class MethodResult:
    # float32 (H, W, 3) in 0..1, or from a method that finished in 8 bits uint8 (H, W, 3) or a
    # Pillow "RGB" image; at the method's own working size
    rgb: np.ndarray | Image.Image
    info: dict[str, Any] = field(default_factory=dict)  # device, iterations, losses, ...
    # Further images a method makes besides the result, by name, each at its own final size
    # (e.g. Deep Image Analogy's "reverse": the reference rebuilt with the photo's look).
    extras: dict[str, np.ndarray] = field(default_factory=dict)


class StyleMethod(Protocol):
    """One way to stylise. `params` is the method's contract dataclass, already validated, and
    the style count already checked against `contract.METHODS` (contract.check_styles). `lane` is
    "cpu" or "cuda" (engine.runtime.lane). A method reports through `progress`, calls
    `cancel.raise_if_cancelled()` at least once per iteration or tile, raises engine.errors
    exceptions for anything a user can fix, and never modifies the input arrays. A method whose
    class sets `applies_strength = True` applies `params.strength` itself (the pipeline then
    only composites the mask)."""

    def run(self, params: Any, inputs: MethodInput, *, lane: str, progress: ProgressFn,
            cancel: CancelToken) -> MethodResult: ...
