"""fal's signed webhooks end to end, with polling set slow so that only a webhook can explain a prompt finish: the
push wakes the run, forged, replayed or stray deliveries are refused or ignored and change nothing, and a submit
whose answer was lost is adopted from its webhook instead of paid for twice."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator

import httpx
import pytest
from azure.core.exceptions import ResourceNotFoundError
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from tests.e2e.conftest import TIME_SCALE
from tests.e2e.fal_app import FalApp, fal_app

SLOW_POLL_SECONDS = "30"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, azurite_connection_string: str) -> Iterator[FalApp]:
    work = tmp_path_factory.mktemp("fal-webhooks")
    with fal_app(work, azurite_connection_string, POLL_INITIAL_SECONDS=SLOW_POLL_SECONDS,
                 POLL_FLOOR_SECONDS=SLOW_POLL_SECONDS) as started:  # fmt: skip
        yield started


def deliveries(stack: FalApp, run_id: str) -> list[dict]:
    return [w for w in stack.fal_admin("GET", "webhooks").json()["webhooks"] if w["url"].endswith(f"run={run_id}")]


def wait_delivered(stack: FalApp, run_id: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [w for w in deliveries(stack, run_id) if w["delivered"]]
        if done:
            return done[0]
        time.sleep(0.05)
    raise AssertionError(f"fal never delivered the webhook of run {run_id}: {deliveries(stack, run_id)}")


def submitted_request_id(stack: FalApp, run_id: str, timeout: float = 30) -> str:
    """fal's request id for the run, once the run has recorded its submit."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        provider = stack.app.get(run_id).json().get("provider") or {}
        if provider.get("job_id"):
            return provider["job_id"].split("::")[1]
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} never recorded a fal request")


def signed(key: Ed25519PrivateKey, request_id: str, body: bytes, *, timestamp: int | None = None) -> dict:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    message = "\n".join([request_id, "emulator-user", stamp, hashlib.sha256(body).hexdigest()])
    return {
        "content-type": "application/json",
        "x-fal-webhook-request-id": request_id,
        "x-fal-webhook-user-id": "emulator-user",
        "x-fal-webhook-timestamp": stamp,
        "x-fal-webhook-signature": key.sign(message.encode()).hex(),
    }


def fal_key(stack: FalApp) -> Ed25519PrivateKey:
    return load_pem_private_key(stack.webhook_key_file.read_bytes(), password=None)


def post_webhook(stack: FalApp, run_id: str, body: bytes, headers: dict) -> httpx.Response:
    # No function key: fal cannot send one, so the route is anonymous and trusts only the signature.
    return httpx.post(f"{stack.app.url}/api/webhooks/fal", params={"run": run_id}, content=body, headers=headers)


def webhook_record(stack: FalApp, run_id: str) -> dict | None:
    try:
        return json.loads(stack.app.blobs().download_blob(f"runs/{run_id}/provider-webhook.json").readall())
    except ResourceNotFoundError:
        return None


def test_a_fal_webhook_wakes_the_run_while_polling_is_slow(stack):
    run = stack.app.start(model="fal-ai/veo3.1/fast", seconds="4")
    wait_delivered(stack, run["id"])
    # The next poll is 30 s away: finishing in a few seconds is the webhook's doing.
    finished = stack.app.wait(run["id"], statuses={"downloading", "completed"}, timeout=5)
    assert finished["status"] in ("downloading", "completed")


@pytest.fixture
def real_time_fal(stack: FalApp) -> Iterator[FalApp]:
    """fal renders in real time (the clock is moved on by hand); the module's fast scale again afterwards."""
    stack.fal_admin("POST", "reset", {"time_scale": 1})
    yield stack
    stack.fal_admin("POST", "reset", {"time_scale": TIME_SCALE})


def test_forged_replayed_and_stray_webhooks_are_refused_or_ignored_and_change_nothing(real_time_fal):
    # Renders are real-time while the forgeries are sent, so fal's own delivery cannot arrive first.
    stack = real_time_fal
    run = stack.app.start(model="fal-ai/veo3.1/fast", seconds="4")
    request_id = submitted_request_id(stack, run["id"])
    body = json.dumps({"request_id": request_id, "status": "OK", "payload": {}}).encode()

    forged = post_webhook(stack, run["id"], body, signed(Ed25519PrivateKey.generate(), request_id, body))
    replayed = post_webhook(stack, run["id"], body, signed(fal_key(stack), request_id, body,
                                                            timestamp=int(time.time()) - 600))  # fmt: skip
    unsigned = post_webhook(stack, run["id"], body, {"content-type": "application/json"})
    assert (forged.status_code, replayed.status_code, unsigned.status_code) == (401, 401, 401)
    fields = [answer.json()["errors"][0]["field"] for answer in (forged, replayed, unsigned)]
    assert fields == ["x-fal-webhook-signature", "x-fal-webhook-timestamp", "x-fal-webhook-request-id"]
    assert webhook_record(stack, run["id"]) is None

    stray = post_webhook(stack, "no-such-run-0000", body, signed(fal_key(stack), request_id, body))
    assert stray.status_code == 200 and stray.json()["ignored"] is True

    # fal's own delivery for the run is accepted and recorded.
    stack.fal_admin("POST", "time/advance", {"seconds": 3600})
    wait_delivered(stack, run["id"])
    assert webhook_record(stack, run["id"])["request_id"] == request_id


def test_a_fal_signed_webhook_for_another_providers_run_is_ignored(stack):
    sora_run = stack.app.start(seconds="4")  # the default provider: the Sora emulator
    body = json.dumps({"request_id": "req-for-sora", "status": "OK", "payload": {}}).encode()
    answer = post_webhook(stack, sora_run["id"], body, signed(fal_key(stack), "req-for-sora", body))
    assert answer.status_code == 200
    assert (answer.json()["ignored"], answer.json()["reason"]) == (True, "the run is not a fal run")
    assert webhook_record(stack, sora_run["id"]) is None


@pytest.mark.parametrize("provider", ["vertex", "sora", "no-such-provider", "..%2Ffal"])
def test_a_webhook_for_a_provider_that_does_not_push_is_a_404(stack, provider):
    answer = httpx.post(f"{stack.app.url}/api/webhooks/{provider}", params={"run": "x"}, content=b"{}")
    assert answer.status_code == 404
    if answer.headers.get("content-type", "").startswith("application/problem+json"):
        assert "these do: fal" in answer.json()["detail"]


def test_a_submit_whose_answer_was_lost_is_adopted_from_the_webhook(stack, tmp_path):
    before = len(stack.fal_requests(operation="submit"))
    stack.fal_admin("POST", "faults", {"operation": "submit", "kind": "drop", "phase": "after"})
    run = stack.app.start(model="fal-ai/veo3.1/fast", seconds="4", size="1280x720")
    finished = stack.app.wait(run["id"], timeout=120)
    assert finished["status"] == "completed", finished
    assert len(stack.fal_requests(operation="submit")) == before + 1  # one paid fal request, never a second
    assert len(deliveries(stack, run["id"])) == 1
    record = json.loads(stack.app.blobs().download_blob(f"runs/{run['id']}/provider-job.json").readall())
    assert record["adopted"] is True
