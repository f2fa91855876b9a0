"""Text-to-video end to end: POST a prompt, poll the run, find a playable MP4 of the right size in Azurite."""

from tests.e2e.conftest import FUNCTION_KEY
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
    creates = soraflow_app.sora_requests(operation="create")
    assert len([r for r in creates if r["status"] < 300]) == 1


def test_start_returns_202_with_location(soraflow_app):
    response = soraflow_app.post_video({"prompt": "a lighthouse at dusk"})
    assert response.status_code == 202
    assert response.headers["location"].endswith(f"/api/videos/{response.json()['id']}")


def test_routes_need_the_function_key(soraflow_app):
    import httpx

    assert httpx.post(f"{soraflow_app.url}/api/videos", json={"prompt": "x"}).status_code == 401
    assert httpx.get(f"{soraflow_app.url}/api/health").status_code in (200, 503)
    assert FUNCTION_KEY
