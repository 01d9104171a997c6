"""`python -m engine upscale IN -o OUT [--scale N | --width W] [--mode sharp|smooth]`: the last
step to photo size on its own: the super-resolution network (sharp) or Lanczos (smooth), tiled so
memory stays bounded at any size. Bad input is one line on stderr and exit code 2."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.cli.output import OutputFailed
from engine.contract import Upscale
from engine.errors import Cancelled, EngineError

PROG = "python -m engine upscale"
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("upscale", help="enlarge an image with the super-resolution network",
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


def run(args: argparse.Namespace) -> int:
    from engine import upscale
    from engine.cancel import CancelToken
    from engine.cli.output import check_output, save_or_rescue
    from engine.cli.progress import Bar
    from engine.images import Picture, load_picture

    try:
        if not 1.0 <= args.scale <= 16.0:
            raise EngineError(f"--scale {args.scale:g} is outside 1..16.")
        if args.width is not None and args.width < 1:
            raise EngineError("--width must be a positive number of pixels.")
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
        alpha = None
        if pic.alpha is not None:
            from engine.images import resize_gray

            alpha = resize_gray(pic.alpha, size)
        save_or_rescue(Picture(rgb, alpha), args.output)
    except (KeyboardInterrupt, Cancelled):
        sys.stderr.write(f"{PROG}: interrupted; no output written\n")
        return EXIT_INTERRUPTED
    except EngineError as exc:
        sys.stderr.write(f"{PROG}: error: {exc.message}\n")
        return EXIT_BAD_INPUT
    except OutputFailed as exc:
        sys.stderr.write(f"{PROG}: error: {exc.message}\n")
        return EXIT_FAILED
    out = {"output": str(Path(args.output).resolve()), "width": size[0], "height": size[1],
           **info}
    if args.json:
        sys.stdout.write(json.dumps(out) + "\n")
    elif not args.quiet:
        sys.stderr.write(f"wrote {out['output']} ({size[0]}x{size[1]}, {info['upscale']})\n")
    return EXIT_OK
