"""`:predictLongRunning` answers an operation name; `:fetchPredictOperation` shows it running, then done."""

from __future__ import annotations

import re

import pytest

from tests.emulators.vertex.conftest import (
    FAST,
    LOCATION,
    PROJECT,
    STANDARD,
    Harness,
    error_of,
    inline_video,
    model_path,
)

OPERATION_NAME = re.compile(
    rf"^projects/{PROJECT}/locations/{LOCATION}/publishers/google/models/(?P<model>[^/]+)/operations/"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)


@pytest.mark.parametrize("model", [FAST, STANDARD])
def test_predict_long_running_answers_the_operation_name_under_the_model(vertex: Harness, model: str):
    response = vertex.predict(model=model)
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"name"}
    match = OPERATION_NAME.match(response.json()["name"])
    assert match is not None and match.group("model") == model


@pytest.mark.parametrize("version", ["v1", "v1beta1"])
def test_both_api_versions_serve_the_same_operations(vertex: Harness, version: str):
    body = {"instances": [{"prompt": "a kite"}], "parameters": {"durationSeconds": 4}}
    created = vertex.http.post(model_path("predictLongRunning", version=version), json=body)
    assert created.status_code == 200, created.text
    name = created.json()["name"]
    other = "v1beta1" if version == "v1" else "v1"
    fetched = vertex.http.post(model_path("fetchPredictOperation", version=other), json={"operationName": name})
    assert fetched.json()["name"] == name


def test_an_operation_is_running_until_its_render_time_has_passed(vertex: Harness):
    vertex.reset(time_scale=1.0)
    name = vertex.create(model=FAST, durationSeconds=4)  # (15 + 5 x 4) x 1 = 35 s
    assert vertex.fetch(name) == {"name": name}, "a running operation shows only its name (proto3 omits done=false)"
    vertex.advance(34)
    assert "done" not in vertex.fetch(name)
    vertex.advance(2)
    operation = vertex.fetch(name)
    assert operation["done"] is True
    assert inline_video(operation)[4:8] == b"ftyp"


def test_the_standard_model_renders_longer_than_the_fast_one(vertex: Harness):
    vertex.reset(time_scale=1.0)
    fast = vertex.create(model=FAST, durationSeconds=8)  # 55 s
    standard = vertex.create(model=STANDARD, durationSeconds=8)  # 110 s
    vertex.advance(56)
    assert vertex.fetch(fast)["done"] is True
    assert "done" not in vertex.fetch(standard)
    vertex.advance(55)
    assert vertex.fetch(standard)["done"] is True


def test_time_scale_shortens_the_render(vertex: Harness):
    vertex.reset(time_scale=0.5)
    name = vertex.create(model=FAST, durationSeconds=4)  # 35 s x 0.5
    vertex.advance(17)
    assert "done" not in vertex.fetch(name)
    vertex.advance(1)
    assert vertex.fetch(name)["done"] is True


def test_a_done_operation_carries_the_response_type_and_inline_videos(vertex: Harness):
    operation = vertex.finished(vertex.create())
    response = operation["response"]
    assert response["@type"] == "type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse"
    assert response["raiMediaFilteredCount"] == 0
    assert "raiMediaFilteredReasons" not in response
    [video] = response["videos"]
    assert set(video) == {"bytesBase64Encoded", "mimeType"}
    assert video["mimeType"] == "video/mp4"


def test_sample_count_gives_that_many_different_videos(vertex: Harness):
    operation = vertex.finished(vertex.create(sampleCount=2))
    assert len(operation["response"]["videos"]) == 2
    assert inline_video(operation, 0) != inline_video(operation, 1)


def test_an_unknown_model_is_not_found(vertex: Harness):
    error = error_of(vertex.predict(model="veo-9.0-generate-001"), 404)
    assert error["status"] == "NOT_FOUND"
    assert "veo-9.0-generate-001" in error["message"]
    [create] = vertex.requests(operation="create")
    assert (create["status"], create["job_id"]) == (404, None)


def test_another_publisher_is_not_found(vertex: Harness):
    path = model_path("predictLongRunning").replace("/publishers/google/", "/publishers/acme/")
    error = error_of(vertex.http.post(path, json={"instances": [{"prompt": "x"}]}), 404)
    assert error["status"] == "NOT_FOUND"


def test_fetching_an_unknown_operation_is_not_found(vertex: Harness):
    name = vertex.create().rsplit("/", 1)[0] + "/00000000-0000-4000-8000-000000000000"
    error = error_of(vertex.fetch_response(name), 404)
    assert error["status"] == "NOT_FOUND"
    assert name in error["message"]


def test_an_operation_is_not_found_under_another_model(vertex: Harness):
    name = vertex.create(model=FAST)
    response = vertex.http.post(model_path("fetchPredictOperation", model=STANDARD), json={"operationName": name})
    assert error_of(response, 404)["status"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "operationName"), ({"operationName": 7}, "operationName"), ({"operationName": "x", "other": 1}, "other")],
)
def test_fetch_predict_operation_validates_its_body(vertex: Harness, body: dict, field: str):
    response = vertex.http.post(model_path("fetchPredictOperation"), json=body)
    error = error_of(response, 400)
    assert error["status"] == "INVALID_ARGUMENT"
    assert error["details"][0]["fieldViolations"][0]["field"] == field


def test_unknown_paths_and_methods_answer_google_shaped_404s(vertex: Harness):
    assert error_of(vertex.http.get("/v1/projects/p/nothing"), 404)["status"] == "NOT_FOUND"
    assert error_of(vertex.http.get(model_path("predictLongRunning")), 404)["status"] == "NOT_FOUND"
