"""fal webhooks: the result POSTed to `fal_webhook`, signed with Ed25519 over fal's headers, retried on failure.

The signed message is `request_id \\n user_id \\n timestamp \\n hex(sha256(body))` (UTF-8), the
signature hex in `X-Fal-Webhook-Signature`; the public key is published as a JWKS (`OKP`/`Ed25519`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

# fal: "it will retry 10 times in the span of 2 hours" after a failed first delivery; the schedule
# itself is not published, this one spans 2 h 2 min (x time scale).
RETRY_DELAYS = (15, 30, 60, 120, 240, 480, 960, 1800, 1800, 1800)
DELIVERY_TIMEOUT_SECONDS = 15.0
# The dispatcher looks for due deliveries at least this often (real seconds), so a clock advance is seen soon.
POLL_SECONDS = 0.05


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class WebhookSigner:
    """The emulator's Ed25519 key: signs deliveries and publishes itself as a JWKS."""

    def __init__(self, key_file: Path | None = None, *, user_id: str):
        if key_file is not None and key_file.exists():
            key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise ValueError(f"--webhook-key {key_file} is not an Ed25519 private key (PEM, PKCS#8)")
        else:
            key = Ed25519PrivateKey.generate()
            if key_file is not None:
                pem = key.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                )
                key_file.write_bytes(pem)
        self._key = key
        self.user_id = user_id
        raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.public_x = _b64url(raw)
        self.kid = hashlib.sha256(raw).hexdigest()[:16]

    def jwks(self) -> dict:
        """The key set fal publishes at `/.well-known/jwks.json`."""
        return {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": self.public_x, "kid": self.kid, "use": "sig"}]}

    def headers(self, request_id: str, body: bytes, timestamp: int) -> dict[str, str]:
        """The four `X-Fal-Webhook-*` headers for this body."""
        message = "\n".join([request_id, self.user_id, str(timestamp), hashlib.sha256(body).hexdigest()])
        return {
            "X-Fal-Webhook-Request-Id": request_id,
            "X-Fal-Webhook-User-Id": self.user_id,
            "X-Fal-Webhook-Timestamp": str(timestamp),
            "X-Fal-Webhook-Signature": self._key.sign(message.encode()).hex(),
        }


@dataclass
class Delivery:
    """The webhook of one request: where it goes, each attempt, and when the next one is due."""

    request_id: str
    url: str
    due_at: float
    attempts: list[dict] = field(default_factory=list)
    delivered: bool = False
    in_flight: bool = False

    def to_json(self) -> dict:
        """As `/_emulator/webhooks` shows it."""
        gave_up = not self.delivered and len(self.attempts) > len(RETRY_DELAYS)
        return {
            "request_id": self.request_id,
            "url": self.url,
            "delivered": self.delivered,
            "gave_up": gave_up,
            "next_attempt_at": None if self.delivered or gave_up else self.due_at,
            "attempts": self.attempts,
        }


async def deliver(
    session: aiohttp.ClientSession, signer: WebhookSigner, delivery: Delivery, body: bytes, now: float, scale: float
) -> None:
    """POST one attempt; a 2xx answer delivers it, anything else schedules the next retry."""
    # The timestamp is wall time, not the emulator clock: receivers check it against their own clock (±300 s).
    headers = {"Content-Type": "application/json", **signer.headers(delivery.request_id, body, int(time.time()))}
    attempt: dict = {"time": now, "status": None, "error": None}
    try:
        timeout = aiohttp.ClientTimeout(total=DELIVERY_TIMEOUT_SECONDS)
        async with session.post(delivery.url, data=body, headers=headers, timeout=timeout) as response:
            attempt["status"] = response.status
            await response.read()
    except (aiohttp.ClientError, TimeoutError) as exc:
        attempt["error"] = f"{type(exc).__name__}: {exc}"
    if attempt["status"] is not None and 200 <= attempt["status"] < 300:
        delivery.attempts.append(attempt)
        delivery.delivered = True
    else:
        record_failure(delivery, now, scale, attempt["error"], status=attempt["status"])


def record_failure(delivery: Delivery, now: float, scale: float, error: str | None, *, status: int | None = None):
    """Note a failed attempt and schedule the next retry (none after the last)."""
    delivery.attempts.append({"time": now, "status": status, "error": error})
    if len(delivery.attempts) <= len(RETRY_DELAYS):
        delivery.due_at = now + RETRY_DELAYS[len(delivery.attempts) - 1] * scale


def webhook_body(request_id: str, http_status: int, result: dict) -> bytes:
    """fal's webhook payload: `status` OK for a 200 result, ERROR (with `error`) otherwise."""
    body: dict = {"request_id": request_id, "gateway_request_id": request_id}
    if http_status == 200:
        body |= {"status": "OK", "payload": result}
    else:
        body |= {"status": "ERROR", "error": f"Invalid status code: {http_status}", "payload": result}
    return json.dumps(body).encode()


async def cancel_quietly(task: asyncio.Task) -> None:
    """Stop a background task at shutdown."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
