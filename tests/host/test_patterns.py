"""The classic Durable Functions patterns, each a small app written the way Microsoft documents them."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from azure.storage.blob import BlobServiceClient

from tests.host.conftest import DEFAULT_KEY, wait_until


def test_function_chaining(start_host):
    host = start_host("pattern_chaining")
    payload = host.request("GET", "/api/orchestrators/hello_orchestrator").json()
    assert host.wait_for(payload["id"])["output"] == ["Hello Seattle", "Hello Tokyo", "Hello London"]


def test_fan_out_fan_in_writes_every_item_to_blob_storage(start_host, azurite_connection_string: str):
    service = BlobServiceClient.from_connection_string(azurite_connection_string)
    if not service.get_container_client("backups").exists():
        service.create_container("backups")
    host = start_host("pattern_fan_out", env={"BACKUP_STORAGE": azurite_connection_string})
    folder = uuid.uuid4().hex
    job = {"folder": folder, "count": 12}
    payload = host.request("POST", "/api/orchestrators/backup_orchestrator", json=job).json()
    done = host.wait_for(payload["id"])
    assert done["output"] == sum(10 * (i + 1) for i in range(12))
    stored = {b.name: b.size for b in service.get_container_client("backups").list_blobs(name_starts_with=folder)}
    assert stored == {f"{folder}/item-{i}.txt": 10 * (i + 1) for i in range(12)}


def test_async_http_api_polls_the_location_until_done(start_host):
    host = start_host("pattern_async_http")
    path = "/api/orchestrators/long_running_orchestrator"
    started = host.request("POST", path, params={"code": DEFAULT_KEY}, json=0.3)
    assert started.status_code == 202
    location = started.headers["location"]
    seen = []
    while True:
        poll = host.client.get(location)
        seen.append(poll.status_code)
        if poll.status_code != 202:
            break
        assert poll.headers["retry-after"] == "5"
        time.sleep(0.05)
    assert seen[0] == 202 and seen[-1] == 200
    assert poll.json()["output"] == "worked for 0.3s"
    assert poll.json()["customStatus"] == "done"


def test_monitor_polls_on_timers_until_the_job_completes(start_host, tmp_path: Path):
    host = start_host("pattern_monitor")
    job = {"folder": str(tmp_path), "interval": 0.2, "expires_after": 30}
    payload = host.request("POST", "/api/orchestrators/monitor_job", json=job).json()
    wait_until(lambda: (host.status(payload["id"])["customStatus"] or {}).get("checks", 0) >= 2, message="checks")
    (tmp_path / "job-done").write_text("yes")
    done = host.wait_for(payload["id"])
    assert done["output"]["status"] == "Completed"
    assert done["output"]["checks"] >= 3
    assert (tmp_path / "alert-sent").exists()


def test_monitor_expires_when_the_job_never_completes(start_host, tmp_path: Path):
    host = start_host("pattern_monitor")
    job = {"folder": str(tmp_path), "interval": 0.3, "expires_after": 1}
    payload = host.request("POST", "/api/orchestrators/monitor_job", json=job).json()
    assert host.wait_for(payload["id"])["output"]["status"] == "Expired"


def test_human_interaction_approved_through_the_send_event_url(start_host):
    host = start_host("pattern_human_interaction")
    payload = host.request(
        "POST", "/api/orchestrators/approval_workflow", json={"item": "laptop", "timeout": 60}
    ).json()
    host.wait_for(payload["id"], {"Running"})
    send_event = payload["sendEventPostUri"].replace("{eventName}", "ApprovalEvent")
    assert host.client.post(send_event, json={"approver": "ada"}).status_code == 202
    assert host.wait_for(payload["id"])["output"] == "approved by ada"


def test_human_interaction_escalates_after_the_deadline(start_host):
    host = start_host("pattern_human_interaction")
    payload = host.request("POST", "/api/orchestrators/approval_workflow", json={"item": "desk", "timeout": 1}).json()
    assert host.wait_for(payload["id"])["output"] == "escalated desk to a manager"


def test_aggregator_entity_sums_signals(start_host):
    host = start_host("pattern_aggregator")
    key = uuid.uuid4().hex
    for amount in (1, 2, 3, 4):
        assert host.request("POST", f"/api/counters/{key}/add", json=amount).status_code == 202
    wait_until(lambda: host.request("GET", f"/api/counters/{key}").json() == 10, message="the sum")
    assert host.request("POST", f"/api/counters/{key}/total").json() == 10


def test_an_app_split_into_blueprints(start_host):
    host = start_host("pattern_blueprints")
    payload = host.request("POST", "/api/greetings/Grace").json()
    assert host.wait_for(payload["id"])["output"] == ["Good day, Grace.", "Hi Grace!"]
