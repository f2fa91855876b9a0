"""A provider's words are shown to users and written to logs: they arrive readable, on one line, and bounded."""

import pytest

from soraflow.providers.errors import error_from_response, readable
from soraflow.providers.job import JobError


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("line one\nline two", "line one line two"),
        ("forged\r\n2026-01-01 INFO all good", "forged 2026-01-01 INFO all good"),
        ("\x1b[31mred\x1b[0m", "[31mred [0m"),
        ("nul\x00byte", "nul byte"),
        ("\u202eevil\u202c", "evil"),
        ("c1\x85control\x9f", "c1 control"),
        ("  padded  \t ", "padded"),
    ],
)
def test_provider_text_loses_control_and_direction_characters(text, shown):
    assert readable(text) == shown


def test_provider_text_is_cut_to_its_limit():
    assert readable("x" * 5000, 100) == "x" * 99 + "…"


def test_a_failed_jobs_reason_is_made_readable():
    error = JobError.from_provider("moderation\n_blocked\x00", "bad\u202e\nthing" + "!" * 3000)
    assert "\n" not in error.code + error.message and "\u202e" not in error.message
    assert len(error.message) <= 1200


def test_an_error_answer_with_control_characters_becomes_one_readable_line():
    body = b'{"error": {"code": "tea\\u0000pot\\n", "message": "short\\r\\nand \\u001b[1mstout"}}'
    error = error_from_response(418, body, api="videos", operation="create")
    assert error.provider_code == "tea pot"
    assert "\n" not in error.message and "\x1b" not in error.message
    assert "short and [1mstout" in error.message
