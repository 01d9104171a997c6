"""A scriptable stand-in for the plug-ins' `nst_engine` module: the real config loader and
EngineError, with `ensure_engine` handing out a fake Client that "stylizes" by a
fixed, position-dependent colour change (so a wrong crop or offset shows up in the pixels),
reports rising progress, and can be told to fail, to be unreachable or to be cancelled."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "gimp_plugin"))
import nst_engine as real  # noqa: E402
from nst_errors import EngineError  # noqa: E402
from nst_png import png_decode, png_encode  # noqa: E402

load_config = real.load_config


def stylize_rgba(w, h, rgba):
    """The fake engine's 'style': invert RGB and add a gradient over the sent picture."""
    out = bytearray(rgba)
    for y in range(h):
        for x in range(w):
            i = (y * w + x) * 4
            for c in range(3):
                out[i + c] = (255 - out[i + c] + x + 2 * y) % 256
    return bytes(out)


class FakeClient:
    def __init__(self, engine):
        self.engine = engine

    def submit(self, request, content_png, mask_png=None, styles=()):
        e = self.engine
        json.dumps(request)  # must be JSON-able, like the real client sends it
        e.requests.append(dict(request=request, content=png_decode(content_png),
                               mask=mask_png, styles=list(styles)))
        if e.fail_submit:
            raise EngineError(*e.fail_submit)
        return f"job-{len(e.requests)}"

    def wait(self, job_id, on_progress=None, poll=0.25):
        e = self.engine
        for i, fraction in enumerate((0.0, 0.25, 0.5, 1.0)):
            status = {"state": "running" if fraction < 1 else "done", "progress": fraction,
                      "stage": f"step {i + 1}/4", "eta_s": 3 - i}
            if fraction == 0.25 and e.during_wait is not None:
                e.during_wait()
            if on_progress is not None and on_progress(status) is False:
                e.cancelled.append(job_id)
                raise EngineError("cancelled", "The job was cancelled.")
            if e.cancel_at is not None and fraction >= e.cancel_at:
                e.cancelled.append(job_id)
                raise EngineError("cancelled", "The job was cancelled.")
            if e.fail_job and fraction >= 0.5:
                raise EngineError(*e.fail_job)
        return {"state": "done", "progress": 1.0}

    def result(self, job_id, part=None):
        e = self.engine
        if part == "reverse":  # an analogy's B: a small flat picture of its own size
            e.parts.append(part)
            return png_encode(10, 6, bytes([90, 120, 150, 255]) * 60, 4)
        w, h, channels, data = e.requests[-1]["content"]
        styled = stylize_rgba(w, h, bytes(data))
        if e.result_size:
            w, h = e.result_size
            styled = bytes(w * h * 4)
        return png_encode(w, h, styled, 4)

    def models(self):
        return [{"id": "tiny", "name": "Tiny"}, {"id": "starry_night", "name": "Starry Night"}]


class FakeEngine:
    """Module-like: pass as the plug-in's `nst_engine`."""

    EngineError = EngineError

    def __init__(self):
        self.requests = []
        self.cancelled = []
        self.statuses = []
        self.fail_start = None  # (code, message) from ensure_engine
        self.fail_submit = None
        self.fail_job = None
        self.cancel_at = None
        self.result_size = None
        self.parts = []  # further images fetched by name
        self.during_wait = None  # called once the job is a quarter done (close the image...)

    load_config = staticmethod(load_config)

    def ensure_engine(self, config, on_status=None, start_timeout=120.0):
        if on_status:
            on_status("starting engine…")
            self.statuses.append("starting engine…")
        if self.fail_start:
            raise EngineError(*self.fail_start)
        return FakeClient(self)
