"""Typed provider errors: one class per kind of failure, keeping the provider's words and saying if retrying helps."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping

from soraflow.errors import SoraflowError

# Codes the providers use for moderation refusals (OpenAI: moderation_blocked; Azure: content_filter,
# content_policy_violation; Sora 1 jobs: failure_reason input_moderation / output_moderation).
MODERATION_CODES = frozenset(
    {
        "moderation_blocked",
        "content_policy_violation",
        "content_filter",
        "content_filtered",
        "input_moderation",
        "output_moderation",
        "responsibleaipolicyviolation",
        "responsible_ai_policy_violation",
    }
)

# Status codes after which a create or remix may still have started a paid job upstream (a gateway that timed
# out or lost the upstream answer): retrying blindly could pay twice.
_OUTCOME_UNKNOWN_STATUSES = frozenset({500, 502, 504})

_SNIPPET_CHARS = 300
# A provider's words end up in run resources, manifests and log lines: a newline there could forge a log line, an
# escape sequence restyle a terminal, a direction override reorder what a reader sees.
_UNREADABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]+")


class ProviderError(SoraflowError):
    """A call to the video provider failed; `retryable` says whether trying the same call again can help."""

    code = "provider_error"
    retryable = False

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        provider_code: str | None = None,
        retry_after: float | None = None,
        operation: str | None = None,
        request_id: str | None = None,
        outcome_unknown: bool = False,
        retryable: bool | None = None,
        code: str | None = None,
    ):
        super().__init__(message, code=code, retryable=retryable)
        self.http_status = http_status
        self.provider_code = provider_code
        self.retry_after = retry_after
        self.operation = operation
        self.request_id = request_id
        # True when the request reached the provider and its answer was lost: a create may have succeeded.
        self.outcome_unknown = outcome_unknown

    def to_dict(self) -> dict:
        return {
            **super().to_dict(),
            "http_status": self.http_status,
            "provider_code": self.provider_code,
            "retry_after": self.retry_after,
            "outcome_unknown": self.outcome_unknown,
        }


class ProviderBadRequest(ProviderError):
    """The provider rejected the request as invalid (400, 422 and other 4xx); the same request will fail again."""

    code = "provider_bad_request"


class ProviderAuthenticationError(ProviderError):
    """The provider refused our credentials (401) or our identity lacks access (403)."""

    code = "provider_authentication_failed"


class ProviderNotFound(ProviderError):
    """The job, video or deployment does not exist at the provider (404)."""

    code = "provider_not_found"


class ProviderRateLimited(ProviderError):
    """Too many requests or jobs at once (429); `retry_after` says how long the provider asked us to wait."""

    code = "provider_rate_limited"
    retryable = True


class ProviderContentPolicy(ProviderError):
    """The provider's moderation refused the prompt, image or output; a different input is needed."""

    code = "provider_content_policy"


class ProviderExpired(ProviderError):
    """The job's outputs are gone (410, or the job expired); only a new job can produce them again."""

    code = "provider_expired"


class ProviderServerError(ProviderError):
    """The provider failed on its side (5xx)."""

    code = "provider_server_error"
    retryable = True


class ProviderUnavailable(ProviderError):
    """The provider could not be reached or did not answer in time (connection error, timeout, dropped stream)."""

    code = "provider_unavailable"
    retryable = True


class ProviderDownloadIncomplete(ProviderError):
    """A download ended before the announced number of bytes arrived (or ran past its limit)."""

    code = "provider_download_incomplete"
    retryable = True


class ProviderInvalidResponse(ProviderError):
    """The provider answered with something that is not the documented shape (non-JSON, missing id or status)."""

    code = "provider_invalid_response"


class ProviderJobFailed(ProviderError):
    """The provider accepted the job but it ended `failed` (for a reason other than moderation)."""

    code = "provider_job_failed"
    retryable = True


class ProviderUnsupported(ProviderError):
    """The configured provider API has no such operation (e.g. remix on the Sora 1 jobs API)."""

    code = "provider_unsupported"


def is_moderation_code(code: str | None) -> bool:
    """True when a provider error code or failure reason means a content-policy refusal."""
    if not code:
        return False
    normalised = code.strip().lower()
    return normalised in MODERATION_CODES or "moderation" in normalised or "content_polic" in normalised


def is_expiry_code(code: str | None) -> bool:
    """True when a provider error code says the job or its content expired."""
    return bool(code) and "expired" in code.strip().lower()


def retry_advice(retryable: bool) -> str:
    """The sentence every provider error ends with."""
    return "Retrying later may help." if retryable else "Retrying the same request will not help."


def error_from_response(
    http_status: int,
    body: bytes,
    *,
    api: str,
    operation: str,
    retry_after: float | None = None,
    request_id: str | None = None,
    idempotent: bool = True,
    secrets: Iterable[str] = (),
) -> ProviderError:
    """Map a provider's non-2xx answer to the typed error for it, keeping the provider's code and message."""
    provider_code, provider_message, provider_type = _error_fields(body)
    cls = _error_class(http_status, provider_code)
    retryable = cls.retryable
    outcome_unknown = not idempotent and http_status in _OUTCOME_UNKNOWN_STATUSES
    detail = provider_message or _body_snippet(body) or "no details given"
    label = ", ".join(x for x in (f"HTTP {http_status}", provider_code or provider_type) if x)
    message = f"Sora {api} API {operation} failed ({label}): {detail}."
    if cls is ProviderRateLimited and retry_after is not None:
        message += f" The provider asked to wait {retry_after:g} s."
    if outcome_unknown:
        message += " The provider may still have started the job: look it up before creating another."
    message += " " + retry_advice(retryable)
    return cls(
        redact(message, secrets),
        http_status=http_status,
        provider_code=provider_code,
        retry_after=retry_after if retryable else None,
        operation=operation,
        request_id=request_id,
        outcome_unknown=outcome_unknown,
    )


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret (API key, token) that a provider echoed back with a marker."""
    for secret in secrets:
        # Short strings would redact ordinary words; real keys and tokens are long.
        if secret and len(secret) >= 8:
            text = text.replace(secret, "[redacted]")
    return text


def _error_class(http_status: int, provider_code: str | None) -> type[ProviderError]:
    if is_moderation_code(provider_code):
        return ProviderContentPolicy
    if http_status == 410 or is_expiry_code(provider_code):
        return ProviderExpired
    if http_status in (401, 403):
        return ProviderAuthenticationError
    if http_status == 404:
        return ProviderNotFound
    if http_status == 429:
        return ProviderRateLimited
    if http_status == 408:
        return ProviderUnavailable
    if 500 <= http_status <= 599:
        return ProviderServerError
    if 400 <= http_status <= 499:
        return ProviderBadRequest
    # A 1xx/3xx that reached here was not followed or not expected: the answer is not one we understand.
    return ProviderInvalidResponse


def _error_fields(body: bytes) -> tuple[str | None, str | None, str | None]:
    """The provider's (code, message, type) from `{"error": {...}}`, tolerating every malformed variant."""
    try:
        parsed = json.loads(body.decode("utf-8")) if body else None
    except (UnicodeDecodeError, ValueError):
        return None, None, None
    error = parsed.get("error", parsed) if isinstance(parsed, Mapping) else None
    if isinstance(error, str):
        return None, _clip(error), None
    if not isinstance(error, Mapping):
        return None, None, None
    code = error.get("code")
    message = error.get("message")
    kind = error.get("type")
    return (
        _clip(str(code)) if isinstance(code, str | int) and not isinstance(code, bool) else None,
        _clip(message) if isinstance(message, str) and message.strip() else None,
        _clip(kind) if isinstance(kind, str) and kind.strip() else None,
    )


def _body_snippet(body: bytes) -> str:
    text = body.decode("utf-8", errors="replace").strip()
    return _clip(" ".join(text.split()), _SNIPPET_CHARS) if text else ""


def readable(text: str, limit: int = _SNIPPET_CHARS * 4) -> str:
    """A provider's text made safe to show and log: one line, no control or direction characters, `limit` long."""
    text = " ".join(_UNREADABLE.sub(" ", text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _clip(text: str, limit: int = _SNIPPET_CHARS * 4) -> str:
    return readable(text, limit).rstrip(".")
