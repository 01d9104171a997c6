"""Issue #10 item 10: the CLI never loses finished work. Every output format and path is checked
before the work starts (one line, exit 2); if the write still fails after the work, the result
is saved to a temporary PNG that the one-line error names (exit 1). No traceback either way."""

from __future__ import annotations

import errno
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine import images, pipeline
from engine.__main__ import main

QUICK = ["--size", "64", "--iterations", "1", "--no-multiscale", "-q"]


def _png(path: Path, w: int, h: int) -> Path:
    rgb = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    Image.fromarray(rgb, "RGB").save(path)
    return path


@pytest.fixture()
def inputs(tmp_path):
    return _png(tmp_path / "content.png", 60, 40), _png(tmp_path / "style.png", 48, 48)


@pytest.fixture()
def no_work(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the work started although the output cannot be written")

    monkeypatch.setattr(pipeline, "run", refuse)


def _run(argv, capsys):
    rc = main(["stylize", *argv])
    captured = capsys.readouterr()
    return rc, captured.err


@pytest.mark.parametrize("suffix", [".psd", ".fli", ".xbm", ".msp", ".h5", ".xpm", ".fits"])
def test_formats_pillow_cannot_write_are_refused_before_the_work(suffix, inputs, no_work,
                                                                 tmp_path, capsys):
    content, style = inputs
    rc, err = _run([str(content), "-s", str(style), "-o", str(tmp_path / f"x{suffix}"), *QUICK],
                   capsys)
    assert rc == 2 and len(err.strip().splitlines()) == 1, err
    assert "Cannot write" in err and "Traceback" not in err
    assert set(tmp_path.iterdir()) == {content, style}  # nothing written, no .part left


def test_a_folder_that_takes_no_files_is_refused_before_the_work(inputs, no_work, capsys):
    content, style = inputs
    # /proc takes no new files, whoever asks (permission bits would not stop root).
    rc, err = _run([str(content), "-s", str(style), "-o", "/proc/out.png", *QUICK], capsys)
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "/proc" in err, err


def test_a_write_that_fails_after_the_work_keeps_the_result(inputs, tmp_path, monkeypatch,
                                                            capsys):
    content, style = inputs

    def disk_full(picture, path):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(images, "save_picture", disk_full)
    out = tmp_path / "out.png"
    rc, err = _run([str(content), "-s", str(style), "-o", str(out), *QUICK], capsys)
    assert rc == 1 and len(err.strip().splitlines()) == 1, err
    assert "No space left on device" in err and "Traceback" not in err
    rescued = Path(err.strip().rsplit(" ", 1)[-1])
    try:
        with Image.open(rescued) as im:
            assert im.size == (64, 43)  # the result at --size 64
    finally:
        rescued.unlink(missing_ok=True)
    assert not out.exists()


def test_writable_formats_still_work_and_drop_alpha_only_where_needed(tmp_path):
    rgba = images.Picture(np.full((4, 6, 3), 0.5, np.float32), np.full((4, 6), 0.25, np.float32))
    for suffix, mode in [(".png", "RGBA"), (".jpg", "RGB"), (".tif", "RGBA"), (".pcx", "RGB")]:
        images.check_output(tmp_path / f"o{suffix}")
        images.save_picture(rgba, tmp_path / f"o{suffix}")
        with Image.open(tmp_path / f"o{suffix}") as im:
            assert im.mode == mode and im.size == (6, 4)


def test_nan_style_weights_are_refused(inputs, no_work, tmp_path, capsys):
    """Issue #10 item 2 on the CLI: it used to exit 0 writing a black picture."""
    content, style = inputs
    rc, err = _run([str(content), "-s", str(style), "-s", str(style), "--style-weights",
                    "1,nan", "-o", str(tmp_path / "o.png"), *QUICK], capsys)
    assert rc == 2 and "--style-weights" in err and "finite" in err, err
