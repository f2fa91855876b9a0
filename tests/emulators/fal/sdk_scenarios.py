"""Runs the official fal-client against the emulator and prints what it saw as JSON (one scenario per run).

A child process because fal-client reads FAL_QUEUE_RUN_HOST when it is imported:
`FAL_QUEUE_RUN_HOST=127.0.0.1:PORT FAL_KEY=... SSL_CERT_FILE=cert.pem python -m tests.emulators.fal.sdk_scenarios NAME`.
"""

from __future__ import annotations

import json
import sys

import fal_client

VEO_FAST = "fal-ai/veo3.1/fast"


def _status(status: fal_client.Status) -> dict:
    seen = {"type": type(status).__name__}
    if isinstance(status, fal_client.Queued):
        seen["position"] = status.position
    else:
        seen["logs"] = len(status.logs or [])
    return seen


def submit_and_result() -> dict:
    handle = fal_client.submit(VEO_FAST, {"prompt": "a paper boat", "duration": "4s"})
    statuses = [_status(s) for s in handle.iter_events(with_logs=True, interval=0.05)]
    return {"request_id": handle.request_id, "statuses": statuses, "result": handle.get(interval=0.05)}


def cancel_queued() -> dict:
    handle = fal_client.submit(VEO_FAST, {"prompt": "a paper boat", "duration": "4s"})
    before = _status(fal_client.status(VEO_FAST, handle.request_id, with_logs=True))
    fal_client.cancel(VEO_FAST, handle.request_id)
    after = _status(fal_client.status(VEO_FAST, handle.request_id, with_logs=True))
    try:
        fal_client.result(VEO_FAST, handle.request_id)
        error = None
    except fal_client.FalClientHTTPError as exc:
        error = {"status_code": exc.status_code, "error_type": exc.error_type}
    try:
        fal_client.cancel(VEO_FAST, handle.request_id)
        second_cancel = None
    except fal_client.FalClientHTTPError as exc:
        second_cancel = exc.status_code
    return {"request_id": handle.request_id, "before": before, "after": after, "result_error": error,
            "second_cancel": second_cancel}  # fmt: skip


def invalid_input() -> dict:
    handle = fal_client.submit(VEO_FAST, {"prompt": "a paper boat", "duration": "5s"})
    try:
        handle.get(interval=0.05)
    except fal_client.FalClientHTTPError as exc:
        return {"status_code": exc.status_code, "message": exc.message}
    return {"status_code": None}


if __name__ == "__main__":
    print(json.dumps(globals()[sys.argv[1]]()))
