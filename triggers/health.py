"""GET /api/health: anonymous liveness, touching nothing. GET /api/health/ready (keyed): are the settings sane, and can
storage and the provider be reached? Readiness answers are cached for a few seconds, per configuration."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable

import azure.durable_functions as df
import azure.functions as func

from soraflow.config import Settings, request_trigger, task_hub_name
from soraflow.errors import ConfigurationError, SoraflowError
from soraflow.model_table import load_model_table
from soraflow.pricing import load_price_table
from soraflow.providers.registry import configured_models, configured_providers
from soraflow.storage import output_store

bp = df.Blueprint()
log = logging.getLogger("soraflow.health")

# A readiness answer is reused this long: a load balancer or a dashboard polling every second then costs one provider
# call and one storage call per 5 s, while a fix is seen within 5 s.
READINESS_CACHE_SECONDS = 5.0
_cache: dict[str, tuple[float, int, dict]] = {}
_cache_lock = threading.Lock()
_clock = time.monotonic


@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    """The worker is up and answering: no settings, storage or provider call (those are `/api/health/ready`)."""
    return func.HttpResponse(json.dumps({"status": "ok"}), status_code=200, mimetype="application/json")


@bp.route(route="health/ready", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def readiness(req: func.HttpRequest) -> func.HttpResponse:
    """Each check says ok or what is wrong (naming the setting); 503 when the app cannot work as configured."""
    key = configuration_key()
    with _cache_lock:
        cached = _cache.get(key)
    if cached is None or _clock() - cached[0] >= READINESS_CACHE_SECONDS:
        status, body = check_readiness()
        cached = (_clock(), status, body)
        with _cache_lock:
            _cache.clear()  # only the current configuration's answer is worth keeping
            _cache[key] = cached
    _, status, body = cached
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/json")


def check_readiness() -> tuple[int, dict]:
    """Run every check now: the settings, the task hub, the blob trigger, then storage and the provider."""
    checks: dict[str, dict] = {}
    try:
        settings = Settings.from_env()
        load_model_table(settings.sora_extra_models)  # every start reads these two: a typo would fail them all
        load_price_table(settings.sora_pricing)
        configured_models(settings)  # each configured provider's model table (FAL_EXTRA_MODELS, ...)
    except ConfigurationError as exc:
        settings = None
        checks["settings"] = setting_problem(exc)
    else:
        providers = [provider.name for provider in configured_providers(settings)]
        checks["settings"] = {"ok": True, "sora_api": settings.sora_api, "model": settings.sora_model,
                              "providers": providers}  # fmt: skip
    try:
        checks["task_hub"] = {"ok": True, "name": task_hub_name()}
    except ConfigurationError as exc:
        checks["task_hub"] = setting_problem(exc)
    trigger = request_trigger()
    checks["blob_trigger"] = {"ok": not trigger.problems, "source": trigger.source, "container": trigger.container}
    if trigger.problems:
        checks["blob_trigger"].update(setting_problem(trigger.problems[0]))
    if settings is not None:
        checks["storage"] = probe("storage", lambda: {"container_exists": output_store().container_exists()})
        checks["provider"] = probe("provider", lambda: list_one_job(settings))
    ok = all(check["ok"] for check in checks.values())
    return (200 if ok else 503), {"status": "ready" if ok else "not_ready", "checks": checks}


def list_one_job(settings: Settings) -> None:
    """The default provider's cheapest authenticated call."""
    configured_providers(settings)[0].probe(settings)


def setting_problem(error: ConfigurationError) -> dict:
    return {"ok": False, "setting": error.setting, "message": error.message}


def probe(name: str, call: Callable[[], dict | None]) -> dict:
    """Run one reachability call; report its latency or its typed error (never a secret)."""
    started = time.perf_counter()
    try:
        details = call() or {}
    except ConfigurationError as exc:
        return {**setting_problem(exc), "code": exc.code}
    except SoraflowError as exc:
        return {"ok": False, "code": exc.code, "message": exc.message}
    except Exception as exc:  # an SDK error we have no type for still must not break the health page
        log.exception("readiness: the %s probe failed unexpectedly", name)
        return {"ok": False, "code": "unreachable", "message": type(exc).__name__}
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1), **details}


def configuration_key() -> str:
    """A fingerprint of the environment, so a cached answer never outlives a settings change (nothing is stored)."""
    digest = hashlib.sha256()
    for name, value in sorted(os.environ.items()):
        digest.update(f"{name}\0{value}\0".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()
