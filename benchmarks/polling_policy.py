"""Replay job durations through the polling policy and compare it with fixed and backoff polling.

For each simulated job (queue time at 0 %, then a render with progress rising along a chosen curve), every
strategy polls the job from its creation until it sees it finished. Printed per strategy: the mean and p95
delay between completion and detection, and the mean number of status calls per job.

    .venv/bin/python -m benchmarks.polling_policy [--jobs 2000] [--seed 7]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
from collections.abc import Callable
from dataclasses import dataclass

from soraflow.polling import PUSH_FALLBACK_SECONDS, SAMPLE_WINDOW, ProgressSample, next_poll_delay


@dataclass(frozen=True)
class Job:
    queued: float  # seconds at 0 % before rendering starts
    render: float  # seconds of rendering
    shape: float  # progress curve exponent: 1 linear, <1 front-loaded, >1 back-loaded
    jitter_seed: int

    @property
    def done_at(self) -> float:
        return self.queued + self.render

    def progress_at(self, t: float) -> int:
        if t >= self.done_at:
            return 100
        if t <= self.queued:
            return 0
        fraction = ((t - self.queued) / self.render) ** self.shape
        noise = random.Random(self.jitter_seed * 1_000_003 + int(t * 10)).uniform(-2, 2)
        return int(min(99, max(1, fraction * 100 + noise)))


Strategy = Callable[[list[ProgressSample], float, int], float]


def fixed(seconds: float) -> Strategy:
    return lambda samples, now, attempt: seconds


def linear_backoff(start: float, step: float, cap: float) -> Strategy:
    return lambda samples, now, attempt: min(start + step * attempt, cap)


def halving(samples: list[ProgressSample], now: float, attempt: int) -> float:
    """The policy soraflow used before issue 12, kept as a baseline: a least-squares line through the moving samples,
    half the time left each look, geometric 3 s x 1.5 up to 10 s while blind, 1-30 s."""
    moving = [s for s in samples if 0 < s.progress < 100]
    completion = None
    if len(moving) >= 2:
        mean_t = statistics.fmean(s.at for s in moving)
        mean_p = statistics.fmean(s.progress for s in moving)
        var_t = sum((s.at - mean_t) ** 2 for s in moving)
        rate = sum((s.at - mean_t) * (s.progress - mean_p) for s in moving) / var_t if var_t > 0 else 0.0
        completion = mean_t + (100 - mean_p) / rate if rate > 1e-9 else None
    if completion is None:
        blind = sum(1 for s in samples if s.progress <= 0)
        for previous, current in zip(reversed(samples[:-1]), reversed(samples[1:]), strict=False):
            if current.progress != previous.progress or not 0 < current.progress < 100:
                break
            blind += 1
        delay = min(3.0 * 1.5 ** max(blind - 1, 0), 10.0)
    else:
        remaining = completion - now
        delay = remaining * 0.5 if remaining > 2 else max(remaining, 1.0) if remaining > 0 else 1 - remaining * 0.25
    return min(max(delay, 1.0), 30.0)


def soraflow_policy(poll_after: float | None) -> Strategy:
    return lambda samples, now, attempt: next_poll_delay(samples, now, poll_after=poll_after)


def replay(job: Job, strategy: Strategy) -> tuple[float, int]:
    """Poll one job with `strategy`; return (detection delay, status calls)."""
    now, calls, samples = 0.0, 0, []
    while True:
        now += strategy(samples, now, calls)
        calls += 1
        progress = job.progress_at(now)
        if progress >= 100:
            return now - job.done_at, calls
        samples = [*samples, ProgressSample(now, progress)][-SAMPLE_WINDOW:]


# With push completion the orchestrator polls no sooner than PUSH_FALLBACK_SECONDS and the webhook wakes it; in this
# model a webhook arrives this long after the job ends (fal documents a 15 s delivery timeout, not a latency; the
# end-to-end figure on the fal emulator is `benchmarks.push_completion`).
WEBHOOK_LATENCY_SECONDS = (0.2, 2.0)


def replay_push(job: Job, *, webhook_lost: bool = False) -> tuple[float, int]:
    """The soraflow policy with push: fallback polls PUSH_FALLBACK_SECONDS apart, one call when the webhook lands."""
    latency = random.Random(job.jitter_seed).uniform(*WEBHOOK_LATENCY_SECONDS)
    webhook_at = math.inf if webhook_lost else job.done_at + latency
    now, calls, samples = 0.0, 0, []
    while True:
        wake = now + max(next_poll_delay(samples, now), PUSH_FALLBACK_SECONDS)
        if webhook_at <= wake:
            return webhook_at - job.done_at, calls + 1  # the push wakes the run; one call confirms and reads it
        now, calls = wake, calls + 1
        progress = job.progress_at(now)
        if progress >= 100:
            return now - job.done_at, calls
        samples = [*samples, ProgressSample(now, progress)][-SAMPLE_WINDOW:]


def make_jobs(count: int, seed: int) -> list[Job]:
    """Durations from the seeds: renders 'typically take 1 to 5 minutes', plus a queue wait."""
    rng = random.Random(seed)
    return [
        Job(
            queued=rng.choice([0.0, rng.uniform(0, 60)]),
            render=rng.uniform(60, 300),
            shape=rng.choice([0.7, 1.0, 1.0, 1.4]),
            jitter_seed=rng.randrange(1 << 30),
        )
        for _ in range(count)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    jobs = make_jobs(args.jobs, args.seed)
    strategies: dict[str, Strategy] = {
        "fixed 20 s": fixed(20),
        "fixed 10 s": fixed(10),
        "fixed 1 s": fixed(1),
        "backoff 3 s + 1 s/attempt, cap 15 s": linear_backoff(3, 1, 15),
        "halving (soraflow before issue 12)": halving,
        "soraflow policy": soraflow_policy(None),
        "soraflow policy, provider hint 1 s": soraflow_policy(1.0),
    }
    print(f"{len(jobs)} jobs: queue 0-60 s, render 60-300 s, linear/front/back-loaded progress, seed {args.seed}")
    print("target (issue 12): soraflow policy <= 2.0 s mean delay at <= 8 calls/job; with push <= 0.5 s, <= 2 calls")
    print(f"{'strategy':<40} {'mean delay s':>12} {'p95 delay s':>12} {'calls/job':>10}")
    runs: dict[str, Callable[[Job], tuple[float, int]]] = {
        name: (lambda job, strategy=strategy: replay(job, strategy)) for name, strategy in strategies.items()
    }
    runs["push model (webhook 0.2-2 s after end)"] = replay_push
    runs["push model, webhook lost"] = lambda job: replay_push(job, webhook_lost=True)
    for name, play in runs.items():
        results = [play(job) for job in jobs]
        delays = sorted(r[0] for r in results)
        p95 = delays[min(len(delays) - 1, math.ceil(0.95 * len(delays)) - 1)]
        calls = statistics.fmean(r[1] for r in results)
        print(f"{name:<40} {statistics.fmean(delays):>12.2f} {p95:>12.2f} {calls:>10.2f}")


if __name__ == "__main__":
    main()
