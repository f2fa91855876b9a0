import pytest

from soraflow.polling import DEFAULT_BOUNDS, PollingBounds, ProgressSample, estimate_completion, next_poll_delay


def samples(*pairs):
    return [ProgressSample(t, p) for t, p in pairs]


def test_no_samples_waits_the_initial_delay():
    assert next_poll_delay([], 0.0) == DEFAULT_BOUNDS.initial


def test_queued_job_backs_off_geometrically_up_to_the_blind_ceiling():
    delays = [next_poll_delay(samples(*[(i, 0)] * n), 0.0) for i, n in enumerate(range(1, 12))]
    assert delays == sorted(delays)
    assert delays[0] == DEFAULT_BOUNDS.initial
    assert delays[-1] == DEFAULT_BOUNDS.blind_ceiling


def test_completion_is_estimated_from_the_progress_rate():
    # 10 %/10 s from t=10: reaches 100 % at t=100.
    assert estimate_completion(samples((10, 10), (20, 20), (30, 30))) == pytest.approx(100)


def test_estimate_needs_two_moving_samples():
    assert estimate_completion(samples((10, 0), (20, 40))) is None
    assert estimate_completion(samples((10, 40), (20, 40))) is None


def test_far_from_completion_waits_half_the_remaining_time_within_the_ceiling():
    history = samples((10, 10), (20, 20))  # done at 100
    assert next_poll_delay(history, 20) == DEFAULT_BOUNDS.ceiling  # 40 s wanted, capped
    assert next_poll_delay(history, 60) == pytest.approx(20)  # 40 s left, wait half


def test_near_completion_lands_on_the_estimate():
    history = samples((10, 10), (20, 20))
    assert next_poll_delay(history, 98.5) == pytest.approx(1.5)
    assert next_poll_delay(history, 99.8) == DEFAULT_BOUNDS.floor


def test_overdue_job_backs_off_gently():
    history = samples((10, 10), (20, 20))
    late = [next_poll_delay(history, t) for t in (101, 110, 140)]
    assert late == sorted(late)
    assert late[0] > DEFAULT_BOUNDS.floor
    assert late[-1] <= DEFAULT_BOUNDS.ceiling


def test_provider_hint_is_a_lower_bound():
    history = samples((10, 10), (20, 20))
    assert next_poll_delay(history, 99.5, poll_after=5.0) == 5.0


def test_hint_never_exceeds_the_ceiling():
    assert next_poll_delay([], 0.0, poll_after=3600) == DEFAULT_BOUNDS.ceiling


def test_deadline_shortens_the_wait():
    assert next_poll_delay([], 0.0, deadline=0.5) == 0.5
    assert next_poll_delay([], 10.0, deadline=5.0) == 0.0


def test_custom_bounds_apply():
    bounds = PollingBounds(floor=2, ceiling=4, initial=3)
    assert next_poll_delay([], 0.0, bounds=bounds) == 3
    assert next_poll_delay(samples((10, 10), (20, 20)), 20, bounds=bounds) == 4


def test_samples_round_trip_through_json_lists():
    sample = ProgressSample(12.5, 40)
    assert ProgressSample.from_list(sample.to_list()) == sample


def test_policy_beats_fixed_polling_on_replayed_jobs():
    """Fewer status calls than 10 s polling and a smaller detection delay, on the benchmark's job mix."""
    from benchmarks.polling_policy import fixed, make_jobs, replay, soraflow_policy

    jobs = make_jobs(200, seed=3)
    ours = [replay(job, soraflow_policy(None)) for job in jobs]
    ten = [replay(job, fixed(10)) for job in jobs]
    assert sum(d for d, _ in ours) < sum(d for d, _ in ten) / 2
    assert sum(c for _, c in ours) < sum(c for _, c in ten)
