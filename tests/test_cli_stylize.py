"""`python -m engine stylize`: the JSON it prints, and one clear line + exit 2 for every bad input
(no traceback, no output file)."""

from __future__ import annotations

import dataclasses
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.__main__ import main
from engine.contract import GatysParams

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--size", "64", "--iterations", "2", "--no-multiscale", "-q"]


def _png(path: Path, w: int = 60, h: int = 40, mode: str = "RGB") -> Path:
    yy, xx = np.mgrid[0:h, 0:w]
    rgb = np.stack([xx * 4 % 256, yy * 6 % 256, (xx + yy) * 3 % 256], axis=2).astype(np.uint8)
    im = Image.fromarray(rgb, "RGB")
    if mode == "RGBA":
        alpha = (xx * 255 // max(1, w - 1)).astype(np.uint8)
        im = Image.fromarray(np.dstack([rgb, alpha]), "RGBA")
    im.save(path)
    return path


def _huge_png(path: Path) -> Path:
    """A valid PNG header claiming 100000 x 100000 pixels (a few bytes on disk)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 16)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat)
                     + chunk(b"IEND", b""))
    return path


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    truncated = tmp_path / "truncated.png"
    full = _png(tmp_path / "full.png", 200, 200).read_bytes()
    truncated.write_bytes(full[: len(full) // 3])
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "garbage.png").write_bytes(b"this is not an image at all" * 10)
    return {
        "content": _png(tmp_path / "content.png"),
        "style": _png(tmp_path / "style.png", 48, 48),
        "rgba": _png(tmp_path / "rgba.png", 64, 40, "RGBA"),
        "truncated": truncated,
        "empty": tmp_path / "empty.png",
        "garbage": tmp_path / "garbage.png",
        "huge": _huge_png(tmp_path / "huge.png"),
        "out": tmp_path / "out" / "result.png",
    }


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        rc = main(["stylize", *argv])
    except SystemExit as exc:  # argparse usage errors
        rc = int(exc.code)
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def test_json_describes_the_result(files, capsys) -> None:
    files["out"].parent.mkdir()
    rc, out, err = _run([str(files["content"]), "-s", str(files["style"]), "-o",
                         str(files["out"]), "--json", "--style-weight", "2", *FAST], capsys)
    assert rc == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 1
    info = json.loads(lines[0])
    assert Path(info["output"]) == files["out"].resolve()
    with Image.open(files["out"]) as im:
        assert im.size == (info["width"], info["height"]) == (64, 43)
    assert info["device"] == "cpu"
    assert info["iterations"] == 2 and info["seconds"] > 0
    assert info["content_loss"] >= 0 and 0 <= info["style_loss"] < 2
    # Every parameter actually used, defaults included.
    assert set(info["params"]) == {f.name for f in dataclasses.fields(GatysParams)}
    assert info["params"]["style_weight"] == 2.0 and info["params"]["quality"] == "normal"
    assert info["params"]["size"] == 64 and info["params"]["tv_weight"] == 1.0


def test_alpha_carried_unchanged(files, capsys) -> None:
    out = files["out"].with_name("alpha.png")
    out.parent.mkdir()
    rc, _, err = _run([str(files["rgba"]), "-s", str(files["style"]), "-o", str(out), *FAST],
                      capsys)
    assert rc == 0, err
    with Image.open(files["rgba"]) as src, Image.open(out) as res:
        assert res.mode == "RGBA" and res.size == src.size
        assert np.array_equal(np.asarray(res)[..., 3], np.asarray(src)[..., 3])


BAD = {
    "missing content": (["{tmp}/nope.png", "-s", "{style}"], "not found"),
    "missing style": (["{content}", "-s", "{tmp}/nope.jpg"], "not found"),
    "corrupt content": (["{garbage}", "-s", "{style}"], "not an image"),
    "truncated content": (["{truncated}", "-s", "{style}"], "damaged or truncated"),
    "empty style": (["{content}", "-s", "{empty}"], "not an image"),
    "absurdly large": (["{huge}", "-s", "{style}"], "too large"),
    "folder as content": (["{tmp}", "-s", "{style}"], "folder"),
    "no style": (["{content}"], "--style"),
    "size out of range": (["{content}", "-s", "{style}", "--size", "5"], "--size"),
    "size not a number": (["{content}", "-s", "{style}", "--size", "big"], "whole number"),
    "bad choice": (["{content}", "-s", "{style}", "--quality", "superb"], "invalid choice"),
    "unknown flag": (["{content}", "-s", "{style}", "--frobnicate"], "unrecognized"),
    "negative weight": (["{content}", "-s", "{style}", "--style-weight", "-1"], "style-weight"),
    "nan weight": (["{content}", "-s", "{style}", "--content-weight", "nan"], "finite"),
    "blend count": (["{content}", "-s", "{style}", "--style-weights", "1,2"], "2 weights"),
    "tile without model": (["{content}", "-s", "{style}", "--tile", "256"], "fast"),
    "missing mask": (["{content}", "-s", "{style}", "--mask", "{tmp}/m.png"], "Mask"),
    "corrupt mask": (["{content}", "-s", "{style}", "--mask", "{garbage}"], "Mask"),
    "unknown model": (["{content}", "-m", "no_such_model_xyz"], "no_such_model_xyz"),
    "gatys flag with model": (["{content}", "-m", "x", "--size", "256"], "--size"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_one_line_exit_2(case: str, files, capsys, tmp_path: Path) -> None:
    argv, needle = BAD[case]
    names = {k: str(v) for k, v in files.items()} | {"tmp": str(tmp_path)}
    out = tmp_path / "result.png"
    args = [a.format(**names) for a in argv] + ["-o", str(out)]
    if "-m" not in argv:
        args += ["--iterations", "1"]  # should a case wrongly succeed, it stays quick
    rc, stdout, err = _run(args, capsys)
    assert rc == 2, (rc, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err and needle.lower() in err.lower(), err
    assert not out.exists()
    assert not list(tmp_path.glob("*.part"))


@pytest.mark.parametrize("output,needle", [("result.xyz", "format"),
                                           ("missing/result.png", "does not exist")])
def test_bad_output_path(output: str, needle: str, files, capsys, tmp_path: Path) -> None:
    rc, _, err = _run([str(files["content"]), "-s", str(files["style"]), "-o",
                       str(tmp_path / output), *FAST], capsys)
    assert rc == 2 and len(err.strip().splitlines()) == 1 and needle in err, err


def test_real_process_bad_input_and_help(files, tmp_path: Path) -> None:
    out = tmp_path / "r.png"
    proc = subprocess.run([sys.executable, "-m", "engine", "stylize", str(files["garbage"]), "-s",
                           str(files["style"]), "-o", str(out)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert not out.exists()
    helptext = subprocess.run([sys.executable, "-m", "engine", "stylize", "--help"], cwd=ROOT,
                              capture_output=True, text=True, timeout=120).stdout
    for flag in ("--size", "--style-weight", "--keep-colors", "--init", "--optimizer", "--seed",
                 "--json", "--mask", "--model", "--tile", "--style-weights", "--quality"):
        assert flag in helptext
