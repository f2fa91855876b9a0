"""Runs started by dropping files into the request container: JSON requests, images with a prompt in metadata or
in a sidecar, invalid files answered by an error manifest, duplicate events that start nothing new, a re-upload that
is a new run, and inputs that are never modified."""

import io
import json
import time

import httpx
import pytest
from azure.storage.blob import ContentSettings
from PIL import Image

from soraflow.runs import run_id_for_blob
from tests.e2e.conftest import MASTER_KEY
from tests.media import image_bytes, probe

# A container of this module's own, so files other modules leave in the shared Azurite start nothing here.
REQUESTS = "blob-requests-e2e"
APP_ENV = {"VIDEO_REQUEST_CONTAINER": REQUESTS, "POLL_INITIAL_SECONDS": "0.5", "POLL_FLOOR_SECONDS": "0.25"}
TRIGGER = "start_run_from_blob"


@pytest.fixture(autouse=True)
def fresh_emulator(soraflow_app):
    """Each test starts with no jobs, faults or log entries at the emulator, and the request container exists."""
    assert soraflow_app.sora_admin("POST", "reset").status_code == 200
    requests = soraflow_app.blobs(REQUESTS)
    if not requests.exists():
        requests.create_container()


def drop(app, name: str, data: bytes, **kwargs):
    """Upload a file into the request container; the service's answer (`etag`, `last_modified`)."""
    return app.blobs(REQUESTS).get_blob_client(name).upload_blob(data, overwrite=True, **kwargs)


def properties(app, name: str):
    return app.blobs(REQUESTS).get_blob_client(name).get_blob_properties()


def successful_creates(app) -> list[dict]:
    return [r for r in app.sora_requests(operation="create") if r["status"] is not None and r["status"] < 300]


def find_run(app, prompt: str, timeout: float = 30) -> dict:
    """The run the blob trigger started for `prompt` (runs from files are found like any other, by listing)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = app.http.get(f"{app.url}/api/videos", params={"limit": "100"}).json()["data"]
        matching = [run for run in runs if (run["request"] or {}).get("prompt") == prompt]
        if matching:
            assert len(matching) == 1, matching
            return matching[0]
        time.sleep(0.2)
    raise AssertionError(f"no run for {prompt!r}\n{app.host.log_tail(40)}")


def wait_for_manifest(app, run_id: str, timeout: float = 30) -> dict:
    blob = app.blobs().get_blob_client(f"runs/{run_id}/run.json")
    deadline = time.monotonic() + timeout
    while not blob.exists():
        assert time.monotonic() < deadline, f"no manifest for {run_id}\n{app.host.log_tail(40)}"
        time.sleep(0.2)
    return json.loads(blob.download_blob().readall())


def durable_instances(app) -> set[str]:
    """Every orchestration instance the host holds (each run is one), page after page, with the master key."""
    ids, token = set(), None
    while True:
        headers = {"x-ms-continuation-token": token} if token else {}
        response = httpx.get(f"{app.url}/runtime/webhooks/durabletask/instances", headers=headers, timeout=30,
                             params={"code": MASTER_KEY, "showInput": "false"})  # fmt: skip
        response.raise_for_status()
        ids |= {status["instanceId"] for status in response.json()}
        token = response.headers.get("x-ms-continuation-token")
        if not token:
            return ids


def blob_trigger_progress(app) -> dict:
    """The local host's count of completed container scans and handled Event Grid events for the trigger."""
    response = httpx.get(f"{app.url}/admin/host/blob-triggers", params={"code": MASTER_KEY}, timeout=30)
    response.raise_for_status()
    return response.json()[TRIGGER]


def wait_for_a_scan_from_now(app, timeout: float = 30) -> None:
    """Return once a scan of the request container that began after this call has finished, having fired (and so
    started the run of) every blob version it found: after it, a run that has not started will not."""
    seen = blob_trigger_progress(app)["scansCompleted"]
    deadline = time.monotonic() + timeout
    # seen + 1 may be a scan that was already under way before this call; seen + 2 began after it.
    while blob_trigger_progress(app)["scansCompleted"] < seen + 2:
        assert time.monotonic() < deadline, f"no scan finished within {timeout} s\n{app.host.log_tail(40)}"
        time.sleep(0.1)


def test_a_json_request_file_starts_a_run_that_lands_its_video(soraflow_app, tmp_path):
    body = {"prompt": "a lighthouse beam sweeping fog", "seconds": 4, "size": "1280x720"}
    stored = drop(soraflow_app, "jobs/lighthouse.json", json.dumps(body).encode())
    run_id = run_id_for_blob(REQUESTS, "jobs/lighthouse.json", stored["etag"])

    run = soraflow_app.wait(run_id)

    assert run["status"] == "completed", run
    assert run["request"]["prompt"] == body["prompt"]
    video = next(o for o in run["outputs"] if o["kind"] == "video")
    assert video["blob"] == f"runs/{run_id}/video.mp4"
    media = probe(soraflow_app.download_blob(video["blob"], tmp_path / "video.mp4"))
    assert (media.video_codec, media.width, media.height) == ("h264", 1280, 720)
    assert abs(media.duration - 4) < 0.2
    manifest = wait_for_manifest(soraflow_app, run_id)
    assert manifest["status"] == "completed"
    assert len(successful_creates(soraflow_app)) == 1
    assert properties(soraflow_app, "jobs/lighthouse.json").etag == stored["etag"], "the request file is untouched"


def test_an_image_with_a_prompt_in_its_metadata_starts_an_image_to_video_run(soraflow_app, tmp_path):
    prompt = "the meadow starts to sway in the wind"
    picture = image_bytes(640, 360)  # not the video's size: the run fits it
    stored = drop(soraflow_app, "pictures/meadow.png", picture, metadata={"prompt": prompt},
                  content_settings=ContentSettings(content_type="image/png"))  # fmt: skip

    run = soraflow_app.wait(find_run(soraflow_app, prompt)["id"])

    assert run["status"] == "completed", run
    assert run["request"]["input_reference"]["blob"] == f"{REQUESTS}/pictures/meadow.png"
    reference = soraflow_app.blobs().download_blob(f"runs/{run['id']}/reference.png").readall()
    assert Image.open(io.BytesIO(reference)).size == (720, 1280)
    media = probe(soraflow_app.download_blob(f"runs/{run['id']}/video.mp4", tmp_path / "video.mp4"))
    assert (media.width, media.height) == (720, 1280)
    creates = successful_creates(soraflow_app)
    assert len(creates) == 1
    after = properties(soraflow_app, "pictures/meadow.png")
    assert (after.etag, after.metadata) == (stored["etag"], {"prompt": prompt}), "the image is untouched"
    assert soraflow_app.blobs(REQUESTS).download_blob("pictures/meadow.png").readall() == picture


def test_an_image_with_a_sidecar_json_takes_its_prompt_and_settings_from_the_sidecar(soraflow_app, tmp_path):
    prompt = "the cat slowly turns its head to the camera"
    runs_before = durable_instances(soraflow_app)
    image = drop(soraflow_app, "pets/cat.png", image_bytes(720, 1280, colour=(200, 120, 40)))
    sidecar = drop(soraflow_app, "pets/cat.png.json", json.dumps({"prompt": prompt, "seconds": 8}).encode())

    run = soraflow_app.wait(find_run(soraflow_app, prompt)["id"])

    assert run["status"] == "completed", run
    assert run["request"]["input_reference"]["blob"] == f"{REQUESTS}/pets/cat.png"
    assert str(run["request"]["seconds"]) == "8"
    media = probe(soraflow_app.download_blob(f"runs/{run['id']}/video.mp4", tmp_path / "video.mp4"))
    assert abs(media.duration - 8) < 0.2
    wait_for_a_scan_from_now(soraflow_app)  # both files have fired (the image's and the sidecar's): still one run
    assert durable_instances(soraflow_app) - runs_before == {run["id"]}
    assert len(successful_creates(soraflow_app)) == 1
    assert properties(soraflow_app, "pets/cat.png").etag == image["etag"]
    assert properties(soraflow_app, "pets/cat.png.json").etag == sidecar["etag"]


def test_a_sidecar_dropped_before_its_image_waits_for_it_and_one_job_is_made(soraflow_app):
    prompt = "the dog wags its tail"
    runs_before = durable_instances(soraflow_app)
    drop(soraflow_app, "pets/dog.png.json", json.dumps({"prompt": prompt}).encode())
    wait_for_a_scan_from_now(soraflow_app)  # the sidecar alone is no request: nothing starts
    assert durable_instances(soraflow_app) == runs_before
    assert successful_creates(soraflow_app) == []
    drop(soraflow_app, "pets/dog.png", image_bytes(720, 1280, colour=(90, 60, 30)))

    run = soraflow_app.wait(find_run(soraflow_app, prompt)["id"])

    assert run["status"] == "completed", run
    assert run["request"]["input_reference"]["blob"] == f"{REQUESTS}/pets/dog.png"
    wait_for_a_scan_from_now(soraflow_app)
    assert durable_instances(soraflow_app) - runs_before == {run["id"]}
    assert len(successful_creates(soraflow_app)) == 1


@pytest.mark.parametrize(
    ("name", "data", "field"),
    [
        ("broken/truncated.json", b'{"prompt": "a boat', "body"),
        ("broken/five-seconds.json", json.dumps({"prompt": "a boat", "seconds": "5"}).encode(), "seconds"),
    ],
    ids=["bad-json", "invalid-field"],
)
def test_an_invalid_request_file_gets_an_error_manifest_and_starts_nothing(soraflow_app, name, data, field):
    stored = drop(soraflow_app, name, data)
    run_id = run_id_for_blob(REQUESTS, name, stored["etag"])

    manifest = wait_for_manifest(soraflow_app, run_id)

    assert manifest["id"] == run_id
    assert manifest["status"] == "failed"
    assert manifest["outputs"] == []
    assert field in [error["field"] for error in manifest["error"]["errors"]], manifest["error"]
    assert manifest["origin"]["blob"] == name
    wait_for_a_scan_from_now(soraflow_app)
    assert run_id not in durable_instances(soraflow_app), "no durable run was started"
    assert soraflow_app.get(run_id).status_code == 404
    assert soraflow_app.sora_requests(operation="create") == []
    assert properties(soraflow_app, name).etag == stored["etag"]


def test_a_duplicate_event_for_the_same_blob_version_starts_nothing_new(soraflow_app):
    prompt = "a paper lantern drifting upward"
    stored = drop(soraflow_app, "dupes/lantern.json", json.dumps({"prompt": prompt}).encode())
    first = soraflow_app.wait(run_id_for_blob(REQUESTS, "dupes/lantern.json", stored["etag"]))
    assert first["status"] == "completed", first

    event = [{
        "id": "c0ffee00-0000-4000-8000-000000000001",
        "eventType": "Microsoft.Storage.BlobCreated",
        "subject": f"/blobServices/default/containers/{REQUESTS}/blobs/dupes/lantern.json",
        "eventTime": "2026-01-01T00:00:00Z",
        "dataVersion": "1",
        "data": {"api": "PutBlob", "eTag": stored["etag"], "blobType": "BlockBlob",
                 "url": soraflow_app.blobs(REQUESTS).get_blob_client("dupes/lantern.json").url},
    }]  # fmt: skip
    webhook = f"{soraflow_app.url}/runtime/webhooks/blobs"
    runs_before = durable_instances(soraflow_app)
    handled = blob_trigger_progress(soraflow_app)["eventsHandled"]
    for _ in range(2):  # Event Grid delivers at least once: the same event can arrive again
        response = httpx.post(webhook, params={"functionName": f"Host.Functions.{TRIGGER}", "code": MASTER_KEY},
                              json=event, timeout=30)  # fmt: skip
        assert response.status_code == 202, response.text
    deadline = time.monotonic() + 30
    while blob_trigger_progress(soraflow_app)["eventsHandled"] < handled + 2:
        assert time.monotonic() < deadline, f"the two events were not handled\n{soraflow_app.host.log_tail(40)}"
        time.sleep(0.1)
    wait_for_a_scan_from_now(soraflow_app)

    assert durable_instances(soraflow_app) == runs_before
    assert len(successful_creates(soraflow_app)) == 1
    runs = soraflow_app.http.get(f"{soraflow_app.url}/api/videos", params={"limit": "100"}).json()["data"]
    assert [run["id"] for run in runs if run["request"]["prompt"] == prompt] == [first["id"]]


def test_the_same_file_uploaded_twice_with_the_same_content_is_two_runs_as_on_azure(soraflow_app):
    prompt = "two herons standing in the reeds"
    data = json.dumps({"prompt": prompt}).encode()
    first = drop(soraflow_app, "twice/herons.json", data)
    first_run = soraflow_app.wait(run_id_for_blob(REQUESTS, "twice/herons.json", first["etag"]))
    assert first_run["status"] == "completed", first_run

    second = drop(soraflow_app, "twice/herons.json", data)
    assert second["etag"] != first["etag"], "a re-upload is a new blob version"
    second_run = soraflow_app.wait(run_id_for_blob(REQUESTS, "twice/herons.json", second["etag"]))

    # Azure keeps blob receipts per ETag, so the re-upload fires again: a new run, and a second paid job.
    assert second_run["status"] == "completed", second_run
    assert second_run["id"] != first_run["id"]
    assert second_run["provider"]["job_id"] != first_run["provider"]["job_id"]
    wait_for_a_scan_from_now(soraflow_app)
    assert len(successful_creates(soraflow_app)) == 2
