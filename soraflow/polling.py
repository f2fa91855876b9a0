"""When to look at a provider job next: a pure policy over progress samples, the provider's hint and bounds.

The aim is to notice a finished render soon after it finishes without hammering the provider. The policy
fits a line through the recent (time, progress) samples to estimate when the job reaches 100 %, then waits
about half of the remaining time, so each look halves the uncertainty; close to the estimate it waits the
floor; past the estimate it backs off gently. Without a usable rate (queued, or progress not moving) it
backs off geometrically up to a blind ceiling.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# How many recent samples the estimate uses (and the orchestration keeps: history stays small).
SAMPLE_WINDOW = 6


@dataclass(frozen=True)
class PollingBounds:
    """Limits of the policy, in seconds."""

    floor: float = 1.0
    ceiling: float = 30.0
    initial: float = 3.0
    blind_ceiling: float = 10.0
    blind_growth: float = 1.5
    approach_fraction: float = 0.5
    overdue_growth: float = 0.25


DEFAULT_BOUNDS = PollingBounds()


@dataclass(frozen=True)
class ProgressSample:
    """A status reading: `at` (seconds on any fixed clock) and `progress` (0-100)."""

    at: float
    progress: float

    def to_list(self) -> list[float]:
        return [self.at, self.progress]

    @classmethod
    def from_list(cls, pair: Sequence[float]) -> ProgressSample:
        return cls(float(pair[0]), float(pair[1]))


def estimate_completion(samples: Sequence[ProgressSample]) -> float | None:
    """The time at which progress should reach 100, by least squares over the moving samples; None if unknown."""
    moving = [s for s in samples[-SAMPLE_WINDOW:] if 0 < s.progress < 100]
    if len(moving) < 2:
        return None
    n = len(moving)
    mean_t = sum(s.at for s in moving) / n
    mean_p = sum(s.progress for s in moving) / n
    var_t = sum((s.at - mean_t) ** 2 for s in moving)
    if var_t <= 0:
        return None
    rate = sum((s.at - mean_t) * (s.progress - mean_p) for s in moving) / var_t
    if rate <= 1e-9:
        return None
    return mean_t + (100 - mean_p) / rate


def next_poll_delay(
    samples: Sequence[ProgressSample],
    now: float,
    *,
    poll_after: float | None = None,
    deadline: float | None = None,
    bounds: PollingBounds = DEFAULT_BOUNDS,
) -> float:
    """Seconds to wait before the next status call.

    `samples` are the readings so far (oldest first), `now` the current time on the same clock,
    `poll_after` the provider's hint in seconds (never polled sooner), `deadline` when the run gives up.
    """
    completion = estimate_completion(samples)
    if completion is None:
        blind_looks = sum(1 for s in samples if s.progress <= 0 or s.progress >= 100) + _stalled_looks(samples)
        delay = min(bounds.initial * bounds.blind_growth ** max(blind_looks - 1, 0), bounds.blind_ceiling)
    else:
        remaining = completion - now
        if remaining > bounds.floor * 2:
            delay = remaining * bounds.approach_fraction
        elif remaining > 0:
            delay = max(remaining, bounds.floor)
        else:
            # Past the estimate: the job is late, so each look waits a little longer than the last.
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
