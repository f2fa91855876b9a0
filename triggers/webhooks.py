"""POST /api/webhooks/{provider}: a provider's signed completion push (fal's today), verified by the provider's own
plug-in, recorded for the run's job ledger and raised on the run as `provider_update` so it polls at once
(anonymous: providers send no function key)."""

from __future__ import annotations

import json
import logging
import time

import azure.durable_functions as df
import azure.functions as func

from orchestrators.video_run import PROVIDER_UPDATE_EVENT
from soraflow.config import Settings
from soraflow.errors import ConfigurationError, FieldError
from soraflow.job_ledger import record_pushed_request
from soraflow.providers.push import WebhookRefused
from soraflow.providers.registry import provider_named, providers
from soraflow.run_resource import build_run_resource
from soraflow.runs import RunStatus
from soraflow.storage import output_store
from triggers.problems import problem, problem_from_error
from triggers.runs import find_run

bp = df.Blueprint()
log = logging.getLogger("soraflow.webhooks")

# Deliveries are small JSON documents (the result's URLs, not media); refuse anything much larger unread.
MAX_WEBHOOK_BYTES = 1024 * 1024


@bp.route(route="webhooks/{provider}", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@bp.durable_client_input(client_name="client")
async def receive_webhook(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Verify a delivery; for a live run of that provider, record its request id and wake the run. 401 if the
    provider did not sign it, 404 for a provider that does not push."""
    name = req.route_params.get("provider", "")
    plugin = provider_named(name)
    verifier_for = getattr(plugin, "webhook_verifier", None)
    if verifier_for is None:
        pushing = ", ".join(p.name for p in providers() if hasattr(p, "webhook_verifier"))
        return problem(
            404, "no_such_webhook", f"no provider named {name[:40]!r} pushes completion; these do: {pushing}"
        )
    body = req.get_body() or b""
    if len(body) > MAX_WEBHOOK_BYTES:
        return problem(413, "webhook_too_large", f"a {name} webhook is at most {MAX_WEBHOOK_BYTES} bytes")
    try:
        delivery = verifier_for(Settings.from_env()).verify(dict(req.headers), body)
    except ConfigurationError as error:
        return problem_from_error(error, status=500)
    except WebhookRefused as refused:
        log.warning("refused a %s webhook: %s", name, refused)
        return problem(401, "webhook_refused", f"not a valid {name} webhook: {refused}",
                       errors=[FieldError(refused.header, str(refused))])  # fmt: skip
    run_id = req.params.get("run", "")
    instance = await find_run(client, run_id)
    reason = _ignored_because(instance, name)
    if reason is not None:
        # Providers retry any non-2xx for hours: an answer they should not retry, saying why nothing happened.
        return _accepted({"ignored": True, "reason": reason, "request_id": delivery.request_id})
    record_pushed_request(output_store(), run_id, delivery.request_id, status=delivery.status, at=time.time())
    await client.raise_event(run_id, PROVIDER_UPDATE_EVENT, {"request_id": delivery.request_id})
    log.info("run %s: %s webhook for request %s (%s)", run_id, name, delivery.request_id, delivery.status)
    return _accepted({"ignored": False, "run_id": run_id, "request_id": delivery.request_id})


def _ignored_because(instance: dict | None, provider: str) -> str | None:
    """Why a verified delivery changes nothing: no such run, a run of another provider, or one that ended."""
    if instance is None:
        return "no such run"
    request = (instance.get("input") or {}).get("request") or {}
    if request.get("provider") != provider:
        return f"the run is not a {provider} run"
    status = RunStatus(build_run_resource(instance)["status"])
    return f"the run already ended {status}" if status.is_final else None


def _accepted(body: dict) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body), status_code=200, mimetype="application/json")
