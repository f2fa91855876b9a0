"""Scripted faults: error statuses, slow answers, dropped connections, truncated downloads and stalled renders."""

from __future__ import annotations

import httpx
import pytest

from tests.emulators.sora.conftest import JOBS, PREVIEW, Harness
from tests.emulators.sora.test_videos_api import error_of


def test_a_status_fault_answers_the_next_count_calls_then_stops(sora: Harness):
    fault = sora.add_fault(operation="create", api="videos", kind="status", status=503, count=2, retry_after=1)
    assert (fault["kind"], fault["count"]) == ("status", 2)
    for _ in range(2):
        response = sora.http.post("/v1/videos", json={"prompt": "x"})
        error = error_of(response, 503)
        assert (error["code"], error["type"]) == ("service_unavailable", "server_error")
        assert response.headers["Retry-After"] == "1"
    assert sora.create_video()["status"] == "queued"
    creates = sora.requests(operation="create")
    assert [(e["status"], e["fault"]) for e in creates] == [(503, "status"), (503, "status"), (200, None)]
    assert creates[0]["job_id"] is None, "a faulted create made no job"
    assert sora.admin("GET", "faults").json() == {"faults": []}


@pytest.mark.parametrize(
    ("status", "code"), [(429, "rate_limit_exceeded"), (500, "internal_error"), (502, "bad_gateway")]
)
def test_status_faults_carry_provider_shaped_bodies(sora: Harness, status: int, code: str):
    sora.add_fault(operation="retrieve", kind="status", status=status)
    video = sora.create_video()
    assert error_of(sora.http.get(f"/v1/videos/{video['id']}"), status)["code"] == code
    assert sora.video(video["id"])["id"] == video["id"]


def test_faults_match_by_api(sora: Harness):
    sora.add_fault(operation="create", api="jobs", kind="status", status=500)
    assert sora.create_video()["status"] == "queued"
    body = {"prompt": "x", "model": "sora", "width": 480, "height": 480}
    assert sora.http.post(f"{JOBS}/jobs", params=PREVIEW, json=body).status_code == 500


def test_a_status_fault_after_the_call_hides_a_create_that_happened(sora: Harness):
    sora.add_fault(operation="create", kind="status", status=500, phase="after")
    assert sora.http.post("/v1/videos", json={"prompt": "x"}).status_code == 500
    [create] = sora.requests(operation="create")
    assert create["status"] == 500 and create["job_id"] is not None
    assert [v["id"] for v in sora.http.get("/v1/videos").json()["data"]] == [create["job_id"]]


def test_a_fault_without_count_lasts_until_reset(sora: Harness):
    sora.add_fault(operation="list", kind="status", status=429, count=None, retry_after=2)
    for _ in range(3):
        response = sora.http.get("/v1/videos")
        assert (response.status_code, response.headers["Retry-After"]) == (429, "2")
    [fault] = sora.admin("GET", "faults").json()["faults"]
    assert (fault["count"], fault["hits"]) == (None, 3)
    sora.reset()
    assert sora.http.get("/v1/videos").status_code == 200


def test_a_slow_fault_delays_the_answer_past_a_client_timeout(sora: Harness):
    sora.add_fault(operation="retrieve", kind="slow", seconds=2)
    video = sora.create_video()
    with pytest.raises(httpx.ReadTimeout):
        sora.http.get(f"/v1/videos/{video['id']}", timeout=0.2)
    assert sora.video(video["id"])["id"] == video["id"]


def test_a_drop_fault_closes_the_connection_without_an_answer(sora: Harness):
    sora.add_fault(operation="create", kind="drop")
    with pytest.raises(httpx.RemoteProtocolError):
        sora.http.post("/v1/videos", json={"prompt": "x"})
    [create] = sora.requests(operation="create")
    assert (create["status"], create["fault"], create["job_id"]) == (None, "drop", None)
    assert sora.http.get("/v1/videos").json()["data"] == []


def test_a_drop_after_the_call_loses_the_answer_of_a_create_that_happened(sora: Harness):
    sora.add_fault(operation="create", kind="drop", phase="after")
    with pytest.raises(httpx.RemoteProtocolError):
        sora.http.post("/v1/videos", json={"prompt": "x"})
    assert len(sora.http.get("/v1/videos").json()["data"]) == 1


def read_until_cut(sora: Harness, path: str, params: dict | None = None) -> tuple[int, int, type]:
    """Stream a download; returns (announced length, bytes received, the exception that ended it)."""
    received = 0
    with sora.http.stream("GET", path, params=params) as response:
        announced = int(response.headers["content-length"])
        try:
            for chunk in response.iter_raw():
                received += len(chunk)
        except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
            return announced, received, type(exc)
    raise AssertionError(f"the download of {received} bytes completed")


def test_a_truncate_fault_cuts_the_body_short_of_its_content_length(sora: Harness):
    video = sora.create_video()
    sora.finish_renders()
    sora.add_fault(operation="content", kind="truncate", bytes=100_000)
    announced, received, _ = read_until_cut(sora, f"/v1/videos/{video['id']}/content")
    assert received == 100_000 < announced
    whole = sora.http.get(f"/v1/videos/{video['id']}/content")
    assert len(whole.content) == announced
    assert [e["fault"] for e in sora.requests(operation="content")] == ["truncate", None]


def test_a_drop_fault_on_content_resets_the_connection_mid_body(sora: Harness):
    job = sora.create_job(n_seconds=1)
    sora.finish_renders()
    generation = sora.job(job["id"])["generations"][0]["id"]
    sora.add_fault(operation="content", api="jobs", kind="drop", bytes=4096)
    announced, received, _ = read_until_cut(sora, f"{JOBS}/{generation}/content/video", PREVIEW)
    assert received <= 4096 < announced


def test_a_stall_fault_keeps_renders_in_progress_forever(sora: Harness):
    sora.add_fault(operation="create", kind="stall", count=2)
    video = sora.create_video()
    job = sora.create_job()
    sora.finish_renders()
    sora.advance(10_000)
    stalled = sora.video(video["id"])
    assert stalled["status"] == "in_progress" and stalled["progress"] < 100
    assert sora.job(job["id"])["status"] == "running"
    assert sora.http.post("/v1/videos", json={"prompt": "x"}).status_code == 429, "stalled jobs hold their slots"
    sora.reset()
    assert sora.create_video()["status"] == "queued"


def test_faults_never_touch_the_admin_api(sora: Harness):
    sora.add_fault(kind="status", status=500, count=None)
    assert sora.admin("GET", "faults").status_code == 200
    assert sora.admin("GET", "status").status_code == 200


@pytest.mark.parametrize(
    ("spec", "param"),
    [
        ({"kind": "explode"}, "kind"),
        ({}, "kind"),
        ({"kind": "status"}, "status"),
        ({"kind": "status", "status": 200}, "status"),
        ({"kind": "status", "status": "503"}, "status"),
        ({"kind": "slow"}, "seconds"),
        ({"kind": "slow", "seconds": -1}, "seconds"),
        ({"kind": "truncate", "operation": "create"}, "operation"),
        ({"kind": "stall", "operation": "content"}, "operation"),
        ({"kind": "status", "status": 500, "operation": "upload"}, "operation"),
        ({"kind": "status", "status": 500, "api": "images"}, "api"),
        ({"kind": "status", "status": 500, "count": 0}, "count"),
        ({"kind": "status", "status": 500, "count": True}, "count"),
        ({"kind": "slow", "seconds": 1, "phase": "after"}, "phase"),
        ({"kind": "drop", "operation": "content", "phase": "after"}, "phase"),
        ({"kind": "drop", "when": "now"}, "when"),
    ],
)
def test_bad_fault_descriptions_are_400s(sora: Harness, spec: dict, param: str):
    response = sora.admin("POST", "faults", spec)
    assert error_of(response, 400)["param"] == param
    assert sora.admin("GET", "faults").json() == {"faults": []}


def test_a_fault_body_that_is_not_an_object_is_a_400(sora: Harness):
    response = sora.http.post("/_emulator/faults", content=b"[1]", headers={"content-type": "application/json"})
    assert response.status_code == 400
    response = sora.http.post("/_emulator/faults", content=b"{oops", headers={"content-type": "application/json"})
    assert error_of(response, 400)["code"] == "invalid_json"


def test_an_after_phase_fault_for_any_operation_leaves_downloads_alone(sora: Harness):
    video = sora.create_video()
    sora.finish_renders()
    sora.add_fault(kind="status", status=500, phase="after")
    assert sora.http.get(f"/v1/videos/{video['id']}/content", params={"variant": "thumbnail"}).status_code == 200
    assert sora.http.get("/v1/videos").status_code == 500
