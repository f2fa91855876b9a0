"""Text-to-video end to end: POST a prompt, poll the run, find a playable MP4 of the right size in Azurite."""

import httpx

from tests.media import probe


def test_text_to_video_lands_a_playable_mp4_in_blob_storage(soraflow_app, tmp_path):
    started = soraflow_app.start(seconds=4, size="1280x720")
    assert started["status"] == "queued"
    assert started["cost"]["estimated_usd"] == 0.4

    run = soraflow_app.wait(started["id"])

    assert run["status"] == "completed", run
    assert run["progress"] == 100
    kinds = {output["kind"]: output for output in run["outputs"]}
    assert set(kinds) == {"video", "thumbnail", "spritesheet"}
    video = kinds["video"]
    assert video["blob"] == f"runs/{run['id']}/video.mp4"
    media = probe(soraflow_app.download_blob(video["blob"], tmp_path / "video.mp4"))
    assert (media.video_codec, media.width, media.height, media.audio_codec) == ("h264", 1280, 720, "aac")
    assert abs(media.duration - 4) < 0.2
    assert soraflow_app.blobs().get_blob_client(f"runs/{run['id']}/run.json").exists()
    # This run's own job, not a count over the module's shared emulator log (other tests may have run first).
    job_id = run["provider"]["job_id"]
    creates = soraflow_app.sora_requests(operation="create")
    assert [r["status"] for r in creates if r["job_id"] == job_id] == [200]


def test_start_returns_202_with_location(soraflow_app):
    response = soraflow_app.post_video({"prompt": "a lighthouse at dusk"})
    assert response.status_code == 202
    assert response.headers["location"].endswith(f"/api/videos/{response.json()['id']}")


def test_liveness_answers_without_a_key_and_says_nothing_more(soraflow_app):
    response = httpx.get(f"{soraflow_app.url}/api/health", timeout=30)
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_readiness_reports_the_task_hub_and_the_blob_trigger(soraflow_app):
    response = soraflow_app.http.get(f"{soraflow_app.url}/api/health/ready")
    assert response.status_code == 200, response.text
    checks = response.json()["checks"]
    assert checks["task_hub"] == {"ok": True, "name": "soraflowe2e"}
    assert checks["blob_trigger"] == {"ok": True, "source": "EventGrid", "container": "video-requests"}
    assert checks["storage"]["ok"] and checks["provider"]["ok"]
