"""Blob triggers of the local host against Azurite: once per ETag, Event Grid webhook, poison, durable client."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient

from tests.host.conftest import DEFAULT_KEY, MASTER_KEY, RunningHost, wait_until

APP = "blobs"


@pytest.fixture(scope="module")
def service(azurite_connection_string: str) -> BlobServiceClient:
    client = BlobServiceClient.from_connection_string(azurite_connection_string)
    for container in ("uploads", "requests", "fragile"):
        if not client.get_container_client(container).exists():
            client.create_container(container)
    return client


def firings(folder: Path, kind: str) -> list[dict]:
    path = folder / f"{kind}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def blob_host(start_host, service, azurite_connection_string: str, tmp_path: Path):
    def start(*args: str) -> tuple[RunningHost, Path]:
        folder = tmp_path / f"firings{uuid.uuid4().hex[:6]}"
        folder.mkdir()
        env = {"BlobConn": azurite_connection_string, "FIRINGS_DIR": str(folder), "UPLOADS_CONTAINER": "uploads"}
        return start_host(APP, env=env, args=["--blob-poll-seconds", "0.2", *args]), folder

    return start


def scans_completed(host: RunningHost, function: str) -> int:
    progress = host.request("GET", "/admin/host/blob-triggers", params={"code": MASTER_KEY})
    assert progress.status_code == 200, progress.text
    return progress.json()[function]["scansCompleted"]


def wait_for_a_scan_from_now(host: RunningHost, function: str) -> None:
    """Return once a scan that began after this call has finished (and fired whatever it found)."""
    seen = scans_completed(host, function)
    # `seen + 1` may be a scan that was already under way; the one after it began after this call.
    wait_until(lambda: scans_completed(host, function) >= seen + 2, message=f"a fresh scan for {function}")


def test_every_upload_fires_once_identical_bytes_too_as_receipts_are_per_etag(blob_host, service: BlobServiceClient):
    host, folder = blob_host()
    name = f"report-{uuid.uuid4().hex}.txt"
    uploads = service.get_container_client("uploads")

    def mine() -> list[dict]:
        return [f for f in firings(folder, "uploads") if f["name"] == f"uploads/{name}"]

    uploads.upload_blob(name, b"version one", overwrite=True)
    wait_until(lambda: len(mine()) == 1, message="the first firing")
    uploads.upload_blob(name, b"version one", overwrite=True)  # same bytes, new ETag: a new version, as on Azure
    wait_until(lambda: len(mine()) == 2, message="the identical re-upload")
    uploads.upload_blob(name, b"version two!", overwrite=True)
    wait_until(lambda: len(mine()) == 3, message="the change")
    wait_for_a_scan_from_now(host, "on_upload")

    assert [f["content"] for f in mine()] == ["version one", "version one", "version two!"]
    assert mine()[2]["length"] == len(b"version two!")
    assert mine()[2]["uri"].endswith(f"/uploads/{name}")
    assert f"New blob detected(LogsAndContainerScan): uploads/{name}" in host.log()


def test_scan_progress_needs_the_master_key_when_keys_are_checked(blob_host):
    host, _ = blob_host("--enable-auth")
    assert host.request("GET", "/admin/host/blob-triggers").status_code == 401
    assert host.request("GET", "/admin/host/blob-triggers", params={"code": DEFAULT_KEY}).status_code == 401
    wait_for_a_scan_from_now(host, "on_upload")


def test_a_restart_does_not_fire_old_versions_again(blob_host, service: BlobServiceClient):
    host, folder = blob_host()
    uploads = service.get_container_client("uploads")
    name = f"kept-{uuid.uuid4().hex}.txt"
    uploads.upload_blob(name, b"once", overwrite=True)
    wait_until(lambda: any(f["name"] == f"uploads/{name}" for f in firings(folder, "uploads")), message="firing")
    host.stop()
    host.start()
    uploads.upload_blob(f"zz-sentinel-{uuid.uuid4().hex}", b"s", overwrite=True)
    wait_until(lambda: any("zz-sentinel" in f["name"] for f in firings(folder, "uploads")[1:]), message="the sentinel")
    assert [f["name"] for f in firings(folder, "uploads")].count(f"uploads/{name}") == 1


def test_event_grid_source_starts_orchestrations_through_the_durable_client(blob_host, service: BlobServiceClient):
    host, folder = blob_host()
    request_id = f"req-{uuid.uuid4().hex[:8]}"
    service.get_container_client("requests").upload_blob(
        f"{request_id}.json", json.dumps({"id": request_id, "who": "Ada"}), overwrite=True
    )
    done = host.wait_for(request_id)
    assert done["output"] == "Hello Ada!"
    assert {"name": f"requests/{request_id}.json", "instance": request_id} in firings(folder, "requests")


def test_the_event_grid_webhook_fires_the_function(blob_host, service: BlobServiceClient):
    host, folder = blob_host("--blob-poll-seconds", "3600")  # one scan at start, then only the webhook
    wait_until(lambda: "first scan of" in host.log(), message="the first scan")
    request_id = f"grid-{uuid.uuid4().hex[:8]}"
    blob = service.get_container_client("requests").upload_blob(
        f"{request_id}.json", json.dumps({"id": request_id, "who": "Grid"}), overwrite=True
    )
    event = {
        "id": str(uuid.uuid4()),
        "eventType": "Microsoft.Storage.BlobCreated",
        "subject": f"/blobServices/default/containers/requests/blobs/{request_id}.json",
        "data": {"api": "PutBlob", "url": blob.url},
        "dataVersion": "",
        "eventTime": "2024-01-01T00:00:00Z",
    }
    params = {"functionName": "Host.Functions.on_request", "code": MASTER_KEY}
    assert host.request("POST", "/runtime/webhooks/blobs", params=params, json=[event]).status_code == 202
    assert host.wait_for(request_id)["output"] == "Hello Grid!"
    assert f"New blob detected(EventGrid): requests/{request_id}.json" in host.log()
    host.request("POST", "/runtime/webhooks/blobs", params=params, json=[event])  # Event Grid redelivers
    sentinel = service.get_container_client("requests").upload_blob(
        f"zz-{request_id}.json", json.dumps({"id": f"zz-{request_id}", "who": "Sentinel"}), overwrite=True
    )
    sentinel_event = {**event, "data": {"api": "PutBlob", "url": sentinel.url}}
    host.request("POST", "/runtime/webhooks/blobs", params=params, json=[sentinel_event])
    host.wait_for(f"zz-{request_id}")
    mine = [f for f in firings(folder, "requests") if f["name"] == f"requests/{request_id}.json"]
    assert len(mine) == 1


def test_the_webhook_validates_subscriptions_and_rejects_bad_calls(blob_host):
    host, _ = blob_host("--blob-poll-seconds", "3600", "--enable-auth")
    params = {"functionName": "Host.Functions.on_request", "code": MASTER_KEY}
    validation = [{"eventType": "Microsoft.EventGrid.SubscriptionValidationEvent", "data": {"validationCode": "c0de"}}]
    answer = host.request("POST", "/runtime/webhooks/blobs", params=params, json=validation)
    assert answer.json() == {"validationResponse": "c0de"}
    assert host.request("POST", "/runtime/webhooks/blobs", params={**params, "code": "x"}, json=[]).status_code == 401
    unknown = {**params, "functionName": "Host.Functions.nothing"}
    assert host.request("POST", "/runtime/webhooks/blobs", params=unknown, json=[]).status_code == 404
    assert host.request("POST", "/runtime/webhooks/blobs", params=params, content=b"{oops").status_code == 400
    assert host.request("POST", "/runtime/webhooks/blobs", params=params, json=[1, 2]).status_code == 400


def test_a_failing_blob_is_retried_five_times_then_given_up(blob_host, service: BlobServiceClient):
    host, folder = blob_host()
    name = f"broken-{uuid.uuid4().hex}"
    service.get_container_client("fragile").upload_blob(name, b"x", overwrite=True)
    wait_until(lambda: "given up (poison)" in host.log(), message="the poison")
    mine = [f for f in firings(folder, "fragile") if f["name"] == f"fragile/{name}"]
    assert len(mine) == 5
