"""The provider job as soraflow sees it, whichever API ran it: small, typed, and JSON-able for durable history."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from soraflow.errors import FieldError, RequestValidationError
from soraflow.providers.errors import (
    ProviderInvalidResponse,
    is_moderation_code,
    readable,
    retry_advice,
)
from soraflow.providers.status import JobStatus

OUTPUT_KINDS = ("video", "thumbnail", "spritesheet")

# Unknown provider fields ride along in `extra`, but durable history must stay small: past this many bytes of
# JSON the rest is dropped (a hostile or chatty provider cannot bloat every poll's history entry).
EXTRA_LIMIT_BYTES = 4096

PAGE_LIMIT = 100
MAX_PAGES = 1000


@dataclass(frozen=True)
class InputReference:
    """An image sent with a create: its bytes, file name and content type (image/jpeg, image/png, image/webp), or,
    for a model that fetches its reference (`transport` "url"), a short-lived read-only URL instead of the bytes."""

    content: bytes = field(repr=False)
    filename: str
    content_type: str
    url: str | None = field(default=None, repr=False)  # holds a SAS token: never logged


@dataclass(frozen=True)
class JobSpec:
    """What to generate, in the words both APIs understand; each client turns it into its own request."""

    prompt: str = field(repr=False)
    model: str
    width: int
    height: int
    seconds: int | str
    variants: int = 1
    input_reference: InputReference | None = None
    # The request's validated `provider_options` (negative_prompt, seed, generate_audio, ...), for providers with any.
    options: Mapping[str, Any] = field(default_factory=dict, hash=False)
    # Where a provider that pushes completion (fal) should post it; None: polling only.
    webhook_url: str | None = None

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"


@dataclass(frozen=True)
class JobError:
    """Why a provider job failed: the provider's code and message, and whether moderation refused it."""

    code: str
    message: str
    content_policy: bool = False

    @classmethod
    def from_provider(cls, code: str | None, message: str | None) -> JobError:
        code = readable(code or "", 200) or "job_failed"
        return cls(code=code, message=readable(message or "") or code, content_policy=is_moderation_code(code))

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "content_policy": self.content_policy}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobError:
        return cls(code=data["code"], message=data["message"], content_policy=bool(data.get("content_policy")))


@dataclass(frozen=True)
class JobOutput:
    """One downloadable part of a finished job and what the client needs to fetch it.

    `source_id` is the video id (videos API) or the generation id (jobs API); `index` is the variant's position.
    `required` is False for parts not every deployment serves (thumbnails, spritesheets): a 404 there is not fatal.
    """

    api: str
    kind: str
    index: int
    source_id: str
    required: bool = True

    def to_dict(self) -> dict:
        return {
            "api": self.api,
            "kind": self.kind,
            "index": self.index,
            "source_id": self.source_id,
            "required": self.required,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobOutput:
        return cls(
            api=data["api"],
            kind=data["kind"],
            index=int(data["index"]),
            source_id=data["source_id"],
            required=bool(data.get("required", True)),
        )


@dataclass(frozen=True)
class ProviderJob:
    """A provider job normalised across both APIs; `provider_status` and `extra` keep what the provider said."""

    api: str
    id: str
    status: JobStatus
    provider_status: str
    progress: int | None = None
    created_at: int | None = None
    completed_at: int | None = None
    expires_at: int | None = None
    # How long the provider keeps a finished job's outputs when it gives no `expires_at` (fal: 7 days, Veo: 2).
    retention_seconds: int | None = None
    error: JobError | None = None
    outputs: tuple[JobOutput, ...] = ()
    poll_after_ms: int | None = None
    remixed_from: str | None = None
    # A fingerprint of the prompt the provider reports (never the prompt itself): lets a re-run activity
    # recognise the job it created when the create's answer was lost.
    prompt_digest: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def terminal(self) -> bool:
        return self.status.terminal

    def to_dict(self) -> dict:
        return {
            "api": self.api,
            "id": self.id,
            "status": self.status.value,
            "provider_status": self.provider_status,
            "progress": self.progress,
            "created_at": self.created_at,
            "completed_at": self.completed_at,
            "expires_at": self.expires_at,
            "retention_seconds": self.retention_seconds,
            "error": self.error.to_dict() if self.error else None,
            "outputs": [output.to_dict() for output in self.outputs],
            "poll_after_ms": self.poll_after_ms,
            "remixed_from": self.remixed_from,
            "prompt_digest": self.prompt_digest,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProviderJob:
        return cls(
            api=data["api"],
            id=data["id"],
            status=JobStatus(data["status"]),
            provider_status=data.get("provider_status") or data["status"],
            progress=data.get("progress"),
            created_at=data.get("created_at"),
            completed_at=data.get("completed_at"),
            expires_at=data.get("expires_at"),
            retention_seconds=data.get("retention_seconds"),
            error=JobError.from_dict(data["error"]) if data.get("error") else None,
            outputs=tuple(JobOutput.from_dict(output) for output in data.get("outputs") or ()),
            poll_after_ms=data.get("poll_after_ms"),
            remixed_from=data.get("remixed_from"),
            prompt_digest=data.get("prompt_digest"),
            extra=dict(data.get("extra") or {}),
        )


@dataclass(frozen=True)
class JobPage:
    """One page of a provider's job list, with the cursor to the next one."""

    jobs: tuple[ProviderJob, ...]
    has_more: bool
    first_id: str | None = None
    last_id: str | None = None


# ---- reading provider JSON without ever trusting its shape ---------------------------------------------------


def prompt_digest(prompt: Any) -> str | None:
    """A short SHA-256 fingerprint of a prompt, the same for the caller's text and the provider's echo of it."""
    if not isinstance(prompt, str):
        return None
    return hashlib.sha256(prompt.encode("utf-8", errors="surrogatepass")).hexdigest()[:32]


def require_object(body: Any, *, api: str, operation: str) -> Mapping[str, Any]:
    """The body as a JSON object, or an InvalidResponse naming what came instead."""
    if not isinstance(body, Mapping):
        raise invalid_response(api, operation, f"expected a JSON object, got {type(body).__name__}")
    return body


def require_text(body: Mapping[str, Any], name: str, *, api: str, operation: str) -> str:
    """A required non-empty string field, or an InvalidResponse naming the field."""
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        got = "nothing" if value is None else f"{type(value).__name__} {_preview(value)}"
        raise invalid_response(api, operation, f"field {name!r} must be a non-empty string, got {got}")
    return value.strip()


def optional_text(value: Any) -> str | None:
    """A string field that may be absent; other types are treated as absent."""
    return value.strip() or None if isinstance(value, str) else None


def optional_epoch(value: Any) -> int | None:
    """Epoch seconds from an int or float field; anything else (strings, booleans, junk) is treated as absent."""
    number = _finite_number(value)
    return None if number is None or number < 0 else int(number)


def optional_progress(value: Any) -> int | None:
    """A 0-100 progress percentage, clamped; anything that is not a number is treated as absent."""
    number = _finite_number(value)
    return None if number is None else max(0, min(100, int(number)))


def bounded_extra(body: Mapping[str, Any], known: frozenset[str]) -> dict[str, Any]:
    """The fields we do not model, kept for the record while their JSON stays under EXTRA_LIMIT_BYTES."""
    extra: dict[str, Any] = {}
    used = 2
    for key, value in body.items():
        if key in known or not isinstance(key, str):
            continue
        try:
            size = len(json.dumps({key: value}, ensure_ascii=False, allow_nan=False))
        except (TypeError, ValueError):
            continue
        if used + size > EXTRA_LIMIT_BYTES:
            continue
        extra[key] = value
        used += size
    return extra


def parse_page(body: Any, parse_item: Callable[[Any], ProviderJob], *, api: str) -> JobPage:
    """A cursor page (`data`, `has_more`, `first_id`, `last_id`), the same shape on both APIs."""
    body = require_object(body, api=api, operation="list")
    data = body.get("data")
    if not isinstance(data, list):
        raise invalid_response(api, "list", f"field 'data' must be a list, got {type(data).__name__}")
    jobs = tuple(parse_item(item) for item in data)
    has_more = body.get("has_more") is True
    last_id = optional_text(body.get("last_id")) or (jobs[-1].id if jobs else None)
    first_id = optional_text(body.get("first_id")) or (jobs[0].id if jobs else None)
    return JobPage(jobs=jobs, has_more=has_more and last_id is not None, first_id=first_id, last_id=last_id)


def iter_pages(fetch: Callable[[str | None], JobPage]) -> Iterator[ProviderJob]:
    """Every job across pages, following `last_id`, stopping if the provider's cursor stops moving."""
    after: str | None = None
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        page = fetch(after)
        yield from page.jobs
        if not page.has_more or page.last_id is None or page.last_id in seen:
            return
        seen.add(page.last_id)
        after = page.last_id


def page_limit(limit: Any) -> int | None:
    """A list page size checked against what both APIs accept."""
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= PAGE_LIMIT:
        raise RequestValidationError(FieldError("limit", f"must be a whole number 1-{PAGE_LIMIT}, got {limit!r}"))
    return limit


def invalid_response(api: str, operation: str, problem: str) -> ProviderInvalidResponse:
    """The error for a malformed provider answer."""
    return ProviderInvalidResponse(
        f"Sora {api} API {operation} returned a malformed response: {problem}. "
        "Check SORA_ENDPOINT and SORA_VIDEOS_PATH point at a Sora-compatible API. " + retry_advice(False),
        operation=operation,
    )


def _finite_number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # a JSON integer too large for a float
        return None
    return number if math.isfinite(number) else None


def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
