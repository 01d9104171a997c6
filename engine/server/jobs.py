"""The job queue: one worker thread per device runs one job at a time, the rest wait in FIFO order.

The queue knows nothing about HTTP or images: it is given an `execute(job_input, progress, cancel)`
callable (the app passes one that decodes the PNGs and calls `engine.pipeline.run`), so tests can
drive it with a scripted fake and check the event sequence.

Lifetimes: a finished job (and its result bytes) is kept for `result_ttl_s`, then dropped (once
its result has been fetched, for at most `fetched_ttl_s` more: enough for a retry, while a
busy session's full-size PNGs do not pile up for the whole TTL); an
unfinished job whose client has not looked at it for `abandon_after_s` is cancelled, unless the
request asked for `keep_alive` (a script that submits and comes back later).
"""

from __future__ import annotations

import collections
import logging
import math
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.cancel import CancelToken, ProgressFn
from engine.contract import ErrorCode, JobError, JobRequest, JobState, JobStatus, Progress
from engine.errors import Cancelled, EngineError

log = logging.getLogger(__name__)

# How often the janitor looks for expired results, abandoned jobs and slow cancels.
SWEEP_INTERVAL_S = 0.2
# Engines stop at their next cancel check, i.e. within one iteration or tile, but on a busy CPU
# one large Gatys iteration takes seconds. A cancelled job that is still running after this grace
# is detached: marked cancelled, its thread left to die at that check, and a fresh worker takes
# the queue, so the next job starts within a second whatever the engine is doing.
CANCEL_GRACE_S = 0.4


@dataclass
class JobInput:
    """What a worker needs; PNG bytes rather than decoded pixels, so a long queue costs only its
    request bodies in memory (decoded float pictures are ~12 bytes per pixel)."""

    request: JobRequest
    content: bytes
    styles: list[bytes] = field(default_factory=list)
    mask: bytes | None = None
    lane: str = "cpu"  # where it runs (engine.runtime.lane), chosen at submission


# (result PNG, info) or (result PNG, info, {name: PNG} of further images)
Execute = Callable[[JobInput, ProgressFn, CancelToken], tuple[Any, ...]]


def _finite(info: dict[str, Any]) -> dict[str, Any]:
    """The engine's info with non-finite floats (a diverged loss) as None: the status is JSON,
    which has no NaN, and a status that cannot be served would make the job unreadable."""
    def clean(v: Any) -> Any:
        if isinstance(v, float):
            return v if math.isfinite(v) else None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        if hasattr(v, "item") and getattr(v, "ndim", None) == 0:  # numpy scalars
            return clean(v.item())
        return v

    return {k: clean(v) for k, v in dict(info).items()}


class QueueFull(EngineError):
    code = ErrorCode.QUEUE_FULL


class JobNotFound(EngineError):
    code = ErrorCode.NOT_FOUND


@dataclass
class Job:
    id: str
    device: str
    input: JobInput | None
    keep_alive: bool
    created: float
    last_seen: float
    state: JobState = JobState.QUEUED
    progress: float = 0.0
    stage: str = "queued"
    eta_s: float | None = None
    error: JobError | None = None
    info: dict[str, Any] = field(default_factory=dict)
    result: bytes | None = None
    extras: dict[str, bytes] = field(default_factory=dict)
    started: float | None = None
    finished: float | None = None
    cancel: CancelToken = field(default_factory=CancelToken)
    cancel_reason: str | None = None
    fetched: float | None = None  # when the result was first downloaded
    cancel_requested: float | None = None
    detached: bool = False  # its thread no longer owns it (see CANCEL_GRACE_S)
    thread: threading.Thread | None = None

    def status(self) -> JobStatus:
        return JobStatus(id=self.id, state=self.state, progress=round(self.progress, 4),
                         stage=self.stage, eta_s=self.eta_s, error=self.error,
                         info=dict(self.info))


class JobQueue:
    def __init__(self, execute: Execute, *, max_queued: int = 16, result_ttl_s: float = 600.0,
                 abandon_after_s: float = 60.0, fetched_ttl_s: float = 60.0,
                 cancel_grace_s: float = CANCEL_GRACE_S,
                 clock: Callable[[], float] = time.monotonic):
        self._execute = execute
        self.max_queued = max_queued
        self.result_ttl_s = result_ttl_s
        self.fetched_ttl_s = min(fetched_ttl_s, result_ttl_s)
        self.cancel_grace_s = cancel_grace_s
        self.abandon_after_s = abandon_after_s
        self._clock = clock
        self._cond = threading.Condition()
        self._jobs: dict[str, Job] = {}
        self._waiting: dict[str, collections.deque[Job]] = {}
        self._running: dict[str, Job | None] = {}
        self._workers: dict[str, threading.Thread] = {}
        self._detached: list[threading.Thread] = []  # finishing a cancelled job's last step
        self._closed = False
        self._last_finished = clock()
        self.counters = collections.Counter()  # submitted/done/failed/.../expired/detached
        self._janitor = threading.Thread(target=self._janitor_loop, name="nst-janitor",
                                         daemon=True)
        self._janitor.start()

    # ------------------------------------------------------------------ public API (thread-safe)

    def submit(self, job_input: JobInput, device: str) -> Job:
        now = self._clock()
        with self._cond:
            if self._closed:
                raise EngineError("The engine is shutting down.")
            waiting = sum(len(q) for q in self._waiting.values())
            idle = self._running.get(device) is None and not self._waiting.get(device)
            if not idle and waiting >= self.max_queued:
                raise QueueFull(f"The engine's queue is full ({waiting} jobs waiting); try again "
                                "when a job has finished.")
            job = Job(id=secrets.token_hex(8), device=device, input=job_input,
                      keep_alive=job_input.request.keep_alive, created=now, last_seen=now)
            self._jobs[job.id] = job
            self._waiting.setdefault(device, collections.deque()).append(job)
            self._ensure_worker(device)
            self.counters["submitted"] += 1
            self._refresh_queue_stages(device)
            self._cond.notify_all()
            return job

    def get(self, job_id: str, *, touch: bool = True) -> Job:
        with self._cond:
            job = self._jobs.get(job_id)
            if job is None:
                raise JobNotFound(f"No job {job_id!r}: it never existed, or it finished more than "
                                  f"{self.result_ttl_s:.0f} s ago and its result was dropped.")
            if touch:
                job.last_seen = self._clock()
            return job

    def status(self, job_id: str) -> JobStatus:
        with self._cond:
            return self.get(job_id).status()

    def cancel(self, job_id: str, reason: str = "Cancelled by the client.") -> JobStatus:
        """Queued: cancelled at once. Running: the worker stops at the engine's next check (the
        progress callback also raises, so that is at most one iteration or tile)."""
        with self._cond:
            job = self.get(job_id)
            self._cancel_locked(job, reason)
            return job.status()

    def fetch_result(self, job_id: str, part: str | None = None) -> bytes | None:
        """The result PNG of a done job (None before), noting that it has been collected; `part`
        names one of its further images (JobNotFound when the job made none of that name)."""
        with self._cond:
            job = self.get(job_id)
            if job.state is not JobState.DONE or job.result is None:
                return None
            if part is not None and part not in job.extras:
                made = ", ".join(sorted(job.extras)) or "none"
                raise JobNotFound(f"Job {job_id} made no '{part}' image (it made: {made}).")
            job.fetched = job.fetched or self._clock()
            return job.result if part is None else job.extras[part]

    def delete(self, job_id: str) -> JobStatus:
        """DELETE /v1/jobs/{id}, idempotent: an unfinished job is cancelled, and stays readable as
        `cancelled` for result_ttl_s however often it is deleted again; a done or failed job is
        dropped with its result (nothing more to cancel, and its memory is freed now)."""
        with self._cond:
            job = self.get(job_id)
            status = job.status() if job.state.finished else None
            if not job.state.finished:
                self._cancel_locked(job, "Cancelled by the client.")
                status = job.status()
            elif job.state is not JobState.CANCELLED:
                del self._jobs[job_id]
            return status

    def remove(self, job_id: str) -> None:
        """Forget a finished job now (its result is no longer needed)."""
        with self._cond:
            job = self.get(job_id)
            if job.state.finished:
                del self._jobs[job_id]

    def counts(self) -> dict[str, int]:
        with self._cond:
            return {"running": sum(1 for j in self._running.values() if j is not None),
                    "queued": sum(len(q) for q in self._waiting.values()),
                    "kept": len(self._jobs)}

    def full(self) -> bool:
        """Cheap pre-check before reading an upload; `submit` makes the exact decision."""
        with self._cond:
            waiting = sum(len(q) for q in self._waiting.values())
            return (waiting >= self.max_queued and bool(self._running)
                    and all(j is not None for j in self._running.values()))

    def busy(self) -> bool:
        with self._cond:
            return any(j is not None for j in self._running.values()) or any(
                self._waiting.values())

    def last_finished(self) -> float:
        return self._last_finished

    def sweep(self) -> None:
        """Drop expired results; cancel abandoned jobs. Called by the janitor thread."""
        now = self._clock()
        with self._cond:
            for job in list(self._jobs.values()):
                if job.state.finished:
                    expired = job.finished is not None and now - job.finished > self.result_ttl_s
                    collected = job.fetched is not None and now - job.fetched > self.fetched_ttl_s
                    if expired or collected:
                        del self._jobs[job.id]
                        self.counters["expired"] += 1
                elif (job.cancel_requested is not None
                      and now - job.cancel_requested > self.cancel_grace_s):
                    self._detach_locked(job)
                elif not job.keep_alive and now - job.last_seen > self.abandon_after_s:
                    log.info("job %s abandoned (no poll for %.0f s); cancelling", job.id,
                             now - job.last_seen)
                    self._cancel_locked(job, f"Cancelled: the client stopped asking about this "
                                             f"job for {self.abandon_after_s:.0f} s.")

    def close(self, timeout: float = 30.0) -> None:
        with self._cond:
            self._closed = True
            for job in self._jobs.values():
                if not job.state.finished:
                    self._cancel_locked(job, "Cancelled: the engine is shutting down.")
            self._cond.notify_all()
            # Detached threads too: the interpreter must not exit while one is inside torch.
            threads = list(self._workers.values()) + self._detached + [self._janitor]
        deadline = time.monotonic() + timeout
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))

    # ------------------------------------------------------------------------------- internals

    def _cancel_locked(self, job: Job, reason: str) -> None:
        if job.state.finished:
            return
        job.cancel.cancel()
        if job.state is JobState.QUEUED:
            self._waiting[job.device].remove(job)
            self._finish_locked(job, JobState.CANCELLED, JobError(ErrorCode.CANCELLED, reason))
            self._refresh_queue_stages(job.device)
        elif job.cancel_requested is None:  # a repeated cancel must not postpone the detach
            job.stage = "cancelling"
            job.cancel_reason = reason
            job.cancel_requested = self._clock()

    def _finish_locked(self, job: Job, state: JobState, error: JobError | None = None) -> None:
        job.state = state
        job.error = error
        job.input = None  # the PNG bytes are no longer needed
        job.finished = self._last_finished = self._clock()
        job.eta_s = 0.0 if state is JobState.DONE else None
        job.stage = state.value
        if state is JobState.DONE:
            job.progress = 1.0
        self.counters[state.value] += 1
        self._cond.notify_all()

    def _refresh_queue_stages(self, device: str) -> None:
        for pos, job in enumerate(self._waiting.get(device, ()), 1):
            job.stage = f"queued ({pos} ahead)" if pos > 1 else "queued (next)"

    def _detach_locked(self, job: Job) -> None:
        if job.state is not JobState.RUNNING or job.detached:
            return
        log.warning("job %s did not stop within %.1f s of its cancel; detaching it (its thread "
                    "ends at the engine's next check) and starting a fresh worker",
                    job.id, self.cancel_grace_s)
        job.detached = True
        self.counters["detached"] += 1
        if job.thread is not None:
            self._detached = [t for t in self._detached if t.is_alive()] + [job.thread]
        self._finish_locked(job, JobState.CANCELLED,
                            JobError(ErrorCode.CANCELLED, job.cancel_reason or "Cancelled."))
        if self._running.get(job.device) is job:
            self._running[job.device] = None
        self._ensure_worker(job.device, replace=True)

    def _ensure_worker(self, device: str, replace: bool = False) -> None:
        t = self._workers.get(device)
        if replace or t is None or not t.is_alive():
            self._running.setdefault(device, None)
            t = threading.Thread(target=self._worker_loop, args=(device,), daemon=True,
                                 name=f"nst-worker-{device}")
            self._workers[device] = t
            t.start()

    def _next_job(self, device: str) -> Job | None:
        me = threading.current_thread()
        with self._cond:
            while (not self._closed and not self._waiting.get(device)
                   and self._workers.get(device) is me):
                self._cond.wait(timeout=1.0)
            if self._closed or self._workers.get(device) is not me:
                return None  # shut down, or replaced after a detach
            job = self._waiting[device].popleft()
            self._refresh_queue_stages(device)
            job.state = JobState.RUNNING
            job.stage = "starting"
            job.started = self._clock()
            job.thread = me
            self._running[device] = job
            return job

    def _worker_loop(self, device: str) -> None:
        while True:
            job = self._next_job(device)
            if job is None:
                return
            self._run_one(job)
            with self._cond:
                if self._running.get(device) is job:
                    self._running[device] = None
                self._cond.notify_all()

    def _run_one(self, job: Job) -> None:
        state, error, result, info, extras = JobState.FAILED, None, None, {}, {}
        try:
            assert job.input is not None
            result, info, *more = self._execute(job.input, lambda ev: self._on_progress(job, ev),
                                                job.cancel)
            extras = more[0] if more else {}
            state = JobState.CANCELLED if job.cancel.cancelled else JobState.DONE
        except Cancelled:
            state = JobState.CANCELLED
        except EngineError as exc:
            error = JobError(exc.code, exc.message)
        except MemoryError:
            error = JobError(ErrorCode.OUT_OF_MEMORY, "Out of memory: try a smaller size or "
                                                      "fewer jobs at once.")
        except Exception as exc:  # loop edge: a bug must fail one job, never the worker
            if "out of memory" in str(exc).lower():
                error = JobError(ErrorCode.OUT_OF_MEMORY, f"Out of memory on {job.device}: try a "
                                                          "smaller size.")
            else:
                log.exception("job %s failed", job.id)
                error = JobError(ErrorCode.INTERNAL, f"Internal error ({type(exc).__name__}: "
                                                     f"{exc}); see the engine log.")
        with self._cond:
            if job.detached:
                return  # already reported as cancelled; a fresh worker owns the queue
            if state is JobState.CANCELLED:
                error = JobError(ErrorCode.CANCELLED, job.cancel_reason or "Cancelled.")
            job.info = _finite(info)
            job.result = result if state is JobState.DONE else None
            job.extras = dict(extras) if state is JobState.DONE else {}
            self._finish_locked(job, state, error)

    def _on_progress(self, job: Job, event: Progress) -> None:
        if job.cancel.cancelled:
            raise Cancelled()
        with self._cond:
            # Progress only rises: a multi-scale engine may restart its count at a new scale.
            job.progress = max(job.progress, min(1.0, max(0.0, float(event.fraction))))
            job.stage = event.stage or job.stage
            if event.eta_s is not None:
                job.eta_s = round(max(0.0, event.eta_s), 1)
            elif job.started is not None and job.progress > 0.02:
                spent = self._clock() - job.started
                job.eta_s = round(spent * (1.0 - job.progress) / job.progress, 1)

    def _janitor_loop(self) -> None:
        while True:
            with self._cond:
                if self._closed:
                    return
            try:
                self.sweep()
            except Exception:  # loop edge: keep sweeping
                log.exception("job sweep failed")
            time.sleep(SWEEP_INTERVAL_S)
