"""One job status vocabulary for both Sora APIs, and the mapping from each API's own statuses into it."""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    """Where a provider job is in its life, the same words whichever API ran it."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.EXPIRED})

# Sora 2 videos API: queued, in_progress, completed, failed (documented); `expired` is reported from the field
# on resumed old jobs, and gateways in front of other backends use a few more words.
VIDEOS_STATUSES: dict[str, JobStatus] = {
    "queued": JobStatus.QUEUED,
    "in_progress": JobStatus.RUNNING,
    "completed": JobStatus.SUCCEEDED,
    "failed": JobStatus.FAILED,
    "expired": JobStatus.EXPIRED,
    "cancelled": JobStatus.CANCELLED,
}

# Sora 1 jobs API: queued → preprocessing → running → processing → succeeded | failed | cancelled.
JOBS_STATUSES: dict[str, JobStatus] = {
    "queued": JobStatus.QUEUED,
    "preprocessing": JobStatus.RUNNING,
    "running": JobStatus.RUNNING,
    "processing": JobStatus.RUNNING,
    "succeeded": JobStatus.SUCCEEDED,
    "failed": JobStatus.FAILED,
    "cancelled": JobStatus.CANCELLED,
    "expired": JobStatus.EXPIRED,
}

# Words other async-generation APIs and gateways use, understood by both mappings (Replicate, fal, Runway, Veo).
_SYNONYMS: dict[str, JobStatus] = {
    "pending": JobStatus.QUEUED,
    "waiting": JobStatus.QUEUED,
    "in_queue": JobStatus.QUEUED,
    "throttled": JobStatus.QUEUED,
    "starting": JobStatus.QUEUED,
    "notstarted": JobStatus.QUEUED,
    "not_started": JobStatus.QUEUED,
    "submitted": JobStatus.QUEUED,
    "in_progress": JobStatus.RUNNING,
    "inprogress": JobStatus.RUNNING,
    "generating": JobStatus.RUNNING,
    "rendering": JobStatus.RUNNING,
    "completed": JobStatus.SUCCEEDED,
    "complete": JobStatus.SUCCEEDED,
    "succeeded": JobStatus.SUCCEEDED,
    "success": JobStatus.SUCCEEDED,
    "successful": JobStatus.SUCCEEDED,
    "done": JobStatus.SUCCEEDED,
    "failure": JobStatus.FAILED,
    "error": JobStatus.FAILED,
    "errored": JobStatus.FAILED,
    "canceled": JobStatus.CANCELLED,
    "cancelled": JobStatus.CANCELLED,
    "aborted": JobStatus.CANCELLED,
}

_TABLES = {"videos": VIDEOS_STATUSES, "jobs": JOBS_STATUSES}


def map_status(api: str, provider_status: str) -> JobStatus:
    """The normalised status for a provider's raw status; an unknown word means the job is still running."""
    word = provider_status.strip().lower().replace("-", "_").replace(" ", "_")
    table = _TABLES.get(api, {})
    # An unknown status must never end a run early or crash it: treat it as work in progress and keep the raw
    # word alongside (ProviderJob.provider_status), so a poll deadline still ends a job that never finishes.
    return table.get(word) or _SYNONYMS.get(word) or JobStatus.RUNNING
