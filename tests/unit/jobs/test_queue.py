"""The queue core on SQLite and PostgreSQL: order, exclusive claims, fencing, rescue, cancellation."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from headrace.jobs import (
    Executor,
    InvalidTransition,
    JobNotFound,
    JobNotOwned,
    JobNotRunning,
    Waiters,
)
from tests.unit.jobs.conftest import spec


def test_claims_follow_priority_then_age(queue, clock):
    submitted = {}
    for name, priority in [
        ("old-best", "best_effort"),
        ("old-back", "background"),
        ("fore-1", "foreground"),
        ("new-back", "background"),
        ("fore-2", "foreground"),
    ]:
        submitted[queue.submit(spec(type=name, priority=priority)).id] = name
        clock.advance(1)

    order = [submitted[queue.claim(Executor("e1")).id] for _ in range(5)]

    assert order == ["fore-1", "fore-2", "old-back", "new-back", "old-best"]
    assert queue.claim(Executor("e1")) is None


def test_a_bulk_submission_is_claimed_in_its_order(queue):
    jobs = queue.submit_many([spec(type=f"t{i}") for i in range(5)])

    assert [queue.claim(Executor("e")).id for _ in jobs] == [job.id for job in jobs]


def test_an_executor_claims_only_the_types_it_names(queue):
    queue.submit(spec(type="video", priority="foreground"))
    audio = queue.submit(spec(type="audio"))

    assert queue.claim(Executor("e", types=["audio", "text"])).id == audio.id
    assert queue.claim(Executor("e", types=["text"])) is None


def test_a_claim_starts_an_attempt_and_records_the_executor(queue):
    job = queue.submit(spec())

    claimed = queue.claim(Executor("worker-1", ip="192.168.1.100", hostname="host-a"))

    assert claimed.id == job.id and claimed.status == "running" and claimed.executor_id == "worker-1"
    [attempt] = claimed.attempts
    assert (attempt.number, attempt.executor_ip, attempt.status) == (1, "192.168.1.100", "running")
    [executor] = queue.executors()
    assert (executor.id, executor.hostname, executor.current_job_id, executor.current_job_type) == (
        "worker-1",
        "host-a",
        job.id,
        "data-processing",
    )


def test_eight_concurrent_executors_never_get_the_same_job(queue):
    jobs = {queue.submit(spec(type=f"t{i}")).id for i in range(40)}
    start = threading.Barrier(8)

    def drain(n: int) -> list[str]:
        start.wait()
        got = []
        while (job := queue.claim(Executor(f"e{n}"))) is not None:
            got.append(job.id)
        return got

    with ThreadPoolExecutor(8) as pool:
        handed_out = [job_id for batch in pool.map(drain, range(8)) for job_id in batch]

    assert sorted(handed_out) == sorted(jobs)  # every job once, none twice
    assert queue.stats().jobs_by_status["running"] == 40


def test_only_the_owner_may_heartbeat_complete_or_fail(queue):
    job = queue.submit(spec())
    queue.claim(Executor("owner"))

    for refused in (
        lambda: queue.heartbeat(job.id, "intruder"),
        lambda: queue.complete(job.id, "intruder", stdout="x", exit_code=0),
        lambda: queue.fail(job.id, "intruder", error_message="no"),
        lambda: queue.heartbeat(job.id, "owner", attempt=2),  # a stale attempt number
    ):
        with pytest.raises(JobNotOwned):
            refused()

    after = queue.get(job.id)
    assert after.status == "running" and after.stdout is None
    done = queue.complete(job.id, "owner", stdout="ok", stderr="", exit_code=0)
    assert (done.status, done.stdout, done.exit_code) == ("completed", "ok", 0)
    assert done.attempts[0].status == "completed" and done.attempts[0].ended_at is not None


def test_finished_or_pending_jobs_refuse_executor_calls(queue):
    pending = queue.submit(spec())
    with pytest.raises(JobNotRunning):
        queue.heartbeat(pending.id, "e")
    with pytest.raises(InvalidTransition):
        queue.complete(pending.id, "e", exit_code=0)
    queue.claim(Executor("e"))
    queue.fail(pending.id, "e", stderr="boom", exit_code=1, error_message="Binary execution failed")

    with pytest.raises(InvalidTransition):
        queue.complete(pending.id, "e", exit_code=0)  # a second report of the same attempt
    with pytest.raises(JobNotFound):
        queue.heartbeat("550e8400-e29b-41d4-a716-446655440000", "e")
    failed = queue.get(pending.id)
    assert (failed.status, failed.error_message, failed.stderr) == (
        "failed",
        "Binary execution failed",
        "boom",
    )
    [executor] = queue.executors()
    assert (executor.jobs_failed, executor.current_job_id) == (1, None)


def test_two_racing_completions_have_one_winner(queue):
    job = queue.submit(spec())
    queue.claim(Executor("e"))
    start = threading.Barrier(2)

    def report(outcome: str):
        start.wait()
        try:
            return getattr(queue, outcome)(job.id, "e", exit_code=0 if outcome == "complete" else 1)
        except InvalidTransition:
            return None

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(report, ["complete", "fail"]))

    assert len([r for r in results if r is not None]) == 1
    assert queue.get(job.id).status in ("completed", "failed")


def test_a_lost_job_is_requeued_then_failed_after_max_attempts(queue, clock):
    job = queue.submit(spec())
    for attempt in (1, 2, 3):
        assert queue.claim(Executor(f"e{attempt}")).id == job.id
        clock.advance(30)
        assert queue.rescue() == 0  # within the timeout
        queue.heartbeat(job.id, f"e{attempt}")
        clock.advance(61)
        assert queue.rescue() == 1
        status = queue.get(job.id).status
        assert status == ("pending" if attempt < 3 else "failed")

    lost = queue.get(job.id)
    assert [a.status for a in lost.attempts] == ["lost", "lost", "lost"]
    assert "3 attempt(s)" in lost.error_message and "job_max_attempts" in lost.error_message
    with pytest.raises(JobNotRunning):  # the lost executor comes back: fenced off
        queue.heartbeat(job.id, "e3")
    assert {e.id: e.jobs_lost for e in queue.executors(active_only=False)} == {"e1": 1, "e2": 1, "e3": 1}


def test_a_rescued_job_cannot_be_completed_by_its_old_executor(queue, clock):
    job = queue.submit(spec())
    queue.claim(Executor("slow"))
    clock.advance(61)
    queue.rescue()
    queue.claim(Executor("fresh"))

    with pytest.raises(JobNotOwned):
        queue.complete(job.id, "slow", stdout="late", exit_code=0)
    assert queue.complete(job.id, "fresh", exit_code=0).status == "completed"


def test_cancel_pending_and_refuse_others(queue, clock):
    running = queue.submit(spec())
    clock.advance(1)
    pending = queue.submit(spec())
    queue.claim(Executor("e"))  # the older one

    with pytest.raises(InvalidTransition):
        queue.cancel(running.id)
    assert queue.cancel(pending.id).status == "cancelled"
    with pytest.raises(InvalidTransition):
        queue.cancel(pending.id)
    with pytest.raises(JobNotFound):
        queue.cancel("not-a-uuid")
    assert queue.get(running.id).status == "running"


def test_force_cancel_reaches_the_executor_through_its_heartbeat(queue, clock):
    job = queue.submit(spec())
    queue.claim(Executor("e"))
    assert queue.heartbeat(job.id, "e").cancel_requested is False

    assert queue.cancel(job.id, force=True).cancel_requested
    assert queue.heartbeat(job.id, "e").cancel_requested is True
    ended = queue.fail(job.id, "e", stdout="partial", exit_code=-15, error_message="killed")

    assert ended.status == "cancelled" and ended.stdout == "partial"
    assert ended.attempts[0].status == "cancelled"


def test_a_force_cancelled_job_whose_executor_vanished_ends_cancelled(queue, clock):
    job = queue.submit(spec())
    queue.claim(Executor("e"))
    queue.cancel(job.id, force=True)
    clock.advance(61)

    assert queue.rescue() == 1
    assert queue.get(job.id).status == "cancelled"


def test_bulk_cancel_reports_each_refusal(queue, clock):
    running = queue.submit(spec())
    clock.advance(1)
    pending = queue.submit(spec())
    queue.claim(Executor("e"))
    unknown = "550e8400-e29b-41d4-a716-446655440000"

    result = queue.cancel_many([pending.id, running.id, unknown])

    assert (result.cancelled, result.failed) == (1, 2)
    assert [e["job_id"] for e in result.errors] == [running.id, unknown]
    assert queue.get(pending.id).status == "cancelled"


def test_stats_count_jobs_and_active_executors(queue, clock):
    queue.submit_many([spec(priority="foreground"), spec(priority="best_effort"), spec()])
    queue.claim(Executor("e1"))

    stats = queue.stats()

    assert stats.jobs_by_status == {"pending": 2, "running": 1, "completed": 0, "failed": 0, "cancelled": 0}
    assert stats.pending_by_priority == {"foreground": 0, "background": 1, "best_effort": 1}
    assert stats.active_executors == 1
    clock.advance(61)
    assert queue.stats().active_executors == 0


def test_a_long_poll_returns_the_job_submitted_while_waiting(queue):
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        if len(slept) == 3:
            queue.submit(spec())

    job = queue.claim_waiting(Executor("e"), wait=10, sleep=sleep)

    assert job is not None and slept == [0.2, 0.4, 0.8]


def test_long_polls_beyond_the_cap_answer_at_once(queue):
    waiters = Waiters(0)

    assert queue.claim_waiting(Executor("e"), wait=10, waiters=waiters, sleep=pytest.fail) is None


def test_reported_output_is_cut_to_one_megabyte(queue):
    from headrace.jobs import MAX_OUTPUT_BYTES

    job = queue.submit(spec())
    queue.claim(Executor("e"))

    done = queue.complete(job.id, "e", stdout="o" * (3 * MAX_OUTPUT_BYTES), stderr="short", exit_code=0)

    assert len(done.stdout.encode()) <= MAX_OUTPUT_BYTES and done.stdout.startswith("ooo")
    assert "output truncated" in done.stdout and done.stderr == "short"


def test_metrics_count_from_the_database(queue, clock):
    from prometheus_client.parser import text_string_to_metric_families

    from headrace.jobs.metrics import exposition

    done, failed, lost = (job.id for job in queue.submit_many([spec()] * 3))
    for job_id, executor in ((done, "a"), (failed, "b"), (lost, "c")):
        assert queue.claim(Executor(executor)).id == job_id
        clock.advance(1)
    clock.advance(3)
    queue.complete(done, "a", exit_code=0)  # ran 6 s
    queue.fail(failed, "b", exit_code=1)  # ran 5 s
    clock.advance(61)
    queue.rescue()

    body, content_type = exposition(queue.engine, heartbeat_timeout=60, now=clock(), openmetrics=False)

    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }
    assert content_type.startswith("text/plain")
    assert samples[("headrace_job_claims_total", ())] == 3
    assert samples[("headrace_job_completions_total", ())] == 1
    assert samples[("headrace_job_failures_total", ())] == 1
    assert samples[("headrace_job_rescues_total", ())] == 1
    assert samples[("headrace_jobs", (("priority", "background"), ("status", "pending")))] == 1
    assert samples[("headrace_job_duration_seconds_bucket", (("le", "5.0"),))] == 1
    assert samples[("headrace_job_duration_seconds_bucket", (("le", "10.0"),))] == 2
    assert samples[("headrace_job_duration_seconds_sum", ())] == 11
    assert samples[("headrace_executors_active", ())] == 0  # all seen more than 60 s ago


def test_output_with_nul_bytes_is_kept_on_every_database(queue):
    """PostgreSQL text cannot hold NUL: a binary that prints one must still complete, the rest kept."""
    job = queue.submit(spec())
    queue.claim(Executor("e"))

    done = queue.complete(job.id, "e", stdout="before\x00after", stderr="\x00", exit_code=0)

    assert done.status == "completed"
    assert done.stdout == "before\ufffdafter" and done.stderr == "\ufffd"
