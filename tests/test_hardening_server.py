"""Issue #10 against the real service (uvicorn on a free loopback port, `create_app` with a scripted
runner so no job costs anything): every bad input is a 400 naming the field, a NaN never reaches
an engine, thin Gatys images are refused at submission, a double DELETE keeps the job readable
as cancelled, a client leaving mid-upload is one short log line, and the log is size-capped."""

from __future__ import annotations

import http.client
import io
import json
import logging
import math
import socket
import threading
import time
from types import SimpleNamespace

import pytest
from server_fixtures import ServerThread, import_client, noise_png

from engine.config import ServerSettings
from engine.contract import JobRequest, ParamError
from engine.server import create_app
from engine.server.jobs import JobInput, JobQueue
from engine.server.logs import CappedStreamHandler, Throttle

nst_client = import_client()
TOKEN = "hardening-token-0123456789"
AUTH = {"Authorization": "Bearer " + TOKEN}


class Runner:
    """Scripted engine: 'block' jobs wait for their cancel; others finish at once."""

    def __init__(self) -> None:
        self.requests: list[JobRequest] = []

    def __call__(self, request, content, styles, mask, *, output_size, progress, cancel,
                 **_more):
        self.requests.append(request)
        if getattr(request.params, "model", "") == "block":
            while not cancel.cancelled:
                time.sleep(0.01)
            cancel.raise_if_cancelled()
        return content, {"seconds": 0.0, "style_loss": float("nan")}


@pytest.fixture(scope="module")
def server():
    runner = Runner()
    models = [SimpleNamespace(id="tiny"), SimpleNamespace(id="block")]
    app = create_app(ServerSettings(max_queued_jobs=4), TOKEN, runner=runner,
                     list_models=lambda: models)
    with ServerThread(app) as srv:
        srv.runner = runner
        yield srv


def call(server, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request(method, path, body=body, headers={**AUTH, **(headers or {})})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, (json.loads(data) if data.startswith(b"{") else data)


def submit(server, request_text, content=None, styles=()):
    parts = [("request", None, "application/json", request_text),
             ("content", "content.png", "image/png", content or noise_png((40, 30)))]
    parts += [("style", f"s{i}.png", "image/png", s) for i, s in enumerate(styles)]
    body, ctype = nst_client._multipart(parts)
    return call(server, "POST", "/v1/jobs", body, {"Content-Type": ctype})


# ------------------------------------------------------------------ items 2 and 5: bad numbers

@pytest.mark.parametrize("request_text, field", [
    ('{"method": "gatys", "style_weights": [1, NaN]}', "style_weights"),
    ('{"method": "gatys", "params": {"style_weights": "1, nan"}}', "style_weights"),
    ('{"method": "gatys", "params": {"style_weights": [Infinity]}}', "style_weights"),
    ('{"method": "gatys", "params": {"content_weight": NaN}}', "content_weight"),
    ('{"method": "gatys", "params": {"content_weight": 1' + "0" * 400 + '}}', "content_weight"),
    ('{"method": "gatys", "params": {"seed": 1' + "0" * 400 + '}}', "seed"),
    ('{"method": "gatys", "params": {"size": "-Infinity"}}', "size"),
    ('{"method": "gatys", "params": "size=512"}', "params"),
    ('{"method": "gatys", "params": 512}', "params"),
    ('{"method": "gatys", "params": [512]}', "params"),
    ('{"method": "fast", "params": {"model": "tiny", "strength": NaN}}', "strength"),
])
def test_bad_numbers_and_shapes_are_a_400_naming_the_field(server, request_text, field):
    style = noise_png((32, 32), seed=3)
    before = len(server.runner.requests)
    status, body = submit(server, request_text, styles=[style, style])
    assert status == 400, body
    assert body["error"]["code"] == "bad_parameter" and field in body["error"]["message"]
    assert len(server.runner.requests) == before


def test_json_nested_100000_levels_is_a_400(server):
    status, body = submit(server, "[" * 100_000 + "]" * 100_000)
    assert status == 400 and body["error"]["code"] == "bad_request", body
    assert "request" in body["error"]["message"]


def test_nan_is_refused_once_in_the_contract_for_every_caller():
    for raw in ({"method": "gatys", "params": {"style_weights": [0.5, math.nan]}},
                {"method": "gatys", "style_weights": "nan"},
                {"method": "gatys", "params": {"tv_weight": math.inf}}):
        with pytest.raises(ParamError, match="finite"):
            JobRequest.from_dict(raw)


def test_a_non_finite_loss_never_makes_a_job_unreadable():
    queue = JobQueue(lambda job, progress, cancel: (b"png", {"loss": math.nan,
                                                             "losses": [1.0, math.inf]}))
    try:
        job = queue.submit(JobInput(JobRequest.from_dict({"method": "fast"}), b""), "cpu")
        deadline = time.monotonic() + 10
        while not queue.get(job.id).state.finished and time.monotonic() < deadline:
            time.sleep(0.01)
        text = json.dumps(queue.status(job.id).to_dict(), allow_nan=False)
        assert json.loads(text)["info"] == {"loss": None, "losses": [1.0, None]}
    finally:
        queue.close()


# --------------------------------------------------------------- item 3: thin images in Gatys

def test_too_thin_for_gatys_is_refused_at_submission(server):
    thin = noise_png((4000, 3), seed=1)
    style = noise_png((32, 32), seed=3)
    status, body = submit(server, '{"method": "gatys"}', content=thin, styles=[style])
    assert status == 400 and body["error"]["code"] == "bad_image", body
    assert "too thin" in body["error"]["message"]


# ----------------------------------------------------------------- item 8: double DELETE

def test_double_delete_keeps_the_cancelled_job_readable(server):
    status, body = submit(server, '{"method": "fast", "params": {"model": "block"}}')
    assert status == 202, body
    job = body["id"]
    for _ in range(3):
        status, body = call(server, "DELETE", f"/v1/jobs/{job}")
        assert status == 200 and body["state"] in ("running", "cancelled"), body
    deadline = time.monotonic() + 10
    while body["state"] != "cancelled" and time.monotonic() < deadline:
        time.sleep(0.05)
        status, body = call(server, "GET", f"/v1/jobs/{job}")
    status, body = call(server, "DELETE", f"/v1/jobs/{job}")
    assert status == 200 and body["state"] == "cancelled"
    status, body = call(server, "GET", f"/v1/jobs/{job}")
    assert status == 200 and body["state"] == "cancelled", body


def test_repeated_deletes_do_not_postpone_the_detach():
    """A job that ignores its cancel is detached after the grace; DELETE polls must not reset
    that clock (the queue would otherwise stay blocked as long as the client keeps deleting)."""
    release = threading.Event()

    def stubborn(job, progress, cancel):
        release.wait(10)
        return b"", {}

    queue = JobQueue(stubborn, cancel_grace_s=0.3)
    try:
        job = queue.submit(JobInput(JobRequest.from_dict({"method": "fast"}), b""), "cpu")
        while queue.get(job.id).state.value != "running":
            time.sleep(0.01)
        t0 = time.monotonic()
        while queue.get(job.id).state.value != "cancelled" and time.monotonic() - t0 < 3:
            queue.delete(job.id)
            time.sleep(0.05)
        assert queue.get(job.id).state.value == "cancelled"
        assert time.monotonic() - t0 < 2
    finally:
        release.set()
        queue.close()


# -------------------------------------------------------------- item 7: client leaves, logs

def test_client_leaving_mid_upload_is_one_short_line(server, caplog):
    caplog.set_level(logging.INFO)
    s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    head = ("POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN +
            "\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 1000000\r\n\r\n")
    s.sendall(head.encode() + b"--b\r\n" + b"x" * 20_000)
    time.sleep(0.3)
    s.close()
    deadline = time.monotonic() + 5
    while not any("went away" in r.getMessage() for r in caplog.records) and \
            time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    lines = [r for r in caplog.records if r.levelno >= logging.INFO and
             r.name.split(".")[0] in ("engine", "uvicorn", "starlette", "asyncio")]
    assert len(lines) == 1 and "went away" in lines[0].getMessage(), \
        [r.getMessage() for r in lines]
    assert lines[0].exc_info is None and lines[0].levelno == logging.INFO
    assert call(server, "GET", "/v1/health")[0] == 200


def test_log_file_is_capped_and_rotated(tmp_path):
    path = tmp_path / "engine.log"
    with open(path, "a") as stream:
        handler = CappedStreamHandler(stream, max_bytes=20_000)
        log = logging.getLogger("hardening.cap")
        log.propagate = False
        log.addHandler(handler)
        try:
            for i in range(2_000):
                log.warning("line %d %s", i, "x" * 80)
        finally:
            log.removeHandler(handler)
    assert path.stat().st_size <= 20_000 + 200
    assert (tmp_path / "engine.log.1").stat().st_size <= 20_000 + 200
    assert "line 1999" in path.read_text()


def test_repeated_warnings_are_throttled_with_a_count():
    now = [0.0]
    throttle = Throttle(every_s=60, clock=lambda: now[0])
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(throttle)
    log = logging.getLogger("hardening.throttle")
    log.setLevel(logging.INFO)
    log.propagate = False
    log.addHandler(handler)
    try:
        for _ in range(1000):
            log.error("socket.accept() out of system resource")
        log.info("job %s queued", "a")
        log.info("job %s queued", "b")
        now[0] = 61.0
        log.error("socket.accept() out of system resource")
    finally:
        log.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 4, lines
    assert "1000 more like this" not in lines[-1] and "999 more like this" in lines[-1]


def test_an_upload_is_decoded_once(monkeypatch):
    """Issue #9: the upload is checked (header, size, structure) without decoding; the job
    decodes it, once (it was decoded to validate it, then again to run)."""
    from PIL import ImageFile

    decoded = []
    real = ImageFile.ImageFile.load

    def counting(im):  # every pixel decode goes through here, whoever imported what
        if im.tile:  # still encoded: this call decodes (later calls return at once)
            decoded.append(im.size)
        return real(im)

    monkeypatch.setattr(ImageFile.ImageFile, "load", counting)
    runner = Runner()
    app = create_app(ServerSettings(), TOKEN, runner=runner,
                     list_models=lambda: [SimpleNamespace(id="tiny")])
    with ServerThread(app) as srv:
        status, body = submit(srv, '{"method": "fast", "params": {"model": "tiny"}}')
        assert status == 202, body
        deadline = time.monotonic() + 10
        while call(srv, "GET", f"/v1/jobs/{body['id']}")[1]["state"] != "done":
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert decoded == [(40, 30)]
