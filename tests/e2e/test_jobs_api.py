"""Sora 1 (the Azure jobs API) end to end: variants land as separate MP4s, the run resource keeps its shape."""

import httpx
import pytest

from tests.media import probe

# Renders take a fraction of a second here: the first status call need not wait the default 3 s.
APP_ENV = {"SORA_API": "jobs", "SORA_MODEL": "sora", "POLL_INITIAL_SECONDS": "0.5", "POLL_FLOOR_SECONDS": "0.25"}


@pytest.fixture(autouse=True)
def fresh_emulator(soraflow_app):
    """Each test reads the emulator's log from a clean slate."""
    assert soraflow_app.sora_admin("POST", "reset").status_code == 200


def test_two_variants_store_two_playable_mp4s_of_the_requested_shape(soraflow_app, tmp_path):
    run = soraflow_app.run(prompt="a paper boat on a pond", size="480x480", seconds=2, variants=2)

    assert run["status"] == "completed", run
    videos = sorted((o for o in run["outputs"] if o["kind"] == "video"), key=lambda o: o["index"])
    assert [(o["index"], o["blob"]) for o in videos] == [
        (0, f"runs/{run['id']}/video.mp4"),
        (1, f"runs/{run['id']}/video-1.mp4"),
    ]
    contents = []
    for output in videos:
        blob = soraflow_app.blobs().get_blob_client(output["blob"])
        properties = blob.get_blob_properties()
        assert properties.size == output["bytes"] > 0
        assert properties.content_settings.content_type == "video/mp4"
        media = probe(soraflow_app.download_blob(output["blob"], tmp_path / f"variant-{output['index']}.mp4"))
        assert (media.video_codec, media.width, media.height) == ("h264", 480, 480)
        assert abs(media.duration - 2) < 0.2
        contents.append(blob.download_blob().readall())
    assert contents[0] != contents[1], "each variant is its own video, not the first one twice"
    creates = soraflow_app.sora_requests(operation="create")
    assert [r["api"] for r in creates] == ["jobs"] and creates[0]["status"] < 300
    downloads = soraflow_app.sora_requests(operation="content", job_id=run["provider"]["job_id"])
    assert len([r for r in downloads if r["path"].endswith("/content/video")]) == 2


def test_the_run_resource_has_the_same_shape_as_for_the_videos_api(soraflow_app):
    run = soraflow_app.run(prompt="a lighthouse in rain", size="480x480", seconds=1, variants=2)

    assert run["status"] == "completed", run
    assert set(run) >= {"id", "status", "progress", "request", "provider", "outputs", "error", "cost",
                        "created_at", "updated_at", "completed_at"}  # fmt: skip
    assert run["progress"] == 100
    assert run["error"] is None
    assert run["provider"]["api"] == "jobs"
    assert run["provider"]["status"] == "succeeded"
    assert run["provider"]["job_id"]
    assert run["request"]["api"] == "jobs"
    assert (run["request"]["model"], run["request"]["variants"]) == ("sora", 2)
    assert run["cost"]["seconds"] == 2  # one second, two variants
    for output in run["outputs"]:
        assert set(output) >= {"kind", "source", "index", "blob", "content_type", "bytes", "url"}
        assert output["source"] == "generation"
        assert output["url"].endswith(f"variant={output['kind']}&index={output['index']}&source=generation")
    manifest = soraflow_app.blobs().download_blob(f"runs/{run['id']}/run.json").readall()
    assert run["provider"]["job_id"].encode() in manifest


def test_content_serves_the_second_variant_by_index(soraflow_app):
    run = soraflow_app.run(prompt="a windmill", size="480x480", seconds=1, variants=2)
    assert run["status"] == "completed", run

    first = soraflow_app.http.get(f"{soraflow_app.url}/api/videos/{run['id']}/content")
    second = soraflow_app.http.get(f"{soraflow_app.url}/api/videos/{run['id']}/content", params={"index": "1"})
    missing = soraflow_app.http.get(f"{soraflow_app.url}/api/videos/{run['id']}/content", params={"index": "2"})

    assert (first.status_code, second.status_code) == (302, 302)
    first, second = (httpx.get(r.headers["location"], timeout=30) for r in (first, second))
    assert first.content != second.content
    assert second.content == soraflow_app.blobs().download_blob(f"runs/{run['id']}/video-1.mp4").readall()
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")


def test_a_remix_request_is_a_400_naming_remix_and_starts_nothing(soraflow_app):
    before = soraflow_app.http.get(f"{soraflow_app.url}/api/videos", params={"limit": "100"}).json()["data"]

    response = soraflow_app.post_video({"prompt": "a red kite", "size": "480x480", "remix": {"prompt": "at night"}})

    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "remix" in [error["field"] for error in response.json()["errors"]]
    after = soraflow_app.http.get(f"{soraflow_app.url}/api/videos", params={"limit": "100"}).json()["data"]
    assert [r["id"] for r in after] == [r["id"] for r in before]
    assert soraflow_app.sora_requests() == []


def test_variants_beyond_the_jobs_api_limit_are_a_400_naming_variants(soraflow_app):
    response = soraflow_app.post_video({"prompt": "a fox", "size": "480x480", "variants": 5})

    assert response.status_code == 400, response.text
    assert "variants" in [error["field"] for error in response.json()["errors"]]
    assert soraflow_app.sora_requests() == []


def test_remixing_a_finished_jobs_api_run_is_a_400_saying_the_model_cannot_remix(soraflow_app):
    run = soraflow_app.run(prompt="a paper boat on a pond", size="480x480", seconds=2)
    assert run["status"] == "completed", run
    creates = len(soraflow_app.sora_requests(operation="create"))

    response = soraflow_app.http.post(f"{soraflow_app.url}/api/videos/{run['id']}/remix", json={"prompt": "at night"})

    assert response.status_code == 400, response.text
    assert response.json()["errors"] == [{"field": "id", "message": "remix is not supported by sora (sora-jobs)"}]
    assert len(soraflow_app.sora_requests(operation="create")) == creates
    assert soraflow_app.sora_requests(operation="remix") == []


def test_the_models_list_shows_the_jobs_api_model_with_variants_and_no_remix(soraflow_app):
    body = soraflow_app.http.get(f"{soraflow_app.url}/api/models").json()
    assert body["providers"] == ["sora-jobs"] and body["default_model"] == "sora"
    sora = body["data"][0]
    assert (sora["provider"], sora["model"], sora["remix"], sora["max_variants"]) == ("sora-jobs", "sora", False, 4)
    assert sora["price"]["per_variant"] is True and sora["price"]["usd_per_second"]["1280x720"] == 0.05
