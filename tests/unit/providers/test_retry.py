from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from soraflow.providers.retry import RetryPolicy, parse_poll_after_ms, parse_retry_after

NOW = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"retry-after": "0"}, 0.0),
        ({"Retry-After": " 2.5 "}, 2.5),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"Retry-After-Ms": "250", "Retry-After": "9"}, 0.25),
        ({"retry-after-ms": "nonsense", "Retry-After": "3"}, 3.0),
    ],
)
def test_retry_after_seconds_and_milliseconds(headers, expected):
    assert parse_retry_after(headers, now=NOW) == expected


def test_retry_after_http_date_is_relative_to_now():
    when = format_datetime(NOW + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after({"Retry-After": when}, now=NOW) == 30.0


def test_retry_after_date_in_the_past_means_now():
    when = format_datetime(NOW - timedelta(minutes=5), usegmt=True)
    assert parse_retry_after({"Retry-After": when}, now=NOW) == 0.0


@pytest.mark.parametrize(
    "value", ["", "soon", "-5", "nan", "inf", "1e400", "Mon, 99 Foo 2026 99:99:99 GMT", "\x00", "12 seconds"]
)
def test_malformed_retry_after_is_ignored(value):
    assert parse_retry_after({"Retry-After": value}, now=NOW) is None


def test_absent_retry_after_is_none():
    assert parse_retry_after({}, now=NOW) is None


@pytest.mark.parametrize(
    ("value", "expected"), [("1000", 1000), ("2500.7", 2500), ("0", 0), ("-1", None), ("fast", None), ("", None)]
)
def test_poll_after_hint(value, expected):
    assert parse_poll_after_ms({"openai-poll-after-ms": value}) == expected
    assert parse_poll_after_ms({}) is None


def test_backoff_is_exponential_capped_and_jittered_below_the_ceiling():
    policy = RetryPolicy(backoff_base=0.5, backoff_cap=4.0, jitter=lambda low, high: high)
    assert [policy.backoff(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    lowest = RetryPolicy(backoff_base=0.5, backoff_cap=4.0, jitter=lambda low, high: low)
    assert lowest.backoff(3) == 0.0


def test_real_jitter_stays_within_bounds():
    policy = RetryPolicy(backoff_base=1.0, backoff_cap=3.0)
    delays = [policy.backoff(5) for _ in range(200)]
    assert all(0.0 <= d <= 3.0 for d in delays)
    assert len(set(delays)) > 1


def test_provider_retry_after_wins_over_backoff():
    policy = RetryPolicy(jitter=lambda low, high: high)
    assert policy.delay(1, 6.0) == 6.0
    assert policy.delay(1, None) == 0.5
