"""`python -m engine stylize CONTENT -s STYLE [-s STYLE ...] -o OUT [options]`.

Gatys optimisation by default; with `-m/--model MODEL` a per-painting fast network instead; with
`--fast` the painting(s) given with -s go through the arbitrary-style network (any painting, one
pass). Flags come from the
contract (`engine.cli.flags`), so they match the server's parameters one for one. Every bad input
ends in one line on stderr and exit code 2, before any output file is created.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from engine.cli.command import add_command, run_command
from engine.cli.flags import add_flags, params_from_args
from engine.cli.output import check_output, save_or_rescue
from engine.cli.progress import Bar
from engine.contract import (
    ArbitraryParams,
    FastParams,
    GatysParams,
    JobRequest,
    Method,
    ParamError,
    params_to_dict,
)
from engine.errors import BadImage

PROG = "python -m engine stylize"
# FastParams flags that share a name with a Gatys flag: one flag serves both methods.
SHARED = ("strength", "keep_colors", "device")
# FastParams flags of the feed-forward networks only (-m and --fast), not of Gatys.
NETWORK_ONLY = ("tile", "stroke_size", "working_size")
# ArbitraryParams flags that already exist for Gatys or -m; `model` is --network.
ARBITRARY_SHARED = (*SHARED, *NETWORK_ONLY, "style_weights")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "stylize", help="repaint a photo in the style of one or more paintings",
                    description="Gatys neural style transfer (or a fast network with -m).")
    p.add_argument("content", help="the photo (any format Pillow reads)")
    p.add_argument("-s", "--style", action="append", default=[], metavar="STYLE",
                   help="a style image (repeat for several; blend with --style-weights)")
    p.add_argument("-o", "--output", required=True, help="output image (.png, .jpg, .tif, .webp)")
    p.add_argument("--mask", help="8-bit mask image: style only where it is white")
    p.add_argument("-m", "--model", help="use this installed fast network instead of Gatys "
                                         "optimisation (see `python -m engine models`)")
    p.add_argument("--fast", action="store_true",
                   help="repaint with the paintings given by -s in one pass (arbitrary-style "
                        "network) instead of Gatys optimisation")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object describing the result on stdout")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    g = p.add_argument_group("Gatys options")
    add_flags(g, GatysParams)
    f = p.add_argument_group("feed-forward network options (with -m or --fast)")
    add_flags(f, FastParams, skip=("model", *SHARED))
    a = p.add_argument_group("any-painting network options (with --fast)")
    add_flags(a, ArbitraryParams, skip=("model", *ARBITRARY_SHARED))
    a.add_argument("--network", default=None, metavar="ID",
                   help="installed arbitrary-style network (default: magenta)")


def _arbitrary_request(args: argparse.Namespace) -> JobRequest:
    from engine.contract import params_from_dict

    if args.model is not None:
        raise ParamError("fast", "--fast takes the paintings given with -s; -m MODEL names a "
                                 "per-painting network: use one or the other")
    if not args.style:
        raise ParamError("style", "--fast needs at least one painting: -s PAINTING")
    names = {f.name for f in dataclasses.fields(ArbitraryParams)}
    wrong = [f.name for f in dataclasses.fields(GatysParams)
             if f.name not in names and getattr(args, f.name, None) is not None]
    if wrong:
        raise ParamError(wrong[0], "only applies to Gatys optimisation, not to --fast")
    given = {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}
    if args.network is not None:
        given["model"] = args.network
    return JobRequest(Method.ARBITRARY, params_from_dict(ArbitraryParams, given))


def _request(args: argparse.Namespace) -> JobRequest:
    arbitrary_only = [f.name for f in dataclasses.fields(ArbitraryParams)
                      if f.name not in ARBITRARY_SHARED and f.name != "model"
                      and getattr(args, f.name, None) is not None]
    if args.fast:
        return _arbitrary_request(args)
    if arbitrary_only or args.network is not None:
        name = arbitrary_only[0] if arbitrary_only else "network"
        raise ParamError(name, "only applies to the any-painting network (--fast)")
    if args.model is None:
        bad = [n for n in NETWORK_ONLY if getattr(args, n) is not None]
        if bad:
            raise ParamError(bad[0], "only applies to fast networks (-m MODEL or --fast)")
        if not args.style:
            raise ParamError("style", "give at least one style image with -s STYLE "
                                      "(or a fast network with -m MODEL)")
        params = params_from_args(GatysParams, args)
        return JobRequest(Method.GATYS, params)
    gatys_only = [f.name for f in dataclasses.fields(GatysParams)
                  if f.name not in SHARED and getattr(args, f.name, None) is not None]
    if gatys_only:
        raise ParamError(gatys_only[0], "only applies to Gatys optimisation, not to -m MODEL")
    if args.style:
        raise ParamError("style", "a fast network has its style built in; drop -s or -m")
    given = {n: getattr(args, n) for n in (*SHARED, *NETWORK_ONLY) if getattr(args, n) is not None}
    from engine.contract import params_from_dict

    return JobRequest(Method.FAST, params_from_dict(FastParams, {"model": args.model, **given}))


def _stylize(args: argparse.Namespace) -> dict[str, Any]:
    import numpy as np

    from engine import pipeline
    from engine.cancel import CancelToken
    from engine.images import decode_mask, load_picture

    request = _request(args)
    check_output(args.output)
    content = load_picture(args.content, "Content image")
    styles = [load_picture(s, "Style image") for s in args.style]
    mask = None
    if args.mask:
        try:
            data = Path(args.mask).read_bytes()
        except OSError as exc:
            raise BadImage(f"Mask {args.mask!r} cannot be read ({exc.strerror}).") from None
        mask = decode_mask(data, content.size)
    bar = Bar(enabled=not args.quiet and sys.stderr.isatty())
    cancel = CancelToken()
    try:
        picture, info = pipeline.run(request, content, styles, mask, progress=bar, cancel=cancel)
    finally:
        bar.close()
    save_or_rescue(picture, args.output)
    params = params_to_dict(request.params)
    out = {
        "output": str(Path(args.output).resolve()),
        "method": request.method.value,
        "width": info["width"],
        "height": info["height"],
        "device": info.get("device"),
        "seconds": info["seconds"],
        "iterations": info.get("iterations", 0),
        "content_loss": info.get("content_loss"),
        "style_loss": info.get("style_loss"),
        "params": params,
        "content": str(Path(args.content).resolve()),
        "styles": [str(Path(s).resolve()) for s in args.style],
        "mask": str(Path(args.mask).resolve()) if args.mask else None,
    }
    for key in ("precision", "scales", "tv_loss", "model", "provider", "tile", "working_size",
                "code_seconds"):
        if key in info:
            out[key] = info[key]
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in out.items()}


def run(args: argparse.Namespace) -> int:
    return run_command(PROG, lambda: _stylize(args), args,
                       lambda r: f"wrote {r['output']} ({r['width']}x{r['height']}, "
                                 f"{r['seconds']:.1f} s)")
