"""When to look at a provider job next: a pure policy over progress samples, the provider's hint and bounds.

The aim is to notice a finished render soon after it finishes with few status calls. While the job is queued (no
progress) the policy backs off geometrically. Once progress moves it projects completion from the rate between the
latest reading and the oldest one at least `min_span` earlier, waits `approach_fraction` of the time left, and
near the estimate lands just past it (a quarter of the floor); a late job is looked at again after a wait that
grows with its lateness.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# A run whose provider pushes completion (fal's webhook wakes it) polls only to cover a lost push: this rarely.
# fal retries a delivery that was not answered 2xx, so a lost push is rare; one costs at most this long.
PUSH_FALLBACK_SECONDS = 300.0
# How many recent samples the estimate uses (and the orchestration keeps: history stays small).
SAMPLE_WINDOW = 6


@dataclass(frozen=True)
class PollingBounds:
    """Limits of the policy. `initial` and `floor` are seconds (settings POLL_INITIAL_SECONDS, POLL_FLOOR_SECONDS);
    the blind ceiling, rate span, settle window and landing margin are multiples of `floor`, so a time-scaled
    provider (the emulators) is polled like a real one when both settings are scaled with it."""

    floor: float = 1.0
    ceiling: float = 60.0
    initial: float = 3.0
    blind_growth: float = 4.0
    blind_ceiling_floors: float = 25.0
    min_span_floors: float = 15.0
    approach_fraction: float = 0.7
    first_rate_fraction: float = 0.6
    settle_floors: float = 3.0
    margin_floors: float = 0.25
    overdue_growth: float = 1.5


# Tuned on `benchmarks.polling_policy` (2,000 jobs, seed 7): 1.68 s mean detection at 7.58 calls/job; seeds 1, 2, 3
# and 11 give 1.62-1.71 s at 7.47-7.55 calls. A first look at 8 s would save 0.2 calls, but 3 s shows a new job's
# progress sooner (and POLL_INITIAL_SECONDS keeps its documented default).
DEFAULT_BOUNDS = PollingBounds()


@dataclass(frozen=True)
class ProgressSample:
    """A status reading: `at` (seconds on any fixed clock) and `progress` (0-100)."""

    at: float
    progress: float

    @classmethod
    def from_list(cls, pair: Sequence[float]) -> ProgressSample:
        return cls(float(pair[0]), float(pair[1]))


@dataclass(frozen=True)
class Estimate:
    """When the job should reach 100 %, and whether the rate came from two moving readings (else from one reading
    and the last time the job was seen queued, which is rougher)."""

    completion: float
    measured: bool


def estimate_completion(
    samples: Sequence[ProgressSample], *, since: float = 0.0, bounds: PollingBounds = DEFAULT_BOUNDS
) -> Estimate | None:
    """Project the latest reading to 100 % at the observed rate; None while nothing moves. `since` is when the job
    was created (at 0 %), on the samples' clock."""
    window = list(samples[-SAMPLE_WINDOW:])
    moving = [s for s in window if 0 < s.progress < 100]
    if not moving:
        return None
    last = moving[-1]
    earlier = [s for s in moving[:-1] if last.at - s.at >= bounds.min_span_floors * bounds.floor]
    if earlier:
        # The oldest reading in the window: a longer baseline averages out the provider's jitter in progress.
        reference, measured = earlier[0], True
    else:
        # Rendering started after the last queued reading (or the job's creation): assume at that reading, which
        # underestimates the rate and so errs towards looking early.
        queued = [s for s in window if s.at < last.at and s.progress <= 0]
        reference, measured = (queued[-1] if queued else ProgressSample(since, 0.0)), False
    span = last.at - reference.at
    rate = (last.progress - reference.progress) / span if span > 0 else 0.0
    if rate <= 1e-9:
        return None
    return Estimate(last.at + (100 - last.progress) / rate, measured)


def next_poll_delay(
    samples: Sequence[ProgressSample],
    now: float,
    *,
    since: float = 0.0,
    poll_after: float | None = None,
    deadline: float | None = None,
    bounds: PollingBounds = DEFAULT_BOUNDS,
) -> float:
    """Seconds to wait before the next status call.

    `samples` are the readings so far (oldest first), `now` the current time on the same clock, `since` when the
    job was created on that clock, `poll_after` the provider's hint in seconds (never polled sooner), `deadline`
    when the run gives up.
    """
    estimate = estimate_completion(samples, since=since, bounds=bounds)
    if estimate is None:
        blind_looks = sum(1 for s in samples[-SAMPLE_WINDOW:] if s.progress <= 0 or s.progress >= 100)
        blind_looks += _stalled_looks(samples)
        delay = min(bounds.initial * bounds.blind_growth**blind_looks, bounds.blind_ceiling_floors * bounds.floor)
    else:
        remaining = estimate.completion - now
        if remaining > bounds.settle_floors * bounds.floor:
            fraction = bounds.approach_fraction if estimate.measured else bounds.first_rate_fraction
            delay = remaining * fraction
        elif remaining > 0:
            delay = remaining + bounds.margin_floors * bounds.floor
        else:
            # Past the estimate: the job is late (its progress curve bends), so each look waits longer than the last.
            delay = bounds.floor + -remaining * bounds.overdue_growth
    delay = min(max(delay, bounds.floor), bounds.ceiling)
    if poll_after is not None and poll_after > 0:
        delay = max(delay, min(poll_after, bounds.ceiling))
    if deadline is not None:
        delay = min(delay, max(deadline - now, 0.0))
    return round(delay, 3)


def _stalled_looks(samples: Sequence[ProgressSample]) -> int:
    """How many of the latest readings repeated the one before (progress not moving)."""
    count = 0
    for previous, current in zip(reversed(samples[:-1]), reversed(samples[1:]), strict=False):
        if current.progress != previous.progress or not 0 < current.progress < 100:
            break
        count += 1
    return count
