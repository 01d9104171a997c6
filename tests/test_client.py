"""The stdlib client on its own: PNG codec against Pillow, every failure mapped to an EngineError
with a message, config loading and starting the engine. Imported as GIMP does (`import nst_client`
from gimp_plugin/). The end-to-end runs against the real service are in test_server_api.py."""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from server_fixtures import CONTENT, PLUGIN_DIR, ROOT, import_client, import_plugin_module

nst_client = import_client()
nst_engine = import_plugin_module("nst_engine")
nst_png = import_plugin_module("nst_png")


# ------------------------------------------------------------------------------------ PNG

def _pil_png(im: Image.Image, **save) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG", **save)
    return buf.getvalue()


def _photo(mode: str, size=(37, 23)) -> Image.Image:
    with Image.open(CONTENT) as im:
        return im.convert("RGBA").resize(size).convert(mode)


@pytest.mark.parametrize("alpha", [False, True])
@pytest.mark.parametrize("size", [(37, 23), (1, 1), (256, 3)])
def test_png_decode_reads_what_the_engine_writes(alpha: bool, size: tuple[int, int]) -> None:
    """The decoder's whole job: the engine's result PNGs (8-bit RGB/RGBA, unfiltered rows)."""
    from engine.images import Picture
    from engine.server.png import encode_unfiltered

    rng = np.random.default_rng(size[0])
    w, h = size
    pic = Picture(rng.random((h, w, 3), dtype=np.float32),
                  rng.random((h, w), dtype=np.float32) if alpha else None)
    data = encode_unfiltered(pic)
    ref = Image.open(io.BytesIO(data))
    assert nst_png.png_decode(data) == (w, h, 4 if alpha else 3, ref.tobytes())


@pytest.mark.parametrize("what,make,words", [
    ("adaptive row filters", lambda: _pil_png(_photo("RGB"), compress_level=6), "filters"),
    ("palette", lambda: _pil_png(_photo("RGB").convert("P", palette=Image.Palette.ADAPTIVE,
                                                       colors=16)), "colour type 3"),
    ("16-bit grey", lambda: _pil_png(Image.frombytes(
        "I;16", (4, 4), np.arange(16, dtype=np.uint16).tobytes())), "depth 16"),
    ("1-bit", lambda: _pil_png(_photo("L").convert("1")), "depth 1"),
])
def test_png_decode_refuses_what_the_engine_never_writes(what, make, words) -> None:
    """Anything but the engine's layout is refused with a message, never misread."""
    with pytest.raises(nst_client.EngineError) as info:
        nst_png.png_decode(make())
    assert info.value.code == "bad_response" and words in info.value.message, what


@pytest.mark.parametrize("channels,mode", [(1, "L"), (2, "LA"), (3, "RGB"), (4, "RGBA")])
def test_png_encode_is_read_by_pillow(channels: int, mode: str) -> None:
    im = _photo(mode)
    data = nst_png.png_encode(im.width, im.height, im.tobytes(), channels)
    back = Image.open(io.BytesIO(data))
    back.load()
    assert back.mode == mode and back.tobytes() == im.tobytes()
    assert nst_png.png_decode(data) == (im.width, im.height, channels, im.tobytes())


def test_png_refusals_are_engine_errors() -> None:
    with pytest.raises(ValueError):
        nst_png.png_encode(2, 2, b"\0" * 15, 4)
    plain = _pil_png(_photo("RGB"))
    # The same file with the IHDR's interlace flag set (and its CRC fixed).
    import struct
    import zlib

    ihdr = plain[12:29][:-1] + b"\x01"
    interlaced = (plain[:8] + plain[8:12] + ihdr + struct.pack(">I", zlib.crc32(ihdr))
                  + plain[33:])
    for bad, words in [(b"GIF89a....", "not a PNG"), (interlaced, "interlace 1"),
                       (plain[:60], "truncated"), (plain[:33] + plain[-12:], "no pixel data")]:
        with pytest.raises(nst_client.EngineError) as info:
            nst_png.png_decode(bad)
        assert info.value.code == "bad_response" and words in info.value.message


def test_engine_result_png_decodes_fast() -> None:
    """The service writes unfiltered rows so the pure-Python decoder only slices them."""
    from engine.images import Picture
    from engine.server.png import encode_unfiltered

    rng = np.random.default_rng(1)
    pic = Picture(rng.random((600, 800, 3), dtype=np.float32), rng.random((600, 800),
                                                                          dtype=np.float32))
    data = encode_unfiltered(pic)
    t0 = time.perf_counter()
    w, h, c, pixels = nst_png.png_decode(data)
    spent = time.perf_counter() - t0
    ref = Image.open(io.BytesIO(data))
    assert (w, h, c) == (800, 600, 4) and pixels == ref.tobytes()
    assert spent < 1.0, f"{spent:.2f} s to decode 0.5 MP"


# ---------------------------------------------------------------------------- error mapping

class _Canned(BaseHTTPRequestHandler):
    reply: tuple[int, str, bytes] = (200, "application/json", b"{}")
    delay = 0.0

    def _answer(self) -> None:
        time.sleep(self.delay)
        status, ctype, body = self.reply
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_DELETE = _answer

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def canned():
    """A fake HTTP server answering whatever the test sets."""
    handler = type("H", (_Canned,), {})
    httpd = HTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield handler, f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_connection_refused() -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    with pytest.raises(nst_client.EngineError) as info:
        nst_client.Client(url, "t", timeout=5).health()
    assert info.value.code == "engine_unreachable" and "not running" in info.value.message
    assert url in info.value.message and info.value.http_status is None


def test_timeout(canned) -> None:
    handler, url = canned
    handler.delay = 2.0
    t0 = time.monotonic()
    with pytest.raises(nst_client.EngineError) as info:
        nst_client.Client(url, "t", timeout=0.5).health()
    assert info.value.code == "timeout" and "did not answer" in info.value.message
    assert time.monotonic() - t0 < 2.0


@pytest.mark.parametrize("reply,code,status,words", [
    ((401, "application/json", b'{"error": {"code": "unauthorized", "message": "Wrong token."}}'),
     "unauthorized", 401, "same token file"),
    ((400, "application/json", b'{"error": {"code": "bad_parameter", "message": "size: no"}}'),
     "bad_parameter", 400, "size: no"),
    ((413, "application/json", b'{"error": {"code": "image_too_large", "message": "Big."}}'),
     "image_too_large", 413, "Big."),
    ((500, "text/html", b"<h1>oops</h1>"), "internal", 500, "log file"),
    ((502, "application/json", b"{not json"), "internal", 502, "HTTP 502"),
    ((404, "text/plain", b"Not Found"), "bad_response", 404, "neural-style engine"),
    ((200, "text/html", b"<html>a web page</html>"), "bad_response", None, "not JSON"),
])
def test_http_errors_map_to_messages(canned, reply, code, status, words) -> None:
    handler, url = canned
    handler.reply = reply
    with pytest.raises(nst_client.EngineError) as info:
        nst_client.Client(url, "t").health()
    assert (info.value.code, info.value.http_status) == (code, status)
    assert words in info.value.message and words in str(info.value)


def test_garbage_server_is_bad_response() -> None:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)

    def babble():
        conn, _ = srv.accept()
        conn.recv(65536)
        conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
        conn.close()

    threading.Thread(target=babble, daemon=True).start()
    with pytest.raises(nst_client.EngineError) as info:
        nst_client.Client(f"http://127.0.0.1:{srv.getsockname()[1]}", "t").health()
    srv.close()
    assert info.value.code in ("bad_response", "engine_unreachable")
    assert info.value.message


def test_multipart_body_is_parsed_by_the_server_library() -> None:
    """The hand-written multipart encoding, read back by python-multipart (what Starlette uses)."""
    from python_multipart import MultipartParser

    body, ctype = nst_client._multipart([
        ("request", None, "application/json", json.dumps({"method": "fast"})),
        ("content", "content.png", "image/png", b"\x89PNG\r\n--not-a-boundary\r\n\x00\xff"),
        ("style", "style1.png", "image/png", b"A"), ("style", "style2.png", "image/png", b"B")])
    boundary = ctype.split("boundary=")[1]
    parts: list[tuple[str, bytes]] = []
    current: dict = {}

    def on_part_begin():
        current.clear()
        current["data"] = b""

    def on_header_value(data, start, end):
        current.setdefault("headers", []).append(data[start:end])

    def on_part_data(data, start, end):
        current["data"] += data[start:end]

    def on_part_end():
        name = [h for h in current["headers"] if h.startswith(b"form-data")][0]
        parts.append((name.split(b'name="')[1].split(b'"')[0].decode(), current["data"]))

    parser = MultipartParser(boundary, {"on_part_begin": on_part_begin,
                                        "on_header_value": on_header_value,
                                        "on_part_data": on_part_data,
                                        "on_part_end": on_part_end})
    parser.write(body)
    parser.finalize()
    assert parts == [("request", b'{"method": "fast"}'),
                     ("content", b"\x89PNG\r\n--not-a-boundary\r\n\x00\xff"),
                     ("style", b"A"), ("style", b"B")]


def test_bad_url_is_a_config_error() -> None:
    with pytest.raises(nst_client.EngineError) as info:
        nst_client.Client("127.0.0.1:8765", "t")
    assert info.value.code == "bad_config"


# -------------------------------------------------------------------- config and engine start

def test_load_config(tmp_path) -> None:
    path = tmp_path / "nst_config.json"
    for text, words in [(None, "Cannot read"), ("{oops", "not valid JSON"), ("{}", "token_file")]:
        if text is not None:
            path.write_text(text)
        with pytest.raises(nst_client.EngineError) as info:
            nst_engine.load_config(str(path))
        assert info.value.code == "bad_config" and words in info.value.message
        assert "install.py" in info.value.message
    path.write_text(json.dumps({"version": 1, "token_file": "/x/token"}))
    cfg = nst_engine.load_config(str(path))
    assert cfg["engine_url"] == "http://127.0.0.1:8765" and cfg["engine_command"] is None


def test_ensure_engine_without_command_says_what_to_do(tmp_path) -> None:
    cfg = {"engine_url": f"http://127.0.0.1:{_free_port()}", "token_file": str(tmp_path / "t"),
           "engine_command": None}
    with pytest.raises(nst_client.EngineError) as info:
        nst_engine.ensure_engine(cfg)
    assert info.value.code == "engine_unreachable" and "engine_command" in info.value.message


def test_ensure_engine_reports_a_command_that_dies(tmp_path) -> None:
    log = tmp_path / "engine.log"
    cfg = {"engine_url": f"http://127.0.0.1:{_free_port()}", "token_file": str(tmp_path / "t"),
           "engine_command": [sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"],
           "log_file": str(log)}
    with pytest.raises(nst_client.EngineError) as info:
        nst_engine.ensure_engine(cfg, start_timeout=30)
    err = info.value
    assert err.code == "engine_start_failed" and "code 3" in err.message
    assert str(log) in err.message and sys.executable in err.message
    assert "boom" in log.read_text()


@pytest.mark.slow
def test_ensure_engine_starts_the_real_engine_which_then_idles_out(tmp_path) -> None:
    """What the plug-in does on first use: nothing answers, so it starts `python -m engine serve`
    detached, waits for health (the engine creates the token meanwhile), and the engine exits by
    itself after --idle-exit."""
    port = _free_port()
    token_file = tmp_path / "token"
    log = tmp_path / "engine.log"
    cfg = {"engine_url": f"http://127.0.0.1:{port}", "token_file": str(token_file),
           "engine_command": [sys.executable, "-m", "engine", "serve", "--port", str(port),
                              "--token-file", str(token_file), "--idle-exit", "0.05"],
           "log_file": str(log)}
    statuses: list[str] = []
    env_before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(ROOT)  # the engine command runs from any working directory
    try:
        client = nst_engine.ensure_engine(cfg, on_status=statuses.append, start_timeout=90)
    finally:
        if env_before is None:
            os.environ.pop("PYTHONPATH")
        else:
            os.environ["PYTHONPATH"] = env_before
    assert client.health()["api"] == 1
    assert statuses == ["Starting the style engine...", "Style engine ready."]
    assert oct(token_file.stat().st_mode & 0o777) == "0o600"
    # A second ensure_engine finds it running and starts nothing.
    assert nst_engine.ensure_engine(cfg, on_status=statuses.append).health()["api"] == 1
    assert len(statuses) == 2
    # Any HTTP request counts as activity, so watch the port with bare TCP connects only.
    _wait_for_idle_exit(port, "the engine did not exit when idle")
    with pytest.raises(nst_client.EngineError) as info:
        client.health()
    assert info.value.code == "engine_unreachable"
    assert "exiting" in log.read_text()


def test_client_module_is_python2_syntax_clean() -> None:
    """vermin: the shared client must run on Python 2.7 (GIMP 2.10) and 3.8+."""
    vermin = shutil.which("vermin", path=os.pathsep.join([str(Path(sys.executable).parent),
                                                          os.environ.get("PATH", "")]))
    assert vermin, "vermin is a test dependency (pyproject [test])"
    proc = subprocess.run([vermin, "-q", "--no-tips", "--violations",
                           "-t=2.7-", "-t=3.8-", str(PLUGIN_DIR / "nst_client.py")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


PY2_START = """
import json, sys
sys.path.insert(0, sys.argv[1])
import nst_engine
config = nst_engine.load_config(sys.argv[2])
seen = []
client = nst_engine.ensure_engine(config, on_status=seen.append, start_timeout=90)
print(json.dumps({"api": client.health()["api"], "status": seen}))
"""


@pytest.mark.slow
def test_python27_starts_the_engine(tmp_path) -> None:
    """GIMP 2.10's side of the first run: Python 2.7 starts the (Python 3) engine detached."""
    import python27

    python2 = python27.require()
    port = _free_port()
    token_file = tmp_path / "token"
    config = tmp_path / "nst_config.json"
    config.write_text(json.dumps({
        "version": 1, "engine_url": f"http://127.0.0.1:{port}", "token_file": str(token_file),
        "engine_command": [sys.executable, "-m", "engine", "serve", "--port", str(port),
                           "--token-file", str(token_file), "--idle-exit", "0.05"],
        "log_file": str(tmp_path / "engine.log")}))
    proc = subprocess.run([python2, "-E", "-s", "-S", "-c", PY2_START, str(PLUGIN_DIR),
                           str(config)], capture_output=True, text=True, timeout=150,
                          env={"PYTHONPATH": str(ROOT)}, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report == {"api": 1, "status": ["Starting the style engine...",
                                           "Style engine ready."]}
    # ... and it goes away by itself (idle exit).
    _wait_for_idle_exit(port, "the engine started by Python 2.7 did not exit when idle")


def _wait_for_idle_exit(port: int, failure: str, timeout_s: float = 30.0) -> None:
    """Wait until nothing listens on `port`, probing with bare TCP connects (an HTTP request
    would count as activity and keep the engine alive)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except ConnectionRefusedError:
            return
        time.sleep(0.5)
    raise AssertionError(failure)
