"""Remix: chained in the request, and as a new run from a completed one (POST /videos/{id}/remix)."""

import json

import httpx

from tests.e2e.conftest import EMULATOR_KEY
from tests.media import probe


def ledger_job_id(app, run_id: str, record: str) -> str:
    """The provider job a run's ledger blob (`provider-job.json`, `provider-remix-job.json`) recorded, from Azurite."""
    return json.loads(app.blobs().download_blob(f"runs/{run_id}/{record}").readall())["job_id"]


def remixes_of(app, source_job_id: str) -> list[str]:
    """The jobs the emulator created by remixing `source_job_id` (its request log: the call's path names the source)."""
    calls = app.sora_requests(operation="remix")
    return [c["job_id"] for c in calls if c["status"] < 300 and c["path"].endswith(f"/videos/{source_job_id}/remix")]


def remixed_from(app, job_id: str) -> str | None:
    """The source the emulator itself holds for a job (`remixed_from_video_id`)."""
    response = httpx.get(f"{app.sora_url}/v1/videos/{job_id}", headers={"api-key": EMULATOR_KEY}, timeout=30)
    response.raise_for_status()
    return response.json()["remixed_from_video_id"]


def created_job_ids(app) -> set[str]:
    return {c["job_id"] for c in app.sora_requests(operation="create") if c["status"] and c["status"] < 300}


def test_a_remix_in_the_request_runs_after_the_first_video(soraflow_app, tmp_path):
    run = soraflow_app.run(prompt="a cat on a windowsill", seconds=4, remix={"prompt": "make it snow"})
    assert run["status"] == "completed", run
    by_source = {(o["source"], o["kind"]): o for o in run["outputs"]}
    assert by_source[("generation", "video")]["blob"] == f"runs/{run['id']}/video.mp4"
    assert by_source[("remix", "video")]["blob"] == f"runs/{run['id']}/remix/video.mp4"
    media = probe(soraflow_app.download_blob(by_source[("remix", "video")]["blob"], tmp_path / "remix.mp4"))
    assert (media.width, media.height, media.video_codec) == (720, 1280, "h264")
    generation = ledger_job_id(soraflow_app, run["id"], "provider-job.json")
    assert generation in created_job_ids(soraflow_app)
    remix_job = ledger_job_id(soraflow_app, run["id"], "provider-remix-job.json")
    assert remixes_of(soraflow_app, generation) == [remix_job]  # one paid remix, of this run's own video
    assert remixed_from(soraflow_app, remix_job) == generation
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
    source_job = ledger_job_id(soraflow_app, source["id"], "provider-job.json")
    assert source_job in created_job_ids(soraflow_app)
    remix_job = ledger_job_id(soraflow_app, remix["id"], "provider-remix-job.json")
    assert remixes_of(soraflow_app, source_job) == [remix_job]  # the new run remixed the source run's job, once
    assert remixed_from(soraflow_app, remix_job) == source_job


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
