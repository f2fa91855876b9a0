"""Secrets stay secret, blobs are read only through short-lived read-only URLs, references only from our containers.

The secrets test runs last in the package: it drives runs of its own (completed with a signed callback, failed with
the provider echoing our API key, cancelled), then searches the host's log file, every JSON blob in the app's
containers (manifests, job records) and every API answer the package received for each secret: the Sora API key, the
storage account key, the callback secret, every SAS signature the app handed out, and any bearer token.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from azure.storage.blob import BlobServiceClient

from emulators.processes import AZURITE_KEY
from tests.callback_receiver import CallbackReceiver
from tests.e2e.conftest import CALLBACK_SECRET, EMULATOR_KEY
from tests.e2e.hostile.conftest import OUTPUT_CONTAINER, REQUEST_CONTAINER
from tests.e2e.hostile.test_http_inputs import OTHER_CONTAINER, png

READ_URL_MINUTES = 15
CLOCK_SKEW = timedelta(minutes=5)  # the SAS starts this far back so that skewed clocks accept it
BEARER = re.compile(rb"Bearer\s+[A-Za-z0-9._~+/-]{20,}")


@pytest.fixture(scope="module")
def completed(hostile_app) -> dict:
    run = hostile_app.run(prompt="a lantern in the snow", seconds=4)
    assert run["status"] == "completed", run
    return run


def sas_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def content_url(app, run_id: str, **params) -> str:
    response = app.http.get(f"{app.url}/api/videos/{run_id}/content", params=params)
    assert response.status_code == 302, response.text
    assert response.headers["cache-control"] == "no-store"
    return response.headers["location"]


# --- blob reads ---


def test_the_content_redirect_is_read_only_for_one_blob_and_at_most_15_minutes(hostile_app, completed):
    sas = sas_of(content_url(hostile_app, completed["id"]))
    assert sas["sp"] == "r"
    assert sas["sr"] == "b"
    starts, expires = datetime.fromisoformat(sas["st"]), datetime.fromisoformat(sas["se"])
    assert timedelta(0) < expires - starts <= CLOCK_SKEW + timedelta(minutes=READ_URL_MINUTES)


def test_the_read_url_cannot_write_delete_or_open_another_blob(hostile_app, completed):
    url = content_url(hostile_app, completed["id"])
    assert httpx.get(url, timeout=30).status_code == 200
    headers = {"x-ms-blob-type": "BlockBlob"}
    assert httpx.put(url, content=b"overwritten", headers=headers, timeout=30).status_code == 403
    assert httpx.delete(url, timeout=30).status_code == 403
    other = url.replace("/video.mp4?", "/run.json?")
    assert other != url
    assert httpx.get(other, timeout=30).status_code == 403
    assert httpx.get(url.split("?", 1)[0], timeout=30).status_code in (403, 404)  # no SAS: the container is private
    video = hostile_app.blobs().get_blob_client(f"runs/{completed['id']}/video.mp4").download_blob().readall()
    assert video[4:8] == b"ftyp"


def test_the_app_containers_are_private(hostile_app):
    service = BlobServiceClient.from_connection_string(hostile_app.connection_string)
    for name in (OUTPUT_CONTAINER, REQUEST_CONTAINER):
        assert service.get_container_client(name).get_container_access_policy()["public_access"] is None


# --- references ---


def test_a_reference_is_read_only_from_the_configured_containers(hostile_app):
    service = BlobServiceClient.from_connection_string(hostile_app.connection_string)
    picture = png(1280, 720)
    other = service.get_container_client(OTHER_CONTAINER)
    if not other.exists():
        other.create_container()
    other.upload_blob("refs/sunrise.png", picture, overwrite=True)
    service.get_container_client(REQUEST_CONTAINER).upload_blob("refs/sunrise.png", picture, overwrite=True)
    hostile_app.quiesce()
    creates = len(hostile_app.sora_requests(operation="create"))

    refused = hostile_app.post_video({"prompt": "the sun rises", "size": "1280x720",
                                      "input_reference": {"blob": f"{OTHER_CONTAINER}/refs/sunrise.png"}})  # fmt: skip
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["field"] == "input_reference.blob"
    run = hostile_app.run(prompt="the sun rises", size="1280x720",
                          input_reference={"blob": f"{REQUEST_CONTAINER}/refs/sunrise.png"})  # fmt: skip
    assert run["status"] == "completed", run
    assert len(hostile_app.sora_requests(operation="create")) == creates + 1


# --- secrets (last: it searches everything the package produced) ---


@pytest.fixture(scope="module")
def driven_runs(hostile_app, completed) -> dict:
    """A completed run with a signed callback, a failed run whose provider echoed our key, and a cancelled run."""
    receiver = CallbackReceiver(path="/hook?token=receiver-owned")
    try:
        called_back = hostile_app.run(prompt="a bell rings", seconds=4, callback_url=receiver.url)
        hostile_app.quiesce()
    finally:
        receiver.close()
    echo = f"Incorrect API key provided: {EMULATOR_KEY}. Authorization: Bearer {EMULATOR_KEY}"
    fault = {"kind": "status", "operation": "create", "status": 401, "code": "invalid_api_key", "message": echo}
    assert hostile_app.sora_admin("POST", "faults", fault).status_code == 201
    failed = hostile_app.run(prompt="a locked door")
    hostile_app.sora_admin("POST", "faults", {"kind": "stall", "operation": "create", "count": 1})
    stalled = hostile_app.start(prompt="a door that never opens")
    hostile_app.wait(stalled["id"], statuses={"generating"})
    assert hostile_app.http.post(f"{hostile_app.url}/api/videos/{stalled['id']}/cancel").status_code == 202
    cancelled = hostile_app.wait(stalled["id"])
    hostile_app.sora_admin("DELETE", "faults")
    hostile_app.quiesce()
    signatures = [sas_of(content_url(hostile_app, completed["id"], variant=v))["sig"] for v in ("video", "thumbnail")]
    for run in (called_back, failed, cancelled, completed):
        hostile_app.get(run["id"])
    hostile_app.http.get(f"{hostile_app.url}/api/videos", params={"limit": 100})
    hostile_app.http.get(f"{hostile_app.url}/api/health")
    return {"callback": (called_back, receiver.received), "failed": failed, "cancelled": cancelled,
            "signatures": signatures}  # fmt: skip


def test_the_driven_runs_ended_as_scripted(driven_runs):
    run, received = driven_runs["callback"]
    assert run["status"] == "completed" and len(received) == 1
    assert driven_runs["failed"]["status"] == "failed"
    assert driven_runs["failed"]["error"]["code"] == "provider_authentication_failed"
    assert driven_runs["cancelled"]["status"] == "cancelled"


def secrets(driven_runs) -> dict[str, bytes]:
    found = {
        "SORA_API_KEY": EMULATOR_KEY.encode(),
        "storage account key": AZURITE_KEY.encode(),
        "storage account key (URL-encoded)": AZURITE_KEY.replace("/", "%2F").replace("+", "%2B").encode(),
        "CALLBACK_SECRET": CALLBACK_SECRET.encode(),
    }
    for n, signature in enumerate(driven_runs["signatures"]):
        found[f"SAS signature {n}"] = signature.encode()
        found[f"SAS signature {n} (URL-encoded)"] = signature.replace("/", "%2F").replace("+", "%2B").encode()
    return found


def app_json_blobs(app) -> dict[str, bytes]:
    service = BlobServiceClient.from_connection_string(app.connection_string)
    blobs = {}
    for container in (OUTPUT_CONTAINER, REQUEST_CONTAINER):
        client = service.get_container_client(container)
        for blob in client.list_blobs():
            if blob.name.endswith(".json") and blob.size < 4 * 1024 * 1024:
                blobs[f"{container}/{blob.name}"] = client.download_blob(blob.name).readall()
    return blobs


def test_no_secret_appears_in_the_host_log_manifests_or_any_answer(hostile_app, driven_runs):
    log = hostile_app.host.log_path.read_bytes()
    blobs = app_json_blobs(hostile_app)
    answers = [body for _, body in hostile_app.responses]
    assert any(name.endswith("/run.json") for name in blobs) and len(answers) > 50 and len(log) > 1000
    places = {"host log": log, **{f"blob {name}": data for name, data in blobs.items()}}
    places.update({f"answer {n}": body for n, body in enumerate(answers)})
    leaks = [
        f"{what} in {where}"
        for where, data in places.items()
        for what, secret in secrets(driven_runs).items()
        if secret in data
    ]
    leaks += [f"a bearer token in {where}" for where, data in places.items() if BEARER.search(data)]
    assert leaks == []


def test_the_callback_carries_a_signature_not_the_secret(driven_runs):
    (_, received) = driven_runs["callback"]
    body, headers = received[0]
    assert CALLBACK_SECRET.encode() not in body
    assert CALLBACK_SECRET not in str(headers)
    assert headers["X-Soraflow-Signature"].startswith("t=")
