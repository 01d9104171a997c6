"""Training loop for one style network: perceptual loss, Adam, checkpoints with exact resume,
previews, and data parallelism with `torch.distributed` (launched by `torchrun`).

Exact resume: the data order and every crop are pure functions of (seed, sample index)
(`export.data`), and the checkpoint holds model, optimizer, step, loss history and the RNG states,
so a run killed at any point continues with exactly the losses it would have had.

Data parallel: the global batch of step `s` is samples `s*batch .. s*batch+batch-1`; rank `r` of
`w` takes its contiguous `batch/w` share. Every loss term is a mean over samples, so averaging the
gradients over ranks (what DDP does) equals the one-process gradient of the whole batch.
"""

from __future__ import annotations

import logging
import os
import pickle
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import distributed as dist

from engine import runtime
from engine.backbone import load_backbone
from engine.images import Picture, fit_longest_side, load_picture, resize_rgb, save_picture
from export.data import PhotoCrops
from export.losses import PerceptualLoss
from export.transformer import TransformerConfig, TransformerNet

log = logging.getLogger(__name__)

CHECKPOINT = "last.pt"


@dataclass
class TrainSettings:
    style: str
    data: str
    out: str
    size: int = 192  # training crop side
    style_size: int = 512  # longest side of the style image for its Gram targets
    steps: int = 1000
    batch: int = 2  # global batch (all ranks together)
    lr: float = 2e-3
    style_weight: float = 10.0
    content_weight: float = 1.0
    tv_weight: float = 0.5
    patch_weight: float = 0.0  # patch (MRF) style term, export.losses.PatchTerm; 0 = Gram only
    width: int = 8
    depth: int = 3
    layout: str = "light"  # export.transformer.LAYOUTS
    init_from: str | None = None  # checkpoint whose same-shaped weights start this run
    seed: int = 0
    preview_every: int = 100
    checkpoint_every: int = 50
    preview: str | None = None  # photo rendered at every preview; default: first training photo
    bf16: str = "auto"  # auto | on | off
    cache_dir: str | None = None

    def transformer(self) -> TransformerConfig:
        return TransformerConfig(width=self.width, depth=self.depth, layout=self.layout)


# Settings that may differ between a checkpoint and the run resuming it.
_RESUMABLE_CHANGES = {"steps", "preview_every", "checkpoint_every", "preview", "cache_dir", "out"}
# What settings written before a field existed meant.
_LEGACY_SETTINGS = {"layout": "johnson", "init_from": None, "patch_weight": 0.0}


def checkpoint_settings(ckpt: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint's settings, with the meaning of fields it predates filled in."""
    return {**_LEGACY_SETTINGS, **ckpt["settings"]}


@dataclass(frozen=True)
class TrainEvent:
    step: int
    steps: int
    losses: dict[str, float]
    elapsed_s: float
    eta_s: float


@dataclass
class TrainResult:
    steps: int
    wall_s: float
    device: str
    final_losses: dict[str, float]
    history: list[dict[str, float]] = field(default_factory=list)
    checkpoint: Path | None = None


def use_bf16(mode: str, device: torch.device) -> bool:
    """CPU: "auto" where the CPU has native bf16. CUDA: only when asked ("on"); "auto" keeps
    the float32 behaviour the GPU runs had before."""
    if mode == "off":
        return False
    if device.type == "cuda":
        return mode == "on"
    return device.type == "cpu" and (mode == "on" or runtime.cpu_has_bf16())


class Distributed:
    """Rank/world from torchrun's environment; a single process when it is absent."""

    def __init__(self) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.active = self.world > 1
        if self.active and not dist.is_initialized():
            backend = "nccl" if torch.cuda.is_available() else "gloo"
            dist.init_process_group(backend)
        if torch.cuda.is_available():
            local = int(os.environ.get("LOCAL_RANK", "0"))
            self.device = torch.device("cuda", local)
        else:
            self.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        return self.rank == 0


def rng_state() -> dict[str, Any]:
    """Every generator's state as tensors and plain numbers, so checkpoints load with
    `weights_only=True` (no pickled objects, even from our own files)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    return {"torch": torch.get_rng_state(),
            "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": pos,
                      "has_gauss": has_gauss, "gauss": gauss},
            "python": {"version": version, "state": torch.tensor(internal, dtype=torch.int64),
                       "gauss_next": gauss_next}}


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    n, py = state["numpy"], state["python"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"],
                         n["has_gauss"], n["gauss"]))
    random.setstate((py["version"], tuple(int(v) for v in py["state"].tolist()),
                     py["gauss_next"]))


def save_atomic(obj: dict[str, Any], path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def resume(ckpt_path: Path, saved: Callable[[dict[str, Any]], dict[str, Any]],
           settings: dict[str, Any], resumable: set[str], net: torch.nn.Module,
           opt: torch.optim.Optimizer) -> tuple[int, list[dict[str, float]], float]:
    """(step, history, wall seconds) of the run folder's checkpoint, with `net`, `opt` and every
    RNG restored (an exact resume); (0, [], 0.0) when there is none. `saved(ckpt)` gives the
    checkpoint's settings; only those in `resumable` may differ from this run's."""
    if not ckpt_path.is_file():
        return 0, [], 0.0
    ckpt = load_checkpoint(ckpt_path)
    old = {k: v for k, v in saved(ckpt).items() if k not in resumable}
    new = {k: v for k, v in settings.items() if k not in resumable}
    if old != new:
        diff = sorted(k for k in new if old.get(k) != new[k])
        raise ValueError(f"{ckpt_path} was trained with other settings ({', '.join(diff)}); "
                         "use another --out")
    net.load_state_dict(ckpt["model"])
    opt.load_state_dict(ckpt["optimizer"])
    set_rng_state(ckpt["rng"])
    log.info("resumed %s at step %d", ckpt_path, ckpt["step"])
    return ckpt["step"], ckpt["history"], ckpt["wall_s"]


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def global_record(record: dict[str, float], ddp: Distributed,
                  device: torch.device) -> dict[str, float]:
    """Under DDP the logged losses are the global batch's, as in one process."""
    if not ddp.active:
        return record
    t = torch.tensor([record[k] for k in sorted(record)], device=device)
    dist.all_reduce(t)
    return dict(zip(sorted(record), (t / ddp.world).tolist(), strict=True))


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Tensors, numbers and strings only (`weights_only=True`): a checkpoint from elsewhere
    (`--init-from`) cannot run code when it is opened."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise ValueError(f"{path} holds more than tensors and numbers (a checkpoint from before "
                         "0.2, or not ours); refusing to unpickle it") from exc


def model_from_checkpoint(ckpt: dict[str, Any]) -> TransformerNet:
    net = TransformerNet(TransformerConfig.from_dict(checkpoint_settings(ckpt)))
    net.load_state_dict(ckpt["model"])
    return net.eval()


def _weights(source: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Named weights of a training checkpoint, or of an exported ONNX graph (its initialisers
    keep the module names torch.onnx gave them): a shipped network whose checkpoint is not in
    the repository can still be trained further."""
    if str(source).endswith(".onnx"):
        import onnx
        from onnx import numpy_helper

        from export.transformer import undeploy_weights

        graph = onnx.load(str(source)).graph
        return undeploy_weights({t.name: torch.from_numpy(numpy_helper.to_array(t).copy())
                                 for t in graph.initializer})
    return load_checkpoint(source)["model"]


def warm_start(net: torch.nn.Module, checkpoint: str | os.PathLike[str]) -> list[str]:
    """Copy every tensor whose name and shape match from another run's checkpoint or exported
    .onnx (e.g. a `johnson` run into a `light` one: all but the full-resolution ends match).
    Returns the names of the modules that were initialised; the rest keep their fresh
    initialisation."""
    mine = net.state_dict()
    # An exported graph may name them through a wrapper module (DetailGraph's "net.").
    theirs = {(k if k in mine or "." not in k else k.split(".", 1)[1]): v
              for k, v in _weights(checkpoint).items()}
    same = {k: v for k, v in theirs.items() if k in mine and mine[k].shape == v.shape}
    if not same:
        raise ValueError(f"{checkpoint} shares no weights with this network "
                         "(different --width?)")
    mine.update(same)
    net.load_state_dict(mine)
    return sorted({k.rsplit(".", 1)[0] for k in same})


def _render_preview(net: TransformerNet, photo: np.ndarray, device: torch.device) -> np.ndarray:
    x = torch.from_numpy(photo).permute(2, 0, 1)[None].to(device)
    with torch.no_grad():
        y = net(x)
    return y[0].permute(1, 2, 0).float().cpu().numpy()


def _load_preview_photo(settings: TrainSettings, data: PhotoCrops) -> np.ndarray:
    path = settings.preview or str(data.photos[0])
    pic = load_picture(path, "Preview photo")
    w, h = fit_longest_side(pic.size, 256)
    w, h = w - w % 4, h - h % 4  # the network's stride
    return resize_rgb(pic.rgb, (w, h))


def train(settings: TrainSettings,
          progress: Callable[[TrainEvent], None] | None = None) -> TrainResult:
    ddp = Distributed()
    if settings.batch % ddp.world:
        raise ValueError(f"--batch {settings.batch} is not divisible by {ddp.world} processes")
    out = Path(settings.out)
    if ddp.main:
        (out / "previews").mkdir(parents=True, exist_ok=True)
    local_batch = settings.batch // ddp.world
    device = ddp.device
    bf16 = use_bf16(settings.bf16, device)

    seed_everything(settings.seed)
    net = TransformerNet(settings.transformer()).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=settings.lr)
    ckpt_path = out / CHECKPOINT
    step, history, wall_before = resume(ckpt_path, checkpoint_settings, asdict(settings),
                                        _RESUMABLE_CHANGES, net, opt)
    if not step and settings.init_from:
        log.info("initialised %s from %s", ", ".join(warm_start(net, settings.init_from)),
                 settings.init_from)

    model: torch.nn.Module = net
    if ddp.active:
        model = torch.nn.parallel.DistributedDataParallel(
            net, device_ids=[device.index] if device.type == "cuda" else None)

    cache = Path(settings.cache_dir) if settings.cache_dir else out.parent / "cache"
    data = PhotoCrops(Path(settings.data), settings.size, seed=settings.seed, cache_dir=cache)
    style = load_picture(settings.style, "Style image")
    style_rgb = resize_rgb(style.rgb, fit_longest_side(style.size, settings.style_size))
    style_t = torch.from_numpy(style_rgb).permute(2, 0, 1)[None].to(device)
    loss_fn = PerceptualLoss(load_backbone(device=device), style_t,
                             style_weight=settings.style_weight,
                             content_weight=settings.content_weight,
                             tv_weight=settings.tv_weight,
                             patch_weight=settings.patch_weight).to(device)
    preview = _load_preview_photo(settings, data) if ddp.main else None

    t0 = time.perf_counter()
    start_step = step
    while step < settings.steps:
        first = step * settings.batch + ddp.rank * local_batch
        x = data.batch(range(first, first + local_batch)).to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            y = model(x)
            losses = loss_fn(y, x)
        opt.zero_grad(set_to_none=True)
        losses["total"].backward()
        opt.step()
        step += 1
        record = {k: float(v.detach()) for k, v in losses.items()}
        record = global_record(record, ddp, device)
        history.append(record)
        elapsed = time.perf_counter() - t0
        done = step - start_step
        eta = elapsed / done * (settings.steps - step)
        if progress is not None and ddp.main:
            progress(TrainEvent(step, settings.steps, record, wall_before + elapsed, eta))
        if ddp.main and settings.preview_every and step % settings.preview_every == 0:
            save_picture(Picture(_render_preview(net, preview, device)),
                         out / "previews" / f"step_{step:06d}.png")
        if ddp.main and (step % settings.checkpoint_every == 0 or step == settings.steps):
            save_checkpoint(ckpt_path, settings, net, opt, step, history,
                            wall_before + elapsed, device, bf16)
    return finish(ddp, step, wall_before + time.perf_counter() - t0, device, history, ckpt_path)


def save_checkpoint(path: Path, settings: Any, net: torch.nn.Module, opt: torch.optim.Optimizer,
                    step: int, history: list[dict[str, float]], wall_s: float,
                    device: torch.device, bf16: bool, **extra: Any) -> None:
    """Everything an exact resume needs (the RNGs too), as tensors and plain values only."""
    save_atomic({**extra, "settings": asdict(settings), "model": net.state_dict(),
                 "optimizer": opt.state_dict(), "step": step, "history": history,
                 "rng": rng_state(), "wall_s": wall_s, "device": device_name(device),
                 "bf16": bf16}, path)


def finish(ddp: Distributed, step: int, wall_s: float, device: torch.device,
           history: list[dict[str, float]], ckpt_path: Path) -> TrainResult:
    if ddp.active:
        dist.barrier()
    return TrainResult(steps=step, wall_s=wall_s, device=device_name(device),
                       final_losses=final_losses(history), history=history,
                       checkpoint=ckpt_path if ckpt_path.is_file() else None)


def final_losses(history: list[dict[str, float]], window: int = 20) -> dict[str, float]:
    """Mean of the last `window` steps: one step's loss depends too much on its crops."""
    tail = history[-window:]
    if not tail:
        return {}
    return {k: sum(h[k] for h in tail) / len(tail) for k in tail[0]}


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({os.cpu_count()} cores, {torch.get_num_threads()} threads)"
