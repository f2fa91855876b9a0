"""RFC 9457 problem responses: every 4xx and 5xx of the HTTP API says what is wrong and names the field."""

from __future__ import annotations

import json

import azure.functions as func

from soraflow.errors import FieldError, RequestValidationError, SoraflowError

PROBLEM_TYPE_BASE = "https://soraflow.dev/problems/"
TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class UnsupportedMediaType(RequestValidationError):
    """The body comes in a media type (or charset) the route does not read: 415."""

    code = "unsupported_media_type"
    http_status = 415


class ContentTooLarge(RequestValidationError):
    """The body is larger than the route accepts: 413."""

    code = "content_too_large"
    http_status = 413


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> func.HttpResponse:
    """A problem+json response with `type`, `title`, `status`, `detail`, `code` and `errors: [{field, message}]`."""
    body = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
        "errors": [e.to_dict() for e in errors or []],
    }
    return func.HttpResponse(
        json.dumps(body), status_code=status, mimetype="application/problem+json", headers=headers or {}
    )


def field_problem(field: str, message: str, *, status: int = 400, code: str = "invalid_request") -> func.HttpResponse:
    """A 4xx about one field."""
    return problem(status, code, f"{field}: {message}", errors=[FieldError(field, message)])


def problem_from_error(error: SoraflowError, *, status: int | None = None) -> func.HttpResponse:
    """The problem response for a typed error (validation errors list every field)."""
    if isinstance(error, RequestValidationError):
        return problem(status or getattr(error, "http_status", 400), error.code, error.message, errors=error.errors)
    return problem(status or (503 if error.retryable else 400), error.code, error.message)
