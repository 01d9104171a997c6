"""Event-sequence tests of the job queue with a scripted fake `execute` (no HTTP, no torch)."""

from __future__ import annotations

import threading
import time

import pytest

from engine.contract import ErrorCode, FastParams, JobRequest, JobState, Method, Progress
from engine.errors import BadModel
from engine.server.jobs import JobInput, JobNotFound, JobQueue, QueueFull


def _input(keep_alive: bool = False) -> JobInput:
    return JobInput(JobRequest(Method.FAST, FastParams(model="m"), keep_alive=keep_alive), b"png")


class Script:
    """A fake engine: each job runs `steps` progress steps of `step_s` seconds, checking cancel."""

    def __init__(self, steps: int = 5, step_s: float = 0.02, fail: Exception | None = None):
        self.steps, self.step_s, self.fail = steps, step_s, fail
        self.order: list[int] = []
        self.started = threading.Event()

    def __call__(self, job_input, progress, cancel):
        self.order.append(id(job_input))
        self.started.set()
        for i in range(self.steps):
            cancel.raise_if_cancelled()
            time.sleep(self.step_s)
            progress(Progress(fraction=(i + 1) / self.steps, stage=f"step {i + 1}"))
        if self.fail is not None:
            raise self.fail
        return b"result", {"steps": self.steps}


def _wait_state(queue: JobQueue, job_id: str, states: set[JobState], timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = queue.status(job_id)
        if st.state in states:
            return st
        time.sleep(0.005)
    raise AssertionError(f"job {job_id} stuck in {queue.status(job_id).state}")


@pytest.fixture
def make_queue():
    queues = []

    def make(execute, **kw):
        q = JobQueue(execute, **kw)
        queues.append(q)
        return q

    yield make
    for q in queues:
        q.close()


def test_fifo_one_at_a_time_and_progress_rises(make_queue) -> None:
    script = Script(steps=5, step_s=0.02)
    q = make_queue(script)
    inputs = [_input() for _ in range(3)]
    jobs = [q.submit(i, "cpu") for i in inputs]
    seen: list[float] = []
    running_at_once = 0
    while not q.status(jobs[-1].id).state.finished:
        states = [q.status(j.id).state for j in jobs]
        running_at_once = max(running_at_once, states.count(JobState.RUNNING))
        seen.append(q.status(jobs[0].id).progress)
        time.sleep(0.003)
    assert running_at_once == 1
    assert script.order == [id(i) for i in inputs]  # FIFO
    assert all(b >= a for a, b in zip(seen, seen[1:], strict=False))
    assert seen[-1] == 1.0 and any(0 < p < 1 for p in seen)
    for j in jobs:
        st = q.status(j.id)
        assert st.state is JobState.DONE and st.info == {"steps": 5}
        assert q.get(j.id).result == b"result"


def test_queued_job_reports_its_place(make_queue) -> None:
    q = make_queue(Script(steps=20, step_s=0.02))
    a, b, c = (q.submit(_input(), "cpu") for _ in range(3))
    _wait_state(q, a.id, {JobState.RUNNING})
    assert q.status(b.id).stage == "queued (next)"
    assert q.status(c.id).stage == "queued (2 ahead)"
    assert q.counts()["queued"] == 2


def test_cancel_queued_job_is_immediate_and_never_runs(make_queue) -> None:
    script = Script(steps=10, step_s=0.02)
    q = make_queue(script)
    first, second, third = _input(), _input(), _input()
    j1, j2, j3 = q.submit(first, "cpu"), q.submit(second, "cpu"), q.submit(third, "cpu")
    st = q.cancel(j2.id)
    assert st.state is JobState.CANCELLED and st.error.code is ErrorCode.CANCELLED
    _wait_state(q, j3.id, {JobState.DONE})
    assert id(second) not in script.order
    assert q.status(j1.id).state is JobState.DONE


def test_cancel_running_job_frees_worker_within_a_second(make_queue) -> None:
    script = Script(steps=1000, step_s=0.01)  # ~10 s if never cancelled
    q = make_queue(script)
    j1, j2 = q.submit(_input(), "cpu"), q.submit(_input(), "cpu")
    _wait_state(q, j1.id, {JobState.RUNNING})
    time.sleep(0.05)
    t0 = time.monotonic()
    q.cancel(j1.id)
    _wait_state(q, j1.id, {JobState.CANCELLED})
    _wait_state(q, j2.id, {JobState.RUNNING, JobState.DONE})
    assert time.monotonic() - t0 < 1.0
    assert q.status(j1.id).error.code is ErrorCode.CANCELLED


def test_progress_callback_stops_an_engine_that_ignores_its_token(make_queue) -> None:
    def stubborn(job_input, progress, cancel):
        for i in range(1000):
            time.sleep(0.01)
            progress(Progress(fraction=i / 1000, stage="busy"))  # never looks at `cancel`
        return b"x", {}

    q = make_queue(stubborn)
    j = q.submit(_input(), "cpu")
    _wait_state(q, j.id, {JobState.RUNNING})
    t0 = time.monotonic()
    q.cancel(j.id)
    _wait_state(q, j.id, {JobState.CANCELLED})
    assert time.monotonic() - t0 < 1.0


def test_engine_errors_fail_the_job_and_the_worker_survives(make_queue) -> None:
    calls = {"n": 0}

    def flaky(job_input, progress, cancel):
        calls["n"] += 1
        if calls["n"] == 1:
            raise BadModel("model file is damaged")
        if calls["n"] == 2:
            raise ZeroDivisionError("bug")
        return b"ok", {}

    q = make_queue(flaky)
    j1, j2, j3 = (q.submit(_input(), "cpu") for _ in range(3))
    s1 = _wait_state(q, j1.id, {JobState.FAILED})
    s2 = _wait_state(q, j2.id, {JobState.FAILED})
    s3 = _wait_state(q, j3.id, {JobState.DONE})
    assert (s1.error.code, s1.error.message) == (ErrorCode.BAD_MODEL, "model file is damaged")
    assert s2.error.code is ErrorCode.INTERNAL and "ZeroDivisionError" in s2.error.message
    assert s3.error is None


def test_queue_limit_counts_waiting_jobs_only(make_queue) -> None:
    q = make_queue(Script(steps=50, step_s=0.02), max_queued=2)
    running = q.submit(_input(), "cpu")
    _wait_state(q, running.id, {JobState.RUNNING})
    q.submit(_input(), "cpu")
    q.submit(_input(), "cpu")
    assert q.full()
    with pytest.raises(QueueFull) as info:
        q.submit(_input(), "cpu")
    assert info.value.code is ErrorCode.QUEUE_FULL
    # Another device has its own idle worker: not blocked by the CPU queue.
    other = q.submit(_input(), "cuda")
    assert q.status(other.id).state in (JobState.QUEUED, JobState.RUNNING, JobState.DONE)


def test_finished_results_expire_after_ttl(make_queue) -> None:
    q = make_queue(Script(steps=1, step_s=0.0), result_ttl_s=0.3)
    j = q.submit(_input(), "cpu")
    _wait_state(q, j.id, {JobState.DONE})
    time.sleep(1.2)  # ttl + a janitor round or two
    with pytest.raises(JobNotFound):
        q.status(j.id)
    assert q.counters["expired"] == 1


def test_abandoned_job_is_cancelled_unless_keep_alive(make_queue) -> None:
    q = make_queue(Script(steps=400, step_s=0.01), abandon_after_s=0.4)
    kept = q.submit(_input(keep_alive=True), "cpu")
    dropped = q.submit(_input(), "cpu")  # queued behind `kept`; nobody polls it
    time.sleep(1.3)
    st = q.status(dropped.id)
    assert st.state is JobState.CANCELLED and "stopped asking" in st.error.message
    assert q.status(kept.id).state is JobState.RUNNING


def test_polling_keeps_a_job_alive(make_queue) -> None:
    q = make_queue(Script(steps=100, step_s=0.01), abandon_after_s=0.4)
    j = q.submit(_input(), "cpu")
    st = None
    for _ in range(300):
        st = q.status(j.id)  # a poll, as the client does
        if st.state.finished:
            break
        time.sleep(0.1)
    assert st is not None and st.state is JobState.DONE


def test_unknown_job_and_close_cancels_everything(make_queue) -> None:
    q = make_queue(Script(steps=1000, step_s=0.01))
    with pytest.raises(JobNotFound):
        q.status("nope")
    a, b = q.submit(_input(), "cpu"), q.submit(_input(), "cpu")
    _wait_state(q, a.id, {JobState.RUNNING})
    t0 = time.monotonic()
    q.close()
    assert time.monotonic() - t0 < 2.0
    assert q.status(a.id).state is JobState.CANCELLED
    assert q.status(b.id).state is JobState.CANCELLED


def test_collected_result_is_dropped_sooner(make_queue) -> None:
    q = make_queue(Script(steps=1, step_s=0.0), result_ttl_s=60, fetched_ttl_s=0.3)
    fetched, left = q.submit(_input(), "cpu"), q.submit(_input(), "cpu")
    _wait_state(q, left.id, {JobState.DONE})
    assert q.fetch_result(fetched.id) == b"result"
    time.sleep(1.2)
    with pytest.raises(JobNotFound):
        q.status(fetched.id)
    assert q.status(left.id).state is JobState.DONE  # not collected: kept for the full TTL


def test_cancel_during_one_long_iteration_detaches_and_frees_the_worker(make_queue) -> None:
    """One engine step of 3 s (a big Gatys iteration on a busy CPU): the job still reads
    cancelled within a second and the next job runs; the late thread changes nothing."""
    release = threading.Event()
    finished_late = threading.Event()

    def slow_step(job_input, progress, cancel):
        if job_input.request.keep_alive:  # marks the slow job in this test
            release.wait(3.0)  # one long, uninterruptible step
            finished_late.set()
            cancel.raise_if_cancelled()
            return b"late", {}
        return b"quick", {}

    q = make_queue(slow_step)
    slow = q.submit(_input(keep_alive=True), "cpu")
    quick = q.submit(_input(), "cpu")
    _wait_state(q, slow.id, {JobState.RUNNING})
    t0 = time.monotonic()
    q.cancel(slow.id)
    assert q.status(slow.id).state is JobState.RUNNING  # still inside its step
    _wait_state(q, slow.id, {JobState.CANCELLED})
    _wait_state(q, quick.id, {JobState.DONE})
    assert time.monotonic() - t0 < 1.0
    assert not finished_late.is_set() and q.counters["detached"] == 1
    release.set()
    assert finished_late.wait(5)
    time.sleep(0.1)
    st = q.status(slow.id)
    assert st.state is JobState.CANCELLED and q.get(slow.id).result is None
    again = q.submit(_input(), "cpu")  # the replacement worker keeps serving
    assert _wait_state(q, again.id, {JobState.DONE}).state is JobState.DONE
