"""The emulator's jobs: both APIs' resources, their lifecycles computed lazily from the clock, and the shared limit.

Render time for a job is `(20 s + 5 s per requested second) x time_scale`. Along that time:

- videos API: `queued` for the first 10 %, then `in_progress` with `progress` rising 0 -> 99, then
  `completed` (progress 100); `expires_at = created_at + 24 h x time_scale`, after which the video
  reports `status: "expired"` and its content answers 410 `video_expired`.
- jobs API: `queued` (first 10 %), `preprocessing` (to 25 %), `running` (to 85 %), `processing`,
  then `succeeded`; `expires_at = finished_at + 24 h x time_scale`, after which the job is deleted
  (404 `job_expired`) and its generations' content answers 410 `generation_expired`.

A failing render stops at its failure point (input moderation at 20 %, output moderation and
internal errors at 90 %); a stalled render never gets past 50 %.
"""

from __future__ import annotations

import itertools
import math
import secrets
from dataclasses import dataclass, field

from emulators.sora.errors import ApiError
from emulators.sora.media import MediaSource

BASE_RENDER_SECONDS = 20.0
RENDER_SECONDS_PER_SECOND = 5.0
RETENTION_SECONDS = 24 * 3600.0
STALL_FRACTION = 0.5
INPUT_FAILURE_AT = 0.2
OUTPUT_FAILURE_AT = 0.9

VIDEO_QUEUED_UNTIL = 0.1
JOB_PHASES = ((0.10, "queued"), (0.25, "preprocessing"), (0.85, "running"), (1.0, "processing"))
JOB_STATUSES = ("queued", "preprocessing", "running", "processing", "succeeded", "failed", "cancelled")

_ULID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def render_seconds(requested_seconds: int, time_scale: float) -> float:
    """How long (emulator time) a render of this duration takes."""
    return (BASE_RENDER_SECONDS + RENDER_SECONDS_PER_SECOND * requested_seconds) * time_scale


def retention_seconds(time_scale: float) -> float:
    """How long (emulator time) finished assets stay downloadable: 24 h, scaled."""
    return RETENTION_SECONDS * time_scale


def new_video_id() -> str:
    """A videos-API id, shaped like `video_68fa7f59f2588190a48ea2b0aa73d844`."""
    return "video_" + secrets.token_hex(16)


def _ulid_like() -> str:
    return "01" + "".join(secrets.choice(_ULID_ALPHABET) for _ in range(24))


def new_job_id() -> str:
    """A jobs-API job id, shaped like `task_01jy98zkvpfb7909522ysd150a`."""
    return "task_" + _ulid_like()


def new_generation_id() -> str:
    """A jobs-API generation id, shaped like `gen_01jy990gaxeayb74aq4hnbn2cp`."""
    return "gen_" + _ulid_like()


@dataclass(frozen=True)
class Failure:
    """How and when (fraction of the render) a job fails."""

    at: float
    code: str
    message: str


@dataclass
class Timeline:
    """A render's progress over emulator time."""

    start: float
    duration: float
    failure: Failure | None = None
    stalled: bool = False

    def fraction(self, now: float) -> float:
        """How far along the render is (0-1), held at the failure or stall point."""
        x = (now - self.start) / self.duration if self.duration > 0 else 1.0
        if self.stalled:
            x = min(x, STALL_FRACTION)
        if self.failure is not None:
            x = min(x, self.failure.at)
        return max(0.0, min(x, 1.0))

    def ended_at(self) -> float | None:
        """When the render reaches its terminal state (None: never, it is stalled)."""
        if self.stalled:
            return None
        if self.failure is not None:
            return self.start + self.duration * self.failure.at
        return self.start + self.duration

    def is_over(self, now: float) -> bool:
        """Whether the render is terminal (completed or failed) at `now`."""
        ended = self.ended_at()
        return ended is not None and now >= ended


@dataclass
class Video:
    """A videos-API (Sora 2) job."""

    id: str
    model: str
    prompt: str
    size: str
    seconds: str
    timeline: Timeline
    retention: float
    source: MediaSource
    remixed_from_video_id: str | None = None
    seq: int = 0

    @property
    def created_at(self) -> int:
        """Creation time, whole epoch seconds."""
        return int(self.timeline.start)

    def expires_at(self) -> float | None:
        """When the assets expire: 24 h (scaled) after creation, for a video that completes."""
        if self.timeline.failure is not None or self.timeline.ended_at() is None:
            return None
        return self.timeline.start + self.retention

    def status(self, now: float) -> str:
        """`queued`, `in_progress`, `completed`, `failed` or (after expiry) `expired`."""
        if not self.timeline.is_over(now):
            return "queued" if self.timeline.fraction(now) < VIDEO_QUEUED_UNTIL else "in_progress"
        if self.timeline.failure is not None:
            return "failed"
        expires = self.expires_at()
        return "expired" if expires is not None and now >= expires else "completed"

    def progress(self, now: float) -> int:
        """Whole percent: 0 while queued, rising to 99 while rendering, 100 once completed."""
        if self.timeline.is_over(now) and self.timeline.failure is None:
            return 100
        x = self.timeline.fraction(now)
        return max(0, min(99, int((x - VIDEO_QUEUED_UNTIL) / (1 - VIDEO_QUEUED_UNTIL) * 100)))

    def to_json(self, now: float) -> dict:
        """The video object the API answers."""
        status = self.status(now)
        terminal = status in ("completed", "failed", "expired")
        ended = self.timeline.ended_at()
        failure = self.timeline.failure if status == "failed" else None
        expires = self.expires_at() if status in ("completed", "expired") else None
        return {
            "id": self.id,
            "object": "video",
            "model": self.model,
            "status": status,
            "progress": self.progress(now),
            "created_at": self.created_at,
            "completed_at": int(ended) if terminal and ended is not None else None,
            "expires_at": int(expires) if expires is not None else None,
            "prompt": self.prompt,
            "size": self.size,
            "seconds": self.seconds,
            "remixed_from_video_id": self.remixed_from_video_id,
            "error": {"code": failure.code, "message": failure.message} if failure else None,
        }


@dataclass
class GenerationJob:
    """A jobs-API (Sora 1) job and its `n_variants` generations."""

    id: str
    model: str
    prompt: str
    width: int
    height: int
    n_seconds: int
    n_variants: int
    timeline: Timeline
    retention: float
    generation_ids: list[str]
    sources: list[MediaSource]
    inpaint_items: list | None = None
    seq: int = 0

    @property
    def created_at(self) -> int:
        """Creation time, whole epoch seconds."""
        return int(self.timeline.start)

    def expires_at(self) -> float | None:
        """When the job is deleted: 24 h (scaled) after it finished."""
        ended = self.timeline.ended_at()
        return None if ended is None else ended + self.retention

    def is_expired(self, now: float) -> bool:
        """Whether the job is past its expiry (and so, to clients, gone)."""
        expires = self.expires_at()
        return self.timeline.is_over(now) and expires is not None and now >= expires

    def status(self, now: float) -> str:
        """`queued`, `preprocessing`, `running`, `processing`, then `succeeded` or `failed`."""
        if self.timeline.is_over(now):
            return "failed" if self.timeline.failure is not None else "succeeded"
        x = self.timeline.fraction(now)
        for until, name in JOB_PHASES:
            if x < until:
                return name
        return "processing"

    def to_json(self, now: float) -> dict:
        """The job object the API answers."""
        status = self.status(now)
        over = self.timeline.is_over(now)
        ended = self.timeline.ended_at()
        generations = []
        if status == "succeeded":
            generations = [
                {
                    "object": "video.generation",
                    "id": generation_id,
                    "job_id": self.id,
                    "created_at": int(ended or self.timeline.start),
                    "width": self.width,
                    "height": self.height,
                    "n_seconds": self.n_seconds,
                    "prompt": self.prompt,
                }
                for generation_id in self.generation_ids
            ]
        failure = self.timeline.failure
        expires = self.expires_at()
        return {
            "object": "video.generation.job",
            "id": self.id,
            "status": status,
            "created_at": self.created_at,
            "finished_at": int(ended) if over and ended is not None else None,
            "expires_at": int(expires) if over and expires is not None else None,
            "generations": generations,
            "prompt": self.prompt,
            "model": self.model,
            "n_variants": self.n_variants,
            "n_seconds": self.n_seconds,
            "height": self.height,
            "width": self.width,
            "inpaint_items": self.inpaint_items,
            "failure_reason": failure.code if over and failure is not None else None,
        }


@dataclass
class JobStore:
    """Every job of both APIs; they share one concurrency limit, like one Azure resource."""

    videos: dict[str, Video] = field(default_factory=dict)
    jobs: dict[str, GenerationJob] = field(default_factory=dict)
    generations: dict[str, tuple[str, int]] = field(default_factory=dict)
    _seq: itertools.count = field(default_factory=lambda: itertools.count(1))

    def next_seq(self) -> int:
        """The next creation order number (lists sort by it)."""
        return next(self._seq)

    def add_video(self, video: Video) -> Video:
        """Keep a new video."""
        video.seq = self.next_seq()
        self.videos[video.id] = video
        return video

    def add_job(self, job: GenerationJob) -> GenerationJob:
        """Keep a new job and index its generations."""
        job.seq = self.next_seq()
        self.jobs[job.id] = job
        for index, generation_id in enumerate(job.generation_ids):
            self.generations[generation_id] = (job.id, index)
        return job

    def remove_job(self, job_id: str) -> None:
        """Forget a job and its generations."""
        job = self.jobs.pop(job_id)
        for generation_id in job.generation_ids:
            self.generations.pop(generation_id, None)

    def timelines(self) -> list[Timeline]:
        """The renders of every job of both APIs."""
        return [v.timeline for v in self.videos.values()] + [j.timeline for j in self.jobs.values()]

    def active(self, now: float) -> list[Timeline]:
        """Renders not yet terminal: each holds one of the resource's concurrent-job slots."""
        return [t for t in self.timelines() if not t.is_over(now)]

    def admit(self, now: float, limit: int, time_scale: float) -> None:
        """Refuse a new job with the 429 Azure answers when the resource already runs `limit` jobs."""
        active = self.active(now)
        if len(active) < limit:
            return
        ends = [end - now for t in active if (end := t.ended_at()) is not None]
        # Every active job stalled: suggest the time a short render would take.
        wait = min(ends) if ends else render_seconds(4, time_scale)
        retry_after = max(1, math.ceil(wait))
        raise ApiError(
            429,
            f"Too many concurrent video generation jobs: this resource runs at most {limit} at a time "
            f"and {len(active)} are in progress. Please retry after {retry_after} second"
            f"{'s' if retry_after != 1 else ''}.",
            code="rate_limit_exceeded",
            type="requests",
            headers={"Retry-After": str(retry_after), "retry-after-ms": str(max(1, math.ceil(wait * 1000)))},
        )
