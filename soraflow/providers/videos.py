"""Client for the Sora 2 videos API and any OpenAI-compatible `/videos` endpoint (Azure OpenAI v1, OpenAI, gateways)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from soraflow.errors import FieldError, RequestValidationError
from soraflow.providers.endpoint import path_segment
from soraflow.providers.errors import ProviderUnsupported
from soraflow.providers.job import (
    OUTPUT_KINDS,
    PAGE_LIMIT,
    InputReference,
    JobError,
    JobOutput,
    JobPage,
    JobSpec,
    ProviderJob,
    bounded_extra,
    iter_pages,
    optional_epoch,
    optional_progress,
    optional_text,
    page_limit,
    parse_page,
    prompt_digest,
    require_object,
    require_text,
)
from soraflow.providers.retry import parse_poll_after_ms
from soraflow.providers.status import JobStatus, map_status
from soraflow.providers.transport import MAX_DOWNLOAD_BYTES, Download, Transport

API = "videos"

_KNOWN_FIELDS = frozenset(
    {
        "id",
        "object",
        "status",
        "progress",
        "created_at",
        "completed_at",
        "expires_at",
        "error",
        "remixed_from_video_id",
        # The prompt is the caller's own (up to 32,000 chars): never copied into durable history.
        "prompt",
    }
)


class VideosClient:
    """Create, poll, list, delete, remix and download Sora 2 videos."""

    api = API

    def __init__(self, transport: Transport):
        self._transport = transport

    def close(self) -> None:
        self._transport.close()

    # ---- the videos API, operation by operation ------------------------------------------------------------

    def create(
        self,
        prompt: str,
        *,
        model: str | None,
        size: str | None,
        seconds: int | str | None,
        input_reference: InputReference | None = None,
    ) -> ProviderJob:
        """Start a render (JSON, or multipart with an image); never retried, so one call is at most one paid job."""
        fields = {"prompt": _prompt(prompt), "model": model, "size": size, "seconds": _seconds(seconds)}
        fields = {name: value for name, value in fields.items() if value is not None}
        if input_reference is None:
            reply = self._transport.call_json("POST", operation="create", idempotent=False, json_body=fields)
        else:
            reference = _reference(input_reference)
            reply = self._transport.call_json(
                "POST",
                operation="create",
                idempotent=False,
                data=fields,
                files={"input_reference": (reference.filename, reference.content, reference.content_type)},
            )
        return parse_video(reply.body, headers=reply.headers, operation="create")

    def get(self, video_id: str) -> ProviderJob:
        """The video job's current state, with the provider's polling hint."""
        reply = self._transport.call_json("GET", _id(video_id), operation="get", idempotent=True)
        return parse_video(reply.body, headers=reply.headers, operation="get")

    def list(self, *, limit: int | None = None, after: str | None = None, order: str | None = None) -> JobPage:
        """One page of videos; pass `after=page.last_id` for the next page while `page.has_more`."""
        params = {
            "limit": page_limit(limit),
            "after": _id(after, "after") if after is not None else None,
            "order": _order(order),
        }
        reply = self._transport.call_json("GET", operation="list", idempotent=True, params=params)
        return parse_video_list(reply.body)

    def iter_videos(self, *, page_size: int = PAGE_LIMIT, order: str | None = None) -> Iterator[ProviderJob]:
        """Every video, page after page, stopping if the provider's cursor stops moving."""
        yield from iter_pages(lambda after: self.list(limit=page_size, after=after, order=order))

    def delete(self, video_id: str) -> bool:
        """Delete a finished video and its stored assets; True when the provider confirms."""
        reply = self._transport.call_json("DELETE", _id(video_id), operation="delete", idempotent=True)
        if isinstance(reply.body, Mapping) and isinstance(reply.body.get("deleted"), bool):
            return reply.body["deleted"]
        return True

    def remix(self, video_id: str, prompt: str) -> ProviderJob:
        """Start a new video that reuses a completed one's structure with a new prompt; never retried."""
        reply = self._transport.call_json(
            "POST", _id(video_id), "remix", operation="remix", idempotent=False, json_body={"prompt": _prompt(prompt)}
        )
        return parse_video(reply.body, headers=reply.headers, operation="remix")

    def open_content(
        self, video_id: str, variant: str = "video", *, max_bytes: int = MAX_DOWNLOAD_BYTES
    ) -> contextlib.AbstractContextManager[Download]:
        """Stream one of the video's assets (`video`, `thumbnail`, `spritesheet`) without holding it in memory."""
        if variant not in OUTPUT_KINDS:
            raise RequestValidationError(FieldError("variant", f"must be one of {', '.join(OUTPUT_KINDS)}"))
        return self._transport.open_stream(
            _id(video_id), "content", operation=f"content ({variant})", params={"variant": variant}, max_bytes=max_bytes
        )

    # ---- the provider-neutral interface (VideoProvider) ----------------------------------------------------

    def create_job(self, spec: JobSpec) -> ProviderJob:
        """Create a video from the provider-neutral spec."""
        if spec.variants != 1:
            raise RequestValidationError(
                FieldError("variants", f"the videos API makes one video per job, got {spec.variants}")
            )
        return self.create(
            spec.prompt, model=spec.model, size=spec.size, seconds=spec.seconds, input_reference=spec.input_reference
        )

    def get_job(self, job_id: str) -> ProviderJob:
        """The job's current state."""
        return self.get(job_id)

    def delete_job(self, job_id: str) -> bool:
        """Delete the job at the provider."""
        return self.delete(job_id)

    def remix_job(self, job_id: str, prompt: str) -> ProviderJob:
        """Remix a completed video."""
        return self.remix(job_id, prompt)

    def list_jobs(self, *, limit: int | None = None, after: str | None = None) -> JobPage:
        """The most recent jobs first."""
        return self.list(limit=limit, after=after, order="desc")

    def iter_jobs(self, *, page_size: int = PAGE_LIMIT) -> Iterator[ProviderJob]:
        """Every job, most recent first."""
        return self.iter_videos(page_size=page_size, order="desc")

    def open_output(self, output: JobOutput) -> contextlib.AbstractContextManager[Download]:
        """Stream one entry of `ProviderJob.outputs`."""
        if output.api != API:
            raise ProviderUnsupported(f"a {output.api} API output cannot be downloaded from the videos API")
        return self.open_content(output.source_id, output.kind)


# ---- parsing the videos API's answers ---------------------------------------------------------------------


def parse_video(body: Any, *, headers: Mapping[str, str] | None = None, operation: str = "get") -> ProviderJob:
    """A `video` object as a ProviderJob; malformed bodies raise ProviderInvalidResponse, unknown fields are kept."""
    body = require_object(body, api=API, operation=operation)
    video_id = require_text(body, "id", api=API, operation=operation)
    provider_status = require_text(body, "status", api=API, operation=operation)
    status = map_status(API, provider_status)
    outputs: tuple[JobOutput, ...] = ()
    if status is JobStatus.SUCCEEDED:
        # The MP4 is the product; thumbnails and spritesheets are not served by every deployment (Azure does not
        # document them), so their absence must not fail a run.
        outputs = tuple(
            JobOutput(api=API, kind=kind, index=0, source_id=video_id, required=kind == "video")
            for kind in OUTPUT_KINDS
        )
    return ProviderJob(
        api=API,
        id=video_id,
        status=status,
        provider_status=provider_status,
        progress=100 if status is JobStatus.SUCCEEDED else optional_progress(body.get("progress")),
        created_at=optional_epoch(body.get("created_at")),
        completed_at=optional_epoch(body.get("completed_at")),
        expires_at=optional_epoch(body.get("expires_at")),
        error=_job_error(body.get("error")),
        outputs=outputs,
        poll_after_ms=parse_poll_after_ms(headers or {}),
        remixed_from=optional_text(body.get("remixed_from_video_id")),
        prompt_digest=prompt_digest(body.get("prompt")),
        extra=bounded_extra(body, _KNOWN_FIELDS),
    )


def parse_video_list(body: Any) -> JobPage:
    """A `list` of videos as a JobPage."""
    return parse_page(body, lambda item: parse_video(item, operation="list"), api=API)


def _job_error(value: Any) -> JobError | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        code, message = value.get("code"), value.get("message")
        return JobError.from_provider(
            code if isinstance(code, str) else None, message if isinstance(message, str) else None
        )
    if isinstance(value, str) and value.strip():
        return JobError.from_provider(None, value)
    return None


# ---- checking what we send ----------------------------------------------------------------------------------


def _id(value: Any, name: str = "video_id") -> str:
    return path_segment(value, name)


def _prompt(prompt: Any) -> str:
    if not isinstance(prompt, str) or not prompt.strip():
        raise RequestValidationError(FieldError("prompt", "must be a non-empty string"))
    return prompt


def _seconds(seconds: Any) -> str | None:
    # The API wants a string ("8"); an integer is the most common 400 users hit, so we always send a string.
    if seconds is None:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, int | str) or not str(seconds).strip():
        raise RequestValidationError(FieldError("seconds", f"must be a whole number of seconds, got {seconds!r}"))
    return str(seconds).strip()


def _order(order: Any) -> str | None:
    if order is None:
        return None
    if order not in ("asc", "desc"):
        raise RequestValidationError(FieldError("order", f"must be 'asc' or 'desc', got {order!r}"))
    return order


def _reference(reference: Any) -> InputReference:
    if not isinstance(reference, InputReference) or not isinstance(reference.content, bytes) or not reference.content:
        raise RequestValidationError(FieldError("input_reference", "must be an image file (bytes, name, type)"))
    return reference
