"""Helpers for the server and client tests: a real uvicorn server on a free loopback port (in a
thread), the stdlib client imported the way GIMP imports it, and small test pictures."""

from __future__ import annotations

import importlib
import socket
import struct
import sys
import threading
import time
import zlib
from pathlib import Path
from types import ModuleType

import numpy as np
import uvicorn
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_DIR = ROOT / "gimp_plugin"
SHARED = Path(__file__).resolve().parents[2] / "shared"  # beside the checkout, as in CI
CONTENT = SHARED / "images" / "content" / "chelsea_cat.jpg"
STYLE = SHARED / "images" / "style" / "great_wave_hokusai.jpg"


def import_plugin_module(name: str) -> ModuleType:
    """`import <name>` as a plain top-level module from gimp_plugin/, as GIMP 2.10 and 3 do
    (their plug-in folder is on sys.path; there is no package)."""
    if str(PLUGIN_DIR) not in sys.path:
        sys.path.insert(0, str(PLUGIN_DIR))
    module = importlib.import_module(name)
    assert Path(module.__file__).resolve().parent == PLUGIN_DIR
    return module


def import_client() -> ModuleType:
    return import_plugin_module("nst_client")


nst_png = import_plugin_module("nst_png")


class ServerThread:
    """uvicorn serving `app` on 127.0.0.1:<free port> in a daemon thread."""

    def __init__(self, app) -> None:
        self.app = app
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False,
                                                    lifespan="on", timeout_graceful_shutdown=3))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                       daemon=True, name="test-uvicorn")

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        self.sock.close()


def rgba_pixels(path: Path, size: tuple[int, int]) -> bytes:
    with Image.open(path) as im:
        return im.convert("RGBA").resize(size, Image.Resampling.BILINEAR).tobytes()


def photo_png(size: tuple[int, int] = (64, 48), path: Path = CONTENT) -> bytes:
    """A real photo, downscaled, encoded with the plug-ins' own stdlib PNG writer."""
    return nst_png.png_encode(size[0], size[1], rgba_pixels(path, size), 4)


def noise_png(size: tuple[int, int], seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8).tobytes()
    return nst_png.png_encode(size[0], size[1], data, 3)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_with_header(width: int, height: int, payload: bytes = b"\x00" * 64) -> bytes:
    """A PNG whose IHDR claims width x height, followed by a little (insufficient) pixel data:
    what a decompression bomb or a lying file looks like before anything is decoded."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr)
            + _chunk(b"IDAT", zlib.compress(payload)) + _chunk(b"IEND", b""))
