"""`python -m engine models [--json]`: the fast models installed (per-painting networks, the
any-painting networks used by `stylize --fast`, and the super-resolution networks used by
`upscale`), where they were found, and any file that is there but unusable (with the reason)."""

from __future__ import annotations

import argparse
import json
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list installed fast style models")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace) -> int:
    from engine.arbitrary import model as arbitrary
    from engine.fast import runtime_info, scan_models

    models, problems = scan_models()
    any_painting, any_problems = arbitrary.scan()
    everything = sorted(models.values(), key=lambda m: m.name.lower())
    # An upscaler is a network of the same file format, not a style: listed apart.
    listed = [m for m in everything if m.kind != "upscaler"]
    upscalers = [m for m in everything if m.kind == "upscaler"]
    if args.json:
        out = {"models": [m.to_dict() for m in listed],
               "upscalers": [m.to_dict() for m in upscalers],
               "problems": [{"id": k, "message": v} for k, v in sorted(problems.items())],
               "arbitrary": [m.to_dict() for _, m in sorted(any_painting.items())],
               "arbitrary_problems": [{"id": k, "message": v}
                                      for k, v in sorted(any_problems.items())],
               "runtime": runtime_info()}
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return 0
    rt = runtime_info()
    sys.stdout.write(f"onnxruntime {rt['onnxruntime']}, auto provider: {rt['auto_provider']}\n")
    sys.stdout.write("searched: " + ", ".join(rt["model_dirs"]) + "\n")
    if not listed:
        sys.stdout.write("no fast style models installed\n")
    else:
        sys.stdout.write("per painting (stylize -m ID):\n")
    for m in listed:
        t = m.meta.training
        how = (f"{t.get('steps')} steps" if t.get("steps") else "foreign" if m.inferred else "")
        size = f"fixed {m.meta.fixed_size[1]}x{m.meta.fixed_size[0]}" if m.meta.fixed_size \
            else "any size"
        sys.stdout.write(f"  {m.id:<28} {m.name:<32} {size:<16} {how:<12} {m.path}\n")
    for model_id, message in sorted(problems.items()):
        sys.stdout.write(f"  UNUSABLE {model_id}: {message}\n")
    sys.stdout.write("any painting (stylize --fast):\n")
    for model_id, m in sorted(any_painting.items()):
        lic = (m.meta.extra.get("license") or {}).get("weights", "")
        sys.stdout.write(f"  {model_id:<28} {m.meta.name:<44} {lic:<12} {m.folder}\n")
    for model_id, message in sorted(any_problems.items()):
        sys.stdout.write(f"  UNUSABLE {model_id}: {message}\n")
    if upscalers:
        sys.stdout.write("upscaling (upscale sharp, python -m engine upscale):\n")
    for m in upscalers:
        t = m.meta.training
        steps = f"{t.get('steps')} steps" if t.get("steps") else ""
        factor = f"x{m.meta.extra.get('scale', '?')}"
        sys.stdout.write(f"  {m.id:<28} {m.name:<32} {factor:<16} {steps:<12} {m.path}\n")
    return 0
