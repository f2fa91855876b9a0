"""Typed errors shared by every layer: each carries a stable `code`, a message and whether retrying helps."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit


class SoraflowError(Exception):
    """Base of every error soraflow raises on purpose."""

    code: str = "error"
    retryable: bool = False

    def __init__(self, message: str, *, code: str | None = None, retryable: bool | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if retryable is not None:
            self.retryable = retryable

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "retryable": self.retryable}


@dataclass(frozen=True)
class FieldError:
    """One violation: which field, and what is wrong with it (the value and what is allowed)."""

    field: str
    message: str

    def to_dict(self) -> dict:
        return {"field": self.field, "message": self.message}


class RequestValidationError(SoraflowError):
    """A request (HTTP body, blob file, reference image) that cannot be accepted as it is."""

    code = "invalid_request"

    def __init__(self, errors: list[FieldError] | FieldError, *, message: str | None = None):
        self.errors = [errors] if isinstance(errors, FieldError) else list(errors)
        summary = message or "; ".join(f"{e.field}: {e.message}" for e in self.errors)
        super().__init__(summary)

    def to_dict(self) -> dict:
        return {**super().to_dict(), "errors": [e.to_dict() for e in self.errors]}


def shown_url(value: str) -> str:
    """A URL from a setting, quoted for an error without the parts that carry secrets (user:password@, query, #)."""
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return "a value that is not a URL"
    host = parts.netloc.rsplit("@", 1)[-1]
    shown = repr(urlunsplit((parts.scheme, host, parts.path, "", ""))[:200])
    if "@" in parts.netloc or parts.query or parts.fragment:
        shown += " (its credentials, query and fragment not shown)"
    return shown


class ConfigurationError(SoraflowError):
    """A missing or malformed app setting; the message names the setting."""

    code = "configuration_error"

    def __init__(self, setting: str, problem: str):
        self.setting = setting
        super().__init__(f"app setting {setting} {problem}")
