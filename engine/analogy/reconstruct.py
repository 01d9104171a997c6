"""Deep Image Analogy's coarse-to-fine loop (Liao et al. 2017, Algorithm 1) and the entry point.

relu5_1 ... relu1_1 of A (the photo) and B' (the reference). At relu5_1, A' = A and B = B'.
At each layer: nearest-neighbour fields A -> B' and B -> A (bidirectional patch distance over the
pairs (A, B') and (A', B)); then, above relu1_1, the reference's features warped through the field
are brought down one layer by deconvolution and blended with the photo's own features (weight
alpha times the response mask) into the next layer's A' (and symmetrically B). Finally A' is
B''s pixels voted through the finest field, and B is A's pixels voted through the reverse one.
Then (our addition, `refine_iterations`; see refine.py) the voted pictures' strokes are pulled
towards the other picture's feature patches.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from engine import runtime
from engine.analogy import latent, refine
from engine.analogy import patchmatch as pm
from engine.analogy.deconv import deconvolve, subnet
from engine.analogy.progress import Meter
from engine.backbone import shared_backbone
from engine.cancel import CancelToken, ProgressFn, no_progress
from engine.contract import AnalogyParams, Method, ParamError, Pooling, check_styles
from engine.errors import BadImage, BadParameter
from engine.method import MethodInput, MethodResult

log = logging.getLogger(__name__)

LAYERS = ("relu5_1", "relu4_1", "relu3_1", "relu2_1", "relu1_1")
PIXEL_PATCH = 3  # the authors vote the final pixels with 3 x 3 patches
PCA_DIMS = 32  # descriptor length per pair for PatchMatch on large layers (see patchmatch.py)
MIN_SIDE = 32  # relu5_1 is 1/16 of the image: below this there is nothing left to match
# Seconds per multiply-add of each kind of work, for the search choice and the progress weights.
# Only the ratios decide the search; they come from benchmarks/analogy_search.py on real
# features (224 px, a heavily shared 2-core CPU): the brute-force product + diagonal sums ran at
# 0.7-1.1 s per G (relu3_1, relu2_1), PatchMatch at 24-43 s per G of `patchmatch_cost` (gathers,
# one thread), the PCA descriptors at ~3.5 s per G of `descriptor_cost`. Absolute values: bf16
# convolution at ~60 G/s when the machine is quiet.
CONV_S_PER_MAC = 1.0 / 60e9
BRUTE_S_PER_MAC = 1.0 / 20e9
# The refinement's patch matches (a convolution, engine.gatys.patches; relu3_1 + relu4_1 of a
# 448 px picture, ~40 G multiply-adds: 1.0 s measured, session 12).
MATCH_S_PER_MAC = 1.0 / 40e9
PM_S_PER_MAC = 35 * BRUTE_S_PER_MAC
DESCRIPTOR_S_PER_MAC = 5 * BRUTE_S_PER_MAC


@dataclass
class Match:
    """Everything `analogize` computes at working size: fields at relu1_1 (= pixel) resolution,
    and the two outputs as (3, h, w) tensors."""

    a: Tensor
    bprime: Tensor
    a_prime: Tensor
    b: Tensor | None
    field_ab: pm.Field
    field_ba: pm.Field | None
    info: dict[str, Any] = field(default_factory=dict)
    voted: Tensor | None = None  # A' as the paper makes it (before `refine`, if that ran)


def _check_params(p: AnalogyParams) -> tuple[list[int], list[int], list[float]]:
    if len(p.blend_weights) != 4:
        raise BadParameter("blend_weights: give 4 values, for relu4_1, relu3_1, relu2_1 and "
                           f"relu1_1 (got {len(p.blend_weights)}).")
    for name, values in (("patch_sizes", p.patch_sizes), ("search_radii", p.search_radii)):
        if len(values) != 5:
            raise BadParameter(f"{name}: give 5 values, for relu5_1 ... relu1_1 "
                               f"(got {len(values)}).")
        if any(v != int(v) for v in values):
            raise BadParameter(f"{name}: whole numbers only (got {list(values)}).")
    sizes = [int(v) for v in p.patch_sizes]
    if any(s % 2 == 0 for s in sizes):
        raise BadParameter(f"patch_sizes: odd numbers only (got {sizes}).")
    return sizes, [int(v) for v in p.search_radii], list(p.blend_weights)


def _to_tensor(rgb: np.ndarray, what: str, size: int) -> Tensor:
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise BadImage(f"{what} must be an RGB picture (H, W, 3).")
    if not np.isfinite(rgb).all():
        raise BadImage(f"{what} contains NaN or infinite values.")
    t = torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32)).permute(2, 0, 1)[None]
    h, w = t.shape[2:]
    scale = size / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    if min(nh, nw) < MIN_SIDE:
        raise BadImage(f"{what} is {w}x{h}: at --size {size} its short side would be "
                       f"{min(nh, nw)} px; it needs at least {MIN_SIDE}. Use a larger size or a "
                       "less elongated picture.")
    if (nh, nw) != (h, w):
        t = F.interpolate(t, size=(nh, nw), mode="bicubic", antialias=scale < 1,
                          align_corners=False)
    return t.clamp(0.0, 1.0)


def _conv_macs(h: int, w: int, lower: str | None, upper: str) -> float:
    """Multiply-adds of VGG19's convolutions from after `lower` (None = the image) to `upper`."""
    from engine.backbone import LAYER_NAMES, VGG19_BLOCKS

    start = LAYER_NAMES.index(lower) + 1 if lower else 0
    stop = LAYER_NAMES.index(upper)
    total, c_in, block = 0.0, 3, 1
    for i, name in enumerate(LAYER_NAMES[: stop + 1]):
        if name.startswith("pool"):
            h, w, block = h // 2, w // 2, block + 1
        if name.startswith("conv"):
            c_out = VGG19_BLOCKS[block - 1][0]
            if i >= start:
                total += h * w * c_in * c_out * 9
            c_in = c_out
    return total


@contextlib.contextmanager
def _one_thread():
    """PatchMatch is many small gathers over a memory-bound map: a second thread saves little
    when the machine is idle and costs 2-10x when it is busy (OpenMP barriers spinning against
    other processes), measured on the 2-core CPU. Convolutions keep all threads."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class _Analogy:
    """One run: features, per-layer search and latent rebuild, final voting."""

    def __init__(self, params: AnalogyParams, progress: ProgressFn, cancel: CancelToken,
                 lane: str | None = None):
        self.p = params
        self.patches, self.radii, self.alphas = _check_params(params)
        self.device = runtime.torch_device(lane or runtime.lane(params.device))
        self.dtype = runtime.autocast_dtype(self.device)
        self.net = shared_backbone(Pooling.MAX, self.device.type)
        self.gen = torch.Generator().manual_seed(params.seed)
        self.cancel = cancel
        self.progress = progress
        self.two_way = params.bidirectional or params.reverse_output
        self.searches: dict[str, str] = {}

    def _features(self, img: Tensor) -> dict[str, Tensor]:
        x = img.to(self.device).contiguous(memory_format=torch.channels_last)
        ctx = (torch.autocast(self.device.type, dtype=self.dtype) if self.dtype is not None
               else contextlib.nullcontext())
        with torch.no_grad(), ctx:
            out = self.net(x, LAYERS)
        return {k: v[0].float().cpu().contiguous() for k, v in out.items()}

    # -------------------------------------------------------------------------- planning
    def _plan(self, fa: dict[str, Tensor], fb: dict[str, Tensor], img_a: Tensor,
              img_b: Tensor) -> float:
        """Expected seconds per stage (for the progress bar and the search choice)."""
        sides = 2 if self.two_way else 1
        total = sum(_conv_macs(*im.shape[2:], None, "relu5_1") for im in (img_a, img_b))
        total *= CONV_S_PER_MAC
        self.how: dict[str, str] = {}
        self.cost: dict[str, float] = {"features": total}
        for i, name in enumerate(LAYERS):
            sa, sb = tuple(fa[name].shape[1:]), tuple(fb[name].shape[1:])
            c = fa[name].shape[0] * 2
            k = self.patches[i]
            brute = pm.brute_force_cost(sa, sb, c, k) * BRUTE_S_PER_MAC
            dims = min(2 * PCA_DIMS, c * k * k)
            match = sum(pm.patchmatch_cost(s, dims, self.p.patchmatch_iterations, self.radii[i],
                                           t) for s, t in ((sa, sb), (sb, sa))[:sides])
            match *= PM_S_PER_MAC
            match += 2 * pm.descriptor_cost(sa, sb, c // 2, k, PCA_DIMS) * DESCRIPTOR_S_PER_MAC
            self.how[name] = "exact" if brute <= match else "patchmatch"
            self.cost[name + ":search"] = min(brute, match)
            if i + 1 < len(LAYERS):
                lower = LAYERS[i + 1]
                evals = math.ceil(self.p.deconv_iterations * 1.25)
                per = sum(_conv_macs(*im.shape[2:], lower, name) for im in (img_a, img_b)[:sides])
                self.cost[name + ":deconv"] = 3 * evals * per * CONV_S_PER_MAC
        self.cost["vote"] = 0.02 * total
        if self.p.refine_iterations:
            self.cost["refine"] = sum(self._refine_cost(a, b, its) for (a, b), its in
                                      zip(((img_a, img_b), (img_b, img_a)),
                                          self._refine_iterations(), strict=False))
        return sum(self.cost.values())

    def _refine_iterations(self) -> tuple[int, ...]:
        """Refinement iterations of A', and of B when it is asked for: a third as many, so both
        directions fit in three minutes at 448 px on two cores (issue #12's budget; with half,
        156-189 s measured); B is the secondary output, and its 'strokes' are the photo's."""
        its = self.p.refine_iterations
        return (its, max(1, its // 3)) if self.p.reverse_output else (its,)

    def _refine_cost(self, img: Tensor, ref: Tensor, its: int) -> float:
        """Expected seconds of `refine.refine` on `img` with `ref`'s patches for `its`
        iterations (`refine.stages`: some at half size, a quarter of the pixels): a forward and
        backward pass to relu4_2 per iteration, and an exact match of every relu3_1 and
        relu4_1 patch every `refine.REMATCH` iterations (`engine.gatys.patches.nearest`)."""
        h, w = img.shape[2:]
        hb, wb = ref.shape[2:]
        total = 0.0
        for n, f in zip(refine.stages(its, (h, w), (hb, wb)), (refine.SHRINK, 1), strict=True):
            if not n:
                continue
            passes = 3 * n * _conv_macs(h // f, w // f, None, "relu4_2") * CONV_S_PER_MAC
            matches = math.ceil(n / refine.REMATCH) + 1
            cells = [(h // f // s) * (w // f // s) for s in (4, 8)]
            bank = [(hb // f // s) * (wb // f // s) / refine.STRIDE**2 for s in (4, 8)]
            brute = sum(q * m * c * 9 for q, m, c in zip(cells, bank, (256, 512), strict=True))
            total += passes + matches * brute * MATCH_S_PER_MAC
        return total

    # ---------------------------------------------------------------------------- stages
    def _search(self, i: int, fa: Tensor, fap: Tensor, fbp: Tensor, fb: Tensor,
                prev: tuple[pm.Field, pm.Field | None] | None,
                meter: Meter) -> tuple[pm.Field, pm.Field | None]:
        name = LAYERS[i]
        k, radius = self.patches[i], self.radii[i]
        na, nap, nbp, nb = (latent.unit(t) for t in (fa, fap, fbp, fb))
        sa, sb = tuple(fa.shape[1:]), tuple(fbp.shape[1:])
        meter.stage(self.cost[name + ":search"])
        if self.how[name] == "exact":
            def chunk(n: int, total: int) -> None:
                meter.tick(n / total, f"layer {name}: exact search {n}/{total}", n, total)

            ab, ba = pm.exact_fields(torch.cat([na, nap]), torch.cat([nbp, nb]), k, chunk)
            return ab, (ba if self.two_way else None)
        desc_a, desc_b = pm.patch_descriptors([(na, nbp), (nap, nb)], k, PCA_DIMS, self.gen)
        iters = self.p.patchmatch_iterations
        runs = 2 if self.two_way else 1
        fields = []
        for run, (da, db, s, t) in enumerate(((desc_a, desc_b, sa, sb),
                                              (desc_b, desc_a, sb, sa))[:runs]):
            if prev is None or prev[run] is None:
                init = pm.identity_field(s, t)
            else:
                init = pm.upsample_field(prev[run], s, t)

            def step(it: int, run: int = run) -> None:
                done = (run * iters + it) / (runs * iters)
                meter.tick(done, f"layer {name}: patchmatch {run * iters + it}/{runs * iters}",
                           run * iters + it, runs * iters)

            with _one_thread():
                fields.append(pm.patchmatch(da, db, s, t, init, iterations=iters,
                                            radius=radius, gen=self.gen, step=step))
        return fields[0], (fields[1] if runs == 2 else None)

    def _deconv(self, i: int, fld: pm.Field, source: dict[str, Tensor],
                query: tuple[int, int], meter: Meter, label: str,
                share: tuple[int, int]) -> Tensor:
        """`source`'s layer-i features warped through `fld` (whose query map is `query` cells
        at layer i+1), brought down to layer i+1."""
        name, lower = LAYERS[i], LAYERS[i + 1]
        target = latent.vote(fld, source[name], self.patches[i])
        fine = pm.upsample_field(fld, query, tuple(source[lower].shape[1:]))
        init = latent.vote(fine, source[lower], self.patches[i + 1])
        budget = math.ceil(self.p.deconv_iterations * 1.25)
        part, parts = share

        def step(n: int, loss: float) -> None:
            done = (part + min(n, budget) / budget) / parts
            meter.tick(done, f"layer {lower}: deconvolution {label} {min(n, budget)}/{budget}",
                       min(n, budget), budget, loss)

        return deconvolve(subnet(self.net, lower, name), target.to(self.device),
                          init.to(self.device), iterations=self.p.deconv_iterations,
                          dtype=self.dtype, step=step).float().cpu()

    def run(self, img_a: Tensor, img_b: Tensor) -> Match:
        start = time.monotonic()
        meter = Meter(self.progress, self.cancel)
        meter.stage(1.0)
        meter.tick(0.0, "features")
        fa = self._features(img_a)
        fb = self._features(img_b)
        self.cancel.raise_if_cancelled()
        total = self._plan(fa, fb, img_a, img_b)
        meter.start(total, done=self.cost["features"])
        fap = dict(fa)  # A' = A at relu5_1; finer layers are replaced below
        fbb = dict(fb)  # B = B' at relu5_1
        fields: tuple[pm.Field, pm.Field | None] | None = None
        for i, name in enumerate(LAYERS):
            t0 = time.monotonic()
            fields = self._search(i, fa[name], fap[name], fb[name],
                                  fbb[name] if self.two_way else fb[name], fields, meter)
            self.searches[name] = f"{self.how[name]} {time.monotonic() - t0:.1f}s"
            if i + 1 == len(LAYERS):
                break
            lower = LAYERS[i + 1]
            t0 = time.monotonic()
            meter.stage(self.cost[name + ":deconv"])
            parts = 2 if self.two_way else 1
            warped_b = self._deconv(i, fields[0], fb, tuple(fa[lower].shape[1:]), meter, "A'",
                                    (0, parts))
            fap[lower] = latent.blend(fa[lower], warped_b, self.alphas[i])
            if self.two_way:
                assert fields[1] is not None
                warped_a = self._deconv(i, fields[1], fa, tuple(fb[lower].shape[1:]), meter, "B",
                                        (1, parts))
                fbb[lower] = latent.blend(fb[lower], warped_a, self.alphas[i])
            self.searches[lower + ":deconv"] = f"{time.monotonic() - t0:.1f}s"
        assert fields is not None
        meter.stage(self.cost["vote"])
        meter.tick(0.0, "voting pixels")
        ab = pm.upsample_field(fields[0], tuple(img_a.shape[2:]), tuple(img_b.shape[2:]))
        a_prime = latent.vote(ab, img_b[0], PIXEL_PATCH)
        b, ba = None, None
        if self.two_way and fields[1] is not None:
            ba = pm.upsample_field(fields[1], tuple(img_b.shape[2:]), tuple(img_a.shape[2:]))
            if self.p.reverse_output:
                b = latent.vote(ba, img_a[0], PIXEL_PATCH)
        voted = a_prime
        if self.p.refine_iterations:
            t0 = time.monotonic()
            meter.stage(self.cost["refine"])
            its = self._refine_iterations()
            a_prime = self._refine(a_prime, img_a[0], img_b[0], ab, meter, "A'", its[0],
                                   (0.0, its[0] / sum(its)))
            if b is not None and ba is not None:
                b = self._refine(b, img_b[0], img_a[0], ba, meter, "B", its[1],
                                 (its[0] / sum(its), its[1] / sum(its)))
            self.searches["refine"] = f"{time.monotonic() - t0:.1f}s"
        meter.finish("done")
        info = {
            "seconds": time.monotonic() - start,
            "device": self.device.type,
            "precision": str(self.dtype).replace("torch.", "") if self.dtype else "float32",
            "work_size_a": list(img_a.shape[2:][::-1]),
            "work_size_b": list(img_b.shape[2:][::-1]),
            "stages": dict(self.searches),
        }
        return Match(img_a[0], img_b[0], a_prime, b, ab, ba, info, voted)

    def _refine(self, picture: Tensor, photo: Tensor, reference: Tensor, fld: pm.Field,
                meter: Meter, label: str, its: int, share: tuple[float, float]) -> Tensor:
        """`refine.refine` for `its` iterations; `share` = (start, width) of the stage's
        progress that this output's refinement fills."""
        start, width = share
        coarse, _ = refine.stages(its, tuple(picture.shape[1:]), tuple(reference.shape[1:]))
        # A coarse iteration does 1/SHRINK^2 of a full-size one's work (a quarter of the pixels).
        part = 1 / refine.SHRINK**2
        work = coarse * part + (its - coarse)

        def step(n: int, loss: float) -> None:
            n = min(n, its)
            done = min(n, coarse) * part + max(0, n - coarse)
            meter.tick(start + width * done / work, f"refining strokes {label} {n}/{its}", n,
                       its, loss)

        return refine.refine(picture, photo, reference, fld, iterations=its,
                             weight=self.p.refine_weight, net=self.net, device=self.device,
                             dtype=self.dtype, step=step, cancel=self.cancel)


def match(a_rgb: np.ndarray, bprime_rgb: np.ndarray, params: AnalogyParams, *,
          progress: ProgressFn = no_progress, cancel: CancelToken | None = None,
          lane: str | None = None) -> Match:
    """The analogy at working size (longest side `params.size`), with its fields."""
    cancel = cancel or CancelToken()
    img_a = _to_tensor(a_rgb, "Photo", params.size)
    img_b = _to_tensor(bprime_rgb, "Reference", params.size)
    return _Analogy(params, progress, cancel, lane).run(img_a, img_b)


def _resize_back(t: Tensor, shape: tuple[int, ...]) -> np.ndarray:
    h, w = shape[:2]
    if tuple(t.shape[1:]) != (h, w):
        t = F.interpolate(t[None], size=(h, w), mode="bicubic", align_corners=False,
                          antialias=t.shape[1] > h)[0]
    return t.clamp(0.0, 1.0).permute(1, 2, 0).contiguous().numpy().astype(np.float32)


def analogize(a_rgb: np.ndarray, bprime_rgb: np.ndarray, params: AnalogyParams, *,
              progress: ProgressFn = no_progress, cancel: CancelToken | None = None,
              lane: str | None = None) -> tuple[np.ndarray, np.ndarray | None, dict[str, Any]]:
    """A' (the photo rebuilt from the reference's pixels) at the photo's own size, B (the
    reference rebuilt from the photo's pixels, at the reference's size) when
    `params.reverse_output`, and an info dict. Float32 (H, W, 3) in 0..1 in and out."""
    m = match(a_rgb, bprime_rgb, params, progress=progress, cancel=cancel, lane=lane)
    out_a = _resize_back(m.a_prime, a_rgb.shape)
    if params.strength < 1.0:
        # Blended at full size, so the photo's share keeps its full resolution.
        out_a = params.strength * out_a + (1.0 - params.strength) * np.asarray(a_rgb, np.float32)
    out_b = _resize_back(m.b, bprime_rgb.shape) if m.b is not None else None
    info = dict(m.info, width=a_rgb.shape[1], height=a_rgb.shape[0])
    return out_a.astype(np.float32), out_b, info


class AnalogyMethod:
    """engine.method.StyleMethod for `Method.ANALOGY`: the one style image is the reference B';
    the result is A' at the photo's size, and B (when asked for) is the extra image "reverse".
    Strength and the mask are the pipeline's (it blends at full size, as `analogize` does)."""

    def run(self, params: AnalogyParams, inputs: MethodInput, *, lane: str,
            progress: ProgressFn, cancel: CancelToken) -> MethodResult:
        try:
            check_styles(Method.ANALOGY, params, len(inputs.paintings))
        except ParamError as exc:
            raise BadImage(f"Image analogy needs one reference picture ({exc}).") from None
        a_prime, b, info = analogize(inputs.content, inputs.styles[0],
                                     dataclasses.replace(params, strength=1.0),
                                     progress=progress, cancel=cancel, lane=lane)
        return MethodResult(a_prime, info, {"reverse": b} if b is not None else {})


METHOD = AnalogyMethod()
