"""The admin API is the Sora emulator's: status, reset with overrides, the request log with filters, the clock."""

from __future__ import annotations

from tests.emulators.vertex.conftest import PROJECT, SESSION_SCALE, Harness


def test_status_shows_the_settings_in_force(vertex: Harness):
    status = vertex.admin("GET", "status").json()
    assert status["time_scale"] == SESSION_SCALE
    assert status["max_concurrent_jobs"] == 10
    assert (status["api_key_required"], status["project"]) == (True, PROJECT)
    assert status["active_jobs"] == 0


def test_reset_overrides_last_until_the_next_reset(vertex: Harness):
    assert vertex.reset(time_scale=1.0, max_concurrent_jobs=3)["max_concurrent_jobs"] == 3
    vertex.create()
    assert vertex.admin("GET", "status").json()["active_jobs"] == 1
    reset = vertex.reset()
    assert (reset["time_scale"], reset["max_concurrent_jobs"], reset["active_jobs"]) == (SESSION_SCALE, 10, 0)
    assert vertex.requests() == []


def test_the_request_log_filters_by_api_operation_status_and_job(vertex: Harness):
    first = vertex.create()
    vertex.create()
    vertex.predict(durationSeconds=5)
    vertex.fetch(first)
    operation_id = first.rsplit("/", 1)[1]
    assert len(vertex.requests(api="vertex", operation="create")) == 3
    assert [e["status"] for e in vertex.requests(operation="create", status="400")] == [400]
    assert [e["operation"] for e in vertex.requests(job_id=operation_id)] == ["create", "retrieve"]


def test_unknown_paths_are_logged_without_an_operation(vertex: Harness):
    vertex.http.get("/v1/nowhere")
    [entry] = vertex.requests()
    assert (entry["api"], entry["operation"], entry["status"]) == (None, None, 404)


def test_the_clock_advances_renders(vertex: Harness):
    vertex.reset(time_scale=1.0)
    name = vertex.create()
    vertex.advance(3600)
    assert vertex.fetch(name)["done"] is True


def test_the_sora_video_import_is_not_served(vertex: Harness):
    assert vertex.admin("POST", "videos/import", {"path": "/x", "size": "1x1", "seconds": 1}).status_code == 404
