"""Veo operations: each render's lifecycle computed lazily from the clock, its videos, its retention and the limit.

An operation is running for `(base + per_second x durationSeconds) x time_scale` emulator seconds (the
model's numbers are in `video_request.MODELS`), then done. It and its Cloud Storage objects are kept
for 2 days x time_scale after it is done; after that both are gone (404).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field

from emulators.sora.media import FLAVOURS, MediaSource
from emulators.sora.store import Timeline
from emulators.vertex.errors import GoogleError
from emulators.vertex.video_request import FRAME_RATE, MODELS, VideoRequest

RETENTION_SECONDS = 2 * 24 * 3600.0
VIDEO_MIME_TYPE = "video/mp4"


def render_seconds(model: str, duration_seconds: int, time_scale: float) -> float:
    """How long (emulator time) a render of this model and duration takes."""
    spec = MODELS[model]
    return (spec.base_render_seconds + spec.render_seconds_per_second * duration_seconds) * time_scale


def retention_seconds(time_scale: float) -> float:
    """How long (emulator time) a done operation and its objects are kept: 2 days, scaled."""
    return RETENTION_SECONDS * time_scale


def model_resource(project: str, location: str, model: str) -> str:
    """The publisher model's resource name, the part of an operation name before `/operations/`."""
    return f"projects/{project}/locations/{location}/publishers/google/models/{model}"


@dataclass(frozen=True)
class Sample:
    """One delivered video of an operation: what it looks like and, for GCS output, where it was written."""

    source: MediaSource
    gcs_bucket: str | None = None
    gcs_object: str | None = None

    @property
    def gcs_uri(self) -> str | None:
        """`gs://bucket/object`, when the request asked for Cloud Storage output."""
        return None if self.gcs_bucket is None else f"gs://{self.gcs_bucket}/{self.gcs_object}"


@dataclass
class Operation:
    """One `:predictLongRunning` call and the render it started."""

    id: str
    resource: str
    timeline: Timeline
    retention: float
    samples: list[Sample]
    filtered: int = 0

    @property
    def name(self) -> str:
        """The operation's full resource name, as clients hold it."""
        return f"{self.resource}/operations/{self.id}"

    def done(self, now: float) -> bool:
        """Whether the render is over (succeeded, filtered or failed)."""
        return self.timeline.is_over(now)

    def is_expired(self, now: float) -> bool:
        """Whether the operation is past its retention (and so, to clients, gone)."""
        ended = self.timeline.ended_at()
        return ended is not None and now >= ended + self.retention


def new_operation(
    request: VideoRequest, *, resource: str, timeline: Timeline, retention: float, filtered: int
) -> Operation:
    """An operation for a valid request; its GCS object names are fixed now, as Veo reports them at the end."""
    width, height = request.frame_size
    delivered = request.sample_count - filtered
    folder = None
    bucket = None
    if request.storage_uri is not None:
        bucket, _, prefix = request.storage_uri.removeprefix("gs://").partition("/")
        # Veo writes each operation's samples into a numbered folder under storageUri.
        folder = "/".join(part for part in (prefix.strip("/"), str(secrets.randbelow(10**19))) if part)
    samples = []
    for index in range(delivered):
        source = MediaSource(
            width,
            height,
            request.duration_seconds,
            flavour=((request.seed or 0) + index) % FLAVOURS,
            audio=request.generate_audio,
            frame_rate=FRAME_RATE,
        )
        if bucket is None:
            samples.append(Sample(source))
        else:
            samples.append(Sample(source, gcs_bucket=bucket, gcs_object=f"{folder}/sample_{index}.mp4"))
    return Operation(
        id=str(uuid.uuid4()),
        resource=resource,
        timeline=timeline,
        retention=retention,
        samples=samples,
        filtered=filtered,
    )


@dataclass
class OperationStore:
    """Every operation still kept, and the Cloud Storage objects their videos were written to."""

    operations: dict[str, Operation] = field(default_factory=dict)
    objects: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)

    def add(self, operation: Operation) -> Operation:
        """Keep a new operation and index its objects."""
        self.operations[operation.id] = operation
        for index, sample in enumerate(operation.samples):
            if sample.gcs_bucket is not None:
                self.objects[(sample.gcs_bucket, sample.gcs_object)] = (operation.id, index)
        return operation

    def find(self, name: str, now: float) -> Operation | None:
        """The operation with this full name, unless it never existed or its retention has passed."""
        resource, _, operation_id = name.rpartition("/operations/")
        operation = self.operations.get(operation_id)
        if operation is None or operation.resource != resource:
            return None
        if operation.is_expired(now):
            self.remove(operation)
            return None
        return operation

    def find_object(self, bucket: str, name: str, now: float) -> tuple[Operation, Sample] | None:
        """The operation and sample written to gs://bucket/name, once the operation is done and while it is kept."""
        owner = self.objects.get((bucket, name))
        if owner is None:
            return None
        operation = self.operations.get(owner[0])
        if operation is None or not operation.done(now):
            return None
        if operation.is_expired(now):
            self.remove(operation)
            return None
        return operation, operation.samples[owner[1]]

    def remove(self, operation: Operation) -> None:
        """Forget an operation and its objects."""
        self.operations.pop(operation.id, None)
        for sample in operation.samples:
            if sample.gcs_bucket is not None:
                self.objects.pop((sample.gcs_bucket, sample.gcs_object), None)

    def active(self, now: float) -> list[Operation]:
        """Operations still rendering: each holds one of the concurrent slots."""
        return [op for op in self.operations.values() if not op.done(now)]

    def admit(self, now: float, limit: int, model: str) -> None:
        """Refuse a new operation with Vertex's 429 when `limit` are already rendering."""
        if len(self.active(now)) < limit:
            return
        base_model = model.removesuffix("-001")
        raise GoogleError(
            429,
            "Quota exceeded for aiplatform.googleapis.com/online_prediction_concurrent_requests_per_base_model "
            f"with base model: {base_model}. The limit is {limit} concurrent requests. "
            "Please submit a quota increase request. https://cloud.google.com/vertex-ai/docs/generative-ai/quotas-genai.",
        )
