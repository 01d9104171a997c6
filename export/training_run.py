"""What every trainer shares (style networks, the any-painting network, the upscaler): processes,
run folder, optimiser, exact resume, and the step loop's bookkeeping (global losses, history,
progress, checkpoints). A trainer says only what one step computes.

Exact resume: the data order and every crop are pure functions of (seed, sample index)
(`export.data`), and the checkpoint holds model, optimizer, step, loss history and the RNG states,
so a run killed at any point continues with exactly the losses it would have had.

Data parallel: the global batch of step `s` is samples `s*batch .. s*batch+batch-1`; rank `r` of
`w` takes its contiguous `batch/w` share (`samples`). Every loss is a mean over samples, so the
gradient averaging of DDP equals the one-process gradient of the whole batch.
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

log = logging.getLogger(__name__)


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


def strip_optimizer(src: str | os.PathLike[str], dst: str | os.PathLike[str] | None = None
                    ) -> dict[str, Any]:
    """The checkpoint without its optimizer state (the weights, loss history and step that a
    trained network is judged and exported by; Adam's moments are twice the weights), written to
    `dst`, in place by default; returned. What the GPU scripts bring back (16 MiB per file)."""
    ckpt = torch.load(src, map_location="cpu", weights_only=True)
    ckpt.pop("optimizer", None)
    save_atomic(ckpt, Path(dst if dst is not None else src))
    return ckpt


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


# One step: given the step number, the loss to minimise and the numbers to log (plain floats).
StepFn = Callable[[int], tuple[torch.Tensor, dict[str, float]]]
# Called on the main process after each step: (step, record, elapsed seconds, eta seconds).
AfterStep = Callable[[int, dict[str, float], float, float], None]


class TrainingRun:
    """Set up in the order an exact resume depends on: seed, network, optimiser, checkpoint (which
    restores every RNG), then `init` for a fresh run (a warm start), then the DDP wrapper (which
    broadcasts rank 0's weights, so it must see the final ones)."""

    def __init__(self, settings: Any, make_net: Callable[[], torch.nn.Module], *,
                 checkpoint: str, resumable: set[str],
                 saved_settings: Callable[[dict[str, Any]], dict[str, Any]] = (
                     lambda ckpt: ckpt["settings"]),
                 init: Callable[[torch.nn.Module], None] | None = None,
                 previews: bool = False, kind: str | None = None):
        self.settings = settings
        self.ddp = Distributed()
        if settings.batch % self.ddp.world:
            raise ValueError(f"--batch {settings.batch} is not divisible by {self.ddp.world} "
                             "processes")
        self.out = Path(settings.out)
        if self.ddp.main:
            (self.out / "previews" if previews else self.out).mkdir(parents=True, exist_ok=True)
        self.local_batch = settings.batch // self.ddp.world
        self.device = self.ddp.device
        self.bf16 = use_bf16(settings.bf16, self.device)
        if self.device.type == "cuda":
            # Fixed crop sizes: let cuDNN time its convolution algorithms once and keep the best.
            torch.backends.cudnn.benchmark = True
        self.extra = {"kind": kind} if kind else {}

        seed_everything(settings.seed)
        self.net = make_net().to(self.device)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=settings.lr)
        self.checkpoint = self.out / checkpoint
        self.step, self.history, self.wall_before = resume(
            self.checkpoint, saved_settings, asdict(settings), resumable, self.net, self.opt)
        if not self.step and init is not None:
            init(self.net)
        self.model: torch.nn.Module = self.net
        if self.ddp.active:
            self.model = torch.nn.parallel.DistributedDataParallel(
                self.net, device_ids=[self.device.index] if self.device.type == "cuda" else None)

    @property
    def main(self) -> bool:
        return self.ddp.main

    def samples(self, step: int) -> range:
        """This process's share of step `step`'s global batch."""
        first = step * self.settings.batch + self.ddp.rank * self.local_batch
        return range(first, first + self.local_batch)

    def autocast(self) -> torch.autocast:
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16)

    def _out_of_time(self, elapsed: float, limit_s: float | None) -> bool:
        """Past the wall-clock budget; under DDP every rank stops at the same step."""
        if limit_s is None or not self.ddp.active:
            return limit_s is not None and elapsed >= limit_s
        flag = torch.tensor([float(elapsed >= limit_s)], device=self.device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item())

    def run(self, step_fn: StepFn, progress: Callable[[TrainEvent], None] | None = None,
            after_step: AfterStep | None = None, time_limit_s: float | None = None
            ) -> TrainResult:
        """Steps until `settings.steps`, or until `time_limit_s` seconds of this call have
        passed (then the checkpoint is written at the step reached: its weights are those of
        the same run with `--steps` that step)."""
        s = self.settings
        t0 = time.perf_counter()
        start = self.step
        while self.step < s.steps:
            loss, record = step_fn(self.step)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            self.step += 1
            record = global_record(record, self.ddp, self.device)
            self.history.append(record)
            elapsed = time.perf_counter() - t0
            eta = elapsed / (self.step - start) * (s.steps - self.step)
            if self.main:
                if progress is not None:
                    progress(TrainEvent(self.step, s.steps, record, self.wall_before + elapsed,
                                        eta))
                if after_step is not None:
                    after_step(self.step, record, elapsed, eta)
            out_of_time = self._out_of_time(elapsed, time_limit_s)
            if self.main:
                if self.step % s.checkpoint_every == 0 or self.step == s.steps or out_of_time:
                    save_checkpoint(self.checkpoint, s, self.net, self.opt, self.step,
                                    self.history, self.wall_before + elapsed, self.device,
                                    self.bf16, **self.extra)
            if out_of_time:
                log.info("stopped at step %d: the %.0f s budget is spent", self.step,
                         time_limit_s)
                break
        return finish(self.ddp, self.step, self.wall_before + time.perf_counter() - t0,
                      self.device, self.history, self.checkpoint)
