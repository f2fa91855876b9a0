"""POST /api/webhooks/fal: fal's signed completion push, verified against its JWKS, recorded for the run's job
ledger and raised on the run as `provider_update` so it polls at once (anonymous: fal sends no function key)."""

from __future__ import annotations

import json
import logging
import threading
import time

import azure.durable_functions as df
import azure.functions as func

from orchestrators.video_run import PROVIDER_UPDATE_EVENT
from soraflow.config import Settings
from soraflow.errors import ConfigurationError, FieldError
from soraflow.job_ledger import record_pushed_request
from soraflow.providers.fal import FalWebhookVerifier, WebhookRefused
from soraflow.run_resource import build_run_resource
from soraflow.runs import RunStatus
from soraflow.storage import output_store
from triggers.problems import problem, problem_from_error
from triggers.runs import find_run

bp = df.Blueprint()
log = logging.getLogger("soraflow.webhooks")

# fal's deliveries are small JSON documents (the result's URLs, not media); refuse anything much larger unread.
MAX_WEBHOOK_BYTES = 1024 * 1024

_verifiers: dict[str, FalWebhookVerifier] = {}
_verifiers_lock = threading.Lock()


def webhook_verifier(jwks_url: str) -> FalWebhookVerifier:
    """The shared verifier for FAL_JWKS_URL (it caches the key set)."""
    with _verifiers_lock:
        verifier = _verifiers.get(jwks_url)
        if verifier is None:
            verifier = _verifiers[jwks_url] = FalWebhookVerifier(jwks_url)
        return verifier


@bp.route(route="webhooks/fal", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@bp.durable_client_input(client_name="client")
async def receive_fal_webhook(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Verify a fal delivery; for a live run, record its request id and wake the run. 401 if not from fal."""
    body = req.get_body() or b""
    if len(body) > MAX_WEBHOOK_BYTES:
        return problem(413, "webhook_too_large", f"a fal webhook is at most {MAX_WEBHOOK_BYTES} bytes")
    try:
        settings = Settings.from_env()
        delivery = webhook_verifier(settings.fal_jwks_url).verify(dict(req.headers), body)
    except ConfigurationError as error:
        return problem_from_error(error, status=500)
    except WebhookRefused as refused:
        log.warning("refused a fal webhook: %s", refused)
        return problem(401, "webhook_refused", f"not a valid fal webhook: {refused}",
                       errors=[FieldError("x-fal-webhook-signature", str(refused))])  # fmt: skip
    run_id = req.params.get("run", "")
    instance = await find_run(client, run_id)
    status = _run_status(instance)
    if status is None or status.is_final:
        # fal retries any non-2xx for hours: an answer it should not retry, saying why nothing happened.
        reason = "no such run" if status is None else f"the run already ended {status}"
        return _accepted({"ignored": True, "reason": reason, "request_id": delivery.request_id})
    record_pushed_request(output_store(), run_id, delivery.request_id, status=delivery.status, at=time.time())
    await client.raise_event(run_id, PROVIDER_UPDATE_EVENT, {"request_id": delivery.request_id})
    log.info("run %s: fal webhook for request %s (%s)", run_id, delivery.request_id, delivery.status)
    return _accepted({"ignored": False, "run_id": run_id, "request_id": delivery.request_id})


def _run_status(instance: dict | None) -> RunStatus | None:
    return None if instance is None else RunStatus(build_run_resource(instance)["status"])


def _accepted(body: dict) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body), status_code=200, mimetype="application/json")
