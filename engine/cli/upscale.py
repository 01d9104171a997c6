"""`python -m engine upscale IN -o OUT [--scale N | --width W] [--mode sharp|smooth]`: the last
step to photo size on its own: the super-resolution network (sharp) or Lanczos (smooth), tiled so
memory stays bounded at any size. Bad input is one line on stderr and exit code 2."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from engine.cli.command import add_command, run_command
from engine.contract import Upscale
from engine.errors import BadParameter

PROG = "python -m engine upscale"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "upscale", help="enlarge an image with the super-resolution network",
                    description=__doc__.split("\n\n")[0])
    p.add_argument("input", help="the image to enlarge")
    p.add_argument("-o", "--output", required=True, help="output image (.png, .jpg, .tif, .webp)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--scale", type=float, default=4.0, help="factor, 1..16 (default 4)")
    size.add_argument("--width", type=int, help="output width in pixels (height follows)")
    p.add_argument("--mode", choices=[m.value for m in Upscale], default=Upscale.SHARP.value,
                   help="sharp: the network; smooth: Lanczos (default sharp)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def _upscale(args: argparse.Namespace) -> dict[str, Any]:
    from engine import upscale
    from engine.cancel import CancelToken
    from engine.cli.output import check_output, save_or_rescue
    from engine.cli.progress import Bar
    from engine.images import Picture, load_picture, resize_gray

    if not 1.0 <= args.scale <= 16.0:
        raise BadParameter(f"--scale {args.scale:g} is outside 1..16.")
    if args.width is not None and args.width < 1:
        raise BadParameter("--width must be a positive number of pixels.")
    mode = Upscale(args.mode)
    if mode is Upscale.SHARP:
        upscale.network_or_error()
    check_output(args.output)
    pic = load_picture(args.input, "Input image")
    w, h = pic.size
    factor = args.width / w if args.width else args.scale
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    bar = Bar(enabled=not args.quiet and sys.stderr.isatty(), desc="upscale")
    try:
        rgb, info = upscale.to_size(pic.rgb, size, mode, progress=bar, cancel=CancelToken())
    finally:
        bar.close()
    alpha = resize_gray(pic.alpha, size) if pic.alpha is not None else None
    save_or_rescue(Picture(rgb, alpha), args.output)
    return {"output": str(Path(args.output).resolve()), "width": size[0], "height": size[1],
            **info}


def run(args: argparse.Namespace) -> int:
    return run_command(PROG, lambda: _upscale(args), args,
                       lambda r: f"wrote {r['output']} ({r['width']}x{r['height']}, "
                                 f"{r['upscale']})")
