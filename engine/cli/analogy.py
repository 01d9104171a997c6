"""`python -m engine analogy PHOTO REFERENCE -o OUT [--reverse-output OUT_B] [options]`.

Deep Image Analogy: the photo rebuilt from the reference's own pixels (A'), and optionally the
reference rebuilt from the photo's pixels (B). Flags come from AnalogyParams; every bad input ends
in one line on stderr and exit code 2, before any output file is created.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from engine.cli.command import add_command, run_command
from engine.cli.flags import add_flags, params_from_args
from engine.contract import AnalogyParams, JobRequest, Method, params_to_dict

PROG = "python -m engine analogy"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub, "analogy", help="rebuild a photo from a reference picture's own pixels, part by part",
        description="Deep Image Analogy (Liao et al. 2017): match the photo and the reference "
                    "in VGG19 feature space, then rebuild the photo (A') from the reference's "
                    "pixels; --reverse-output also rebuilds the reference from the photo's (B).")
    p.add_argument("photo", help="the photo, A (any format Pillow reads)")
    p.add_argument("reference", help="the reference, B' (a painting, a sketch or another photo)")
    p.add_argument("-o", "--output", required=True, help="A' (.png, .jpg, .tif, .webp)")
    p.add_argument("--reverse-output", dest="reverse_path", metavar="OUT_B",
                   help="also write B: the reference's layout with the photo's look")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object describing the result on stdout")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_flags(p.add_argument_group("analogy options"), AnalogyParams, skip=("reverse_output",))


def _analogy(args: argparse.Namespace) -> dict[str, Any]:
    import dataclasses

    import numpy as np

    from engine import pipeline
    from engine.cancel import CancelToken
    from engine.cli.output import check_output, save_or_rescue
    from engine.cli.progress import Bar
    from engine.images import Picture, load_picture

    params = params_from_args(AnalogyParams, args)
    params = dataclasses.replace(params, reverse_output=args.reverse_path is not None)
    check_output(args.output)
    if args.reverse_path:
        check_output(args.reverse_path)
    photo = load_picture(args.photo, "Photo")
    reference = load_picture(args.reference, "Reference")
    bar = Bar(enabled=not args.quiet and sys.stderr.isatty(), desc="analogy")
    extras: dict[str, Picture] = {}
    try:
        a_prime, info = pipeline.run(JobRequest(Method.ANALOGY, params), photo, [reference],
                                     output_size=photo.size, progress=bar,
                                     cancel=CancelToken(), extras=extras)
    finally:
        bar.close()
    save_or_rescue(a_prime, args.output)
    b = extras.get("reverse")
    if b is not None:
        save_or_rescue(Picture(b.rgb, reference.alpha), args.reverse_path)
    out = {
        "output": str(Path(args.output).resolve()),
        "reverse_output": str(Path(args.reverse_path).resolve()) if b is not None else None,
        "method": "analogy",
        "width": info["width"],
        "height": info["height"],
        "device": info["device"],
        "precision": info["precision"],
        "seconds": round(info["seconds"], 2),
        "work_size": info["work_size_a"],
        "stages": info["stages"],
        "params": params_to_dict(params),
        "photo": str(Path(args.photo).resolve()),
        "reference": str(Path(args.reference).resolve()),
    }
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in out.items()}


def run(args: argparse.Namespace) -> int:
    return run_command(PROG, lambda: _analogy(args), args,
                       lambda r: f"wrote {r['output']} ({r['width']}x{r['height']}, "
                                 f"{r['seconds']:.1f} s)")
