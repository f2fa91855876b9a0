"""Remix: chained in the request, and as a new run from a completed one (POST /videos/{id}/remix)."""

from tests.media import probe


def test_a_remix_in_the_request_runs_after_the_first_video(soraflow_app, tmp_path):
    run = soraflow_app.run(prompt="a cat on a windowsill", seconds=4, remix={"prompt": "make it snow"})
    assert run["status"] == "completed", run
    by_source = {(o["source"], o["kind"]): o for o in run["outputs"]}
    assert by_source[("generation", "video")]["blob"] == f"runs/{run['id']}/video.mp4"
    assert by_source[("remix", "video")]["blob"] == f"runs/{run['id']}/remix/video.mp4"
    media = probe(soraflow_app.download_blob(by_source[("remix", "video")]["blob"], tmp_path / "remix.mp4"))
    assert (media.width, media.height, media.video_codec) == (720, 1280, "h264")
    remixes = [r for r in soraflow_app.sora_requests(operation="remix") if r["status"] < 300]
    assert any(r["job_id"] for r in remixes)
    assert run["cost"]["seconds"] == 8  # the remix is billed as a second generation


def test_remixing_a_completed_run_starts_a_new_run(soraflow_app):
    source = soraflow_app.run(prompt="a lantern in fog")
    response = soraflow_app.http.post(f"{soraflow_app.url}/api/videos/{source['id']}/remix", json={"prompt": "bluer"})
    assert response.status_code == 202, response.text
    remix = soraflow_app.wait(response.json()["id"])
    assert remix["status"] == "completed", remix
    assert remix["id"] != source["id"]
    assert remix["request"]["prompt"] == "bluer"
    assert {o["kind"] for o in remix["outputs"]} >= {"video"}


def test_remix_of_an_unknown_run_is_404(soraflow_app):
    response = soraflow_app.http.post(f"{soraflow_app.url}/api/videos/run-doesnotexist0/remix", json={"prompt": "x"})
    assert response.status_code == 404
    assert response.json()["errors"][0]["field"] == "id"


def test_remix_with_unknown_fields_is_400(soraflow_app):
    source = soraflow_app.run(prompt="a kite")
    response = soraflow_app.http.post(
        f"{soraflow_app.url}/api/videos/{source['id']}/remix", json={"prompt": "x", "seconds": "8"}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "seconds"
