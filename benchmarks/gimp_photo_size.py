#!/usr/bin/env python3
"""Issue #16 in a real GIMP 3: a 12 MP layer styled with Neural Style at 1024 px and brought to
the layer's size by the super-resolution network (`upscale` sharp), against what a user got
before: the default 512 px render stretched with Lanczos (`upscale` smooth). Both run through
the installed plug-in in the test chroot (tests/test_gimp_e2e.py builds it; root needed), as a
script user would; the time is GIMP's procedure call, engine included.

Writes a 100 % crop of both results side by side (default docs/upscale/gimp_12mp_crop.jpg) and
prints one JSON line per run.

    sudo python benchmarks/gimp_photo_size.py [--photo PATH] [--painting PATH] [--crop OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "images"
sys.path.insert(0, str(ROOT / "tests"))

import test_gimp_e2e as e2e  # noqa: E402  (the chroot, the install and the mounts)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photo", type=Path, default=SHARED / "train/budgie_fragrant-chamomile.jpg")
    ap.add_argument("--painting", type=Path, default=SHARED / "style/starry_night_vangogh.jpg")
    ap.add_argument("--width", type=int, default=4000, help="the layer's width (12 MP at 4:3)")
    ap.add_argument("--crop", type=Path, default=ROOT / "docs/upscale/gimp_12mp_crop.jpg")
    a = ap.parse_args()
    session_gen = e2e.session.__wrapped__(_Factory()) if hasattr(e2e.session, "__wrapped__") \
        else None
    if session_gen is None:
        raise SystemExit("this pytest has no __wrapped__ on fixtures; run under pytest instead")
    session = next(session_gen)
    try:
        work = session.work
        photo = work / "photo-12mp.png"
        with Image.open(a.photo) as im:
            im = im.convert("RGB")
            h = round(im.height * a.width / im.width)
            im.resize((a.width, h), Image.LANCZOS).save(photo, compress_level=1)
        painting = work / a.painting.name  # inside the chroot's mounts
        painting.write_bytes(a.painting.read_bytes())
        out = work / "out-12mp"
        out.mkdir()
        runs = [
            {"name": "sharp_1024", "photo": str(photo), "procedure": "python-fu-neural-style",
             "files": {"style": str(painting)}, "args": {"size": 1024, "upscale": "sharp"}},
            {"name": "before_512_smooth", "photo": str(photo),
             "procedure": "python-fu-neural-style", "files": {"style": str(painting)},
             "args": {"size": 512, "upscale": "smooth"}},
        ]
        gimp = session.run(e2e.E2E / "scenarios.py", {"out": str(out), "scenarios": runs},
                           timeout=3600)
        results = json.loads((out / "results.json").read_text())
        crops = []
        for r in results:
            if r.get("crash") or r.get("status") != "success":
                print(gimp.stdout[-3000:], gimp.stderr[-3000:])
                raise SystemExit(f"{r['name']}: {r}")
            w, hh = r["source"]["w"], r["source"]["h"]
            rgba = np.frombuffer((out / (r["name"] + ".result")).read_bytes(), np.uint8)
            rgb = rgba.reshape(hh, w, 4)[..., :3]
            y, x = hh // 2 - 256, w // 2 - 384
            crops.append(rgb[y:y + 512, x:x + 768])
            print(json.dumps({"run": r["name"], "layer": [w, hh], "seconds": r["seconds"],
                              "args": next(s["args"] for s in runs if s["name"] == r["name"])}))
        a.crop.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.concatenate(crops[::-1], axis=1)).save(a.crop, quality=90)
        print(f"wrote {a.crop} (left: 512 px + Lanczos, before; right: 1024 px + sharp)")
    finally:
        try:
            next(session_gen)
        except StopIteration:
            pass
    return 0


class _Factory:
    """The one method of pytest's tmp_path_factory that the session fixture uses."""

    def mktemp(self, name: str) -> Path:
        return Path(tempfile.mkdtemp(prefix=name + "-"))


if __name__ == "__main__":
    sys.exit(main())
