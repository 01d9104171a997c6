"""The real service (uvicorn on a free loopback port, the real pipeline, Gatys and fast engines)
driven through the stdlib client exactly as the GIMP plug-ins import it (`import nst_client` from
gimp_plugin/). Every bad request must get a clear 4xx and leave the service able to do real work.

Images stay tiny (64 px) because the CI machine has two shared CPU cores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import python27
from server_fixtures import (
    CONTENT,
    ROOT,
    STYLE,
    ServerThread,
    import_client,
    import_plugin_module,
    noise_png,
    photo_png,
    png_with_header,
    rgba_pixels,
)

from engine.config import ServerSettings
from engine.server import create_app

nst_client = import_client()
nst_png = import_plugin_module("nst_png")

TOKEN = "test-token-0123456789"
MAX_PIXELS = 200_000  # small, so "over the limit" needs no big upload
MAX_BODY = 1_500_000
FAST = {"method": "fast", "params": {"model": "tiny"}}
GATYS_TINY = {"method": "gatys", "params": {"size": 64, "quality": "draft", "iterations": 3,
                                            "multiscale": False, "seed": 1}}
GATYS_LONG = {"method": "gatys", "params": {"size": 64, "quality": "draft", "iterations": 5000,
                                            "multiscale": False, "optimizer": "adam"}}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from fast_fixtures import write_tiny_model

    models = tmp_path_factory.mktemp("models")
    write_tiny_model(models, model_id="tiny")
    old = {k: os.environ.get(k) for k in ("NST_MODEL_PATH", "NST_CONFIG_DIR")}
    os.environ["NST_MODEL_PATH"] = str(models)
    os.environ["NST_CONFIG_DIR"] = str(tmp_path_factory.mktemp("config"))
    settings = ServerSettings(max_pixels=MAX_PIXELS, max_body_bytes=MAX_BODY, max_queued_jobs=4)
    try:
        with ServerThread(create_app(settings, TOKEN)) as srv:
            yield srv
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture
def client(server):
    return nst_client.Client(server.url, TOKEN, timeout=30)


@pytest.fixture(scope="module")
def content_png():
    return photo_png((64, 48))


@pytest.fixture(scope="module")
def style_png():
    return photo_png((64, 64), STYLE)


def _run(client, request, content, styles=(), **kw):
    """Submit, wait while recording progress, fetch and decode the result."""
    job_id = client.submit(request, content, styles=styles, **kw)
    seen = []
    final = client.wait(job_id, on_progress=lambda s: seen.append(s), poll=0.02)
    w, h, channels, pixels = nst_png.png_decode(client.result(job_id))
    return job_id, final, seen, (w, h, channels, pixels)


def _assert_still_healthy(client, content_png) -> None:
    """After any bad request: health answers and a normal (fast) job completes."""
    assert client.health()["api"] == 1
    _, final, _, (w, h, _c, _p) = _run(client, FAST, content_png)
    assert final["state"] == "done" and (w, h) == (64, 48)


def _wait_state(client, job_id, states, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = client.status(job_id)
        if st["state"] in states:
            return st
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} stuck in {client.status(job_id)}")


# --------------------------------------------------------------------------- the good paths

def test_health_params_models(client) -> None:
    h = client.health()
    assert h["version"] and h["devices"][0]["name"] == "cpu"
    assert h["backbone"]["found"] is True
    assert "CPUExecutionProvider" in h["onnxruntime"]["providers"]
    assert h["limits"] == {"max_pixels": MAX_PIXELS, "max_body_bytes": MAX_BODY,
                           "max_queued_jobs": 4}
    schema = client.params_schema()
    names = {f["name"] for f in schema["methods"]["gatys"]}
    assert {"size", "iterations", "style_weight", "keep_colors"} <= names
    models = client.models()
    tiny = [m for m in models if m["id"] == "tiny"]
    assert tiny and isinstance(tiny[0]["name"], str)


def test_fast_job_completes_with_rising_progress(client, content_png) -> None:
    _, final, seen, (w, h, channels, pixels) = _run(client, FAST, content_png)
    assert (w, h, channels) == (64, 48, 4) and len(pixels) == 64 * 48 * 4
    progress = [s["progress"] for s in seen]
    assert progress == sorted(progress) and progress[-1] == 1.0
    assert final["info"]["method"] == "fast"


def test_gatys_job_completes_with_rising_progress(client, content_png, style_png) -> None:
    _, final, seen, (w, h, channels, _pixels) = _run(client, GATYS_TINY, content_png,
                                                     styles=[style_png])
    assert (w, h, channels) == (64, 48, 4)  # content's size, whatever the processing size
    progress = [s["progress"] for s in seen]
    assert progress == sorted(progress) and progress[-1] == 1.0
    assert any(0.0 < p < 1.0 for p in progress), progress  # it moved, not 0 then done
    assert any(s["eta_s"] is not None for s in seen if s["state"] == "running")
    assert all(s["stage"] for s in seen)
    assert final["info"]["method"] == "gatys"


def test_gatys_two_styles_with_blend_weights(client, content_png, style_png) -> None:
    second = photo_png((48, 64), CONTENT)
    request = {**GATYS_TINY, "params": {**GATYS_TINY["params"], "style_weights": [1.0, 3.0]}}
    _, final, _, (w, h, _c, _p) = _run(client, request, content_png, styles=[style_png, second])
    assert final["state"] == "done" and (w, h) == (64, 48)


def test_arbitrary_job_with_any_painting(client, content_png, style_png) -> None:
    """Method "arbitrary": the painting travels as a style part; the result has the content's
    size; strength is applied once (in code space), so 0 gives the photo back."""
    request = {"method": "arbitrary", "params": {"stroke_size": 1.5}}
    _, final, seen, (w, h, _c, _p) = _run(client, request, content_png, styles=[style_png])
    assert final["state"] == "done" and (w, h) == (64, 48)
    assert final["info"]["method"] == "arbitrary" and final["info"]["model"] == "magenta"
    zero = {"method": "arbitrary", "params": {"strength": 0}}
    _, _, _, (_w, _h, channels, pixels) = _run(client, zero, content_png, styles=[style_png])
    photo = rgba_pixels(CONTENT, (64, 48))
    assert max(abs(a - b) for a, b in zip(pixels, photo, strict=True)) <= 1


def test_mask_and_alpha_survive_the_round_trip(client) -> None:
    """Where the mask is black the original shows through; the content's alpha is carried."""
    w, h = 64, 48
    rgba = bytearray(rgba_pixels(CONTENT, (w, h)))
    for i in range(3, len(rgba), 4):
        rgba[i] = 255 if (i // 4) % w < 48 else 128  # right quarter half transparent
    content = nst_png.png_encode(w, h, bytes(rgba), 4)
    mask = nst_png.png_encode(w, h, bytes(0 if x < w // 2 else 255 for _y in range(h)
                                             for x in range(w)), 1)
    job_id = client.submit(FAST, content, mask_png=mask)
    client.wait(job_id, poll=0.02)
    rw, rh, channels, out = nst_png.png_decode(client.result(job_id))
    assert (rw, rh, channels) == (w, h, 4)
    left = [abs(out[(y * w + x) * 4 + c] - rgba[(y * w + x) * 4 + c])
            for y in range(h) for x in range(0, w // 2 - 2) for c in range(3)]
    right = [abs(out[(y * w + x) * 4 + c] - rgba[(y * w + x) * 4 + c])
             for y in range(h) for x in range(w // 2 + 2, w) for c in range(3)]
    assert max(left) <= 2  # untouched (rounding only)
    assert sum(right) / len(right) > 5  # styled
    alpha = [out[i] for i in range(3, len(out), 4)]
    assert alpha == [rgba[i] for i in range(3, len(rgba), 4)]


def test_unpolled_job_is_cancelled_unless_keep_alive(content_png, style_png) -> None:
    """A client that goes away (GIMP closed) must not leave a job running forever."""
    settings = ServerSettings(abandon_after_s=1.0)
    with ServerThread(create_app(settings, TOKEN)) as srv:
        c = nst_client.Client(srv.url, TOKEN)
        kept = c.submit(dict(GATYS_LONG, keep_alive=True), content_png, styles=[style_png])
        dropped = c.submit(GATYS_LONG, content_png, styles=[style_png])
        time.sleep(2.5)  # nobody polls
        st = c.status(dropped)
        assert st["state"] == "cancelled" and "stopped asking" in st["error"]["message"]
        assert c.status(kept)["state"] == "running"
        c.cancel(kept)
        assert _wait_state(c, kept, {"cancelled"})["state"] == "cancelled"


def test_cancel_running_job_frees_the_worker(client, content_png, style_png) -> None:
    long_id = client.submit(GATYS_LONG, content_png, styles=[style_png])
    next_id = client.submit(FAST, content_png)
    st = _wait_state(client, long_id, {"running"})
    while st["progress"] == 0 and st["state"] == "running":  # really iterating
        st = client.status(long_id)
        time.sleep(0.02)
    assert client.status(next_id)["state"] == "queued"
    t0 = time.monotonic()
    client.cancel(long_id)
    st = _wait_state(client, long_id, {"cancelled", "done", "failed"})
    freed = time.monotonic() - t0
    assert st["state"] == "cancelled" and st["error"]["code"] == "cancelled"
    assert freed < 1.0, f"worker took {freed:.2f} s to stop"
    assert client.wait(next_id, poll=0.02)["state"] == "done"
    with pytest.raises(nst_client.EngineError) as info:
        client.result(long_id)
    assert info.value.http_status == 409 and "cancelled" in info.value.message


def test_cancel_queued_job(client, content_png, style_png) -> None:
    long_id = client.submit(GATYS_LONG, content_png, styles=[style_png])
    queued_id = client.submit(FAST, content_png)
    assert client.status(queued_id)["state"] == "queued"
    st = client.cancel(queued_id)
    assert st["state"] == "cancelled"
    client.cancel(long_id)
    assert _wait_state(client, long_id, {"cancelled"})["state"] == "cancelled"
    assert client.status(queued_id)["state"] == "cancelled"  # it never ran


def test_on_progress_false_cancels(client, content_png, style_png) -> None:
    job_id = client.submit(GATYS_LONG, content_png, styles=[style_png])
    with pytest.raises(nst_client.EngineError) as info:
        client.wait(job_id, on_progress=lambda s: s["progress"] == 0, poll=0.02)
    assert info.value.code == "cancelled"
    assert _wait_state(client, job_id, {"cancelled"})["state"] == "cancelled"


def test_two_clients_at_once_second_queues(server, content_png, style_png) -> None:
    a = nst_client.Client(server.url, TOKEN)
    b = nst_client.Client(server.url, TOKEN)
    results: dict[str, object] = {}
    first = a.submit(GATYS_TINY, content_png, styles=[style_png])

    def second_client():
        job = b.submit(FAST, content_png)
        results["state_at_submit"] = b.status(job)["state"]
        results["states"] = []
        results["final"] = b.wait(job, on_progress=lambda s: results["states"].append(
            s["state"]), poll=0.02)
        results["png"] = nst_png.png_decode(b.result(job))[:3]

    t = threading.Thread(target=second_client)
    t.start()
    final_a = a.wait(first, poll=0.02)
    t.join(60)
    assert final_a["state"] == "done"
    assert results["state_at_submit"] == "queued"
    assert results["states"][0] == "queued" and results["states"][-1] == "done"
    assert results["final"]["state"] == "done" and results["png"] == (64, 48, 4)


# ----------------------------------------------------------------------------- bad requests

def test_missing_and_wrong_token_get_401(server, client, content_png) -> None:
    for token in ("", "wrong-token"):
        bad = nst_client.Client(server.url, token)
        for call in (bad.health, lambda b=bad: b.status("x"),
                     lambda b=bad: b.submit(FAST, content_png)):
            with pytest.raises(nst_client.EngineError) as info:
                call()
            assert info.value.http_status == 401 and info.value.code == "unauthorized"
            assert "token" in info.value.message
    _assert_still_healthy(client, content_png)


def _bad_cases():
    good = photo_png((64, 48))
    return {
        "corrupt png": (dict(request=FAST, content_png=good[:40] + b"garbage" * 20), 400,
                        "bad_image", "damaged"),
        "not an image": (dict(request=FAST, content_png=b"hello, not a picture"), 400,
                         "bad_image", "not an image"),
        "empty content": (dict(request=FAST, content_png=b""), 400, "bad_image", "empty"),
        "zero-size image": (dict(request=FAST, content_png=png_with_header(0, 0)), 400,
                            "bad_image", ""),
        "over pixel limit": (dict(request=FAST, content_png=noise_png((600, 400))), 413,
                             "image_too_large", "megapixels"),
        "header claims 100000x100000": (dict(request=FAST,
                                             content_png=png_with_header(100000, 100000)),
                                        413, "image_too_large", "too large"),
        "style over pixel limit": (dict(request=GATYS_TINY, content_png=good,
                                        styles=[png_with_header(100000, 100000)]),
                                   413, "image_too_large", "Style image 1"),
        "mask header claims 100000x100000": (dict(request=FAST, content_png=good,
                                                  mask_png=png_with_header(100000, 100000)),
                                             413, "image_too_large", "Mask"),
        "mask over pixel limit": (dict(request=FAST, content_png=good,
                                       mask_png=png_with_header(1000, 1000)),
                                  413, "image_too_large", "Mask"),
        "corrupt mask": (dict(request=FAST, content_png=good, mask_png=b"\x89PNG\r\n\x1a\nxx"),
                         400, "bad_image", "Mask"),
        "arbitrary without a painting": (dict(request={"method": "arbitrary"},
                                              content_png=good), 400, "bad_request",
                                         "at least 1"),
        "unknown model": (dict(request={"method": "fast", "params": {"model": "no_such"}},
                               content_png=good), 404, "unknown_model", "no_such"),
        "out-of-range parameter": (dict(request={"method": "gatys", "params": {"size": 10}},
                                        content_png=good, styles=[good]), 400,
                                   "bad_parameter", "size: 10 is outside the allowed range"),
        "wrong type": (dict(request={"method": "gatys", "params": {"iterations": "many"}},
                            content_png=good, styles=[good]), 400, "bad_parameter",
                       "iterations"),
        "unknown parameter": (dict(request={"method": "fast", "params": {"colour": 1}},
                                   content_png=good), 400, "bad_parameter", "colour"),
        "unknown method": (dict(request={"method": "magic"}, content_png=good), 400,
                           "bad_parameter", "magic"),
        "gatys without style": (dict(request=GATYS_TINY, content_png=good), 400,
                                "bad_request", "style"),
        "style weights mismatch": (dict(request={**GATYS_TINY, "params": {
                                            **GATYS_TINY["params"], "style_weights": [1, 2]}},
                                        content_png=good, styles=[good]), 400, "bad_parameter",
                                   "style_weights"),
        "body over limit": (dict(request=FAST, content_png=b"\x89PNG" + b"\0" * MAX_BODY), 413,
                            "image_too_large", "at most 1.5 MB"),
    }


BAD_CASES = _bad_cases()


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_bad_input_gets_4xx_and_the_service_survives(client, content_png, case) -> None:
    kwargs, status, code, words = BAD_CASES[case]
    request = kwargs.pop("request")
    with pytest.raises(nst_client.EngineError) as info:
        client.submit(request, **kwargs)
    err = info.value
    assert (err.http_status, err.code) == (status, code), err.message
    assert words in err.message
    assert len(err.message) > 15  # a sentence, not a bare code
    _assert_still_healthy(client, content_png)


def test_unknown_job_404_and_result_before_done_409(client, content_png, style_png) -> None:
    with pytest.raises(nst_client.EngineError) as info:
        client.status("0123456789abcdef")
    assert (info.value.http_status, info.value.code) == (404, "not_found")
    job_id = client.submit(GATYS_LONG, content_png, styles=[style_png])
    with pytest.raises(nst_client.EngineError) as info:
        client.result(job_id)
    assert (info.value.http_status, info.value.code) == (409, "not_ready")
    client.cancel(job_id)
    _wait_state(client, job_id, {"cancelled"})


def test_raw_http_errors_are_json(server) -> None:
    """Non-client callers (curl, other tools) get the same JSON error bodies."""
    import urllib.error
    import urllib.request

    def call(method, path, body=None, headers=None):
        req = urllib.request.Request(server.url + path, data=body, method=method,
                                     headers={"Authorization": f"Bearer {TOKEN}",
                                              **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    status, body = call("GET", "/v1/nothing")
    assert status == 404 and body["error"]["code"] == "not_found"
    status, body = call("POST", "/v1/jobs", b"{}", {"Content-Type": "application/json"})
    assert status == 400 and "multipart" in body["error"]["message"]
    status, body = call("POST", "/v1/jobs", b"--x\r\nbroken",
                        {"Content-Type": "multipart/form-data; boundary=x"})
    assert status == 400 and body["error"]["code"] == "bad_request"
    status, body = call("PUT", "/v1/health")
    assert status == 405 and body["error"]["code"] == "bad_request"


def test_queue_full_gets_429(client, content_png, style_png) -> None:
    ids = [client.submit(GATYS_LONG, content_png, styles=[style_png]) for _ in range(5)]
    with pytest.raises(nst_client.EngineError) as info:
        client.submit(FAST, content_png)
    assert (info.value.http_status, info.value.code) == (429, "queue_full")
    for job_id in ids:
        client.cancel(job_id)
    for job_id in ids:
        _wait_state(client, job_id, {"cancelled"})
    _assert_still_healthy(client, content_png)


# ---------------------------------------------------- the client as GIMP's Python would run it

CLIENT_SCENARIO = ROOT / "tests" / "client_scenario.py"


def _scenario(python: str, server, tmp_path: Path, flags: tuple[str, ...]) -> dict:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    config = tmp_path / "nst_config.json"
    config.write_text(json.dumps({"version": 1, "engine_url": server.url,
                                  "token_file": str(token_file), "engine_command": None,
                                  "log_file": None}))
    content = tmp_path / "content.rgba"
    content.write_bytes(rgba_pixels(CONTENT, (64, 48)))
    # -I -S: no environment variables, no user or site packages: only the standard library, as
    # in GIMP's bundled interpreter. The plug-in folder is put on sys.path by the scenario itself.
    proc = subprocess.run([python, *flags, str(CLIENT_SCENARIO), str(ROOT / "gimp_plugin"),
                           str(config), str(content), "64", "48", "tiny"],
                          capture_output=True, text=True, timeout=300, env={})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _check_scenario(report: dict) -> None:
    assert report["health_api"] == 1
    assert report["result"] == [64, 48, 4]
    assert report["progress_rises"] is True and report["final_state"] == "done"
    assert report["bad_token"] == [401, "unauthorized"]
    assert report["unknown_job"] == [404, "not_found"]
    assert report["out_of_range"][0] == 400 and "strength" in report["out_of_range"][1]


def test_client_under_isolated_python3(server, tmp_path) -> None:
    report = _scenario(sys.executable, server, tmp_path, ("-I", "-S"))
    assert report["python"].startswith("3.")
    _check_scenario(report)


def test_client_under_python27(server, tmp_path) -> None:
    python2 = python27.require()
    report = _scenario(python2, server, tmp_path, ("-E", "-s", "-S"))  # 2.7 has no -I
    assert report["python"].startswith("2.7")
    _check_scenario(report)
