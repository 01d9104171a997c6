"""`python -m engine analogy PHOTO REFERENCE -o OUT [--reverse-output OUT_B] [options]`.

Deep Image Analogy: the photo rebuilt from the reference's own pixels (A'), and optionally the
reference rebuilt from the photo's pixels (B). Flags come from AnalogyParams; every bad input ends
in one line on stderr and exit code 2, before any output file is created.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from engine.analogy.params import AnalogyParams
from engine.cli_args import add_param_flags, params_from_args
from engine.cli_stylize import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    _Bar,
    _check_output,
    _OneLineParser,
)
from engine.contract import ParamError, params_to_dict
from engine.errors import Cancelled, EngineError

PROG = "python -m engine analogy"


class _Parser(_OneLineParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{PROG}: error: {message} (see --help)\n")
        raise SystemExit(EXIT_BAD_INPUT)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "analogy", help="rebuild a photo from a reference picture's own pixels, part by part",
        description="Deep Image Analogy (Liao et al. 2017): match the photo and the reference "
                    "in VGG19 feature space, then rebuild the photo (A') from the reference's "
                    "pixels; --reverse-output also rebuilds the reference from the photo's (B).")
    p.__class__ = _Parser
    p.add_argument("photo", help="the photo, A (any format Pillow reads)")
    p.add_argument("reference", help="the reference, B' (a painting, a sketch or another photo)")
    p.add_argument("-o", "--output", required=True, help="A' (.png, .jpg, .tif, .webp)")
    p.add_argument("--reverse-output", dest="reverse_path", metavar="OUT_B",
                   help="also write B: the reference's layout with the photo's look")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object describing the result on stdout")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_param_flags(p.add_argument_group("analogy options"), AnalogyParams,
                    skip=("reverse_output",))


def _analogy(args: argparse.Namespace) -> dict[str, Any]:
    import dataclasses

    import numpy as np

    from engine.analogy.reconstruct import analogize
    from engine.cancel import CancelToken
    from engine.images import Picture, load_picture, save_picture

    params = params_from_args(AnalogyParams, args)
    params = dataclasses.replace(params, reverse_output=args.reverse_path is not None)
    _check_output(args.output)
    if args.reverse_path:
        _check_output(args.reverse_path)
    photo = load_picture(args.photo, "Photo")
    reference = load_picture(args.reference, "Reference")
    bar = _Bar(enabled=not args.quiet and sys.stderr.isatty())
    try:
        a_prime, b, info = analogize(photo.rgb, reference.rgb, params, progress=bar,
                                     cancel=CancelToken())
    finally:
        bar.close()
    save_picture(Picture(a_prime, photo.alpha), args.output)
    if b is not None:
        save_picture(Picture(b, reference.alpha), args.reverse_path)
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
    try:
        result = _analogy(args)
    except ParamError as exc:
        sys.stderr.write(f"{PROG}: error: --{exc.name.replace('_', '-')}: "
                         f"{str(exc).split(': ', 1)[-1]}\n")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: interrupted; no output written\n")
        return EXIT_INTERRUPTED
    except Cancelled:
        sys.stderr.write(f"{PROG}: cancelled; no output written\n")
        return EXIT_INTERRUPTED
    except EngineError as exc:
        sys.stderr.write(f"{PROG}: error: {exc.message}\n")
        return EXIT_BAD_INPUT
    except MemoryError:
        sys.stderr.write(f"{PROG}: error: out of memory; try a smaller --size\n")
        return EXIT_FAILED
    if args.json:
        sys.stdout.write(json.dumps(result) + "\n")
    elif not args.quiet:
        sys.stderr.write(f"wrote {result['output']} ({result['width']}x{result['height']}, "
                         f"{result['seconds']:.1f} s)\n")
    return EXIT_OK
