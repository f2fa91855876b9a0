"""Deliver a finished run to the caller's `callback_url`: a JSON POST signed with HMAC-SHA256, retried with backoff.

The receiver verifies `X-Soraflow-Signature: t=<unix seconds>,v1=<hex>` where `v1` is
HMAC-SHA256(secret, f"{t}.{body}") — the timestamp is signed too, so an old delivery cannot be replayed
as a new one (the same scheme as Stripe's and OpenAI's webhooks).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from soraflow.errors import SoraflowError

SIGNATURE_HEADER = "X-Soraflow-Signature"
DEFAULT_TOLERANCE_SECONDS = 300


class CallbackDeliveryError(SoraflowError):
    """The callback endpoint did not accept the delivery: `retryable` unless it answered with a refusal (4xx)."""

    code = "callback_failed"


@dataclass(frozen=True)
class CallbackResult:
    status_code: int
    attempts: int

    def to_dict(self) -> dict:
        return {"status_code": self.status_code, "attempts": self.attempts}


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The signature header value for `body` sent at `timestamp`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(
    body: bytes, header: str, secret: str, *, now: float | None = None, tolerance: int = DEFAULT_TOLERANCE_SECONDS
) -> bool:
    """True when `header` is a valid, fresh signature of `body` (for receivers, and for our tests)."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = sign(body, secret, timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def deliver_callback(
    url: str,
    payload: dict,
    *,
    secret: str | None,
    attempts: int = 5,
    base_delay: float = 1.0,
    timeout: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
) -> CallbackResult:
    """POST `payload` as JSON to `url`, signed when a secret is set; retry 429, 5xx and network errors."""
    # Imported here: requests is a fifth of what importing the app would otherwise cost, and few runs call back.
    import requests

    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    last_problem = "no attempt made"
    rejected = False
    with requests.Session() as session:
        for attempt in range(1, attempts + 1):
            headers = {"content-type": "application/json", "user-agent": "soraflow-callback/1"}
            if secret:
                headers[SIGNATURE_HEADER] = sign(body, secret, int(time.time()))
            try:
                # Streamed and closed unread: only the status matters, and a receiver's body could be any size.
                with session.post(
                    url, data=body, headers=headers, timeout=timeout, allow_redirects=False, stream=True
                ) as response:
                    status = response.status_code
            except requests.RequestException as exc:
                last_problem = f"{type(exc).__name__}"
            else:
                if status < 300:
                    return CallbackResult(status, attempt)
                last_problem = f"HTTP {status}"
                if status < 500 and status not in (408, 429):
                    rejected = True  # the receiver rejected it; sending it again will not change its mind
                    break
            if attempt < attempts:
                sleep(min(base_delay * 2 ** (attempt - 1), 60.0))
    raise CallbackDeliveryError(
        f"callback to {_safe_origin(url)} failed after {attempt} attempt(s): {last_problem}",
        retryable=not rejected,
    )


def _safe_origin(url: str) -> str:
    """Scheme, host and port only: user info and query strings may carry the receiver's secrets."""
    parsed = urlsplit(url)
    host = parsed.hostname or ""
    host = f"[{host}]" if ":" in host else host
    try:
        port = f":{parsed.port}" if parsed.port else ""
    except ValueError:
        port = ""
    return f"{parsed.scheme}://{host}{port}"
