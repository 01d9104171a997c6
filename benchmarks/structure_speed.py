"""Speed before and after a change, same run: Gatys seconds per iteration at 512 px and the fast
path's whole command on a 4 MP photo, for a base commit and the working tree, interleaved so a
change in machine load hits both alike.

The base commit is checked out into a temporary git worktree beside this checkout (so both see
the same ../shared) and each tree runs its own code
(`benchmarks/gatys_vs_pastiche.py --speed-only` for s/iteration; `python -m engine stylize -m
MODEL` for the fast command). Prints the medians and the ratios after/before.

    python benchmarks/structure_speed.py --base 5473f36 --rounds 3
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fast_vs_styletransfer_lite import DEFAULT_PHOTO, make_photo  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SPEED_LINE = re.compile(r"seconds/iteration at \d+px: engine ([0-9.]+) s")


def gatys_s_per_iter(tree: Path) -> float:
    out = subprocess.run([sys.executable, "benchmarks/gatys_vs_pastiche.py", "--speed-only"],
                         cwd=tree, capture_output=True, text=True, check=True).stdout
    match = SPEED_LINE.search(out)
    if not match:
        raise RuntimeError(f"no s/iteration line in the output of {tree}:\n{out[-2000:]}")
    return float(match.group(1))


def fast_seconds(tree: Path, photo: Path, model: str, out_dir: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "engine", "stylize", str(photo), "-m", model, "-q",
                    "-o", str(out_dir / f"{tree.name}.jpg")], cwd=tree, check=True,
                   capture_output=True)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", default="5473f36", help="commit to compare against")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--model", default="starry_night")
    ap.add_argument("--megapixels", type=float, default=4.0)
    a = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="nst-structure-"))
    # Beside this checkout, so the base finds ../shared as the working tree does.
    base = ROOT.parent / f".nst-structure-base-{work.name}"
    subprocess.run(["git", "worktree", "add", "--detach", str(base), a.base], cwd=ROOT,
                   check=True, capture_output=True)
    try:
        photo = make_photo(DEFAULT_PHOTO, a.megapixels, work)
        trees = {"before": base, "after": ROOT}
        gatys: dict[str, list[float]] = {k: [] for k in trees}
        fast: dict[str, list[float]] = {k: [] for k in trees}
        for r in range(a.rounds):
            order = list(trees) if r % 2 == 0 else list(reversed(trees))
            for name in order:
                gatys[name].append(gatys_s_per_iter(trees[name]))
                fast[name].append(fast_seconds(trees[name], photo, a.model, work))
                print(f"round {r + 1} {name:6}: gatys {gatys[name][-1]:.3f} s/it, fast "
                      f"{a.megapixels:g} MP {fast[name][-1]:.2f} s", flush=True)
        g = {k: statistics.median(v) for k, v in gatys.items()}
        f = {k: statistics.median(v) for k, v in fast.items()}
        print(f"\nGatys 512 px s/iteration (median of {a.rounds}): before {g['before']:.3f}, "
              f"after {g['after']:.3f} -> after/before {g['after'] / g['before']:.3f}")
        mp = a.megapixels
        print(f"fast {mp:g} MP whole command (median of {a.rounds}): before "
              f"{f['before']:.2f} s ({f['before'] / mp:.3f} s/MP), after {f['after']:.2f} s "
              f"({f['after'] / mp:.3f} s/MP) -> after/before {f['after'] / f['before']:.3f}")
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT,
                       capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
