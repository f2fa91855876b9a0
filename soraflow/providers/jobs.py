"""Client for Azure's Sora 1 video generation jobs API (`/openai/v1/video/generations/jobs?api-version=preview`)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from soraflow.errors import FieldError, RequestValidationError
from soraflow.providers.endpoint import path_segment
from soraflow.providers.errors import ProviderUnsupported, retry_advice
from soraflow.providers.job import (
    PAGE_LIMIT,
    InputReference,
    JobError,
    JobOutput,
    JobPage,
    JobSpec,
    ProviderJob,
    bounded_extra,
    invalid_response,
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

API = "jobs"
CONTENT_VARIANTS = ("video", "thumbnail")

_KNOWN_FIELDS = frozenset(
    {
        "id",
        "object",
        "status",
        "progress",
        "created_at",
        "finished_at",
        "expires_at",
        "generations",
        "failure_reason",
        "error",
        # The caller's own prompt and image list: never copied into durable history.
        "prompt",
        "inpaint_items",
    }
)

# Sora 1 reports failures as a bare `failure_reason`; these are the words it uses, in plain language.
FAILURE_REASONS = {
    "input_moderation": "the prompt or input image was refused by the provider's content moderation",
    "output_moderation": "the generated video was refused by the provider's content moderation",
    "internal_error": "the provider had an internal error while generating",
}


class JobsClient:
    """Create, poll, list, delete and download Sora 1 generation jobs (each job makes `n_variants` generations)."""

    api = API

    def __init__(self, transport: Transport):
        self._transport = transport

    def close(self) -> None:
        self._transport.close()

    # ---- the jobs API, operation by operation ----------------------------------------------------------------

    def create(
        self,
        prompt: str,
        *,
        model: str | None,
        width: int,
        height: int,
        n_seconds: int,
        n_variants: int = 1,
        input_reference: InputReference | None = None,
    ) -> ProviderJob:
        """Start a generation job (JSON, or multipart with an image as the first frame); never retried."""
        if not isinstance(prompt, str) or not prompt.strip():
            raise RequestValidationError(FieldError("prompt", "must be a non-empty string"))
        fields: dict[str, Any] = {
            "prompt": prompt,
            "width": _whole(width, "width"),
            "height": _whole(height, "height"),
            "n_seconds": _whole(n_seconds, "n_seconds"),
            "n_variants": _whole(n_variants, "n_variants"),
        }
        if model is not None:
            fields["model"] = model
        if input_reference is None:
            reply = self._transport.call_json("POST", "jobs", operation="create", idempotent=False, json_body=fields)
        else:
            if not isinstance(input_reference, InputReference) or not input_reference.content:
                raise RequestValidationError(FieldError("input_reference", "must be an image file (bytes, name, type)"))
            form = {name: str(value) for name, value in fields.items()}
            form["inpaint_items"] = json.dumps([first_frame_item(input_reference.filename)])
            reply = self._transport.call_json(
                "POST",
                "jobs",
                operation="create",
                idempotent=False,
                data=form,
                files={
                    "files": (input_reference.filename, input_reference.content, input_reference.content_type),
                },
            )
        return parse_generation_job(reply.body, headers=reply.headers, operation="create")

    def get(self, job_id: str) -> ProviderJob:
        """The job's current state."""
        job = path_segment(job_id, "job_id")
        reply = self._transport.call_json("GET", "jobs", job, operation="get", idempotent=True)
        return parse_generation_job(reply.body, headers=reply.headers, operation="get")

    def list(
        self,
        *,
        limit: int | None = None,
        after: str | None = None,
        before: str | None = None,
        statuses: Sequence[str] | None = None,
    ) -> JobPage:
        """One page of jobs, optionally only those in the given provider statuses."""
        params = {
            "limit": page_limit(limit),
            "after": path_segment(after, "after") if after is not None else None,
            "before": path_segment(before, "before") if before is not None else None,
            "statuses": _statuses(statuses),
        }
        reply = self._transport.call_json("GET", "jobs", operation="list", idempotent=True, params=params)
        return parse_page(reply.body, lambda item: parse_generation_job(item, operation="list"), api=API)

    def iter_all(self, *, page_size: int = PAGE_LIMIT, statuses: Sequence[str] | None = None) -> Iterator[ProviderJob]:
        """Every job, page after page."""
        yield from iter_pages(lambda after: self.list(limit=page_size, after=after, statuses=statuses))

    def delete(self, job_id: str) -> bool:
        """Delete the job and its generations at the provider."""
        self._transport.call_json("DELETE", "jobs", path_segment(job_id, "job_id"), operation="delete", idempotent=True)
        return True

    def open_content(
        self, generation_id: str, variant: str = "video", *, max_bytes: int = MAX_DOWNLOAD_BYTES
    ) -> contextlib.AbstractContextManager[Download]:
        """Stream one generation's video (or its thumbnail) without holding it in memory."""
        if variant not in CONTENT_VARIANTS:
            raise RequestValidationError(FieldError("variant", f"must be one of {', '.join(CONTENT_VARIANTS)}"))
        return self._transport.open_stream(
            path_segment(generation_id, "generation_id"),
            "content",
            variant,
            operation=f"content ({variant})",
            max_bytes=max_bytes,
        )

    # ---- the provider-neutral interface (VideoProvider) ------------------------------------------------------

    def create_job(self, spec: JobSpec) -> ProviderJob:
        """Create a job from the provider-neutral spec."""
        return self.create(
            spec.prompt,
            model=spec.model,
            width=spec.width,
            height=spec.height,
            n_seconds=_whole(spec.seconds, "seconds"),
            n_variants=spec.variants,
            input_reference=spec.input_reference,
        )

    def get_job(self, job_id: str) -> ProviderJob:
        """The job's current state."""
        return self.get(job_id)

    def delete_job(self, job_id: str) -> bool:
        """Delete the job at the provider."""
        return self.delete(job_id)

    def remix_job(self, job_id: str, prompt: str) -> ProviderJob:
        """Sora 1 has no remix: always raises ProviderUnsupported."""
        raise ProviderUnsupported(
            "Remix needs the Sora 2 videos API; the Sora 1 jobs API (SORA_API=jobs) has no remix operation. "
            + retry_advice(False),
            operation="remix",
        )

    def list_jobs(self, *, limit: int | None = None, after: str | None = None) -> JobPage:
        """The provider's job list, first page or after a cursor."""
        return self.list(limit=limit, after=after)

    def iter_jobs(self, *, page_size: int = PAGE_LIMIT) -> Iterator[ProviderJob]:
        """Every job."""
        return self.iter_all(page_size=page_size)

    def open_output(self, output: JobOutput) -> contextlib.AbstractContextManager[Download]:
        """Stream one entry of `ProviderJob.outputs`."""
        if output.api != API:
            raise ProviderUnsupported(f"a {output.api} API output cannot be downloaded from the jobs API")
        return self.open_content(output.source_id, output.kind)


def first_frame_item(filename: str) -> dict:
    """The `inpaint_items` entry that makes an uploaded image the video's first frame, uncropped."""
    return {
        "frame_index": 0,
        "type": "image",
        "file_name": filename,
        "crop_bounds": {"left_fraction": 0.0, "top_fraction": 0.0, "right_fraction": 1.0, "bottom_fraction": 1.0},
    }


def parse_generation_job(body: Any, *, headers: Mapping[str, str] | None = None, operation: str = "get") -> ProviderJob:
    """A `video.generation.job` as a ProviderJob; malformed bodies raise ProviderInvalidResponse."""
    body = require_object(body, api=API, operation=operation)
    job_id = require_text(body, "id", api=API, operation=operation)
    provider_status = require_text(body, "status", api=API, operation=operation)
    status = map_status(API, provider_status)
    outputs: tuple[JobOutput, ...] = ()
    if status is JobStatus.SUCCEEDED:
        outputs = _outputs(body.get("generations"), operation)
    return ProviderJob(
        api=API,
        id=job_id,
        status=status,
        provider_status=provider_status,
        progress=100 if status is JobStatus.SUCCEEDED else optional_progress(body.get("progress")),
        created_at=optional_epoch(body.get("created_at")),
        completed_at=optional_epoch(body.get("finished_at")),
        expires_at=optional_epoch(body.get("expires_at")),
        error=_job_error(body) if status is not JobStatus.SUCCEEDED else None,
        outputs=outputs,
        poll_after_ms=parse_poll_after_ms(headers or {}),
        prompt_digest=prompt_digest(body.get("prompt")),
        extra=bounded_extra(body, _KNOWN_FIELDS),
    )


def _outputs(generations: Any, operation: str) -> tuple[JobOutput, ...]:
    if not isinstance(generations, list) or not generations:
        raise invalid_response(API, operation, "a succeeded job must list its generations")
    outputs: list[JobOutput] = []
    for index, generation in enumerate(generations):
        if not isinstance(generation, Mapping):
            raise invalid_response(API, operation, f"generation {index} is not an object")
        generation_id = require_text(generation, "id", api=API, operation=operation)
        outputs.append(JobOutput(api=API, kind="video", index=index, source_id=generation_id))
        # Thumbnails are offered by some deployments only; a 404 for one must not fail the run.
        outputs.append(JobOutput(api=API, kind="thumbnail", index=index, source_id=generation_id, required=False))
    return tuple(outputs)


def _job_error(body: Mapping[str, Any]) -> JobError | None:
    reason = optional_text(body.get("failure_reason"))
    error = body.get("error")
    message = None
    if isinstance(error, Mapping):
        reason = reason or optional_text(error.get("code"))
        message = optional_text(error.get("message"))
    if reason is None and message is None:
        return None
    return JobError.from_provider(reason, message or FAILURE_REASONS.get((reason or "").lower()) or reason)


def _whole(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise RequestValidationError(FieldError(name, f"must be a whole number, got {value!r}"))
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    raise RequestValidationError(FieldError(name, f"must be a whole number, got {value!r}"))


def _statuses(statuses: Sequence[str] | None) -> str | None:
    if statuses is None:
        return None
    if isinstance(statuses, str) or not all(isinstance(s, str) and s.isidentifier() for s in statuses):
        raise RequestValidationError(FieldError("statuses", f"must be a list of status words, got {statuses!r}"))
    return ",".join(statuses) or None
