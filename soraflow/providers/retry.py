"""When to try a safe provider call again: capped exponential backoff with jitter, honouring the provider's hints."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class RetryPolicy:
    """How many times and how long to retry a safe call (get, list, delete, content) inside one activity.

    Waits longer than `max_wait` (a provider asking for minutes) are not slept here: the error surfaces with its
    `retry_after`, so the orchestration can wait on a durable timer instead of holding a worker.
    """

    attempts: int = 4
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    max_wait: float = 20.0
    budget: float = 45.0
    jitter: Callable[[float, float], float] = field(default=random.uniform, repr=False, compare=False)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)

    def backoff(self, retry_number: int) -> float:
        """Seconds to wait before retry `retry_number` (1-based): full jitter over a capped exponential."""
        ceiling = min(self.backoff_cap, self.backoff_base * (2 ** max(0, retry_number - 1)))
        return max(0.0, self.jitter(0.0, ceiling))

    def delay(self, retry_number: int, retry_after: float | None) -> float:
        """The wait before a retry: the provider's Retry-After when given (never less), else jittered backoff."""
        if retry_after is not None:
            return max(retry_after, 0.0)
        return self.backoff(retry_number)


NO_RETRY = RetryPolicy(attempts=1)


def parse_retry_after(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """Seconds the provider asked us to wait, from `retry-after-ms` or `Retry-After` (seconds or an HTTP date)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    milliseconds = _number(lowered.get("retry-after-ms"))
    if milliseconds is not None:
        return milliseconds / 1000.0
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    seconds = _number(raw)
    if seconds is not None:
        return seconds
    try:
        when = parsedate_to_datetime(raw.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


def parse_poll_after_ms(headers: Mapping[str, str]) -> int | None:
    """The provider's polling hint (`openai-poll-after-ms`) in milliseconds, or None when absent or malformed."""
    lowered = {k.lower(): v for k, v in headers.items()}
    value = _number(lowered.get("openai-poll-after-ms"))
    return None if value is None else int(value)


def _number(raw: str | None) -> float | None:
    """A finite, non-negative number from a header value; anything else is ignored rather than trusted."""
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    if not math.isfinite(value) or value < 0:
        return None
    return value
