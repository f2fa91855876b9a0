"""GET /api/health: are the settings sane, and can storage and the provider be reached?"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import azure.durable_functions as df
import azure.functions as func

from soraflow.config import Settings
from soraflow.errors import ConfigurationError, SoraflowError
from soraflow.model_table import load_model_table
from soraflow.pricing import load_price_table
from soraflow.providers import provider_client
from soraflow.storage import output_store

bp = df.Blueprint()


@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    """Each check says ok or what is wrong (naming the setting); 503 when the app cannot work as configured."""
    checks: dict[str, dict] = {}
    try:
        settings = Settings.from_env()
        load_model_table(settings.sora_extra_models)  # every start reads these two: a typo would fail them all
        load_price_table(settings.sora_pricing)
    except ConfigurationError as exc:
        checks["settings"] = {"ok": False, "setting": exc.setting, "message": exc.message}
    else:
        checks["settings"] = {"ok": True, "sora_api": settings.sora_api, "model": settings.sora_model}
        checks["storage"] = probe(lambda: output_store().container_client().get_container_properties())
        checks["provider"] = probe(lambda: provider_client(settings).list_jobs(limit=1))
    ok = all(check["ok"] for check in checks.values())
    body = {"status": "ok" if ok else "unhealthy", "checks": checks}
    return func.HttpResponse(json.dumps(body), status_code=200 if ok else 503, mimetype="application/json")


def probe(call: Callable[[], object]) -> dict:
    """Run one reachability call; report its latency or its typed error (never a secret)."""
    started = time.perf_counter()
    try:
        call()
    except SoraflowError as exc:
        return {"ok": False, "code": exc.code, "message": exc.message}
    except Exception as exc:  # an SDK error we have no type for still must not break the health page
        return {"ok": False, "code": "unreachable", "message": type(exc).__name__}
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}
