"""How long a finished provider video can still be fetched, and so how long storing it may keep being retried.

Once a provider job has succeeded its copy is the only copy of a paid video: a failure of ours (storage down, a
crashed worker) is waited out until shortly before the provider deletes it, never answered by deleting it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

# Providers that give no expiry keep outputs at least this long (Sora: 24 h after creation).
DEFAULT_RETENTION = timedelta(hours=24)
# Stop retrying this long before the expiry (or a tenth of the retention when that is shorter), so the last attempt
# is not racing the provider's delete.
EXPIRY_MARGIN = timedelta(minutes=5)
MIN_STORE_WAIT_SECONDS = 0.25


def store_deadline(job: dict, succeeded_at: datetime) -> datetime:
    """When to give up storing `job`'s outputs: shortly before its `expires_at`, else its provider's declared
    retention (`retention_seconds`) after it was made, else 24 h after."""
    succeeded_at = _utc(succeeded_at)
    expires_at = _epoch(job.get("expires_at"))
    if expires_at is None:
        created = _epoch(job.get("created_at")) or succeeded_at
        declared = job.get("retention_seconds")
        valid = isinstance(declared, int | float) and not isinstance(declared, bool) and declared > 0
        expires_at = min(created, succeeded_at) + (timedelta(seconds=declared) if valid else DEFAULT_RETENTION)
    retention = max(expires_at - succeeded_at, timedelta(0))
    return expires_at - min(EXPIRY_MARGIN, retention / 10)


def next_store_wait(attempt: int, schedule: Sequence[float]) -> float:
    """Seconds to wait before store attempt `attempt + 1` (attempt counts from 1); the last wait repeats."""
    wait = schedule[min(max(attempt, 1), len(schedule)) - 1] if schedule else 60.0
    return max(float(wait), MIN_STORE_WAIT_SECONDS)


def _epoch(value: object) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    return datetime.fromtimestamp(value, UTC)


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
