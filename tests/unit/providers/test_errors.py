import json

import pytest

from soraflow.errors import SoraflowError
from soraflow.providers.errors import (
    ProviderAuthenticationError,
    ProviderBadRequest,
    ProviderContentPolicy,
    ProviderError,
    ProviderExpired,
    ProviderInvalidResponse,
    ProviderNotFound,
    ProviderRateLimited,
    ProviderServerError,
    ProviderUnavailable,
    error_from_response,
    is_moderation_code,
    redact,
)


def body(code=None, message="something went wrong", kind="invalid_request_error", param=None) -> bytes:
    return json.dumps({"error": {"message": message, "type": kind, "param": param, "code": code}}).encode()


def mapped(status, raw=b"", **kwargs):
    return error_from_response(status, raw, api="videos", operation="get", **kwargs)


@pytest.mark.parametrize(
    ("status", "cls", "retryable"),
    [
        (400, ProviderBadRequest, False),
        (409, ProviderBadRequest, False),
        (413, ProviderBadRequest, False),
        (415, ProviderBadRequest, False),
        (422, ProviderBadRequest, False),
        (401, ProviderAuthenticationError, False),
        (403, ProviderAuthenticationError, False),
        (404, ProviderNotFound, False),
        (408, ProviderUnavailable, True),
        (410, ProviderExpired, False),
        (429, ProviderRateLimited, True),
        (500, ProviderServerError, True),
        (502, ProviderServerError, True),
        (503, ProviderServerError, True),
        (504, ProviderServerError, True),
        (599, ProviderServerError, True),
        (302, ProviderInvalidResponse, False),
        (101, ProviderInvalidResponse, False),
    ],
)
def test_every_http_status_class_maps_to_its_error(status, cls, retryable):
    error = mapped(status, body(code="x_code"))
    assert type(error) is cls
    assert error.retryable is retryable
    assert error.http_status == status
    assert error.provider_code == "x_code"
    assert isinstance(error, ProviderError) and isinstance(error, SoraflowError)


@pytest.mark.parametrize(
    "code",
    [
        "moderation_blocked",
        "content_policy_violation",
        "content_filter",
        "input_moderation",
        "output_moderation",
        "Moderation_Blocked",
        "sora_moderation_rejected",
    ],
)
def test_moderation_codes_become_content_policy_whatever_the_status(code):
    for status in (400, 403, 422):
        error = mapped(status, body(code=code, message="Your request was blocked by our moderation system."))
        assert type(error) is ProviderContentPolicy
        assert not error.retryable
        assert "blocked by our moderation system" in error.message


@pytest.mark.parametrize("code", [None, "", "invalid_type", "internal_error", "content"])
def test_other_codes_are_not_moderation(code):
    assert not is_moderation_code(code)


def test_expired_code_on_404_is_expiry_not_absence():
    error = mapped(404, body(code="video_expired", message="The video's assets have expired."))
    assert type(error) is ProviderExpired


def test_message_keeps_the_providers_words_and_says_whether_retrying_helps():
    bad = mapped(400, body(code="invalid_type", message="Invalid type for 'seconds': expected one of '4', '8'"))
    assert "Invalid type for 'seconds'" in bad.message
    assert "HTTP 400" in bad.message and "invalid_type" in bad.message
    assert bad.message.endswith("Retrying the same request will not help.")
    busy = mapped(503, body(message="The service is busy"))
    assert busy.message.endswith("Retrying later may help.")


def test_rate_limit_carries_retry_after_and_mentions_it():
    error = mapped(429, body(code="too_many_jobs", message="Too many concurrent jobs"), retry_after=7.0)
    assert error.retry_after == 7.0
    assert "wait 7 s" in error.message
    assert error.to_dict()["retry_after"] == 7.0


def test_retry_after_is_dropped_for_errors_retrying_cannot_fix():
    assert mapped(400, body(), retry_after=5.0).retry_after is None


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"<html><body>502 Bad Gateway</body></html>",
        b"\xff\xfe\x00garbage",
        b"[1, 2, 3]",
        b'"just a string"',
        b'{"error": 42}',
        b'{"error": {"code": ["a"], "message": {"nested": true}}}',
        b'{"error": {"code": true}}',
        b"null",
        b'{"detail": "not found"}',
    ],
)
def test_malformed_error_bodies_never_crash_the_mapping(raw):
    error = mapped(502, raw)
    assert type(error) is ProviderServerError
    assert error.message.startswith("Sora videos API get failed (HTTP 502")


def test_plain_text_error_body_is_quoted_in_short():
    error = mapped(502, b"upstream connect error " + b"x" * 5000)
    assert "upstream connect error" in error.message
    assert len(error.message) < 500


def test_error_as_plain_string_is_used_as_the_message():
    assert "quota exhausted" in mapped(429, b'{"error": "quota exhausted"}').message


def test_secrets_echoed_by_the_provider_are_redacted():
    key = "sk-live-0123456789abcdef"
    error = mapped(401, body(code="invalid_api_key", message=f"Incorrect API key provided: {key}"), secrets=[key])
    assert key not in error.message
    assert "[redacted]" in error.message
    assert key not in json.dumps(error.to_dict())


def test_short_strings_are_not_redacted_as_secrets():
    assert redact("the key is abc", ["abc"]) == "the key is abc"


@pytest.mark.parametrize("status", [500, 502, 504])
def test_server_error_on_create_warns_the_job_may_exist(status):
    error = error_from_response(status, body(), api="videos", operation="create", idempotent=False)
    assert error.outcome_unknown
    assert "look it up before creating another" in error.message


@pytest.mark.parametrize("status", [400, 429, 503])
def test_refusals_on_create_are_known_outcomes(status):
    error = error_from_response(status, body(), api="videos", operation="create", idempotent=False)
    assert not error.outcome_unknown


def test_to_dict_is_json_able_and_complete():
    error = mapped(429, body(code="rate_limit_exceeded"), retry_after=1.5, request_id="req-1")
    data = json.loads(json.dumps(error.to_dict()))
    assert data == {
        "code": "provider_rate_limited",
        "message": error.message,
        "retryable": True,
        "http_status": 429,
        "provider_code": "rate_limit_exceeded",
        "retry_after": 1.5,
        "outcome_unknown": False,
    }
    assert error.request_id == "req-1"
