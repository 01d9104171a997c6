"""Turning a `POST /v1/jobs` body into a validated `JobInput`, cheapest checks first:
body size (before reading it all), multipart structure, the request JSON against the contract,
model id, device, style count, queue room, and only then the images: header size and file structure,
without decoding a pixel (Pillow's decompression-bomb guard on); the job decodes them, once."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request

from engine import methods, runtime
from engine.config import ServerSettings
from engine.contract import (
    MAX_STYLES,
    ErrorCode,
    FastParams,
    GatysParams,
    JobRequest,
    Method,
    ParamError,
    check_styles,
)
from engine.errors import BadImage, BadParameter, EngineError, ImageTooLarge, UnknownModel
from engine.images import check_picture
from engine.server.jobs import JobInput

DRAIN_LIMIT = 64 * 1024 * 1024  # over-limit bodies up to this much more are read and discarded


class BadRequest(EngineError):
    code = ErrorCode.BAD_REQUEST


@dataclass
class Submission:
    job_input: JobInput
    device: str


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise BadRequest("Content-Length is not a number.") from None
        if size > limit:
            if size <= limit + DRAIN_LIMIT:
                # Read and discard: a client still sending when the connection closes sees a
                # reset instead of this 413 and its message.
                async for _chunk in request.stream():
                    pass
            raise ImageTooLarge(_too_large(size, limit))
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:  # a chunked upload without Content-Length
            raise ImageTooLarge(_too_large(total, limit, at_least=True))
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int, limit: int, at_least: bool = False) -> str:
    more = "more than " if at_least else ""
    return (f"The request is {more}{size / 1e6:.1f} MB; this engine accepts at most "
            f"{limit / 1e6:.1f} MB (setting max_body_bytes). Send a smaller image.")


async def _form(request: Request, body: bytes) -> Any:
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise BadRequest("POST /v1/jobs takes multipart/form-data with parts 'request' (JSON), "
                         "'content' (PNG), optional 'mask' and 'style' (PNG).")
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        return await Request(request.scope, replay).form(max_files=MAX_STYLES + 2,
                                                         max_fields=8)
    except EngineError:
        raise
    except Exception as exc:  # starlette raises HTTPException or MultiPartException
        detail = getattr(exc, "detail", None) or getattr(exc, "message", None) or str(exc)
        raise BadRequest(f"The multipart body could not be read: {detail}") from None


async def _part_bytes(value: Any, name: str) -> bytes:
    if isinstance(value, UploadFile):
        return await value.read()
    if isinstance(value, str) and name == "request":
        return value.encode("utf-8")
    raise BadRequest(f"Part {name!r} must be a file part (with a filename), holding a PNG.")


def _parse_request(raw: bytes) -> JobRequest:
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest(f"Part 'request' is not valid JSON ({exc}).") from None
    except RecursionError:
        raise BadRequest("Part 'request' is nested too deeply to be a job request (it is one "
                         "JSON object of method, params, style_weights).") from None
    try:
        return JobRequest.from_dict(data)
    except ParamError as exc:
        raise BadParameter(f"Bad parameter {exc}.") from None


def _check_model(request: JobRequest, list_models: Callable[[], Sequence[Any]]) -> None:
    assert isinstance(request.params, FastParams)
    ids = sorted(m.id for m in list_models())
    if request.params.model not in ids:
        known = ", ".join(ids) if ids else "none are installed"
        raise UnknownModel(f"Unknown fast model {request.params.model!r} (installed: {known}).")


def _check_images(request: JobRequest, content: bytes, styles: list[bytes], mask: bytes | None,
                  max_pixels: int) -> None:
    """Headers, sizes and file structure only: the pixels are decoded once, by the job. A Gatys
    job's scales are planned now, so an image too thin to optimise is refused here (400)."""
    size = check_picture(content, "Content image", max_pixels)
    if isinstance(request.params, GatysParams):
        from engine.gatys.schedule import plan

        plan(size, request.params)
    for i, data in enumerate(styles, 1):
        check_picture(data, f"Style image {i}", max_pixels)
    if mask is not None:
        check_picture(mask, "Mask", max_pixels)


async def parse_submission(request: Request, settings: ServerSettings, *,
                           list_models: Callable[[], Sequence[Any]]) -> Submission:
    from starlette.concurrency import run_in_threadpool

    body = await _read_body(request, settings.max_body_bytes)
    form = await _form(request, body)
    try:
        if "request" not in form:
            raise BadRequest("Missing part 'request' (the job's JSON).")
        if "content" not in form:
            raise BadRequest("Missing part 'content' (the image to style, PNG).")
        job_request = _parse_request(await _part_bytes(form["request"], "request"))
        content = await _part_bytes(form["content"], "content")
        mask = await _part_bytes(form["mask"], "mask") if "mask" in form else None
        styles = [await _part_bytes(v, "style") for v in form.getlist("style")]
    finally:
        await form.close()

    try:
        check_styles(job_request.method, job_request.params, len(styles))
    except ParamError as exc:
        # A missing or extra image part is a malformed request; a weight list that does not
        # fit the images is a bad parameter.
        raise (BadRequest if exc.name == "style" else BadParameter)(
            f"{exc} Style images travel as 'style' parts (PNG).") from None
    if job_request.method is Method.FAST:
        await run_in_threadpool(_check_model, job_request, list_models)
    lane = runtime.lane(job_request.params.device, methods.backend(job_request.method))
    if not content:
        raise BadImage("Content image is empty (0 bytes).")
    await run_in_threadpool(_check_images, job_request, content, styles, mask,
                            settings.max_pixels)
    return Submission(JobInput(job_request, content, styles, mask, lane), lane)
