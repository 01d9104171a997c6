# -*- coding: utf-8 -*-
"""The dialogs' preview, without GTK: what to render, and when.

Standard library only, Python 2.7 and 3 (the GIMP 2.10 plug-in cannot show a preview, but this
module is shared and tested with the rest). The GIMP 3 dialog gives `Previewer` its main-loop
hooks (GLib.timeout_add, GLib.idle_add) and a thread starter; everything else is decided here:

- the preview renders the region that will be styled at preview size (PREVIEW_SIDE px on its
  longer side), with the chosen fast network, or the any-painting network when a painting is
  given; for the slow methods (Gatys, Image Analogy) the any-painting network stands in and the
  preview says it is an approximation;
- a request is sent DEBOUNCE_MS after the last change, off the main loop; a newer request makes
  every older one stale: a stale job is cancelled on the engine (DELETE, through the client's
  wait) and its result, if any, is dropped; closing the dialog does the same;
- results are kept per request (a few), so going back to a network already seen is instant.
"""

from __future__ import absolute_import, division

import hashlib
import json

PREVIEW_SIDE = 320
DEBOUNCE_MS = 300
CACHE_SIZE = 8
POLL_S = 0.1  # how often a preview job's status arrives (and staleness is noticed)

APPROXIMATION = "approximation (fast network)"


def preview_size(w, h, side=PREVIEW_SIDE):
    """(width, height, scale) of a w x h region shown at most `side` px on its longer side."""
    w, h = max(1, int(w)), max(1, int(h))
    scale = min(1.0, float(side) / max(w, h))
    return max(1, int(round(w * scale))), max(1, int(round(h * scale))), scale


def _pick(values, names):
    return dict((k, values[k]) for k in names if k in values)


def preview_job(method, params, n_styles, any_painting="arbitrary"):
    """What the preview renders for a dialog's method and (engine) params: (engine method,
    params, label), or (None, None, why) when it cannot render yet (no painting chosen).

    `params` are the run's own params for `method` (for Fast Neural Style: as nst_host.fast_job
    made them, so `method` is "fast" or the any-painting method)."""
    if method == "fast":
        own = _pick(params, ("model", "strength", "keep_colors", "stroke_size"))
        return "fast", dict(own, tile=0), "preview"
    if not n_styles:
        what = "reference picture" if method == "analogy" else "style painting"
        return None, None, "Choose a %s to see a preview." % what
    if method == any_painting:
        own = _pick(params, ("strength", "keep_colors", "stroke_size", "style_weights"))
        # The preview is small already: the network works at its size (working_size 0 follows
        # the stroke size from there), and strokes therefore look larger than in the result.
        return any_painting, dict(own, tile=0), "preview"
    # Gatys, patch style, Image Analogy: minutes of work; the any-painting network with the
    # same painting(s) shows the idea in a second, and says it is only that.
    own = _pick(params, ("strength", "keep_colors"))
    weights = params.get("style_weights") or []
    if method == "gatys" and weights and len(weights) == n_styles:
        own["style_weights"] = list(weights)
    return any_painting, dict(own, tile=0), APPROXIMATION


def low_res_job(method, params, side=PREVIEW_SIDE):
    """The slow method itself on the preview-size region, on request (a button): Neural Style at
    draft quality, Image Analogy with fewer iterations. (method, params, label)."""
    own = dict(params)
    if method == "gatys":
        own.update(size=int(side), quality="draft", iterations=0, upscale="smooth")
        return method, own, "Neural Style itself at %d px, draft quality" % side
    if method == "analogy":
        own.update(size=min(int(side), int(own.get("size") or side)), reverse_output=False,
                   patchmatch_iterations=min(5, int(own.get("patchmatch_iterations") or 5)),
                   deconv_iterations=min(5, int(own.get("deconv_iterations") or 5)))
        refine = own.get("refine_iterations")
        own["refine_iterations"] = min(10, int(refine)) if refine is not None else 10
        return method, own, "Image Analogy itself at %d px, fewer iterations" % own["size"]
    return None, None, "Only Neural Style and Image Analogy have a low-resolution run."


def request_key(method, params, content_id, styles):
    """Identity of a preview request: same key, same picture (used by the result cache)."""
    h = hashlib.sha1()
    h.update(json.dumps([method, params, content_id], sort_keys=True).encode("utf-8"))
    for s in styles:
        h.update(hashlib.sha1(s).digest())
    return h.hexdigest()


class Request(object):
    def __init__(self, method, params, content_png, styles=(), label="preview", content_id=""):
        self.method = method
        self.params = dict(params)
        self.content_png = content_png
        self.styles = list(styles)
        self.label = label
        self.key = request_key(method, self.params, content_id, self.styles)


class Previewer(object):
    """Schedules preview jobs. Called on the main loop only (request, close); the work runs in
    threads started by `spawn`, and its outcome comes back through `call_main`.

    connect() -> client (nst_client.Client or a double), called in the worker thread (it may
        start the engine: seconds);
    call_later(ms, fn) -> handle; cancel_later(handle); call_main(fn, *args); spawn(fn);
    on_result(request, png_bytes), on_status(text), on_error(text): main-loop callbacks."""

    def __init__(self, connect, call_later, cancel_later, call_main, spawn, on_result,
                 on_status, on_error, debounce_ms=DEBOUNCE_MS):
        self.connect = connect
        self.call_later, self.cancel_later = call_later, cancel_later
        self.call_main, self.spawn = call_main, spawn
        self.on_result, self.on_status, self.on_error = on_result, on_status, on_error
        self.debounce_ms = debounce_ms
        self.generation = 0
        self.closed = False
        self.timer = None
        self.cache = []  # [(key, png)], newest last
        self.jobs = []  # (generation, job id) submitted, for tests and close()
        self.cancelled = []  # job ids cancelled as stale

    # -- main loop ------------------------------------------------------------------------

    def request(self, req):
        """A setting changed: render `req` after the debounce, unless another change comes."""
        if self.closed:
            return
        self.generation += 1
        gen = self.generation
        if self.timer is not None:
            self.cancel_later(self.timer)
            self.timer = None
        cached = self._cached(req.key)
        if cached is not None:
            self.on_result(req, cached)
            return
        self.on_status("rendering the preview…")

        def fire():
            self.timer = None
            if gen == self.generation and not self.closed:
                self.spawn(lambda: self._work(gen, req))
            return False  # GLib: do not repeat

        self.timer = self.call_later(self.debounce_ms, fire)

    def invalidate(self, why):
        """No preview is possible now (e.g. no painting chosen): drop whatever is pending."""
        self.generation += 1
        if self.timer is not None:
            self.cancel_later(self.timer)
            self.timer = None
        self.on_status(why)

    def close(self):
        """The dialog closes: nothing more is started, running jobs cancel at their next
        status line, results still arriving are dropped."""
        self.closed = True
        self.generation += 1
        if self.timer is not None:
            self.cancel_later(self.timer)
            self.timer = None

    def stale(self, gen):
        return self.closed or gen != self.generation

    def _cached(self, key):
        for k, png in self.cache:
            if k == key:
                return png
        return None

    def _deliver(self, gen, req, png):
        self.cache = [(k, p) for k, p in self.cache if k != req.key][-(CACHE_SIZE - 1):]
        self.cache.append((req.key, png))
        if not self.stale(gen):
            self.on_result(req, png)
        return False

    def _progress(self, gen, status):
        if not self.stale(gen):
            stage = status.get("stage") or status.get("state") or ""
            try:
                pct = int(round(100 * float(status.get("progress") or 0)))
            except (TypeError, ValueError):
                pct = 0
            self.on_status("rendering… %d%% (%s)" % (pct, stage))
        return False

    def _fail(self, gen, text):
        if not self.stale(gen):
            self.on_error(text)
        return False

    # -- worker thread --------------------------------------------------------------------

    def _work(self, gen, req):
        from nst_errors import EngineError

        job_id, client = None, None
        try:
            if self.stale(gen):
                return
            client = self.connect()
            if self.stale(gen):
                return
            job_id = client.submit({"method": req.method, "params": req.params},
                                   req.content_png, None, req.styles)
            self.jobs.append((gen, job_id))
            def on_progress(status):
                if self.stale(gen):
                    return False
                if req.method in ("gatys", "analogy"):  # seconds, not a blink: say how far
                    self.call_main(self._progress, gen, status)
                return True

            client.wait(job_id, on_progress=on_progress, poll=POLL_S)
            png = client.result(job_id)
        except EngineError as exc:
            if exc.code == "cancelled" or self.stale(gen):
                if job_id is not None:
                    self.cancelled.append(job_id)
                return
            self.call_main(self._fail, gen, _short(exc))
            return
        except Exception as exc:  # a preview must never take the dialog down
            self.call_main(self._fail, gen, "Preview failed: %s" % exc)
            return
        try:
            client.cancel(job_id)  # a finished job: drops its result from the engine now
        except Exception:
            pass
        self.call_main(self._deliver, gen, req, png)


def _short(exc):
    message = getattr(exc, "message", None) or str(exc)
    return "Preview failed: " + message.split("\n")[0]
