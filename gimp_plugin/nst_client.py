# -*- coding: utf-8 -*-
"""Client for the neural-style engine's HTTP API (v1), shared by the GIMP 3 and GIMP 2.10 plug-ins.

Standard library only, and the same file runs on Python 2.7 (GIMP 2.10's Python-Fu) and Python 3
(GIMP 3): no f-strings, no type hints, urllib2 or urllib.request by a guarded import. The plug-ins
import it as a plain module (`import nst_client`) from their own folder.

API (stable; the plug-ins depend on it):

    EngineError(code, message, http_status=None)   every failure; .code is a short stable string
        (the engine's error codes, plus 'engine_unreachable', 'timeout', 'bad_response',
        'bad_config', 'engine_start_failed', 'cancelled'); .message is for the user.
    Client(url, token, timeout=30.0)
        .health() -> dict          .params_schema() -> dict       .models() -> list of dicts
        .submit(request_dict, content_png, mask_png=None, styles=(), style_weights=()) -> job id
            request_dict: {"method": "gatys"|"fast", "params": {...}, "keep_alive": bool};
            style_weights (if given) become request_dict["style_weights"].
        .status(job_id) -> dict  {"state", "progress", "stage", "eta_s", "error", "info"}
        .result(job_id) -> PNG bytes (exactly the content's size)
        .cancel(job_id) -> status dict (a queued or running job is cancelled; a finished one is
            dropped from the engine, result included)
        .wait(job_id, on_progress=None, poll=0.25) -> final status dict of a done job.
            on_progress(status) is called after every poll; returning False (not None) cancels
            the job and raises EngineError('cancelled'). A failed job raises EngineError with the
            job's own code and message; a job cancelled elsewhere raises EngineError('cancelled').
    png_encode(width, height, pixel_bytes, channels=4) -> PNG bytes (8-bit; 1 grey, 2 grey+alpha,
        3 RGB, 4 RGBA).
    png_decode(data) -> (width, height, channels, pixel_bytes) with 8-bit samples; reads
        non-interlaced grey/RGB/palette/grey+alpha/RGBA at any bit depth, all five row filters
        (16-bit keeps the high byte; palettes expand to RGB, or RGBA with tRNS).
    load_config(path) -> dict      the plug-in's nst_config.json (written by install.py).
    ensure_engine(config, on_status=None, start_timeout=120.0) -> Client
        health-checks the engine, starts config["engine_command"] detached when nothing answers
        (output to config["log_file"]) and waits for it. on_status(text) reports what it does.
"""

from __future__ import absolute_import, division

import binascii
import errno
import json
import os
import socket
import struct
import subprocess
import time
import zlib

# "novm": vermin would see both branches and call them incompatible; only one ever runs.
try:  # Python 3
    from urllib.error import HTTPError, URLError  # novm
    from urllib.parse import urlparse  # novm
    from urllib.request import ProxyHandler, Request, build_opener  # novm
except ImportError:  # Python 2.7 (GIMP 2.10)
    from urllib2 import HTTPError, ProxyHandler, Request, URLError, build_opener  # novm
    from urlparse import urlparse  # novm

try:
    text_type = unicode  # noqa: F821  (Python 2)
except NameError:
    text_type = str

API_PREFIX = "/v1"
DEFAULT_URL = "http://127.0.0.1:8765"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class EngineError(Exception):
    def __init__(self, code, message, http_status=None):
        Exception.__init__(self, message)
        self.code = code
        self.message = message
        self.http_status = http_status

    def __str__(self):
        return self.message


def _to_bytes(value):
    if isinstance(value, bytes):
        return value
    return text_type(value).encode("utf-8")


def _to_text(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def _native(value):
    """The interpreter's own `str`. Python 2's httplib joins the request line, headers and body
    into one string: a single unicode header (e.g. a token read from JSON) turns the PNG bytes
    into a UnicodeDecodeError."""
    if str is bytes:  # Python 2
        return value.encode("utf-8") if isinstance(value, text_type) else value
    return _to_text(value)


def _is_loopback(host):
    return host in ("localhost", "127.0.0.1", "::1") or (host or "").startswith("127.")


# ------------------------------------------------------------------------------------ client

class Client(object):
    def __init__(self, url, token, timeout=30.0):
        self.url = (url or DEFAULT_URL).rstrip("/")
        self.token = (token or "").strip()
        self.timeout = timeout
        parsed = urlparse(self.url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise EngineError("bad_config", "The engine URL %r is not an http(s):// address."
                              % (url,))
        # A desktop's HTTP proxy settings must not capture requests meant for this machine.
        self._opener = build_opener(ProxyHandler({})) if _is_loopback(parsed.hostname) \
            else build_opener()

    # -- endpoints -------------------------------------------------------------------------

    def health(self):
        return self._json("GET", "/health")

    def params_schema(self):
        return self._json("GET", "/params")

    def models(self):
        return self._json("GET", "/models").get("models", [])

    def submit(self, request_dict, content_png, mask_png=None, styles=(), style_weights=()):
        request_dict = dict(request_dict)
        if style_weights:
            request_dict["style_weights"] = [float(w) for w in style_weights]
        parts = [("request", None, "application/json", json.dumps(request_dict)),
                 ("content", "content.png", "image/png", content_png)]
        if mask_png is not None:
            parts.append(("mask", "mask.png", "image/png", mask_png))
        for i, style in enumerate(styles):
            parts.append(("style", "style%d.png" % (i + 1), "image/png", style))
        body, content_type = _multipart(parts)
        reply = self._json("POST", "/jobs", body, {"Content-Type": content_type})
        if "id" not in reply:
            raise EngineError("bad_response", "The engine accepted the job but sent no job id.")
        return reply["id"]

    def status(self, job_id):
        return self._json("GET", "/jobs/%s" % job_id)

    def result(self, job_id):
        data = self._call("GET", "/jobs/%s/result" % job_id)
        if not data.startswith(PNG_SIGNATURE):
            raise EngineError("bad_response", "The engine's result is not a PNG image.")
        return data

    def cancel(self, job_id):
        return self._json("DELETE", "/jobs/%s" % job_id)

    def wait(self, job_id, on_progress=None, poll=0.25):
        while True:
            status = self.status(job_id)
            state = status.get("state")
            if on_progress is not None and on_progress(status) is False:
                try:
                    self.cancel(job_id)
                except EngineError:
                    pass  # the job may have finished meanwhile; the user still cancelled
                raise EngineError("cancelled", "Cancelled.")
            if state == "done":
                return status
            if state in ("failed", "cancelled"):
                err = status.get("error") or {}
                code = err.get("code") or ("cancelled" if state == "cancelled" else "internal")
                message = err.get("message") or ("The job was cancelled." if state == "cancelled"
                                                 else "The job failed.")
                raise EngineError(code, message)
            time.sleep(poll)

    # -- transport -------------------------------------------------------------------------

    def _json(self, method, path, body=None, headers=None):
        data = self._call(method, path, body, headers)
        try:
            return json.loads(_to_text(data))
        except ValueError:
            raise EngineError("bad_response", "The engine at %s sent a reply that is not JSON "
                              "(is something else listening on that port?)." % self.url)

    def _call(self, method, path, body=None, headers=None):
        req = Request(_native(self.url + API_PREFIX + path), data=body)
        req.get_method = lambda: _native(method)  # Python 2's Request has no method argument
        req.add_header("Authorization", _native("Bearer " + self.token))
        req.add_header("Accept", "application/json, image/png")
        for key, value in (headers or {}).items():
            req.add_header(_native(key), _native(value))
        try:
            resp = self._opener.open(req, timeout=self.timeout)
            try:
                return resp.read()
            finally:
                resp.close()
        except HTTPError as exc:
            raise _http_error(exc, self.url)
        except URLError as exc:
            raise _network_error(exc.reason, self.url, self.timeout)
        except (socket.timeout, socket.error, IOError) as exc:
            raise _network_error(exc, self.url, self.timeout)
        except Exception as exc:  # httplib.BadStatusLine and friends: the peer is not our engine
            raise EngineError("bad_response", "Unexpected reply from %s (%s: %s)."
                              % (self.url, type(exc).__name__, exc))


def _http_error(exc, url):
    status = exc.code
    try:
        raw = exc.read()
    except Exception:
        raw = b""
    code, message = None, None
    try:
        err = json.loads(_to_text(raw)).get("error") or {}
        code, message = err.get("code"), err.get("message")
    except (ValueError, AttributeError):
        pass
    if status == 401:
        return EngineError(code or "unauthorized",
                           (message or "The engine rejected the access token.")
                           + " The plug-in and the engine must use the same token file; restart "
                           "the engine or re-run install.py.", status)
    if code and message:
        return EngineError(code, message, status)
    if status >= 500:
        return EngineError("internal", "The engine failed (HTTP %d). Its log file says why."
                           % status, status)
    return EngineError("bad_response", "The engine at %s answered HTTP %d without an "
                       "explanation (is it really the neural-style engine?)." % (url, status),
                       status)


def _network_error(reason, url, timeout):
    if isinstance(reason, socket.timeout) or "timed out" in str(reason):
        return EngineError("timeout", "The engine at %s did not answer within %.0f s. It may be "
                           "busy or stuck; try again, or restart it." % (url, timeout))
    err = getattr(reason, "errno", None)
    if err in (errno.ECONNREFUSED, getattr(errno, "WSAECONNREFUSED", -1)) \
            or "refused" in str(reason).lower():
        return EngineError("engine_unreachable", "Nothing answers at %s: the style engine is "
                           "not running (start it with `python -m engine serve`)." % url)
    if err in (errno.ECONNRESET, errno.EPIPE) or "reset" in str(reason).lower():
        return EngineError("engine_unreachable", "The engine at %s closed the connection (it may "
                           "have crashed, or the upload exceeds its size limit)." % url)
    return EngineError("engine_unreachable", "Cannot reach the engine at %s: %s." % (url, reason))


def _multipart(parts):
    """(name, filename or None, content type, data) tuples -> (body, Content-Type header)."""
    boundary = "nst-" + binascii.hexlify(os.urandom(12)).decode("ascii")
    chunks = []
    for name, filename, ctype, data in parts:
        disposition = 'form-data; name="%s"' % name
        if filename:
            disposition += '; filename="%s"' % filename
        head = "--%s\r\nContent-Disposition: %s\r\nContent-Type: %s\r\n\r\n" % (
            boundary, disposition, ctype)
        chunks.extend([_to_bytes(head), _to_bytes(data), b"\r\n"])
    chunks.append(_to_bytes("--%s--\r\n" % boundary))
    return b"".join(chunks), "multipart/form-data; boundary=%s" % boundary


# ------------------------------------------------------------------------------------- PNG

_COLOUR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # PNG colour type -> samples per pixel


def _chunk(kind, data):
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png_encode(width, height, pixel_bytes, channels=4, level=3):
    """Rows are stored unfiltered: zlib does the work in C, so this is fast in any Python."""
    if channels not in _COLOUR_TYPES:
        raise ValueError("channels must be 1, 2, 3 or 4")
    stride = width * channels
    pixel_bytes = bytes(pixel_bytes)
    if width <= 0 or height <= 0 or len(pixel_bytes) != stride * height:
        raise ValueError("expected %d bytes for %dx%dx%d pixels, got %d"
                         % (stride * height, width, height, channels, len(pixel_bytes)))
    rows = b"".join(b"\x00" + pixel_bytes[y * stride:(y + 1) * stride] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, _COLOUR_TYPES[channels], 0, 0, 0)
    return (PNG_SIGNATURE + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(rows, level)) + _chunk(b"IEND", b""))


def _bad_png(why):
    return EngineError("bad_response", "The engine's PNG could not be read: %s." % why)


def png_decode(data):
    data = bytes(data)
    if not data.startswith(PNG_SIGNATURE):
        raise _bad_png("not a PNG file")
    pos, header, palette, trns, idat = 8, None, None, None, []
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if len(body) != length:
            raise _bad_png("truncated %s chunk" % _to_text(kind))
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"PLTE":
            palette = bytearray(body)
        elif kind == b"tRNS":
            trns = bytearray(body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    if header is None or not idat:
        raise _bad_png("no image header or no pixel data")
    width, height, depth, colour, _comp, _filt, interlace = header
    if interlace != 0 or colour not in _CHANNELS or depth not in (1, 2, 4, 8, 16) \
            or (depth < 8 and colour not in (0, 3)) or (depth == 16 and colour == 3):
        raise _bad_png("unsupported PNG layout (depth %d, colour type %d, interlace %d); the "
                       "engine writes 8-bit non-interlaced files" % (depth, colour, interlace))
    channels = _CHANNELS[colour]
    try:
        raw = zlib.decompress(b"".join(idat))
    except zlib.error as exc:
        raise _bad_png("damaged pixel data (%s)" % exc)
    stride = (width * channels * depth + 7) // 8
    pixels = _unfilter(raw, stride, height, max(1, channels * depth // 8))
    if depth == 16:  # keep the high byte of each sample
        pixels = pixels[0::2]
    elif depth < 8:
        pixels = _unpack_bits(pixels, width, height, stride, depth, scale=(colour == 0))
    if colour == 3:  # palette -> RGB or RGBA
        if palette is None:
            raise _bad_png("palette image without a palette")
        return _expand_palette(pixels, width, height, palette, trns)
    return width, height, channels, bytes(pixels)


def _unpack_bits(packed, width, height, stride, depth, scale):
    """1/2/4-bit samples to one byte each (grey levels stretched to 0..255)."""
    per_byte, mask = 8 // depth, (1 << depth) - 1
    factor = 255 // mask if scale else 1
    out = bytearray(width * height)
    for y in range(height):
        row = packed[y * stride:(y + 1) * stride]
        for x in range(width):
            byte = row[x // per_byte]
            shift = 8 - depth * (x % per_byte + 1)
            out[y * width + x] = ((byte >> shift) & mask) * factor
    return out


def _unfilter(raw, stride, height, bpp):
    """Undo the per-row filters; `bpp` is bytes per complete pixel (at least 1)."""
    if len(raw) < (stride + 1) * height:
        raise _bad_png("pixel data too short")
    out = bytearray(stride * height)
    prev = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        ftype = bytearray(raw[start:start + 1])[0]
        line = bytearray(raw[start + 1:start + 1 + stride])
        if ftype == 1:  # Sub
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif ftype == 2:  # Up
            for i in range(stride):
                line[i] = (line[i] + prev[i]) & 0xFF
        elif ftype == 3:  # Average
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif ftype == 4:  # Paeth
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                if pa <= pb and pa <= pc:
                    pred = a
                elif pb <= pc:
                    pred = b
                else:
                    pred = c
                line[i] = (line[i] + pred) & 0xFF
        elif ftype != 0:
            raise _bad_png("unknown row filter %d" % ftype)
        out[y * stride:(y + 1) * stride] = line
        prev = line
    return out


def _expand_palette(indices, width, height, palette, trns):
    channels = 4 if trns else 3
    table = []
    for i in range(256):
        rgb = palette[i * 3:i * 3 + 3] if i * 3 + 3 <= len(palette) else bytearray(3)
        entry = bytearray(rgb)
        if channels == 4:
            entry.append(trns[i] if i < len(trns) else 255)
        table.append(bytes(entry))
    return width, height, channels, b"".join(table[i] for i in bytearray(indices))


# --------------------------------------------------------------------- config and engine start

def load_config(path):
    try:
        with open(path, "rb") as fh:
            config = json.loads(_to_text(fh.read()))
    except (IOError, OSError) as exc:
        raise EngineError("bad_config", "Cannot read the plug-in configuration %s (%s). Run "
                          "install.py again." % (path, exc))
    except ValueError as exc:
        raise EngineError("bad_config", "The plug-in configuration %s is not valid JSON (%s). "
                          "Run install.py again." % (path, exc))
    if not isinstance(config, dict) or not config.get("token_file"):
        raise EngineError("bad_config", "The plug-in configuration %s has no token_file. Run "
                          "install.py again." % path)
    config.setdefault("engine_url", DEFAULT_URL)
    config.setdefault("engine_command", None)
    config.setdefault("log_file", None)
    return config


def _read_token(path):
    try:
        with open(path, "rb") as fh:
            return _to_text(fh.read()).strip()
    except (IOError, OSError):
        return ""


def _start_engine(command, log_file):
    log = open(log_file, "ab") if log_file else open(os.devnull, "wb")
    kwargs = {"stdin": open(os.devnull, "rb"), "stdout": log, "stderr": subprocess.STDOUT}
    if os.name == "nt":
        # DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP: the engine outlives the plug-in. (Python
        # 2.7 on Windows refuses close_fds together with redirected handles.)
        kwargs["creationflags"] = 0x00000008 | 0x00000200
    else:
        kwargs["close_fds"] = True  # GIMP's pipes to the plug-in must not leak into the engine
        kwargs["preexec_fn"] = os.setsid  # own session: GIMP closing the plug-in leaves it running
    try:
        return subprocess.Popen([_native(arg) for arg in command], **kwargs)
    except (OSError, ValueError) as exc:
        raise EngineError("engine_start_failed", "Could not start the style engine with %s (%s). "
                          "Run install.py again." % (" ".join(command), exc))
    finally:
        log.close()
        kwargs["stdin"].close()


def ensure_engine(config, on_status=None, start_timeout=120.0):
    url = config.get("engine_url") or DEFAULT_URL
    token_file = config.get("token_file")
    say = on_status or (lambda text: None)
    client = Client(url, _read_token(token_file), timeout=10.0)
    try:
        client.health()
        client.timeout = 30.0
        return client
    except EngineError as exc:
        if exc.code != "engine_unreachable" or not config.get("engine_command"):
            if exc.code == "engine_unreachable":
                exc.message += " (No engine_command is configured: start the engine on %s.)" % url
            raise
    command = config["engine_command"]
    log_file = config.get("log_file")
    say("Starting the style engine...")
    proc = _start_engine(command, log_file)
    deadline = time.time() + start_timeout
    where = (" See the log file %s." % log_file) if log_file else ""
    last = None
    while time.time() < deadline:
        code = proc.poll()
        if code is not None:
            raise EngineError("engine_start_failed", "The style engine (%s) exited with code %s "
                              "while starting.%s" % (" ".join(command), code, where))
        client.token = _read_token(token_file)  # a first start creates the token file
        try:
            client.health()
            client.timeout = 30.0
            say("Style engine ready.")
            return client
        except EngineError as exc:
            if exc.code not in ("engine_unreachable", "timeout", "unauthorized"):
                raise
            last = exc
        time.sleep(0.5)
    raise EngineError("engine_start_failed", "The style engine (%s) did not answer within %.0f s "
                      "(last: %s).%s" % (" ".join(command), start_timeout, last, where))


__all__ = ["Client", "EngineError", "ensure_engine", "load_config", "png_decode", "png_encode"]
