# -*- coding: utf-8 -*-
"""HTTP client for the neural-style engine's API (v1), shared by the GIMP 3 and GIMP 2.10 plug-ins.

Standard library only, and the same file runs on Python 2.7 (GIMP 2.10's Python-Fu) and Python 3
(GIMP 3): no f-strings, no type hints, urllib2 or urllib.request by a guarded import. The plug-ins
import it as a plain module (`import nst_client`) from their own folder. Its neighbours:
`nst_png` (the PNG codec for what travels) and `nst_engine` (configuration and engine start-up).

API (stable; the plug-ins depend on it):

    EngineError(code, message, http_status=None)   every failure; .code is a short stable string
        (the engine's error codes, plus 'engine_unreachable', 'engine_lost', 'timeout',
        'bad_response', 'bad_config', 'engine_start_failed', 'cancelled'); .message is for the
        user. Requests follow redirects only within the engine's own origin (the token).
    Client(url, token, timeout=30.0)
        .health() -> dict          .params_schema() -> dict       .models() -> list of dicts
        .submit(request_dict, content_png, mask_png=None, styles=()) -> job id
            request_dict: {"method": ..., "params": {...}, "keep_alive": bool}; the style blend
            weights travel as params["style_weights"].
        .status(job_id) -> dict  {"state", "progress", "stage", "eta_s", "error", "info"}
            status, result and wait raise EngineError('engine_lost') when the engine that had
            the job stopped or restarted (health's "instance" changed): submit it again.
        .result(job_id, part=None) -> PNG bytes (exactly the content's size); `part` names one
            of the job's further images (e.g. "reverse" of an image analogy)
        .cancel(job_id) -> status dict (a queued or running job is cancelled; a finished one is
            dropped from the engine, result included)
        .wait(job_id, on_progress=None, poll=0.25) -> final status dict of a done job.
            on_progress(status) is called after every poll; returning False (not None) cancels
            the job and raises EngineError('cancelled'). A failed job raises EngineError with the
            job's own code and message; a job cancelled elsewhere raises EngineError('cancelled').
"""

from __future__ import absolute_import, division

import binascii
import errno
import json
import os
import socket
import time

# "novm": vermin would see both branches and call them incompatible; only one ever runs.
try:  # Python 3
    from urllib.error import HTTPError, URLError  # novm
    from urllib.parse import urlparse  # novm
    from urllib.request import (  # novm
        HTTPRedirectHandler,
        ProxyHandler,
        Request,
        build_opener,
    )
except ImportError:  # Python 2.7 (GIMP 2.10)
    from urllib2 import (  # novm
        HTTPError,
        HTTPRedirectHandler,
        ProxyHandler,
        Request,
        URLError,
        build_opener,
    )
    from urlparse import urlparse  # novm

from nst_errors import EngineError
from nst_png import PNG_SIGNATURE

try:
    text_type = unicode  # noqa: F821  (Python 2)
except NameError:
    text_type = str

API_PREFIX = "/v1"
DEFAULT_URL = "http://127.0.0.1:8765"


def _to_bytes(value):
    if isinstance(value, bytes):
        return value
    return text_type(value).encode("utf-8")


def to_text(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def native_str(value):
    """The interpreter's own `str`. Python 2's httplib joins the request line, headers and body
    into one string: a single unicode header (e.g. a token read from JSON) turns the PNG bytes
    into a UnicodeDecodeError."""
    if str is bytes:  # Python 2
        return value.encode("utf-8") if isinstance(value, text_type) else value
    return to_text(value)


def _is_loopback(host):
    return host in ("localhost", "127.0.0.1", "::1") or (host or "").startswith("127.")


def _origin(url):
    """(scheme, host, port) with the scheme's default port: what "the same server" means."""
    parsed = urlparse(url)
    scheme = (parsed.scheme or "").lower()
    return scheme, (parsed.hostname or "").lower(), parsed.port or {"http": 80,
                                                                    "https": 443}.get(scheme)


class _SameOriginRedirects(HTTPRedirectHandler):
    """Follows a redirect only within the configured engine's origin: every request carries the
    token, and urllib would copy it into a request to wherever a 3xx points."""

    def __init__(self, base_url):
        self.base_url = base_url

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if _origin(newurl) != _origin(self.base_url):
            raise EngineError("bad_response", "The engine at %s redirected to %s; the plug-in "
                              "never sends its token to another server. Set engine_url in "
                              "nst_config.json to the engine's own address."
                              % (self.base_url, newurl), code)
        return HTTPRedirectHandler.redirect_request(self, req, fp, code, msg, headers, newurl)


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
        handlers = [_SameOriginRedirects(self.url)]
        if _is_loopback(parsed.hostname):
            handlers.append(ProxyHandler({}))
        self._opener = build_opener(*handlers)
        self.instance = None  # the engine's start id (GET /v1/health), once seen

    # -- endpoints -------------------------------------------------------------------------

    def health(self):
        info = self._json("GET", "/health")
        if self.instance is None and isinstance(info, dict):
            self.instance = info.get("instance")
        return info

    def params_schema(self):
        return self._json("GET", "/params")

    def models(self):
        return self._json("GET", "/models").get("models", [])

    def submit(self, request_dict, content_png, mask_png=None, styles=()):
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
        return self._job_call(self._json, "GET", "/jobs/%s" % job_id)

    def result(self, job_id, part=None):
        path = "/jobs/%s/result" % job_id + ("/%s" % part if part else "")
        data = self._job_call(self._call, "GET", path)
        if not data.startswith(PNG_SIGNATURE):
            raise EngineError("bad_response", "The engine's result is not a PNG image.")
        return data

    def cancel(self, job_id):
        return self._json("DELETE", "/jobs/%s" % job_id)

    def wait(self, job_id, on_progress=None, poll=0.25):
        """Follows the job over one open connection (GET jobs/{id}/watch) where the engine has
        it: if this process dies (GIMP's Cancel ends it), the engine sees the socket close and
        cancels the job at once. Polls otherwise (an older engine), or if the stream breaks."""
        try:
            for status in self._watch(job_id, poll):
                final = self._on_status(job_id, status, on_progress)
                if final is not None:
                    return final
        except EngineError as exc:
            if exc.code not in ("not_found", "timeout", "engine_unreachable", "bad_response"):
                raise
        while True:
            final = self._on_status(job_id, self.status(job_id), on_progress)
            if final is not None:
                return final
            time.sleep(poll)

    def _watch(self, job_id, interval):
        """The job's status lines as dicts, as the engine sends them (every `interval` s)."""
        resp = self._open("GET", "/jobs/%s/watch?interval=%g" % (job_id, interval))
        try:
            line = b""
            while True:
                ch = self._guard(lambda: resp.read(1))  # Python 2: readline ignores chunks
                if not ch:
                    return
                if ch != b"\n":
                    line += ch
                    continue
                try:
                    yield json.loads(to_text(line))
                except ValueError:
                    raise EngineError("bad_response", "The engine sent a status that is not "
                                      "JSON.")
                line = b""
        finally:
            resp.close()

    def _on_status(self, job_id, status, on_progress):
        """The final status of a done job, None while it runs; raises for the other ends."""
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
        return None

    # -- a submitted job's engine ----------------------------------------------------------

    def _job_call(self, call, method, path):
        """A call about a job this client submitted. When the engine is gone (nothing answers)
        or is another one (a new start id: the job died with the old process), EngineError
        'engine_lost', which the plug-in answers by restarting the engine and resubmitting."""
        try:
            return call(method, path)
        except EngineError as exc:
            if exc.code == "engine_unreachable":
                raise EngineError("engine_lost", "The style engine at %s stopped while it worked "
                                  "on this job (it may have crashed or run out of memory)."
                                  % self.url)
            if exc.code == "not_found" and self._restarted():
                raise EngineError("engine_lost", "The style engine at %s restarted while it "
                                  "worked on this job; the job was lost with it." % self.url)
            raise

    def _restarted(self):
        known = self.instance
        try:
            now = self._json("GET", "/health").get("instance")
        except (EngineError, AttributeError):
            return False
        return known is not None and now is not None and now != known

    # -- transport -------------------------------------------------------------------------

    def _json(self, method, path, body=None, headers=None):
        data = self._call(method, path, body, headers)
        try:
            return json.loads(to_text(data))
        except ValueError:
            raise EngineError("bad_response", "The engine at %s sent a reply that is not JSON "
                              "(is something else listening on that port?)." % self.url)

    def _call(self, method, path, body=None, headers=None):
        resp = self._open(method, path, body, headers)
        try:
            return self._guard(resp.read)
        finally:
            resp.close()

    def _open(self, method, path, body=None, headers=None):
        req = Request(native_str(self.url + API_PREFIX + path), data=body)
        req.get_method = lambda: native_str(method)  # Python 2's Request has no method argument
        req.add_header("Authorization", native_str("Bearer " + self.token))
        req.add_header("Accept", "application/json, image/png")
        for key, value in (headers or {}).items():
            req.add_header(native_str(key), native_str(value))
        return self._guard(lambda: self._opener.open(req, timeout=self.timeout))

    def _guard(self, call):
        """`call()`, with every transport failure turned into an EngineError for the user."""
        try:
            return call()
        except EngineError:
            raise  # a refused redirect
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
        err = json.loads(to_text(raw)).get("error") or {}
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


__all__ = ["Client", "EngineError", "DEFAULT_URL"]
