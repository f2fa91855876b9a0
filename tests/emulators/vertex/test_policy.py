"""The content policy: prompt tokens filter samples (raiMediaFilteredCount/Reasons) or fail the operation."""

from __future__ import annotations

import base64

from tests.emulators.vertex.conftest import Harness, model_path
from tests.media import image_bytes


def test_the_moderation_token_filters_every_sample(vertex: Harness):
    response = vertex.finished(vertex.create("a boat [MODERATION]", sampleCount=3))["response"]
    assert response["raiMediaFilteredCount"] == 3
    assert "videos" not in response
    [reason] = response["raiMediaFilteredReasons"]
    assert "You have not been charged" in reason


def test_the_moderation_one_token_filters_only_the_last_sample(vertex: Harness):
    response = vertex.finished(vertex.create("a boat [moderation-one]", sampleCount=2))["response"]
    assert response["raiMediaFilteredCount"] == 1
    assert len(response["videos"]) == 1
    assert len(response["raiMediaFilteredReasons"]) == 1


def test_the_input_moderation_token_fails_the_operation_early_with_invalid_argument(vertex: Harness):
    vertex.reset(time_scale=1.0)
    name = vertex.create("a boat [input-moderation]")  # 35 s render, fails at 20 %
    vertex.advance(7.5)
    operation = vertex.fetch(name)
    assert operation["done"] is True and "response" not in operation
    assert operation["error"]["code"] == 3
    assert "Responsible AI" in operation["error"]["message"]


def test_the_internal_error_token_fails_the_operation_late_with_internal(vertex: Harness):
    vertex.reset(time_scale=1.0)
    name = vertex.create("a boat [internal-error]")  # fails at 90 % of 35 s
    vertex.advance(30)
    assert "done" not in vertex.fetch(name)
    vertex.advance(2)
    assert vertex.fetch(name)["error"] == {"code": 13, "message": "Internal error encountered."}


def test_a_magenta_first_frame_fails_the_operation(vertex: Harness):
    magenta = base64.b64encode(image_bytes(64, 36, colour=(255, 0, 255))).decode()
    body = {"instances": [{"prompt": "a boat", "image": {"bytesBase64Encoded": magenta, "mimeType": "image/png"}}]}
    created = vertex.http.post(model_path("predictLongRunning"), json=body)
    assert created.status_code == 200, created.text
    error = vertex.finished(created.json()["name"])["error"]
    assert error["code"] == 3 and "input image" in error["message"]


def test_an_ordinary_image_renders(vertex: Harness):
    green = base64.b64encode(image_bytes(64, 36)).decode()
    body = {
        "instances": [{"prompt": "a boat", "image": {"bytesBase64Encoded": green, "mimeType": "image/png"}}],
        "parameters": {"durationSeconds": 4},
    }
    created = vertex.http.post(model_path("predictLongRunning"), json=body)
    assert len(vertex.finished(created.json()["name"])["response"]["videos"]) == 1
