"""Running operations share --max-concurrent-jobs (429 RESOURCE_EXHAUSTED past it); done ones are kept 2 days."""

from __future__ import annotations

from tests.emulators.vertex.conftest import Harness, error_of, inline_video

TWO_DAYS = 2 * 24 * 3600


def test_a_create_past_the_limit_is_resource_exhausted_and_makes_nothing(vertex: Harness):
    vertex.reset(time_scale=1.0, max_concurrent_jobs=2)
    vertex.create()
    vertex.create()
    error = error_of(vertex.predict(), 429)
    assert error["status"] == "RESOURCE_EXHAUSTED"
    assert "Quota exceeded" in error["message"] and "limit is 2" in error["message"]
    assert [e["status"] for e in vertex.requests(operation="create")] == [200, 200, 429]
    assert vertex.admin("GET", "status").json()["active_jobs"] == 2


def test_a_done_operation_frees_its_slot(vertex: Harness):
    vertex.reset(time_scale=1.0, max_concurrent_jobs=1)
    vertex.create()
    assert vertex.predict().status_code == 429
    vertex.finish_renders()
    assert vertex.predict().status_code == 200


def test_validation_comes_before_the_limit(vertex: Harness):
    vertex.reset(time_scale=1.0, max_concurrent_jobs=1)
    vertex.create()
    assert error_of(vertex.predict(durationSeconds=5), 400)["status"] == "INVALID_ARGUMENT"


def test_a_done_operation_is_kept_for_two_days_scaled_then_gone(vertex: Harness):
    vertex.reset(time_scale=1.0)
    name = vertex.create()  # done after 35 s
    vertex.advance(35 + TWO_DAYS - 5)
    assert inline_video(vertex.fetch(name))[4:8] == b"ftyp"
    vertex.advance(10)
    error = error_of(vertex.fetch_response(name), 404)
    assert error["status"] == "NOT_FOUND" and "retention" in error["message"]


def test_retention_is_scaled_by_the_time_scale(vertex: Harness):
    vertex.reset(time_scale=0.01)
    name = vertex.create()
    vertex.advance((35 + TWO_DAYS) * 0.01 - 1)
    assert vertex.fetch(name)["done"] is True
    vertex.advance(2)
    assert vertex.fetch_response(name).status_code == 404


def test_a_running_operation_never_expires(vertex: Harness):
    vertex.reset(time_scale=1.0)
    vertex.add_fault(operation="create", kind="stall")
    name = vertex.create()
    vertex.advance(3 * TWO_DAYS)
    assert vertex.fetch(name) == {"name": name}
