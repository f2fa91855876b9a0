"""What a run shows while it runs and when it ends: one view, published by the orchestration as its custom status
(live) or its output (final), read back by the run resource, and described by the OpenAPI document."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from soraflow.runs import RunStatus

# Run progress 0-100 by stage: the provider's render progress is scaled into the generation (or remix) span.
PROGRESS_SPANS = {
    RunStatus.QUEUED: (0, 0),
    RunStatus.WAITING_FOR_CAPACITY: (0, 0),
    RunStatus.SUBMITTING: (0, 2),
    RunStatus.GENERATING: (2, 90),
    RunStatus.DOWNLOADING: (90, 98),
    RunStatus.REMIXING: (50, 90),
}

# Stages with a place in a line: soraflow's quota gate, or the provider's own queue (fal's queue_position).
QUEUE_STAGES = frozenset({RunStatus.WAITING_FOR_CAPACITY, RunStatus.GENERATING})

# Every key of the run resource (GET /videos/{id}), always present; null when it does not apply.
RUN_RESOURCE_FIELDS = (
    *("id", "status", "progress", "queue_position", "request", "provider", "outputs", "error", "remix_error"),
    *("delete_error", "cost", "created_at", "updated_at", "completed_at"),
)


@dataclass(frozen=True)
class RunView:
    """A run at one moment: its status, progress, provider job, stored outputs and what went wrong.

    `error` is why a run failed or was cancelled; `remix_error` why a chained remix failed although the first video
    was stored (the run still completes); `delete_error` why a provider copy meant to be deleted could not be.
    """

    status: RunStatus
    progress: int
    updated_at: str
    provider: Mapping[str, Any] | None = None
    outputs: Sequence[Mapping[str, Any]] = ()
    error: Mapping[str, Any] | None = None
    remix_error: Mapping[str, Any] | None = None
    delete_error: Mapping[str, Any] | None = None
    note: str | None = None
    queue_position: int | None = None
    completed_at: str | None = None

    @classmethod
    def of(
        cls,
        stage: RunStatus,
        *,
        at: str,
        api: str,
        job: Mapping[str, Any] | None,
        outputs: Sequence[Mapping[str, Any]],
        error: Mapping[str, Any] | None = None,
        remix_error: Mapping[str, Any] | None = None,
        delete_error: Mapping[str, Any] | None = None,
        note: str | None = None,
        queue_position: int | None = None,
    ) -> RunView:
        """The view of a run at `stage` (live or final), its provider job `job` and the outputs stored so far."""
        stage = RunStatus(stage)
        final = stage.is_final
        return cls(
            status=stage,
            progress=100 if stage == RunStatus.COMPLETED else overall_progress(stage, job),
            updated_at=at,
            provider=provider_view(api, job),
            outputs=tuple(outputs),
            error=error if stage in (RunStatus.FAILED, RunStatus.CANCELLED) else None,
            remix_error=remix_error,
            delete_error=delete_error,
            note=None if final else note,
            queue_position=queue_position if stage in QUEUE_STAGES else None,
            completed_at=at if final else None,
        )

    def to_dict(self) -> dict:
        return {
            "status": str(self.status),
            "progress": self.progress,
            "provider": dict(self.provider) if self.provider else None,
            "outputs": [dict(output) for output in self.outputs],
            "error": self.error,
            "remix_error": self.remix_error,
            "delete_error": self.delete_error,
            "note": self.note,
            "queue_position": self.queue_position,
            "updated_at": self.updated_at,
            "completed_at": self.completed_at,
        }


def overall_progress(stage: RunStatus, job: Mapping[str, Any] | None) -> int:
    """Run progress 0-100: the provider's render progress, scaled into the stage's span."""
    provider = int((job or {}).get("progress") or 0)
    low, high = PROGRESS_SPANS.get(RunStatus(stage), (0, 0))
    return int(low + (high - low) * min(max(provider, 0), 100) / 100)


def provider_view(api: str, job: Mapping[str, Any] | None) -> dict | None:
    """The provider job as a client sees it: which API, its id, the provider's own status word and progress."""
    if not job:
        return None
    return {"api": api, "job_id": job.get("id"), "status": job.get("provider_status"), "progress": job.get("progress")}
