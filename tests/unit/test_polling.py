import dataclasses

import pytest

from soraflow.polling import DEFAULT_BOUNDS, PollingBounds, ProgressSample, estimate_completion, next_poll_delay


def samples(*pairs):
    return [ProgressSample(t, p) for t, p in pairs]


def test_no_samples_waits_the_initial_delay():
    assert next_poll_delay([], 0.0) == DEFAULT_BOUNDS.initial


def test_a_queued_job_backs_off_geometrically_up_to_the_blind_ceiling():
    delays = [next_poll_delay(samples(*[(i, 0)] * n), 0.0) for i, n in enumerate(range(0, 6))]
    assert delays == sorted(delays)
    assert delays[:3] == [3.0, 12.0, 25.0]
    assert delays[-1] == DEFAULT_BOUNDS.floor * DEFAULT_BOUNDS.blind_ceiling_floors


def test_completion_is_projected_from_the_latest_reading_at_the_rate_since_the_oldest():
    # 10 %/10 s from t=10, the latest reading at 30 %: 100 % at t=100.
    estimate = estimate_completion(samples((10, 10), (20, 20), (30, 30)))
    assert estimate.completion == pytest.approx(100) and estimate.measured


def test_readings_closer_than_the_rate_span_are_not_used_for_the_rate():
    # (25, 28) is 5 s before the latest: too close, its jitter would dominate; the rate comes from (10, 10).
    estimate = estimate_completion(samples((10, 10), (25, 28), (30, 30)))
    assert estimate.completion == pytest.approx(100)


def test_the_first_moving_reading_is_measured_from_the_last_queued_one():
    estimate = estimate_completion(samples((8, 0), (18, 10)))
    assert estimate.completion == pytest.approx(108) and not estimate.measured


def test_without_a_queued_reading_the_rate_runs_from_the_jobs_creation():
    assert estimate_completion(samples((10, 20))).completion == pytest.approx(50)


def test_no_estimate_while_nothing_moves():
    assert estimate_completion(samples((10, 0), (20, 0))) is None
    assert estimate_completion(samples((10, 40), (30, 40))) is None


def test_a_stalled_job_is_polled_like_a_queued_one():
    stalled = next_poll_delay(samples((10, 40), (30, 40), (50, 40)), 50)
    assert stalled == DEFAULT_BOUNDS.floor * DEFAULT_BOUNDS.blind_ceiling_floors


def test_far_from_completion_waits_a_fraction_of_the_time_left():
    measured = samples((10, 10), (20, 20), (30, 30))  # done at 100
    assert next_poll_delay(measured, 60) == pytest.approx(40 * DEFAULT_BOUNDS.approach_fraction)
    first = samples((8, 0), (18, 10))  # done at 108, rate rougher
    assert next_poll_delay(first, 58) == pytest.approx(50 * DEFAULT_BOUNDS.first_rate_fraction)


def test_the_wait_never_exceeds_the_ceiling():
    slow = samples((10, 1), (30, 2))  # 0.05 %/s: done in 1960 s
    assert next_poll_delay(slow, 30) == DEFAULT_BOUNDS.ceiling


def test_near_completion_lands_just_past_the_estimate():
    history = samples((10, 10), (20, 20), (30, 30))
    assert next_poll_delay(history, 98) == pytest.approx(2 + DEFAULT_BOUNDS.margin_floors)


def test_an_overdue_job_waits_longer_the_later_it_is():
    history = samples((10, 10), (20, 20), (30, 30))
    late = [next_poll_delay(history, t) for t in (101, 110, 140)]
    assert late == sorted(late) and len(set(late)) == 3
    assert late[0] > DEFAULT_BOUNDS.floor
    assert late[-1] <= DEFAULT_BOUNDS.ceiling


def test_the_providers_hint_is_a_lower_bound():
    history = samples((10, 10), (20, 20), (30, 30))
    assert next_poll_delay(history, 99.5, poll_after=5.0) == 5.0


def test_the_hint_never_exceeds_the_ceiling():
    assert next_poll_delay([], 0.0, poll_after=3600) == DEFAULT_BOUNDS.ceiling


def test_the_deadline_shortens_the_wait():
    assert next_poll_delay([], 0.0, deadline=0.5) == 0.5
    assert next_poll_delay([], 10.0, deadline=5.0) == 0.0


def test_scaling_initial_and_floor_scales_the_whole_schedule():
    """A provider ten times faster (the emulators' time scale) is polled on the same schedule, ten times faster."""
    scaled = dataclasses.replace(DEFAULT_BOUNDS, initial=DEFAULT_BOUNDS.initial / 10, floor=DEFAULT_BOUNDS.floor / 10)
    real = [(10, 0), (20, 0), (40, 25), (70, 55), (85, 70)]
    for n in range(len(real) + 1):
        history = samples(*real[:n])
        fast = samples(*[(t / 10, p) for t, p in real[:n]])
        now = real[n - 1][0] if n else 0
        assert next_poll_delay(fast, now / 10, bounds=scaled) == pytest.approx(next_poll_delay(history, now) / 10)


def test_custom_bounds_apply():
    bounds = PollingBounds(floor=2, ceiling=4, initial=3)
    assert next_poll_delay([], 0.0, bounds=bounds) == 3
    assert next_poll_delay(samples((10, 10), (40, 40)), 40, bounds=bounds) == 4


def test_the_same_readings_always_give_the_same_wait():
    """The policy runs inside the orchestration: a replay must plan exactly the wait the first execution planned."""
    history = samples((8, 0), (24, 7), (40, 19), (52, 31))
    assert len({next_poll_delay(list(history), 52.0) for _ in range(20)}) == 1


def test_samples_read_from_their_json_lists():
    assert ProgressSample.from_list([12.5, 40]) == ProgressSample(12.5, 40.0)


def test_the_policy_beats_fixed_polling_on_replayed_jobs():
    """Fewer status calls than 20 s polling at under half the detection delay of 10 s polling, on the benchmark's
    job mix (a different seed from the one it was tuned on)."""
    from benchmarks.polling_policy import fixed, make_jobs, replay, soraflow_policy

    jobs = make_jobs(200, seed=3)
    ours = [replay(job, soraflow_policy(None)) for job in jobs]
    ten = [replay(job, fixed(10)) for job in jobs]
    twenty = [replay(job, fixed(20)) for job in jobs]
    assert sum(d for d, _ in ours) < sum(d for d, _ in ten) / 2
    assert sum(c for _, c in ours) < sum(c for _, c in twenty)


def test_a_job_created_after_the_clock_began_is_measured_from_its_creation():
    """A run that waited 60 s in line for capacity: its job's first reading says 20 % ten seconds after creation."""
    assert estimate_completion(samples((70, 20)), since=60).completion == pytest.approx(110)
    assert next_poll_delay(samples((70, 20)), 70, since=60) < next_poll_delay(samples((70, 20)), 70)
