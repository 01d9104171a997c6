"""Issue #10 items 9 and 11, in the plug-ins' own modules (imported as GIMP imports them):
an engine killed mid-job is restarted and the job resubmitted once by itself (the client tells a
restart from an expired job by the engine's start id in /v1/health), and the token never goes
to another origin on a redirect."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from server_fixtures import ROOT, ServerThread, import_plugin_module, noise_png

from engine.config import ServerSettings
from engine.server import create_app

nst_client = import_plugin_module("nst_client")
nst_engine = import_plugin_module("nst_engine")
nst_host = import_plugin_module("nst_host")
nst_png = import_plugin_module("nst_png")
EngineError = nst_client.EngineError


# --------------------------------------------------------------- item 11: redirects and token

class _Recorder(BaseHTTPRequestHandler):
    """Answers 200 {} and remembers the Authorization header of every request."""

    seen: list = []
    redirect_to: str | None = None

    def do_GET(self):  # noqa: N802
        type(self).seen.append((self.path, self.headers.get("Authorization")))
        if self.redirect_to and self.path.startswith("/v1/"):
            self.send_response(302)
            self.send_header("Location", self.redirect_to)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b'{"api": 1}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _serve(**attrs):
    handler = type("H", (_Recorder,), {"seen": [], **attrs})
    httpd = HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, handler, f"http://127.0.0.1:{httpd.server_port}"


def test_a_redirect_to_another_origin_never_receives_the_token():
    other, other_seen, other_url = _serve()
    engine, _, engine_url = _serve(redirect_to=other_url + "/v1/health")
    try:
        with pytest.raises(EngineError) as info:
            nst_client.Client(engine_url, "secret-token").health()
        assert info.value.code == "bad_response" and other_url in info.value.message
        assert other_seen.seen == [], "the other server was contacted"
    finally:
        for srv in (other, engine):
            srv.shutdown()
            srv.server_close()


def test_a_redirect_within_the_engine_is_followed_with_the_token():
    engine, seen, url = _serve()
    seen.redirect_to = url + "/moved/health"
    try:
        assert nst_client.Client(url, "secret-token").health() == {"api": 1}
        assert [auth for _, auth in seen.seen] == ["Bearer secret-token"] * 2
    finally:
        engine.shutdown()
        engine.server_close()


# -------------------------------------------------------------- item 9: the engine restarts

def test_health_names_the_engine_instance():
    a = create_app(ServerSettings(), "t")
    b = create_app(ServerSettings(), "t")
    with ServerThread(a) as srv:
        first = nst_client.Client(srv.url, "t").health()["instance"]
        assert nst_client.Client(srv.url, "t").health()["instance"] == first
    assert a.state.instance != b.state.instance and len(first) >= 8


class _Blocking:
    def __call__(self, request, content, styles, mask, *, output_size, progress, cancel, **_):
        while not cancel.cancelled:
            time.sleep(0.01)
        cancel.raise_if_cancelled()


def test_the_client_tells_a_restart_from_an_expired_job():
    app = create_app(ServerSettings(), "t", runner=_Blocking())
    with ServerThread(app) as srv:
        client = nst_client.Client(srv.url, "t")
        client.health()
        with pytest.raises(EngineError) as info:  # same engine: the job is simply unknown
            client.status("0123456789abcdef")
        assert info.value.code == "not_found"
        app.state.instance = "a-new-start"  # what a restarted engine looks like
        with pytest.raises(EngineError) as info:
            client.status("0123456789abcdef")
        assert info.value.code == "engine_lost" and "restarted" in info.value.message


def test_the_client_reports_an_engine_that_stopped_mid_job():
    srv = ServerThread(create_app(ServerSettings(), "t", runner=_Blocking())).__enter__()
    client = nst_client.Client(srv.url, "t")
    client.health()
    srv.__exit__(None, None, None)  # the engine is gone: nothing answers any more
    with pytest.raises(EngineError) as info:
        client.status("0123456789abcdef")
    assert info.value.code == "engine_lost" and "stopped" in info.value.message
    with pytest.raises(EngineError) as info:  # outside a job it is what it always was
        client.health()
    assert info.value.code == "engine_unreachable"


class _Host:
    def __init__(self):
        self.texts: list[str] = []
        self.layers = []

    def progress(self, fraction, text):
        self.texts.append(text)

    def add_result_layer(self, name, plan, rgba, extras=()):
        self.layers.append((name, plan, rgba))
        return name


class _Engines:
    """nst_engine stand-in: each ensure_engine hands out the next scripted client."""

    def __init__(self, clients):
        self.clients = list(clients)
        self.started = 0

    def ensure_engine(self, config, on_status=None, start_timeout=120.0):
        self.started += 1
        return self.clients.pop(0)


class _Client:
    def __init__(self, lose=False):
        self.lose = lose
        self.submitted = 0

    def submit(self, request, content_png, mask_png=None, styles=()):
        self.submitted += 1
        self.content = content_png
        return "job"

    def wait(self, job_id, on_progress=None, poll=0.25):
        if self.lose:
            raise EngineError("engine_lost", "The style engine stopped while it worked on it.")
        return {"state": "done"}

    def result(self, job_id):
        return self.content


def _job():
    plan = nst_host.plan_region((0, 0), (6, 4))
    return nst_host.Job("Fast Neural Style", "fast", {"model": "tiny"}, plan, bytes(6 * 4 * 4))


def test_the_plugin_restarts_the_engine_and_resubmits_once():
    first, second = _Client(lose=True), _Client()
    engines, host = _Engines([first, second]), _Host()
    nst_host.run_filter(_job(), host, engines, {"log_file": "/x/engine.log"})
    assert engines.started == 2 and first.submitted == 1 and second.submitted == 1
    assert len(host.layers) == 1
    assert any("restarting" in t for t in host.texts)


def test_a_second_loss_is_reported_plainly():
    engines, host = _Engines([_Client(lose=True), _Client(lose=True)]), _Host()
    with pytest.raises(nst_host.HostError) as info:
        nst_host.run_filter(_job(), host, engines, {"log_file": "/x/engine.log"})
    message = nst_host.user_message("Fast Neural Style", info.value)
    assert "stopped twice" in message and "/x/engine.log" in message and not host.layers
    assert engines.started == 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.skipif(os.name == "nt", reason="kills the engine with SIGKILL")
def test_engine_killed_mid_job_is_restarted_and_the_job_recomputed(tmp_path, monkeypatch):
    """The real thing: `python -m engine serve` killed (SIGKILL) while a Gatys job runs; the
    plug-in's own code starts the engine again from engine_command and gets the result."""
    port = _free_port()
    token, log = tmp_path / "token", tmp_path / "engine.log"
    command = [sys.executable, "-m", "engine", "serve", "--port", str(port), "--token-file",
               str(token)]
    config = {"engine_url": f"http://127.0.0.1:{port}", "token_file": str(token),
              "engine_command": command, "log_file": str(log)}
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("NST_CONFIG_DIR", str(tmp_path / "cfg"))
    first = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    host = _Host()
    killed = threading.Event()

    def progress(fraction, text):
        host.texts.append(text)
        engine_says = not any(w in text for w in ("starting", "sending", "fetching", "done"))
        if engine_says and not killed.is_set():  # the job is on the engine: kill it
            killed.set()
            first.send_signal(signal.SIGKILL)

    host.progress = progress
    w, h = 48, 32
    rgba = nst_png.png_decode(noise_png((w, h)))[3]
    rgba = bytes(b for i in range(0, len(rgba), 3) for b in (*rgba[i:i + 3], 255))
    plan = nst_host.plan_region((0, 0), (w, h))
    job = nst_host.Job("Neural Style", "gatys", {"size": 64, "iterations": 40,
                                                 "multiscale": False, "optimizer": "adam"},
                       plan, rgba, styles=[noise_png((32, 32), seed=2)], style_names=["noise"])
    try:
        deadline = time.monotonic() + 120
        while not token.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        nst_host.run_filter(job, host, nst_engine, config)
    finally:
        first.kill()
        first.wait(10)
        _stop_engine_on(port)
    assert killed.is_set(), host.texts
    assert any("restarting" in t for t in host.texts), host.texts
    assert len(host.layers) == 1


def _stop_engine_on(port: int) -> None:
    """The restarted engine runs detached (its own session, as the plug-in starts it): end it."""
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if "engine serve" in line and f"--port {port}" in line:
            os.kill(int(line.split()[0]), signal.SIGTERM)
