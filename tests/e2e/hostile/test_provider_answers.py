"""Hostile provider answers, end to end: the Sora emulator answers a create or a download with an odd error body.

`CASES` is the corpus. Each scripts one `status` fault with a strange code and message (control characters, markup,
2,000 characters, our own API key echoed back) and starts a run. The run must end `failed` with a typed error that
keeps the provider's code readable, bounded and free of the key; exactly one job is created; no video is stored.
(Malformed JSON, unknown statuses and missing fields in answers are covered against the clients in
tests/integration/providers.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from tests.e2e.conftest import EMULATOR_KEY

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
MAX_MESSAGE_CHARS = 2_000


@dataclass(frozen=True)
class HostileAnswer:
    """A scripted provider answer and the run error it must become."""

    name: str
    operation: str  # create | content
    status: int
    code: str
    message: str
    run_error: str  # the run's error code
    prompt: str = "a kettle whistles on a stove"


# fmt: off
CASES = [
    HostileAnswer("create-teapot-control-characters", "create", 418, "tea\x00pot\n\x1b[31m<b>",
                  "short\x07\r\nand stout", "provider_bad_request"),
    HostileAnswer("create-key-echoed-2000-chars", "create", 400, "invalid_request",
                  f"bad header api-key: {EMULATOR_KEY} " + "x" * 1900, "provider_bad_request"),
    HostileAnswer("create-html-page", "create", 422, "<html>", "<html><body><h1>502 Bad Gateway</h1></body></html>",
                  "provider_bad_request"),
    HostileAnswer("create-moderation-odd-message", "create", 400, "moderation_blocked", "\u202eflagged\u202c\x00",
                  "content_policy"),
    HostileAnswer("download-gone-odd-code", "content", 404, "\x7fvanished\x85", "nothing\nhere",
                  "provider_not_found"),
]
# fmt: on


def run_with_fault(app, case: HostileAnswer) -> dict:
    """Script the answer (every download until cleared, one create), run to the end, and read the final resource."""
    fault = {"kind": "status", "operation": case.operation, "status": case.status, "code": case.code,
             "message": case.message, "count": 1 if case.operation == "create" else None}  # fmt: skip
    assert app.sora_admin("POST", "faults", fault).status_code == 201
    try:
        run = app.run(prompt=case.prompt)
    finally:
        app.sora_admin("DELETE", "faults")
    app.quiesce()
    return app.get(run["id"]).json()


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_an_odd_provider_error_fails_the_run_clearly(hostile_app, case):
    hostile_app.quiesce()
    before = len(hostile_app.sora_requests(operation="create"))
    run = run_with_fault(hostile_app, case)
    error = run["error"]
    assert run["status"] == "failed", run
    assert error["code"] == case.run_error, error
    assert error["retryable"] is False
    assert len(error["message"]) <= MAX_MESSAGE_CHARS
    assert EMULATOR_KEY not in str(run)
    assert not CONTROL.search(error["message"]), error["message"]
    assert not CONTROL.search(error.get("provider_code") or ""), error
    assert len(hostile_app.sora_requests(operation="create")) == before + 1
    stored = {b.name.rsplit("/", 1)[-1] for b in hostile_app.blobs().list_blobs(name_starts_with=f"runs/{run['id']}/")}
    assert not stored & {"video.mp4", "thumbnail.webp", "spritesheet.jpg"}, stored
    assert hostile_app.http.get(f"{hostile_app.url}/api/health").status_code == 200
