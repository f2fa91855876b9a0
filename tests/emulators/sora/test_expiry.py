"""Outputs expire 24 h (scaled) after creation: the video reports `expired`, the jobs API deletes the job."""

from __future__ import annotations

from tests.emulators.sora.conftest import JOBS, PREVIEW, SESSION_SCALE, Harness
from tests.emulators.sora.test_videos_api import error_of

DAY = 86_400 * SESSION_SCALE


def test_a_video_reports_expired_after_24_scaled_hours_and_its_content_is_gone(sora: Harness):
    video = sora.create_video()
    sora.finish_renders()
    done = sora.video(video["id"])
    assert done["expires_at"] == int(done["created_at"] + DAY)
    sora.advance(DAY)
    expired = sora.video(video["id"])
    assert expired["status"] == "expired"
    assert expired["expires_at"] == done["expires_at"]
    assert [v["status"] for v in sora.http.get("/v1/videos").json()["data"]] == ["expired"]
    for variant in ("video", "thumbnail", "spritesheet"):
        response = sora.http.get(f"/v1/videos/{video['id']}/content", params={"variant": variant})
        assert error_of(response, 410)["code"] == "video_expired"
    remix = sora.http.post(f"/v1/videos/{video['id']}/remix", json={"prompt": "again"})
    assert error_of(remix, 410)["code"] == "video_expired"
    assert sora.http.delete(f"/v1/videos/{video['id']}").status_code == 200


def test_a_video_is_still_downloadable_just_before_it_expires(sora: Harness):
    video = sora.create_video()
    sora.finish_renders()
    sora.advance(DAY - 130 * SESSION_SCALE - 1)
    assert sora.video(video["id"])["status"] == "completed"


def test_a_jobs_api_job_is_deleted_when_it_expires(sora: Harness):
    job = sora.create_job(n_seconds=1)
    sora.finish_renders()
    generation = sora.job(job["id"])["generations"][0]["id"]
    sora.advance(DAY)
    error = error_of(sora.http.get(f"{JOBS}/jobs/{job['id']}", params=PREVIEW), 404)
    assert error["code"] == "job_expired"
    response = sora.http.get(f"{JOBS}/{generation}/content/video", params=PREVIEW)
    assert error_of(response, 410)["code"] == "generation_expired"
    assert sora.http.get(f"{JOBS}/jobs", params=PREVIEW).json()["data"] == []


def test_failed_videos_never_get_an_expiry(sora: Harness):
    video = sora.create_video(prompt="[internal-error]")
    sora.finish_renders()
    sora.advance(DAY * 2)
    failed = sora.video(video["id"])
    assert (failed["status"], failed["expires_at"]) == ("failed", None)
