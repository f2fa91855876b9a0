"""Scripted faults with the Sora emulator's shapes: Google-bodied statuses, drops, truncated downloads, stalls."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest

from tests.emulators.vertex.conftest import Harness, error_of


def object_path(gcs_uri: str) -> str:
    bucket, _, name = gcs_uri.removeprefix("gs://").partition("/")
    return f"/storage/v1/b/{bucket}/o/{quote(name, safe='')}"


@pytest.mark.parametrize(
    ("status", "name"),
    [(429, "RESOURCE_EXHAUSTED"), (500, "INTERNAL"), (503, "UNAVAILABLE"), (504, "DEADLINE_EXCEEDED")],
)
def test_a_status_fault_answers_a_google_error_and_creates_nothing(vertex: Harness, status: int, name: str):
    vertex.add_fault(api="vertex", operation="create", kind="status", status=status, retry_after=2)
    response = vertex.predict()
    assert error_of(response, status)["status"] == name
    assert response.headers["Retry-After"] == "2"
    [create] = vertex.requests(operation="create")
    assert (create["fault"], create["job_id"]) == ("status", None)
    assert vertex.predict().status_code == 200


def test_a_status_fault_can_override_the_status_name_and_message(vertex: Harness):
    vertex.add_fault(operation="retrieve", kind="status", status=503, code="UNAVAILABLE", message="try later")
    name = vertex.create()
    assert error_of(vertex.fetch_response(name), 503) == {"code": 503, "message": "try later", "status": "UNAVAILABLE"}
    assert vertex.fetch(name)["name"] == name


def test_a_fault_after_the_call_hides_an_operation_that_was_created(vertex: Harness):
    vertex.add_fault(operation="create", kind="status", status=500, phase="after")
    assert vertex.predict().status_code == 500
    [create] = vertex.requests(operation="create")
    assert create["job_id"] is not None, "the operation exists although the caller saw a 500"
    assert vertex.admin("GET", "status").json()["active_jobs"] == 1


def test_a_dropped_create_answer_loses_the_name_but_not_the_operation(vertex: Harness):
    vertex.add_fault(operation="create", kind="drop", phase="after")
    with pytest.raises(httpx.HTTPError):
        vertex.predict()
    [create] = vertex.requests(operation="create")
    assert (create["status"], create["fault"]) == (None, "drop")
    assert create["job_id"] is not None


def test_a_dropped_retrieve_is_a_disconnect(vertex: Harness):
    name = vertex.create()
    vertex.add_fault(operation="retrieve", kind="drop")
    with pytest.raises(httpx.HTTPError):
        vertex.fetch_response(name)
    assert vertex.fetch(name)["name"] == name


def test_a_truncated_download_stops_short_of_its_content_length(vertex: Harness):
    name = vertex.create(storageUri="gs://my-bucket/out")
    [video] = vertex.finished(name)["response"]["videos"]
    vertex.add_fault(api="storage", operation="content", kind="truncate", bytes=1000)
    with (
        pytest.raises(httpx.HTTPError),
        vertex.http.stream("GET", object_path(video["gcsUri"]), params={"alt": "media"}) as r,
    ):
        assert r.status_code == 200
        r.read()
    whole = vertex.http.get(object_path(video["gcsUri"]), params={"alt": "media"})
    assert whole.status_code == 200 and len(whole.content) > 1000


def test_a_stalled_operation_never_finishes_and_keeps_its_slot(vertex: Harness):
    vertex.reset(max_concurrent_jobs=1)
    vertex.add_fault(operation="create", kind="stall")
    name = vertex.create()
    vertex.finish_renders()
    assert vertex.fetch(name) == {"name": name}
    assert error_of(vertex.predict(), 429)["status"] == "RESOURCE_EXHAUSTED"


def test_a_slow_fault_delays_then_answers(vertex: Harness):
    vertex.add_fault(operation="create", kind="slow", seconds=0.2)
    assert vertex.predict().status_code == 200
    [create] = vertex.requests(operation="create")
    assert create["fault"] == "slow"


def test_faults_know_only_this_emulators_apis_and_operations(vertex: Harness):
    for spec in ({"kind": "status", "status": 500, "api": "videos"}, {"kind": "drop", "operation": "remix"}):
        response = vertex.admin("POST", "faults", spec)
        assert response.status_code == 400
        assert response.json()["error"]["param"] in ("api", "operation")
