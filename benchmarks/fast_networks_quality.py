"""Quality of per-painting networks on the shared photos, by the project's yardstick
(../shared/tools/nst_score.py: content, style, patch; lower is better), for comparing a network
with its retrained successor (issue #14).

    python benchmarks/fast_networks_quality.py --models starry_night,great_wave \
        [--candidates runs/ft/models --prefix new_[,other_]] [--size 512] [--out rows.jsonl]

Each shared content photo is brought to --size on its longer side, styled by each model through
the engine (`fast.stylize`, defaults) and scored against the model's own painting (the json's
`training.style_image`, looked up in ../shared/images/style/) at that size, with nst_score's own
functions (VGG loaded once). With --candidates, the models in that folder whose id is PREFIX+ID
are scored beside ID (several prefixes, comma-separated: several candidates per network; an
empty prefix scores only the models named, e.g. new paintings found in --candidates). One JSON
line per (photo, model) goes to --out as it is measured; the summary gives each model's means
and, for a candidate, its ratios to the current network's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from arbitrary_quality import scorer  # noqa: E402
from yardstick import SHARED  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="starry_night,great_wave,udnie,woman_with_hat")
    ap.add_argument("--candidates", type=Path, help="folder of retrained models (PREFIX + ID)")
    ap.add_argument("--prefix", default="new_", help="candidate id prefix(es), comma-separated")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--photos", type=int, default=13)
    ap.add_argument("--out", type=Path, default=Path("fast_networks_quality.jsonl"))
    ap.add_argument("--keep", type=Path, help="keep the styled photos in this folder")
    ap.add_argument("--reuse-current", type=Path, metavar="JSONL",
                    help="take the shipped networks' rows from this earlier run's --out (same "
                         "--size and photos, the shipped files unchanged) instead of re-scoring")
    args = ap.parse_args()
    if args.candidates:
        os.environ["NST_MODEL_PATH"] = str(args.candidates.resolve())

    from engine import fast
    from engine.contract import FastParams
    from engine.images import Picture, fit_longest_side, load_picture, resize_rgb, save_picture

    work = args.keep or Path(tempfile.mkdtemp(prefix="fast_networks_quality_"))
    work.mkdir(parents=True, exist_ok=True)
    photos = sorted(p for p in (SHARED / "images" / "content").iterdir()
                    if p.suffix.lower() in (".jpg", ".png"))[: args.photos]
    inputs = []
    for p in photos:  # the photo at the scoring size: what both the network and the score see
        pic = load_picture(p)
        small = work / f"{p.stem}.png"
        save_picture(Picture(resize_rgb(pic.rgb, fit_longest_side(pic.size, args.size))), small)
        inputs.append(small)
    score = scorer(args.size)
    pairs = []  # (current id, id, painting)
    for mid in args.models.split(","):
        painting = SHARED / "images" / "style" / fast.get_model(mid).metadata["training"][
            "style_image"]
        pairs.append((mid, mid, painting))
        if args.candidates:
            pairs += [(mid, pre + mid, painting) for pre in args.prefix.split(",") if pre]
    known = {}
    if args.reuse_current:
        for line in args.reuse_current.read_text().splitlines():
            r = json.loads(line)
            if r["model"] == r["base"]:
                known[(r["photo"], r["model"])] = r
    rows = []
    with open(args.out, "a") as out:
        for base in dict.fromkeys(b for b, _, _ in pairs):
            for photo in inputs:  # both networks per photo: the yardstick's reference is shared
                for _, mid, painting in (p for p in pairs if p[0] == base):
                    if (photo.name, mid) in known:
                        rows.append(known[(photo.name, mid)])
                        continue
                    t0 = time.perf_counter()
                    styled = fast.stylize(load_picture(photo), FastParams(model=mid)).rgb
                    dest = work / f"{photo.stem}.{mid}.png"
                    save_picture(Picture(styled) if not hasattr(styled, "mode")
                                 else Picture(pil=styled), dest)
                    r = {"photo": photo.name, "model": mid, "base": base,
                         "painting": painting.name,
                         **score(str(photo), str(painting), str(dest)),
                         "seconds": round(time.perf_counter() - t0, 1)}
                    rows.append(r)
                    out.write(json.dumps(r) + "\n")
                    out.flush()
                    print(json.dumps(r), flush=True)
    summary = {}
    for _, mid, _ in pairs:
        got = [r for r in rows if r["model"] == mid]
        summary[mid] = {k: round(sum(r[k] for r in got) / len(got), 4)
                        for k in ("content", "style", "patch")}
    for base, mid, _ in pairs:
        if mid != base:
            b, c = summary[base], summary[mid]
            summary[mid]["vs_current"] = {k: round(c[k] / b[k], 3)
                                          for k in ("content", "style", "patch")}
    print(json.dumps({"summary": summary, "size": args.size, "photos": len(inputs),
                      "outputs": str(work)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
