"""The HTTP API (v1) as a Starlette app built by `create_app`; all state lives on `app.state`.

Endpoints (all need `Authorization: Bearer <token>`; errors are `{"error": {"code", "message"}}`):
  GET /v1/health, GET /v1/params, GET /v1/models, POST /v1/jobs (multipart: request, content,
  mask, style...), GET /v1/jobs/{id}, GET /v1/jobs/{id}/result[/{part}], DELETE /v1/jobs/{id}.
Heavy work (decoding, style transfer) never runs on the event loop: uploads are validated in the
thread pool and jobs run on the queue's worker threads.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from engine import health
from engine.cancel import CancelToken, ProgressFn
from engine.config import ServerSettings
from engine.contract import ErrorCode, schema
from engine.errors import EngineError, UnknownModel
from engine.server.auth import BearerAuth
from engine.server.jobs import JobInput, JobQueue, QueueFull
from engine.server.png import encode_unfiltered
from engine.server.upload import parse_submission

log = logging.getLogger(__name__)

API_VERSION = 1

# docs/architecture.md "HTTP API": 400 bad input, 401 token, 404 unknown job/model, 409 not ready,
# 413 too large, 429 queue full, 500 only for a bug.
HTTP_STATUS = {
    ErrorCode.BAD_IMAGE: 400, ErrorCode.BAD_PARAMETER: 400, ErrorCode.BAD_REQUEST: 400,
    ErrorCode.BAD_MODEL: 400, ErrorCode.DEVICE_UNAVAILABLE: 400, ErrorCode.WEIGHTS_MISSING: 500,
    ErrorCode.UNAUTHORIZED: 401, ErrorCode.UNKNOWN_MODEL: 404, ErrorCode.NOT_FOUND: 404,
    ErrorCode.NOT_READY: 409, ErrorCode.CANCELLED: 409, ErrorCode.IMAGE_TOO_LARGE: 413,
    ErrorCode.QUEUE_FULL: 429, ErrorCode.OUT_OF_MEMORY: 500, ErrorCode.INTERNAL: 500,
}

Runner = Callable[..., Any]  # engine.pipeline.run's signature


def error_response(code: ErrorCode | str, message: str, status: int | None = None) -> JSONResponse:
    code = ErrorCode(code) if not isinstance(code, ErrorCode) else code
    return JSONResponse({"error": {"code": code.value, "message": message}},
                        status_code=status or HTTP_STATUS.get(code, 500))


def _default_runner(*args: Any, **kwargs: Any) -> Any:
    from engine import pipeline

    return pipeline.run(*args, **kwargs)


def _default_list_models() -> list[Any]:
    try:
        from engine import fast
    except ImportError as exc:
        raise UnknownModel(f"The fast engine is not available in this installation ({exc}).") \
            from None
    if not hasattr(fast, "list_models"):  # an empty engine/fast/ folder imports as a namespace
        raise UnknownModel("The fast engine is not available in this installation.")
    return list(fast.list_models())


def make_executor(runner: Runner, max_pixels: int) -> Callable[..., tuple]:
    from engine.images import decode_mask, decode_picture

    def execute(job: JobInput, progress: ProgressFn,
                cancel: CancelToken) -> tuple[bytes, dict, dict[str, bytes]]:
        content = decode_picture(job.content, "Content image", max_pixels)
        styles = [decode_picture(data, f"Style image {i}", max_pixels)
                  for i, data in enumerate(job.styles, 1)]
        mask = decode_mask(job.mask, content.size, max_pixels) if job.mask else None
        cancel.raise_if_cancelled()
        extras: dict = {}
        picture, info = runner(job.request, content, styles, mask, output_size=content.size,
                               lane=job.lane, progress=progress, cancel=cancel, extras=extras)
        return (encode_unfiltered(picture), info,
                {name: encode_unfiltered(p) for name, p in extras.items()})

    return execute


# ---------------------------------------------------------------------------------- endpoints

async def get_health(request: Request) -> JSONResponse:
    state = request.app.state
    info = await run_in_threadpool(health.describe)
    info.update(api=API_VERSION, limits=state.settings.limits(), queue=state.queue.counts(),
                uptime_s=round(time.monotonic() - state.started, 1), instance=state.instance)
    return JSONResponse(info)


async def get_params(request: Request) -> JSONResponse:
    return JSONResponse(schema())


async def get_models(request: Request) -> JSONResponse:
    try:
        models = await run_in_threadpool(request.app.state.list_models)
    except UnknownModel as exc:  # no fast engine: an empty list the dialog can still show
        return JSONResponse({"models": [], "warning": exc.message})
    return JSONResponse({"models": [m.to_dict(thumbnail=True) for m in models]})


async def post_job(request: Request) -> JSONResponse:
    state = request.app.state
    if state.queue.full():
        raise QueueFull("The engine's queue is full; try again when a job has finished.")
    sub = await parse_submission(request, state.settings, list_models=state.list_models)
    job = state.queue.submit(sub.job_input, sub.device)
    log.info("job %s queued (%s on %s)", job.id, sub.job_input.request.method.value, sub.device)
    return JSONResponse({"id": job.id, "state": job.state.value}, status_code=202)


async def get_job(request: Request) -> JSONResponse:
    status = request.app.state.queue.status(request.path_params["job_id"])
    return JSONResponse(status.to_dict())


WATCH_INTERVAL_S = 0.25


async def watch_job(request: Request) -> Response:
    """The job's status as one JSON line every `?interval=` seconds (0.02..2, default
    WATCH_INTERVAL_S) until it finishes, over one open
    connection. While a client watches, the engine knows at once when it goes: GIMP ends a
    cancelled plug-in's process, the kernel closes its socket, and the job is cancelled now
    instead of after `abandon_after_s` without polls (unless it asked for keep_alive)."""
    import asyncio
    import json

    from starlette.responses import StreamingResponse

    queue = request.app.state.queue
    job_id = request.path_params["job_id"]
    queue.status(job_id)  # 404 before any streaming starts
    try:  # the client's poll interval, within reason
        interval = min(2.0, max(0.02, float(request.query_params.get("interval",
                                                                     WATCH_INTERVAL_S))))
    except ValueError:
        interval = WATCH_INTERVAL_S

    async def lines():
        finished = False
        try:
            while True:
                status = queue.status(job_id)
                yield json.dumps(status.to_dict()) + "\n"
                if status.state.finished:
                    finished = True
                    return
                await asyncio.sleep(interval)
        finally:
            if not finished:
                job = queue.get(job_id, touch=False)
                if not job.keep_alive and not job.state.finished:
                    log.info("job %s: its watching client went away; cancelling", job_id)
                    queue.cancel(job_id, "Cancelled: the client that was waiting for it went "
                                         "away (GIMP's Cancel).")

    return StreamingResponse(lines(), media_type="application/x-ndjson")


async def get_result(request: Request) -> Response:
    job_id = request.path_params["job_id"]
    queue = request.app.state.queue
    png = queue.fetch_result(job_id, request.path_params.get("part"))
    if png is None:
        job = queue.get(job_id)
        why = f" ({job.error.message})" if job.error else ""
        return error_response(ErrorCode.NOT_READY,
                              f"Job {job_id} is {job.state.value}{why}; its result is only "
                              "available once it is done.")
    return Response(png, media_type="image/png")


async def delete_job(request: Request) -> JSONResponse:
    """Cancel a queued or running job (idempotent: it then reads `cancelled` for the retention
    period); on a done or failed job, drop it and its result now."""
    status = request.app.state.queue.delete(request.path_params["job_id"])
    return JSONResponse(status.to_dict())


# ------------------------------------------------------------------------------ error handlers

async def _engine_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, EngineError)
    return error_response(exc.code, exc.message)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = {404: ErrorCode.NOT_FOUND, 413: ErrorCode.IMAGE_TOO_LARGE}.get(
        exc.status_code, ErrorCode.BAD_REQUEST)
    message = exc.detail if exc.status_code != 404 else f"No such endpoint: {request.url.path}"
    return error_response(code, str(message), exc.status_code if exc.status_code < 500 else 500)


async def _client_gone(request: Request, exc: Exception) -> Response:
    """The client closed the connection before its request was read (the user cancelled an
    upload, GIMP was closed): a normal event, one line; nobody is left to read a response."""
    log.info("client went away during %s %s", request.method, request.url.path)
    return Response(status_code=499)


async def _bug(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(ErrorCode.INTERNAL, f"Internal error ({type(exc).__name__}); see the "
                                              "engine log.")


def create_app(settings: ServerSettings, token: str, *, runner: Runner | None = None,
               list_models: Callable[[], Sequence[Any]] | None = None) -> Any:
    """The ASGI app. `runner` (default engine.pipeline.run) and `list_models` (default
    engine.fast.list_models) can be replaced by tests. Call `app.state.queue.close()` on shutdown
    (the `lifespan` does it when run by uvicorn)."""
    if not token:
        raise ValueError("an access token is required")

    routes = [
        Route("/v1/health", get_health, methods=["GET"]),
        Route("/v1/params", get_params, methods=["GET"]),
        Route("/v1/models", get_models, methods=["GET"]),
        Route("/v1/jobs", post_job, methods=["POST"]),
        Route("/v1/jobs/{job_id}", get_job, methods=["GET"]),
        Route("/v1/jobs/{job_id}/watch", watch_job, methods=["GET"]),
        Route("/v1/jobs/{job_id}", delete_job, methods=["DELETE"]),
        Route("/v1/jobs/{job_id}/result", get_result, methods=["GET"]),
        Route("/v1/jobs/{job_id}/result/{part}", get_result, methods=["GET"]),
    ]
    queue = JobQueue(make_executor(runner or _default_runner, settings.max_pixels),
                     max_queued=settings.max_queued_jobs, result_ttl_s=settings.result_ttl_s,
                     abandon_after_s=settings.abandon_after_s)

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(_app: Starlette):
        yield
        queue.close()

    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={
        EngineError: _engine_error, HTTPException: _http_error, ClientDisconnect: _client_gone,
        Exception: _bug})
    app.state.settings = settings
    app.state.queue = queue
    app.state.list_models = list_models or _default_list_models
    app.state.started = time.monotonic()
    # New at every start: a client whose job vanished can tell "the engine restarted" (its job
    # ids are gone with it) from "this job expired".
    app.state.instance = secrets.token_hex(8)
    app.state.last_request = time.monotonic()

    def touch() -> None:
        app.state.last_request = time.monotonic()

    # Outermost: the token is checked before anything else looks at the request.
    app.add_middleware(BearerAuth, token=token, on_request=touch)
    return app


def idle_seconds(app: Any) -> float:
    """Seconds since the last request or job activity; 0 while a job is queued or running."""
    state = app.state
    if state.queue.busy():
        return 0.0
    last = max(state.last_request, state.queue.last_finished())
    return time.monotonic() - last
