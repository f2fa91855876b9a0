"""Blob names for a run's outputs, and the checks that keep every name inside its folder."""

from __future__ import annotations

import re

from soraflow.errors import FieldError, RequestValidationError

MAX_BLOB_NAME = 1024
MAX_PATH_SEGMENTS = 254  # the service's limit
RUNS_FOLDER = "runs"
MANIFEST_NAME = "run.json"

_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


class InvalidBlobNameError(RequestValidationError):
    """A blob name, run id or prefix that could escape its folder or that the service would mangle."""


def validate_blob_name(name: object, *, field_name: str = "blob") -> str:
    """Return `name` if it is a safe relative blob path, else raise InvalidBlobNameError."""
    problem = _blob_name_problem(name)
    if problem:
        raise InvalidBlobNameError(FieldError(field_name, f"{problem}, got {shown(name)}"))
    return name  # type: ignore[return-value]


def _blob_name_problem(name: object) -> str | None:
    if not isinstance(name, str):
        return "must be a string"
    if not name:
        return "must not be empty"
    if len(name) > MAX_BLOB_NAME:
        return f"must be at most {MAX_BLOB_NAME} characters"
    if "\\" in name:
        return "must not contain a backslash"
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in name):
        return "must not contain control characters"
    if name.startswith("/"):
        return "must be relative (no leading '/')"
    if name.endswith(("/", ".")):
        return "must not end with '/' or '.'"
    segments = name.split("/")
    if len(segments) > MAX_PATH_SEGMENTS:
        return f"must have at most {MAX_PATH_SEGMENTS} path segments"
    if any(s in ("", ".", "..") for s in segments):
        return "must not contain empty, '.' or '..' path segments"
    return None


def shown(value: object) -> str:
    """A short repr of a rejected value for an error message."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def validate_run_id(run_id: object) -> str:
    """Return `run_id` if it can name a run folder (letters, digits, '.', '_', '-'; 1-128 chars)."""
    if not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id):
        raise InvalidBlobNameError(
            FieldError(
                "run_id",
                f"must be 1-128 letters, digits, '.', '_' or '-' starting with a letter or digit, got {shown(run_id)}",
            )
        )
    return run_id


def run_prefix(run_id: str) -> str:
    """The folder holding a run's outputs: `runs/{run_id}/`."""
    return f"{RUNS_FOLDER}/{validate_run_id(run_id)}/"


def run_blob(run_id: str, name: str) -> str:
    """The blob name of `name` (e.g. `video.mp4`, `remix/video.mp4`) inside a run's folder."""
    return validate_blob_name(run_prefix(run_id) + validate_blob_name(name, field_name="name"))
