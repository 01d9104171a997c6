"""`python -m export train-upscaler`: the super-resolution network (export/upscaler.py) learned
from crops of paintings: each high-resolution crop is degraded (antialiased bicubic downscale) and
the network learns to restore it. Same machinery as the style networks' training (export/train.py):
deterministic crops per (seed, sample), bf16 autocast on CPUs that have it, exact resume from the
run folder's checkpoint, DDP under torchrun, a progress callback.

The loss is Charbonnier (a smooth L1): L2 would average plausible strokes into blur, which is
exactly what the network is meant to avoid; L1-type losses are the usual choice in SR (EDSR).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import distributed as dist

from engine.images import load_picture
from export.data import PhotoCrops
from export.train import (
    TrainEvent,
    TrainResult,
    _device_name,
    _Distributed,
    _rng_state,
    _save_atomic,
    _set_rng_state,
    _use_bf16,
    final_losses,
    load_checkpoint,
)
from export.upscaler import UpscalerConfig, UpscalerNet, degrade

log = logging.getLogger(__name__)

CHECKPOINT = "upscaler.pt"
KIND = "upscaler"
CHARBONNIER_EPS = 1e-3


@dataclass
class UpscaleSettings:
    data: str  # folder(s) of high-resolution pictures, comma-separated
    out: str  # run folder (checkpoint; resumes)
    scale: int = 4
    width: int = 32
    depth: int = 3
    size: int = 128  # high-resolution crop side (a multiple of scale)
    batch: int = 16
    steps: int = 3000
    lr: float = 2e-3
    seed: int = 0
    checkpoint_every: int = 100
    zoom: float = 8.0  # crops from pictures shrunk to short side size*zoom (8: ours stay native)
    bf16: str = "auto"  # auto | on | off
    cache_dir: str | None = None

    def network(self) -> UpscalerConfig:
        return UpscalerConfig(scale=self.scale, width=self.width, depth=self.depth)


_RESUMABLE_CHANGES = {"steps", "checkpoint_every", "cache_dir", "out"}


def model_from_checkpoint(ckpt: dict) -> UpscalerNet:
    net = UpscalerNet(UpscalerConfig.from_dict(ckpt["settings"]))
    net.load_state_dict(ckpt["model"])
    return net.eval()


def _lr_schedule(step: int, steps: int, lr: float) -> float:
    """Cosine decay to 5%: most of the gain comes late, from the small steps."""
    return lr * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * min(1.0, step / max(1, steps)))))


def _crops(settings: UpscaleSettings, cache: Path) -> list[PhotoCrops]:
    folders = [Path(f) for f in settings.data.split(",") if f.strip()]
    return [PhotoCrops(f, settings.size, seed=settings.seed + i, cache_dir=cache,
                       zoom=settings.zoom) for i, f in enumerate(folders)]


def _batch(sets: Sequence[PhotoCrops], samples: range) -> torch.Tensor:
    """Sample i comes from folder i mod n: every folder weighs the same, whatever its size."""
    parts = [sets[i % len(sets)].batch([i // len(sets)]) for i in samples]
    return torch.cat(parts)


def train_upscaler(settings: UpscaleSettings,
                   progress: Callable[[TrainEvent], None] | None = None) -> TrainResult:
    if settings.size % settings.scale:
        raise ValueError(f"--size {settings.size} is not a multiple of --scale {settings.scale}")
    ddp = _Distributed()
    if settings.batch % ddp.world:
        raise ValueError(f"--batch {settings.batch} is not divisible by {ddp.world} processes")
    out = Path(settings.out)
    out.mkdir(parents=True, exist_ok=True)
    local_batch = settings.batch // ddp.world
    device = ddp.device
    bf16 = _use_bf16(settings.bf16, device)

    torch.manual_seed(settings.seed)
    np.random.seed(settings.seed)
    random.seed(settings.seed)
    net = UpscalerNet(settings.network()).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=settings.lr)
    step, history, wall_before = 0, [], 0.0
    ckpt_path = out / CHECKPOINT
    if ckpt_path.is_file():
        ckpt = load_checkpoint(ckpt_path)
        old = {k: v for k, v in ckpt["settings"].items() if k not in _RESUMABLE_CHANGES}
        new = {k: v for k, v in asdict(settings).items() if k not in _RESUMABLE_CHANGES}
        if old != new:
            diff = sorted(k for k in new if old.get(k) != new[k])
            raise ValueError(f"{ckpt_path} was trained with other settings ({', '.join(diff)}); "
                             "use another --out")
        net.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        step, history, wall_before = ckpt["step"], ckpt["history"], ckpt["wall_s"]
        _set_rng_state(ckpt["rng"])
        log.info("resumed %s at step %d", ckpt_path, step)
    model: torch.nn.Module = net
    if ddp.active:
        model = torch.nn.parallel.DistributedDataParallel(
            net, device_ids=[device.index] if device.type == "cuda" else None)

    cache = Path(settings.cache_dir) if settings.cache_dir else out.parent / "cache"
    sets = _crops(settings, cache)
    t0 = time.perf_counter()
    start_step = step
    while step < settings.steps:
        for group in opt.param_groups:
            group["lr"] = _lr_schedule(step, settings.steps, settings.lr)
        first = step * settings.batch + ddp.rank * local_batch
        hr = _batch(sets, range(first, first + local_batch)).to(device)
        lr_img = degrade(hr, settings.scale)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            sr = model(lr_img)
        err = sr.float() - hr
        loss = torch.sqrt(err * err + CHARBONNIER_EPS**2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        with torch.no_grad():
            bicubic = torch.nn.functional.interpolate(lr_img, scale_factor=settings.scale,
                                                      mode="bicubic", align_corners=False)
            gain = 10 * torch.log10(((bicubic.clamp(0, 1) - hr) ** 2).mean()
                                    / (sr.float().clamp(0, 1) - hr).pow(2).mean().clamp_min(1e-12))
        record = {"loss": float(loss.detach()), "gain_db": float(gain)}
        if ddp.active:
            t = torch.tensor([record[k] for k in sorted(record)], device=device)
            dist.all_reduce(t)
            record = dict(zip(sorted(record), (t / ddp.world).tolist(), strict=True))
        history.append(record)
        elapsed = time.perf_counter() - t0
        eta = elapsed / (step - start_step) * (settings.steps - step)
        if progress is not None and ddp.main:
            progress(TrainEvent(step, settings.steps, record, wall_before + elapsed, eta))
        if ddp.main and (step % settings.checkpoint_every == 0 or step == settings.steps):
            _save_atomic({"kind": KIND, "settings": asdict(settings), "model": net.state_dict(),
                          "optimizer": opt.state_dict(), "step": step, "history": history,
                          "rng": _rng_state(), "wall_s": wall_before + elapsed,
                          "device": _device_name(device), "bf16": bf16}, ckpt_path)
    wall = wall_before + time.perf_counter() - t0
    if ddp.active:
        dist.barrier()
    return TrainResult(steps=step, wall_s=wall, device=_device_name(device),
                       final_losses=final_losses(history), history=history,
                       checkpoint=ckpt_path if ckpt_path.is_file() else None)


# ------------------------------------------------------------------------------ evaluation

def psnr(a: np.ndarray, b: np.ndarray, border: int) -> float:
    """PSNR in dB on 0..1 RGB, ignoring `border` pixels on each side (as SR papers do)."""
    if border:
        a, b = a[border:-border, border:-border], b[border:-border, border:-border]
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


def evaluate(upscale: Callable[[np.ndarray], np.ndarray], paintings: Sequence[Path],
             scale: int) -> list[dict]:
    """Per picture: PSNR of bicubic, Lanczos and `upscale` (low-res RGB -> high-res RGB) against
    the original, with the low-res input made by `degrade` (the training degradation)."""
    rows = []
    for path in paintings:
        rgb = load_picture(path, "Painting").rgb
        h, w = (rgb.shape[0] // scale) * scale, (rgb.shape[1] // scale) * scale
        hr = rgb[:h, :w]
        hr_t = torch.from_numpy(np.ascontiguousarray(hr)).permute(2, 0, 1)[None]
        lr = degrade(hr_t, scale)[0].permute(1, 2, 0).numpy()
        lr_u8 = Image.fromarray((lr * 255).round().astype(np.uint8))
        row = {"painting": path.name}
        for name, method in (("bicubic", Image.Resampling.BICUBIC),
                             ("lanczos", Image.Resampling.LANCZOS)):
            up = np.asarray(lr_u8.resize((w, h), method), dtype=np.float32) / 255.0
            row[name] = psnr(up, hr, scale)
        row["ours"] = psnr(np.clip(upscale(lr), 0, 1), hr, scale)
        rows.append(row)
    return rows
