"""The dialogs' preview logic (gimp_plugin/nst_preview.py) without GTK: what is rendered for each
method, debouncing, stale requests cancelled on the engine and their results dropped, the result
cache, closing. The main loop and the threads are replaced by a manual clock and queue."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "gimp_plugin"))
import nst_host  # noqa: E402
import nst_preview  # noqa: E402
from nst_errors import EngineError  # noqa: E402

# --------------------------------------------------------------------------- what is rendered

def test_preview_size_keeps_aspect_and_never_upscales():
    assert nst_preview.preview_size(1000, 1000) == (320, 320, 0.32)
    w, h, s = nst_preview.preview_size(4243, 2000)
    assert (w, h) == (320, 151) and s == pytest.approx(320 / 4243)
    assert nst_preview.preview_size(100, 50) == (100, 50, 1.0)


def test_fast_preview_uses_the_network_untiled():
    method, params, label = nst_preview.preview_job(
        "fast", {"model": "udnie", "strength": 0.5, "keep_colors": True, "tile": 512,
                 "device": "cuda", "stroke_size": 2.0, "working_size": 3000}, 0)
    assert method == "fast" and label == "preview"
    # The stroke size as chosen; the working size is the run's (the preview is small already).
    assert params == {"model": "udnie", "strength": 0.5, "keep_colors": True, "stroke_size": 2.0,
                      "tile": 0}


def test_any_painting_preview_keeps_its_stroke_size():
    method, params, label = nst_preview.preview_job(
        "arbitrary", {"strength": 0.8, "stroke_size": 2.0, "working_size": 3000,
                      "style_weights": [], "keep_colors": False}, 1)
    assert method == "arbitrary" and label == "preview"
    assert params["stroke_size"] == 2.0 and "working_size" not in params


@pytest.mark.parametrize("method", ["gatys", "analogy"])
def test_slow_methods_preview_by_the_any_painting_network_labelled(method):
    m, params, label = nst_preview.preview_job(method, {"strength": 0.7, "size": 512,
                                                       "keep_colors": True}, 1)
    assert m == "arbitrary" and label == nst_preview.APPROXIMATION
    assert params == {"strength": 0.7, "keep_colors": True, "tile": 0}


def test_gatys_blend_weights_travel_when_they_match_the_paintings():
    _, params, _ = nst_preview.preview_job("gatys", {"style_weights": [0.7, 0.3]}, 2)
    assert params["style_weights"] == [0.7, 0.3]
    _, params, _ = nst_preview.preview_job("gatys", {"style_weights": [0.7, 0.3]}, 1)
    assert "style_weights" not in params


@pytest.mark.parametrize("method, word", [("gatys", "style painting"),
                                          ("analogy", "reference picture"),
                                          ("arbitrary", "style painting")])
def test_no_painting_no_preview_and_says_why(method, word):
    m, params, why = nst_preview.preview_job(method, {}, 0)
    assert m is None and params is None and word in why


# ------------------------------------------------------------------------------- scheduling

class Loop:
    """Manual main loop: timers fire when told, threads run when told, idle calls queue."""

    def __init__(self):
        self.timers = {}
        self.next_id = 1
        self.threads = []
        self.idle = []

    def call_later(self, ms, fn):
        self.next_id += 1
        self.timers[self.next_id] = (ms, fn)
        return self.next_id

    def cancel_later(self, handle):
        self.timers.pop(handle)

    def call_main(self, fn, *args):
        self.idle.append((fn, args))

    def spawn(self, fn):
        self.threads.append(fn)

    def fire_timers(self):
        timers, self.timers = self.timers, {}
        for ms, fn in timers.values():
            assert ms == nst_preview.DEBOUNCE_MS
            fn()

    def run_threads(self):
        threads, self.threads = self.threads, []
        for fn in threads:
            fn()

    def run_idle(self):
        idle, self.idle = self.idle, []
        for fn, args in idle:
            fn(*args)


class Client:
    """Records jobs; `during_wait` runs inside wait (to make changes while a job renders)."""

    def __init__(self):
        self.submitted, self.deleted = [], []
        self.during_wait = None
        self.fail = None

    def submit(self, request, content, mask, styles):
        self.submitted.append((request, content, list(styles)))
        return f"job-{len(self.submitted)}"

    def wait(self, job_id, on_progress=None, poll=0.25):
        assert poll <= 0.1  # staleness is noticed within a tenth of a second
        if self.during_wait:
            hook, self.during_wait = self.during_wait, None
            hook()
        if on_progress({"state": "running", "progress": 0.5}) is False:
            self.deleted.append(job_id)  # what nst_client does: DELETE, then raise
            raise EngineError("cancelled", "Cancelled.")
        if self.fail:
            raise EngineError(*self.fail)
        return {"state": "done"}

    def result(self, job_id):
        return f"png of {job_id}".encode()

    def cancel(self, job_id):
        self.deleted.append(job_id)


@pytest.fixture()
def setup():
    loop, client = Loop(), Client()
    shown, statuses, errors = [], [], []
    p = nst_preview.Previewer(lambda: client, loop.call_later, loop.cancel_later,
                              loop.call_main, loop.spawn,
                              lambda req, png: shown.append((req.params.get("model"), png)),
                              statuses.append, errors.append)
    return p, loop, client, shown, statuses, errors


def req(model):
    return nst_preview.Request("fast", {"model": model}, b"content", [], content_id="layer")


def test_changes_within_the_debounce_send_one_job(setup):
    p, loop, client, shown, statuses, _ = setup
    for model in ("a", "b", "c"):
        p.request(req(model))
    assert len(loop.timers) == 1 and statuses[-1].startswith("rendering")
    loop.fire_timers()
    loop.run_threads()
    loop.run_idle()
    assert [r[0]["params"]["model"] for r in client.submitted] == ["c"]
    assert shown == [("c", b"png of job-1")]
    assert client.deleted == ["job-1"]  # a delivered job is dropped from the engine at once


def test_a_change_while_rendering_cancels_the_job_and_drops_its_result(setup):
    p, loop, client, shown, _, _ = setup
    p.request(req("a"))
    loop.fire_timers()
    client.during_wait = lambda: p.request(req("b"))  # the user moves on mid-render
    loop.run_threads()
    assert client.deleted == ["job-1"] and p.cancelled == ["job-1"]
    loop.fire_timers()
    loop.run_threads()
    loop.run_idle()
    assert shown == [("b", b"png of job-2")]


def test_a_result_arriving_after_a_newer_request_is_not_shown(setup):
    p, loop, client, shown, _, _ = setup
    p.request(req("a"))
    loop.fire_timers()
    loop.run_threads()  # job-1 done; its delivery is queued for the main loop
    p.request(req("b"))  # ... but the user changed the network before it ran
    loop.run_idle()
    assert shown == []
    loop.fire_timers()
    loop.run_threads()
    loop.run_idle()
    assert shown == [("b", b"png of job-2")]


def test_going_back_to_a_seen_setting_is_instant(setup):
    p, loop, client, shown, _, _ = setup
    for model in ("a", "b"):
        p.request(req(model))
        loop.fire_timers()
        loop.run_threads()
        loop.run_idle()
    p.request(req("a"))
    assert shown[-1] == ("a", b"png of job-1") and not loop.timers
    assert len(client.submitted) == 2


def test_closing_cancels_pending_and_running_work(setup):
    p, loop, client, shown, _, _ = setup
    p.request(req("a"))
    p.close()
    assert not loop.timers
    p.request(req("b"))  # after close: ignored
    assert not loop.timers
    p2_loop = Loop()
    p2 = nst_preview.Previewer(lambda: client, p2_loop.call_later, p2_loop.cancel_later,
                               p2_loop.call_main, p2_loop.spawn,
                               lambda r, png: shown.append(png), lambda t: None,
                               lambda t: None)
    p2.request(req("c"))
    p2_loop.fire_timers()
    client.during_wait = p2.close  # the dialog closes while the engine renders
    p2_loop.run_threads()
    p2_loop.run_idle()
    assert shown == [] and client.deleted == ["job-1"]


def test_engine_errors_are_shown_short_and_only_for_the_current_request(setup):
    p, loop, client, shown, _, errors = setup
    client.fail = ("unknown_model", "No model 'x' is installed.\nMore detail.")
    p.request(req("x"))
    loop.fire_timers()
    loop.run_threads()
    loop.run_idle()
    assert errors == ["Preview failed: No model 'x' is installed."]


def test_invalidate_stops_a_pending_request_and_says_why(setup):
    p, loop, client, shown, statuses, _ = setup
    p.request(req("a"))
    p.invalidate("Choose a style painting to see a preview.")
    assert not loop.timers and statuses[-1].startswith("Choose")


# ------------------------------------------------------------------------ names, mnemonics

@pytest.mark.parametrize("layer, image, expected", [
    ("Background", "starry_night.jpg", "starry night"),
    ("Background", "starry_night.jpg-3", "starry night"),
    ("Layer #2", "wave.png", "wave"),
    ("Pasted Layer", "udnie.png", "udnie"),
    ("Background copy", "udnie.png", "udnie"),
    ("Background", "[Untitled]", "Background"),
    ("Strokes", "udnie.png", "Strokes"),
    ("Background", None, "Background"),
])
def test_a_generic_layer_name_gives_way_to_the_image_name(layer, image, expected):
    assert nst_host.layer_style_label(layer, image) == expected


def test_mnemonics_are_unique_and_avoid_the_buttons():
    labels = nst_host.mnemonic_labels(["Size", "Strength", "Style scale", "Seed", "_Quality",
                                       "Keep original colours", "Optimizer", "Cancel me"],
                                      reserved="ochr")
    assert labels[4] == "_Quality"
    letters = [lab[lab.index("_") + 1].lower() for lab in labels if "_" in lab]
    assert len(letters) == len(set(letters)) and not set("ochr") & set(letters)
    assert len(letters) == len(labels) and labels[5] == "_Keep original colours"
    # Matched, not first come first served: the fourth "S..." label still gets a letter.
    crowded = nst_host.mnemonic_labels(["Style painting", "Style scale", "Style weight",
                                        "Style loss", "Size"], reserved="ochr")
    assert all("_" in lab for lab in crowded), crowded


def test_size_hint_names_the_upscale_and_the_cost_of_more():
    text = nst_host.size_hint(512, 4243, "sharp")
    assert text.startswith("512 px for a 4243 px region: 8.3x upscale (sharp).")
    assert "1024 px would take about 4x as long" in text and "timed a run" in text
    assert nst_host.size_hint(512, 700, "smooth").endswith(
        "700 px would take about 2x as long (seconds once the engine has timed a run on this "
        "machine).")
    assert nst_host.size_hint(1024, 800) == \
        "1024 px: the region (800 px) is styled at its own size."


def test_size_hint_quotes_seconds_from_the_engines_measured_speed():
    """The engine's health answer carries seconds per size for a 4:3 picture (engine/speed.py);
    the hint picks the size, scales to the region's shape, and says it in seconds."""
    estimates = {"s_per_mp_iteration": 1.0, "aspect": "4:3",
                 "seconds": {"normal": {"512": 30.0, "1024": 55.0, "2048": 200.0},
                             "draft": {"512": 15.0, "1024": 28.0, "2048": 95.0}}}
    text = nst_host.size_hint(512, 4000, "sharp", estimates, "normal", 3000)
    assert text == ("512 px for a 4000 px region: 7.8x upscale (sharp). This takes about 30 s "
                    "here; 1024 px would take about 55 s.")
    # a square region has 4/3 the area of a 4:3 one at the same longest side
    square = nst_host.estimate_seconds(estimates, "draft", 2048, 3000, 3000)
    assert abs(square - 95.0 * 4 / 3) < 1e-6
    # between tabulated sizes: the next size up, scaled by the pixel count
    assert abs(nst_host.estimate_seconds(estimates, "normal", 768, 1000, 750) - 55.0 * 0.5625) \
        < 1e-6
    long = nst_host.size_hint(2048, 2048, "sharp", estimates, "draft", 1536)
    assert long == "2048 px: the region (2048 px) is styled at its own size. This takes about " \
                   "2 min here."
    assert nst_host.estimate_seconds(None, "normal", 512, 100, 75) is None
    assert nst_host.estimate_seconds({"seconds": {}}, "normal", 512, 100, 75) is None


def test_low_res_run_of_the_real_method():
    m, params, label = nst_preview.low_res_job("gatys", {"size": 1024, "quality": "high",
                                                         "style_weight": 2.0}, 320)
    assert m == "gatys" and params["size"] == 320 and params["quality"] == "draft"
    assert params["style_weight"] == 2.0 and params["upscale"] == "smooth"
    assert label == "Neural Style itself at 320 px, draft quality"
    m, params, label = nst_preview.low_res_job("analogy", {"size": 448, "reverse_output": True,
                                                           "patchmatch_iterations": 10,
                                                           "deconv_iterations": 10}, 320)
    assert m == "analogy" and params["size"] == 320 and not params["reverse_output"]
    assert params["patchmatch_iterations"] == 5 and params["deconv_iterations"] == 5
    assert params["refine_iterations"] == 10  # none given: the preview's own count
    for given, kept in ((0, 0), (4, 4), (30, 10)):  # 0 (the paper's voted A') stays 0
        params = nst_preview.low_res_job("analogy", {"refine_iterations": given}, 320)[1]
        assert params["refine_iterations"] == kept
    assert nst_preview.low_res_job("fast", {}, 320)[0] is None


def test_slow_previews_report_their_progress(setup):
    p, loop, client, shown, statuses, _ = setup
    p.request(nst_preview.Request("gatys", {"size": 320}, b"c", [b"s"], content_id="x"))
    loop.fire_timers()
    loop.run_threads()
    loop.run_idle()
    assert statuses[-1] == "rendering… 50% (running)" and shown


def test_an_empty_string_argument_that_gimp_returns_as_none_is_empty():
    """GIMP 3.0.4 reports a string argument whose default is "" as None (seen in the real GIMP:
    'style-weights must be numbers separated by commas, not None')."""
    args = [a for a in nst_host.procedure_args(nst_host.load_schema(str(ROOT / "gimp_plugin")),
                                               "gatys") if a.field == "style_weights"]
    assert nst_host.values_to_params(args, {"style_weights": None}) == {"style_weights": []}
