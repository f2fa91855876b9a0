"""Runs: their statuses, ids, and how a typed error crosses the durable boundary intact."""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum

from soraflow.errors import SoraflowError


class RunStatus(StrEnum):
    """Where a run is; the first six are stages of a live run, the last three are final."""

    QUEUED = "queued"
    WAITING_FOR_CAPACITY = "waiting_for_capacity"
    SUBMITTING = "submitting"
    GENERATING = "generating"
    DOWNLOADING = "downloading"
    REMIXING = "remixing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED})

# Run ids are instance ids and blob folder names: keep them to a safe alphabet.
RUN_ID_ALPHABET = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


def is_valid_run_id(value: str) -> bool:
    """True for ids this app could have made (so a path parameter can never name another folder)."""
    return 8 <= len(value) <= 64 and set(value) <= RUN_ID_ALPHABET and not value.startswith("-")


def run_id_for_idempotency_key(key: str) -> str:
    """The run id a POST with this `Idempotency-Key` always gets."""
    return "run-k" + hashlib.sha256(key.encode()).hexdigest()[:32]


def run_id_for_blob(container: str, name: str, etag: str) -> str:
    """The run id of a request blob version: the same blob version always maps to the same run."""
    digest = hashlib.sha256(f"{container}\n{name}\n{etag.strip(chr(34))}".encode()).hexdigest()
    return "run-b" + digest[:32]


def request_fingerprint(body: dict) -> str:
    """A stable hash of a request body, to tell a retried POST from a different one under the same key."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


# A typed error travels through the durable history as text (`TaskFailed.Reason`/`Details`); this marker lets
# the orchestrator get the code, message and retryability back instead of a bare string.
ERROR_MARKER = "soraflow-error:"


class ActivityFailure(Exception):
    """Raised by activities so the orchestrator can recover the typed error from the failure text."""

    def __init__(self, error: dict):
        self.error = error
        super().__init__(f"{error.get('message', '')} {ERROR_MARKER}{json.dumps(error, separators=(',', ':'))}")

    @classmethod
    def from_error(cls, error: SoraflowError) -> ActivityFailure:
        return cls(error_to_dict(error))


def error_to_dict(error: SoraflowError) -> dict:
    """The JSON form of a typed error, as the run resource shows it."""
    data = error.to_dict()
    provider_code = getattr(error, "provider_code", None)
    retry_after = getattr(error, "retry_after", None)
    return {
        "code": data["code"],
        "message": data["message"],
        "retryable": bool(data.get("retryable")),
        "provider_code": provider_code,
        **({"retry_after": retry_after} if retry_after is not None else {}),
    }


def is_typed_failure(failure: BaseException | str) -> bool:
    """True when a durable task failure carries a typed soraflow error (raised by an activity on purpose)."""
    text = str(failure)
    start = text.find(ERROR_MARKER)
    if start < 0:
        return False
    try:
        error, _ = json.JSONDecoder().raw_decode(text, start + len(ERROR_MARKER))
    except ValueError:
        return False
    return isinstance(error, dict) and "code" in error


def error_from_failure(failure: BaseException | str) -> dict:
    """The typed error inside a durable task failure, or an `internal_error` carrying its text."""
    text = str(failure)
    start = text.find(ERROR_MARKER)
    if start >= 0:
        try:
            error, _ = json.JSONDecoder().raw_decode(text, start + len(ERROR_MARKER))
            if isinstance(error, dict) and "code" in error:
                return error
        except ValueError:
            pass
    first_line = text.strip().splitlines()[0] if text.strip() else "unknown failure"
    return {"code": "internal_error", "message": first_line[:500], "retryable": False, "provider_code": None}
