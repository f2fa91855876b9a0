import pytest

from soraflow.errors import SoraflowError
from soraflow.runs import (
    FINAL_STATUSES,
    ActivityFailure,
    RunStatus,
    error_from_failure,
    is_valid_run_id,
    request_fingerprint,
    run_id_for_blob,
    run_id_for_idempotency_key,
)


def test_final_statuses_are_exactly_completed_failed_cancelled():
    assert {s for s in RunStatus if s.is_final} == FINAL_STATUSES == {"completed", "failed", "cancelled"}


def test_idempotency_key_maps_to_one_valid_run_id():
    first, again, other = (run_id_for_idempotency_key(k) for k in ("key-1", "key-1", "key-2"))
    assert first == again != other
    assert is_valid_run_id(first)


def test_blob_run_id_changes_with_the_etag_only():
    a = run_id_for_blob("video-requests", "cat.json", '"0x8D1"')
    assert a == run_id_for_blob("video-requests", "cat.json", "0x8D1")  # quotes do not matter
    assert a != run_id_for_blob("video-requests", "cat.json", '"0x8D2"')
    assert a != run_id_for_blob("video-requests", "dog.json", '"0x8D1"')
    assert is_valid_run_id(a)


@pytest.mark.parametrize(
    "bad", ["", "short", "../../etc", "RUN-UPPER-CASE-ID", "-leading-dash-x", "a" * 65, "run id x"]
)
def test_hostile_or_foreign_run_ids_are_invalid(bad):
    assert not is_valid_run_id(bad)


def test_fingerprint_ignores_key_order_but_not_values():
    assert request_fingerprint({"a": 1, "b": 2}) == request_fingerprint({"b": 2, "a": 1})
    assert request_fingerprint({"a": 1}) != request_fingerprint({"a": 2})


def test_typed_error_survives_the_durable_failure_text():
    error = SoraflowError("provider busy", code="rate_limited", retryable=True)
    failure = ActivityFailure.from_error(error)
    # What the orchestrator sees: "Activity function 'x' failed: <message> \n <details>".
    text = f"Activity function 'create_provider_job' failed: {failure} \n Traceback ..."
    recovered = error_from_failure(Exception(text))
    assert recovered["code"] == "rate_limited"
    assert recovered["retryable"] is True
    assert recovered["message"] == "provider busy"


def test_untyped_failure_becomes_internal_error_with_its_first_line():
    recovered = error_from_failure(Exception("ValueError: boom\nTraceback (most recent call last):"))
    assert recovered == {"code": "internal_error", "message": "ValueError: boom", "retryable": False,
                         "provider_code": None}  # fmt: skip


def test_corrupt_marker_falls_back_to_internal_error():
    assert error_from_failure("x soraflow-error:{not json")["code"] == "internal_error"
    assert error_from_failure("")["message"] == "unknown failure"
