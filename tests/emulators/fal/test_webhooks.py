"""Webhooks: fal's body POSTed on completion, Ed25519-signed over fal's headers, verifiable with the JWKS key."""

from __future__ import annotations

import base64
import hashlib
import json
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tests.callback_receiver import CallbackReceiver
from tests.emulators.fal.conftest import VEO_FAST, Harness


def jwks_keys(fal: Harness) -> list[Ed25519PublicKey]:
    response = fal.http.get("/.well-known/jwks.json", headers={"Authorization": ""})
    assert response.status_code == 200
    keys = response.json()["keys"]
    assert all((k["kty"], k["crv"]) == ("OKP", "Ed25519") for k in keys)
    return [
        Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(k["x"] + "=" * (-len(k["x"]) % 4))) for k in keys
    ]


def verified(fal: Harness, body: bytes, headers: dict) -> bool:
    """fal's documented check: any JWKS key verifies request_id, user_id, timestamp and sha256(body), joined by \\n."""
    headers = {k.lower(): v for k, v in headers.items()}
    message = "\n".join(
        [
            headers["x-fal-webhook-request-id"],
            headers["x-fal-webhook-user-id"],
            headers["x-fal-webhook-timestamp"],
            hashlib.sha256(body).hexdigest(),
        ]
    ).encode()
    for key in jwks_keys(fal):
        try:
            key.verify(bytes.fromhex(headers["x-fal-webhook-signature"]), message)
            return True
        except Exception:
            continue
    return False


def submit_with_webhook(fal: Harness, receiver: CallbackReceiver, **body) -> dict:
    response = fal.http.post(
        f"/{VEO_FAST}", params={"fal_webhook": receiver.url}, json={"prompt": "a boat", "duration": "4s", **body}
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_a_completed_request_posts_its_result_signed_with_the_jwks_key(fal: Harness):
    with CallbackReceiver() as receiver:
        submitted = submit_with_webhook(fal, receiver)
        fal.wait_completed(submitted)
        [(body, headers)] = receiver.wait_for(1)
    assert verified(fal, body, headers)
    assert abs(int(headers["X-Fal-Webhook-Timestamp"]) - time.time()) < 300, "receivers check it against wall time"
    payload = json.loads(body)
    assert payload == {
        "request_id": submitted["request_id"],
        "gateway_request_id": submitted["request_id"],
        "status": "OK",
        "payload": fal.http.get(submitted["response_url"]).json(),
    }


def test_a_tampered_body_does_not_verify(fal: Harness):
    with CallbackReceiver() as receiver:
        fal.wait_completed(submit_with_webhook(fal, receiver))
        [(body, headers)] = receiver.wait_for(1)
    assert not verified(fal, body.replace(b'"OK"', b'"ERROR"'), headers)


def test_a_failed_request_posts_an_error_with_the_detail_list(fal: Harness):
    with CallbackReceiver() as receiver:
        fal.wait_completed(submit_with_webhook(fal, receiver, duration="5s"))
        [(body, headers)] = receiver.wait_for(1)
    payload = json.loads(body)
    assert (payload["status"], payload["error"]) == ("ERROR", "Invalid status code: 422")
    assert payload["payload"]["detail"][0]["loc"] == ["body", "duration"]
    assert verified(fal, body, headers)


def test_a_refused_delivery_is_retried_until_it_is_accepted(fal: Harness):
    with CallbackReceiver(statuses=[500, 503]) as receiver:
        submitted = submit_with_webhook(fal, receiver)
        fal.wait_completed(submitted)
        deliveries = receiver.wait_for(3)
    assert len(deliveries) == 3
    assert len({body for body, _ in deliveries}) == 1, "every attempt carries the same body"
    [record] = fal.admin("GET", "webhooks").json()["webhooks"]
    assert record["delivered"] is True
    assert [a["status"] for a in record["attempts"]] == [500, 503, 204]
