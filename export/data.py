"""Training photos: a folder decoded once into a cache of small uint8 arrays, then random crops
and flips that are a pure function of (seed, sample index) — so a resumed run and every rank of a
distributed run see exactly the samples a single uninterrupted process would."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

log = logging.getLogger(__name__)

EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}


def list_photos(folder: Path, what: str = "photos") -> list[Path]:
    if not Path(folder).is_dir():
        raise FileNotFoundError(f"{folder} is not a folder (expected a folder of {what})")
    photos = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in EXTENSIONS)
    if not photos:
        raise FileNotFoundError(f"No {what} ({', '.join(sorted(EXTENSIONS))}) in {folder}")
    return photos


def shrink_photo(path: Path, short_side: int) -> np.ndarray:
    """The photo upright, RGB, shrunk (never enlarged) so its shorter side is `short_side`; the
    training cache and the GPU packs (export/gpu_train_*.sh) read photos through it."""
    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im).convert("RGB")
        w, h = im.size
        s = short_side / min(w, h)
        if s < 1.0:
            im = im.resize((max(short_side, round(w * s)), max(short_side, round(h * s))),
                           Image.Resampling.LANCZOS)
        return np.asarray(im, dtype=np.uint8)


class PhotoCrops:
    """`batch(indices)` -> float32 NCHW tensor in 0..1 of `size` x `size` crops.

    Each photo is first shrunk so its short side is `size * zoom` (crops then cover a good part of
    the photo, as the network will see whole photos at use time)."""

    def __init__(self, folder: Path, size: int, *, seed: int, cache_dir: Path | None = None,
                 zoom: float = 1.5, what: str = "photos"):
        self.size = size
        self.seed = seed
        self.photos = list_photos(folder, what)
        short = max(size, round(size * zoom))
        self.arrays = self._load(short, cache_dir)

    def _load(self, short: int, cache_dir: Path | None) -> list[np.ndarray]:
        key = hashlib.sha256(
            "\n".join(f"{p.name}:{p.stat().st_size}" for p in self.photos).encode()
        ).hexdigest()[:12]
        cache = Path(cache_dir) / f"photos_{short}_{key}.npz" if cache_dir else None
        if cache is not None and cache.is_file():
            with np.load(cache) as z:
                return [z[f"a{i}"] for i in range(len(self.photos))]
        arrays = [shrink_photo(p, short) for p in self.photos]
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            # One temporary name per process: under torchrun every rank fills a cold cache at
            # once, and a shared name let one rank's rename pull the file from under another's.
            tmp = cache.with_suffix(f".{os.getpid()}.tmp.npz")
            np.savez(tmp, **{f"a{i}": a for i, a in enumerate(arrays)})
            tmp.replace(cache)
            log.info("cached %d photos in %s", len(arrays), cache)
        return arrays

    def __len__(self) -> int:
        return len(self.arrays)

    def photo_index(self, sample: int) -> int:
        """Epoch-wise permutation: every photo once per epoch, order fixed by (seed, epoch)."""
        n = len(self.arrays)
        epoch, pos = divmod(sample, n)
        return int(np.random.default_rng([self.seed, epoch]).permutation(n)[pos])

    def crop(self, sample: int) -> np.ndarray:
        a = self.arrays[self.photo_index(sample)]
        rng = np.random.default_rng([self.seed, 1_000_003, sample])
        h, w = a.shape[:2]
        s = self.size
        if h < s or w < s:  # tiny photo: upscale (rare; keeps the crop size fixed)
            im = Image.fromarray(a)
            k = s / min(h, w)
            a = np.asarray(im.resize((max(s, round(w * k)), max(s, round(h * k))),
                                     Image.Resampling.BICUBIC))
            h, w = a.shape[:2]
        y = int(rng.integers(0, h - s + 1))
        x = int(rng.integers(0, w - s + 1))
        c = a[y:y + s, x:x + s]
        if rng.random() < 0.5:
            c = c[:, ::-1]
        return c

    def batch(self, samples: range | list[int]) -> torch.Tensor:
        arr = np.stack([self.crop(i) for i in samples]).astype(np.float32) / 255.0
        return torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous()
