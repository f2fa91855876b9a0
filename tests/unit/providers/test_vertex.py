"""The Vertex client's pure parts: reading a streamed operation, mapping Google's errors and filtering, the plug-in."""

from __future__ import annotations

import base64
import json

import pytest

from soraflow.config import Settings
from soraflow.errors import RequestValidationError
from soraflow.providers.errors import ProviderRateLimited, error_from_response
from soraflow.providers.status import JobStatus
from soraflow.providers.vertex import VertexProvider, google_error_body, parse_operation, scan_operation

NAME = "projects/p/locations/us-central1/publishers/google/models/veo-3.1-fast-generate-001/operations/abc"


def operation_bytes(videos: list[bytes]) -> bytes:
    response = {
        "videos": [{"bytesBase64Encoded": base64.b64encode(v).decode(), "mimeType": "video/mp4"} for v in videos]
    }
    return json.dumps({"name": NAME, "done": True, "response": response}).replace("/", "\\/").encode()


@pytest.mark.parametrize("piece", [1, 3, 7, 64])
def test_scan_operation_splits_videos_from_the_json_at_any_chunk_boundary(piece):
    raw = operation_bytes([b"first video", b"second"])
    events = list(scan_operation(raw[i : i + piece] for i in range(0, len(raw), piece)))
    text = b"".join(e[1] for e in events if e[0] == "json")
    first = b"".join(e[2] for e in events if e[0] == "video" and e[1] == 0)
    assert base64.b64decode(first) == b"first video"
    assert json.loads(text)["response"]["videos"][1] == {"bytesBase64Encoded": "", "mimeType": "video/mp4"}
    assert [e[1] for e in events if e[0] == "video_end"] == [0, 1]


def test_every_filtered_sample_is_a_content_policy_failure_with_the_reasons():
    body = {"name": NAME, "done": True, "response": {"raiMediaFilteredCount": 1, "raiMediaFilteredReasons": ["r1"]}}
    job = parse_operation(body, operation="get")
    assert job.status is JobStatus.FAILED and job.error.content_policy and job.error.message == "r1"


def test_an_operation_still_rendering_is_running():
    assert parse_operation({"name": NAME}, operation="get").status is JobStatus.RUNNING


def test_resource_exhausted_is_rate_limited_with_googles_status_as_the_code():
    body = json.dumps({"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED"}}).encode()
    error = error_from_response(429, google_error_body(body), api="vertex", operation="create", idempotent=False)
    assert isinstance(error, ProviderRateLimited) and error.provider_code == "RESOURCE_EXHAUSTED"


def test_1080p_needs_eight_seconds():
    settings = Settings.from_env({"VERTEX_PROJECT": "p"})
    body = {"prompt": "a boat", "model": "veo-3.1-generate-001", "size": "1920x1080", "seconds": "4"}
    with pytest.raises(RequestValidationError, match="seconds must be 8 at 1080p"):
        VertexProvider().parse(body, settings, allowed_containers=(), allow_upload=False)
