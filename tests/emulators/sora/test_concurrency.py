"""One resource, one limit: creates beyond `max_concurrent_jobs` active jobs get 429 with Retry-After."""

from __future__ import annotations

from tests.emulators.sora.conftest import JOBS, PREVIEW, Harness
from tests.emulators.sora.test_videos_api import error_of


def test_third_create_gets_429_with_retry_after_until_the_earliest_job_ends(sora: Harness):
    sora.reset(time_scale=1.0)  # renders of 40 s (4 s video) and 80 s (12 s video)
    first = sora.create_video(seconds="4")
    sora.advance(10)
    sora.create_video(seconds="12")
    response = sora.http.post("/v1/videos", json={"prompt": "one too many"})
    error = error_of(response, 429)
    assert (error["code"], error["type"]) == ("rate_limit_exceeded", "requests")
    assert "Please retry after 30 seconds" in error["message"]
    assert response.headers["Retry-After"] == "30"
    assert 29_000 < int(response.headers["retry-after-ms"]) <= 30_000
    sora.advance(30.5)
    assert sora.video(first["id"])["status"] == "completed"
    assert sora.create_video()["status"] == "queued"
    statuses = [e["status"] for e in sora.requests(operation="create")]
    assert statuses == [200, 200, 429, 200]


def test_both_apis_share_the_limit(sora: Harness):
    sora.reset(time_scale=1.0)
    sora.create_video()
    sora.create_job()
    assert error_of(sora.http.post("/v1/videos", json={"prompt": "x"}), 429)["code"] == "rate_limit_exceeded"
    body = {"prompt": "x", "model": "sora", "width": 480, "height": 480}
    response = sora.http.post(f"{JOBS}/jobs", params=PREVIEW, json=body)
    assert error_of(response, 429)["code"] == "rate_limit_exceeded"
    assert int(response.headers["Retry-After"]) >= 1


def test_remix_counts_against_the_limit(sora: Harness):
    sora.reset(time_scale=1.0)
    original = sora.create_video()
    sora.finish_renders()
    sora.create_video()
    sora.create_video()
    response = sora.http.post(f"/v1/videos/{original['id']}/remix", json={"prompt": "again"})
    assert error_of(response, 429)["code"] == "rate_limit_exceeded"


def test_deleting_a_running_job_frees_its_slot(sora: Harness):
    sora.reset(time_scale=1.0)
    first = sora.create_video()
    sora.create_video()
    assert sora.http.post("/v1/videos", json={"prompt": "x"}).status_code == 429
    assert sora.http.delete(f"/v1/videos/{first['id']}").status_code == 200
    assert sora.create_video()["status"] == "queued"


def test_failed_jobs_free_their_slot(sora: Harness):
    sora.create_video(prompt="[moderation] blocked late")
    sora.create_video()
    sora.finish_renders()
    sora.create_video()
    assert sora.create_video()["status"] == "queued"


def test_invalid_requests_are_400_even_at_the_limit(sora: Harness):
    sora.reset(time_scale=1.0)
    sora.create_video()
    sora.create_video()
    assert error_of(sora.http.post("/v1/videos", json={"prompt": "x", "seconds": 4}), 400)["code"] == "invalid_type"


def test_the_limit_is_settable_per_test_and_restored_by_reset(sora: Harness):
    assert sora.reset(max_concurrent_jobs=1, time_scale=1.0)["max_concurrent_jobs"] == 1
    sora.create_video()
    assert sora.http.post("/v1/videos", json={"prompt": "x"}).status_code == 429
    assert sora.reset()["max_concurrent_jobs"] == 2
